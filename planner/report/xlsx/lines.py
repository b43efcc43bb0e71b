"""The cost lines of an option sheet as formulas: one function per kind of option, each
the formula of ``planner.costs`` written on the sheet's rows and the named inputs.

A line returns None where it has no formula (a category newer than the workbook): the
sheet then holds mailplan's figures for it, and says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from planner.costs import CAPEX_CATEGORIES, ONE_OFF_CATEGORIES, UNTAXED_CATEGORIES
from planner.evaluation import Evaluation
from planner.resolution import ResolvedCloud, ResolvedOnPrem
from planner.sizing import DR_CODES

if TYPE_CHECKING:
    from planner.costs import Terms
    from planner.report.xlsx.options import OptionSheet

__all__ = ["LineContext", "line_formula"]


class LineContext(Protocol):
    """What a line formula reads of the sheet being written."""

    ev: Evaluation
    terms: Terms
    chain: tuple[ResolvedOnPrem | ResolvedCloud, ...]
    stage: list[int]
    onprem: bool
    cats: tuple[str, ...]
    current: OptionSheet | None
    cache: dict[str, list[float]]

    def p(self, name: str, y: int) -> str:
        """The defined name of the option's input ``name`` in year ``y``."""
        ...

    def has(self, name: str, y: int) -> bool:
        """Whether year ``y``'s plan sets ``name``."""
        ...

    def at(self, key: str, y: int) -> str:
        """Reference to row ``key`` in year ``y``."""
        ...

    def esc(self, cat: str, y: int) -> str:
        """Reference to the escalation factor of ``cat`` in year ``y``."""
        ...


def line_formula(ctx: LineContext, cat: str, y: int) -> str | float | None:
    """The formula of cost line ``cat`` in year ``y`` (0.0 where the line is none;
    None for a line this workbook has no formula for)."""
    p, at, e = ctx.p, ctx.at, ctx.esc
    moving = ctx.terms.moving
    if cat == "admin_labour":
        return f"=in_labour_in_cash*{at('staff_admin', y)}"
    if cat == "helpdesk":
        return f"=in_labour_in_cash*{at('staff_helpdesk', y)}"
    if cat == "sender_auth":
        return f"=in_labour_in_cash*{at('staff_sender_auth', y)}"
    if cat == "migration":
        if y != 0 or not moving:
            return 0.0
        own = p("migration_per_user", y) if ctx.has("migration_per_user", y) else None
        per = own if own is not None and not ctx.onprem else "in_terms_per_mailbox"
        return f"={at('users', y)}*({per}+in_terms_tool_per_mailbox)*{e(cat, y)}*in_fx"
    if cat == "training":
        if y != 0 or not moving:
            return 0.0
        return (
            f"={at('users', y)}*in_terms_training_hours_per_user"
            f"*{p('admin_hourly_cost', y)}*{e(cat, y)}*in_fx"
        )
    if cat == "dual_running":
        if y != 0 or not moving or ctx.current is None:
            return 0.0
        running = [c for c in _current_cats(ctx) if c not in ONE_OFF_CATEGORIES]
        refs = ",".join(ctx.current.ref(c, 0) for c in running)
        return f"=SUM({refs})*in_terms_dual_running_months/12"
    if cat == "downtime":
        if ctx.cache["availability"][y] == 0.0 and not ctx.onprem:
            return 0.0
        return (
            f"=(1-{at('availability', y)})*8760*(in_terms_downtime_cost_per_user_hour"
            f"*{at('users', y)}+in_terms_downtime_cost_per_hour)*in_fx"
        )
    if cat == "tax":
        capex = [c for c in ctx.cats if c in CAPEX_CATEGORIES and c not in UNTAXED_CATEGORIES]
        opex = [
            c
            for c in ctx.cats
            if c not in CAPEX_CATEGORIES and c not in UNTAXED_CATEGORIES and c != "tax"
        ]
        return (
            f"=in_tax_capex*({'+'.join(at(c, y) for c in capex)})"
            f"+in_tax_opex*({'+'.join(at(c, y) for c in opex)})"
        )
    if ctx.onprem:
        return _onprem(ctx, cat, y)
    return _cloud(ctx, cat, y)


def _current_cats(ctx: LineContext) -> tuple[str, ...]:
    """The categories of today's system's sheet."""
    assert ctx.current is not None
    return tuple(ctx.ev.lines[ctx.current.option_id])


def _onprem(ctx: LineContext, cat: str, y: int) -> str | float | None:
    p, at, e = ctx.p, ctx.at, ctx.esc
    last = ctx.ev.horizon - 1
    member = ctx.chain[ctx.stage[y]]
    assert isinstance(member, ResolvedOnPrem)
    servers, users, storage = at("servers", y), at("users", y), at("storage_tb", y)
    if cat == "hardware":
        return f"={at('price', y)}*{at('bought', y)}*{e(cat, y)}*in_fx"
    if cat == "residual":
        if y != last:
            return 0.0
        return f"=-{at('price', y)}*{at('residual_units', y)}*{e(cat, y)}*in_fx"
    if cat == "setup":
        return 0.0 if y != 0 or ctx.terms.current else f"={p('setup_cost', y)}*in_fx"
    if cat == "software_licences":
        return (
            f"=({servers}*{p('licence_per_server_year', y)}+{users}"
            f"*{p('licence_per_user_year', y)})*(1-{p('discount_pct', y)})*{e(cat, y)}*in_fx"
        )
    if cat == "os_licences":
        return (
            f"=({servers}*{at('cores', y)}*{p('os_licence_per_core_year', y)}+{users}"
            f"*{p('os_cal_per_user_year', y)})*(1-{p('discount_pct', y)})*{e(cat, y)}*in_fx"
        )
    if cat == "hardware_support":
        return (
            f"={at('past_warranty', y)}*{at('price', y)}*{p('support_pct_per_year', y)}"
            f"*{e(cat, y)}*in_fx"
        )
    if cat == "power":
        return f"={servers}*{at('power_per_server', y)}*{e(cat, y)}*in_fx"
    if cat == "space":
        return f"={servers}*{at('space_per_server', y)}*{e(cat, y)}*in_fx"
    if cat == "network":
        return f"={p('network_per_month', y)}*12*{e(cat, y)}*in_fx"
    if cat == "monitoring":
        return f"={servers}*{p('monitoring_per_server_month', y)}*12*{e(cat, y)}*in_fx"
    if cat == "backup":
        return (
            f"=({storage}*{at('backup_copies', y)}*{p('backup_per_tb_month', y)}*12"
            f"+{servers}*{p('backup_software_per_server_year', y)}"
            f"+{users}*{p('backup_addon_per_user_month', y)}*12)*{e(cat, y)}*in_fx"
        )
    if cat == "disaster_recovery":
        code = DR_CODES[member.dr]
        if code == 1:
            return f"={storage}*{p('dr_cold_per_tb_month', y)}*12*{e(cat, y)}*in_fx"
        if code == 2:
            return (
                f"={at('standby', y)}*({at('price', y)}/{p('refresh_years', y)}"
                f"+{at('power_per_server', y)}+{at('space_per_server', y)})*{e(cat, y)}*in_fx"
            )
        return 0.0
    if cat == "filtering":
        return (
            f"={users}*({p('filtering_per_user_month', y)}"
            f"+{p('filtering_addon_per_user_month', y)})*12*{e(cat, y)}*in_fx"
        )
    if cat == "relay":
        return (
            f"=({at('relay_k', y)}*{p('outbound_relay_per_1000', y)}+{at('out_gb', y)}"
            f"*{p('outbound_relay_per_gb', y)})*{e(cat, y)}*in_fx"
        )
    if cat == "feature_addons":
        return f"={users}*{p('feature_addon_per_user_month', y)}*12*{e(cat, y)}*in_fx"
    if cat == "exit":
        return 0.0
    return None


def _cloud(ctx: LineContext, cat: str, y: int) -> str | float | None:
    p, at, e = ctx.p, ctx.at, ctx.esc
    users = at("users", y)
    vendor = f"(1-{p('discount_pct', y)})"
    if cat == "subscription":
        return f"={users}*{p('price_per_user_month', y)}*12*{vendor}*{e(cat, y)}*in_fx"
    if cat == "storage":
        return (
            f"=({users}*12*{p('addon_price_per_user_month', y)}*{at('needs_addon', y)}"
            f"+{users}*{at('over_gb', y)}*{p('extra_storage_per_gb_month', y)}*12)"
            f"*{vendor}*{e(cat, y)}*in_fx"
        )
    if cat == "relay":
        return f"={at('relay_k', y)}*{p('per_1000_messages', y)}*{e(cat, y)}*in_fx"
    if cat in ("backup", "filtering", "feature_addons"):
        price = {
            "backup": "backup_addon_per_user_month",
            "filtering": "filtering_addon_per_user_month",
            "feature_addons": "feature_addon_per_user_month",
        }[cat]
        return f"={users}*{p(price, y)}*12*{vendor}*{e(cat, y)}*in_fx"
    if cat == "exit":
        if y != ctx.ev.horizon - 1 or ctx.terms.current:
            return 0.0
        return f"={p('exit_cost', y)}*{e(cat, y)}*in_fx"
    return None
