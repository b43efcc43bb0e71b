"""The Inputs sheet: every scenario input and catalog figure the formulas use, as named
cells, with unit, source and as-of date; structural choices (the profile picked, the plan
each year, an option ruled out) are listed as plain values below them."""

from __future__ import annotations

import math
from typing import Any

from planner.evaluation import Evaluation
from planner.models import Escalation, Organization
from planner.report.xlsx.book import BLANK, Book, InputRow
from planner.resolution import ResolvedCloud, ResolvedOnPrem
from planner.sizing import Inputs

__all__ = [
    "CLOUD_FIELDS",
    "ONPREM_FIELDS",
    "ORG_FIELDS",
    "option_input",
    "register_inputs",
    "write_inputs_sheet",
]

ORG_FIELDS = (
    "users",
    "user_growth_per_year",
    "messages_sent_per_user_day",
    "messages_received_per_user_day",
    "outbound_share",
    "recipients_per_message",
    "avg_message_kb",
    "mailbox_gb_per_user",
    "mailbox_growth_gb_per_user_year",
    "peak_factor",
    "backup_retention_days",
    "sending_domains",
)
ONPREM_FIELDS = (
    "server_price",
    "hardware_discount_pct",
    "refresh_years",
    "setup_cost",
    "licence_per_server_year",
    "licence_per_user_year",
    "discount_pct",
    "os_licence_per_core_year",
    "cores",
    "os_cal_per_user_year",
    "support_pct_per_year",
    "server_watts",
    "pue",
    "electricity_per_kwh",
    "rack_per_server_month",
    "network_per_month",
    "monitoring_per_server_month",
    "admin_hours_per_month",
    "admin_hours_per_server_month",
    "admin_hours_per_100_users_month",
    "admin_hourly_cost",
    "helpdesk_hours_per_user_year",
    "helpdesk_hourly_cost",
    "sender_auth_hours_per_domain_month",
    "sender_auth_setup_hours_per_domain",
    "backup_per_tb_month",
    "backup_copies",
    "backup_software_per_server_year",
    "backup_addon_per_user_month",
    "copies",
    "dr_cold_per_tb_month",
    "filtering_per_user_month",
    "filtering_addon_per_user_month",
    "outbound_relay_per_1000",
    "outbound_relay_per_gb",
    "feature_addon_per_user_month",
    "server_availability",
)
CLOUD_FIELDS = (
    "price_per_user_month",
    "discount_pct",
    "price_lock_years",
    "included_gb_per_user",
    "addon_gb_per_user",
    "addon_price_per_user_month",
    "extra_storage_per_gb_month",
    "per_1000_messages",
    "admin_hours_per_month",
    "admin_hours_per_100_users_month",
    "admin_hourly_cost",
    "helpdesk_hours_per_user_year",
    "helpdesk_hourly_cost",
    "sender_auth_hours_per_domain_month",
    "sender_auth_setup_hours_per_domain",
    "backup_addon_per_user_month",
    "filtering_addon_per_user_month",
    "feature_addon_per_user_month",
    "migration_per_user",
    "exit_cost",
    "availability",
)
# the value the cost model takes when a field is not set (planner.costs: opt.get)
_DEFAULTS = {
    "backup_copies": 1.0,
    "cores": 1.0,
    "copies": 1.0,
    "server_availability": 0.99,
}
_OPTIONAL = {"migration_per_user", "availability", "backup_retention_days"}  # None: not used
_FRACTIONS = {"user_growth_per_year", "outbound_share", "availability", "server_availability"}
_TERMS = {
    "per_mailbox": ("Migration per mailbox", "USD/mailbox"),
    "tool_per_mailbox": ("Migration tool per mailbox", "USD/mailbox"),
    "dual_running_months": ("Dual running", "months"),
    "training_hours_per_user": ("Training per user", "hours/user"),
    "downtime_cost_per_user_hour": ("Downtime cost per user-hour", "USD/user-hour"),
    "downtime_cost_per_hour": ("Downtime cost per hour", "USD/hour"),
}


def unit_of(field: str) -> tuple[str, str]:
    """(unit, kind) of a numeric field, from its name."""
    if "pct" in field or field in _FRACTIONS:
        return "fraction (shown as %)", "pct"
    money = {
        "server_price": "USD/server",
        "setup_cost": "USD",
        "exit_cost": "USD",
        "licence_per_server_year": "USD/server-year",
        "licence_per_user_year": "USD/user-year",
        "os_licence_per_core_year": "USD/core-year",
        "os_cal_per_user_year": "USD/user-year",
        "electricity_per_kwh": "USD/kWh",
        "rack_per_server_month": "USD/server-month",
        "network_per_month": "USD/month",
        "monitoring_per_server_month": "USD/server-month",
        "admin_hourly_cost": "USD/hour",
        "helpdesk_hourly_cost": "USD/hour",
        "backup_per_tb_month": "USD/TB-month",
        "backup_software_per_server_year": "USD/server-year",
        "dr_cold_per_tb_month": "USD/TB-month",
        "outbound_relay_per_1000": "USD/1,000 recipients",
        "outbound_relay_per_gb": "USD/GB",
        "per_1000_messages": "USD/1,000 recipients",
        "extra_storage_per_gb_month": "USD/GB-month",
        "migration_per_user": "USD/mailbox",
    }
    if field in money:
        return money[field], "money"
    if field.endswith("_per_user_month"):
        return "USD/user-month", "money"
    units = {
        "refresh_years": "years",
        "cores": "cores/server",
        "copies": "copies",
        "backup_copies": "copies",
        "server_watts": "W",
        "pue": "ratio",
        "price_lock_years": "years",
        "included_gb_per_user": "GB/user",
        "addon_gb_per_user": "GB/user",
        "admin_hours_per_month": "hours/month",
        "admin_hours_per_server_month": "hours/server-month",
        "admin_hours_per_100_users_month": "hours/100 users-month",
        "helpdesk_hours_per_user_year": "hours/user-year",
        "users": "users",
        "messages_sent_per_user_day": "messages/user-day",
        "messages_received_per_user_day": "messages/user-day",
        "recipients_per_message": "recipients/message",
        "avg_message_kb": "KB",
        "mailbox_gb_per_user": "GB/user",
        "mailbox_growth_gb_per_user_year": "GB/user-year",
        "peak_factor": "ratio",
        "backup_retention_days": "days",
        "sending_domains": "domains",
        "sender_auth_hours_per_domain_month": "hours/domain-month",
        "sender_auth_setup_hours_per_domain": "hours/domain, once",
    }
    return units.get(field, ""), "number"


def _number(inputs: Inputs, field: str) -> float | None:
    """The cost model's value of ``field``: given, its default, or None when unset."""
    if field in inputs:
        return float(getattr(inputs, field)[0, 0])
    if field in _OPTIONAL:
        return None
    return _DEFAULTS.get(field, 0.0)


def option_input(book: Book, option_id: str, stage: int, field: str) -> str | None:
    """The defined name of an option's input at one stage of its plan path (None: unset)."""
    name = book.option_name(option_id, stage, field)
    return name if name in book.inputs else None


def _text(value: Any) -> str:
    return BLANK if value is None or value == "" else str(value)


def register_inputs(book: Book, ev: Evaluation) -> None:
    """Register every input the formulas use, in the order the Inputs sheet lists them."""
    sc = ev.scenario
    given = sc.model_fields_set

    def origin(field: str, was_set: bool) -> str:
        return "scenario" if was_set else "mailplan default"

    book.add_input(
        InputRow(
            "in_fx",
            f"Exchange rate ({sc.currency} per USD)",
            sc.usd_exchange_rate,
            f"{sc.currency}/USD",
            origin("usd_exchange_rate", "usd_exchange_rate" in given),
            BLANK,
        )
    )
    book.add_input(
        InputRow(
            "in_discount_rate",
            f"Discount rate ({sc.price_basis})",
            sc.discount_rate,
            "fraction a year (shown as %)",
            origin("discount_rate", "discount_rate" in given),
            BLANK,
            kind="pct",
        )
    )
    if sc.price_basis == "nominal":
        book.add_input(
            InputRow(
                "in_inflation",
                "Inflation (added to every escalation rate; Fisher on the discount rate)",
                sc.inflation,
                "fraction a year (shown as %)",
                origin("inflation", "inflation" in given),
                BLANK,
                kind="pct",
            )
        )
    book.add_input(
        InputRow(
            "in_labour_in_cash",
            "Admin, helpdesk and sender-authentication labour paid in cash (1) or by "
            "existing staff (0)",
            1.0 if sc.labour_cost == "cash" else 0.0,
            "switch",
            origin("labour_cost", "labour_cost" in given),
            BLANK,
            "0 moves admin_labour, helpdesk and sender_auth out of the cost into the "
            "opportunity cost",
        )
    )
    tax = sc.tax_pct
    for part in ("capex", "opex"):
        book.add_input(
            InputRow(
                f"in_tax_{part}",
                f"Unrecoverable tax on {part}",
                0.0 if tax is None else float(getattr(tax, part)),
                "fraction (shown as %)",
                "scenario" if tax is not None else "not set: 0",
                BLANK,
                kind="pct",
            )
        )
    esc = ev.escalation_inputs()
    for field, info in Escalation.model_fields.items():
        book.add_input(
            InputRow(
                f"in_esc_{field}",
                f"Escalation: {field.replace('_', ' ')}",
                float(esc.get(field, 0.0)[0, 0]),
                "fraction a year (shown as %)",
                origin(field, field in sc.escalation.model_fields_set),
                BLANK,
                info.description or "",
                kind="pct",
            )
        )
    org = ev.organization_inputs()
    org_set = sc.organization.model_fields_set
    for field in ORG_FIELDS:
        number = _number(org, field)
        if number is None:
            continue
        unit, kind = unit_of(field)
        info = Organization.model_fields[field]
        book.add_input(
            InputRow(
                f"in_org_{field}",
                f"Organisation: {field.replace('_', ' ')}",
                number,
                unit,
                origin(field, field in org_set),
                BLANK,
                info.description or "",
                kind=kind,
            )
        )
    terms = ev.scenario_terms()
    for field, (label, unit) in _TERMS.items():
        book.add_input(
            InputRow(
                f"in_terms_{field}",
                label,
                float(getattr(terms, field)[0, 0]),
                unit,
                "scenario or catalog defaults",
                ev.catalog.as_of,
                kind="money" if unit.startswith("USD") else "number",
            )
        )
    for option in ev.options:
        for stage, member in enumerate(ev.resolved.chain(option.id)):
            fields = ONPREM_FIELDS if isinstance(member, ResolvedOnPrem) else CLOUD_FIELDS
            values = Inputs.of(member)
            plan = member.plan if isinstance(member, ResolvedCloud) else member.stack
            for field in fields:
                number = _number(values, field)
                if number is None:
                    continue
                prov = member.provenance.get(field)
                unit, kind = unit_of(field)
                book.add_input(
                    InputRow(
                        book.option_name(option.id, stage, field),
                        f"{option.id} ({plan}): {field.replace('_', ' ')}",
                        number,
                        unit,
                        _text(prov.source or prov.origin) if prov else "catalog or default",
                        _text(prov.as_of) if prov else BLANK,
                        (prov.note or "") if prov else "",
                        kind=kind,
                    )
                )


def _structure(ev: Evaluation) -> list[tuple[str, str]]:
    """The structural choices: values that pick formulas, not inputs to them."""
    sc = ev.scenario
    rows = [
        ("Scenario", sc.name),
        ("Currency", sc.currency),
        ("Horizon", f"{ev.horizon} years from {ev.start.isoformat()}"),
        ("Price basis", sc.price_basis),
        ("Labour cost", sc.labour_cost),
        ("Runs today", _text(sc.current)),
        ("Catalog as of", _text(ev.catalog.as_of)),
    ]
    for option in ev.options:
        plans = ev.plan_by_year(option.id)
        text = ", ".join(f"y{y + 1} {p}" for y, p in enumerate(plans))
        line = f"{ev.path_label(option.id)}; plan by year: {text}"
        if isinstance(option, ResolvedOnPrem):
            line += f"; server profile {_text(option.server)}, redundancy {option.redundancy}"
            line += f", disaster recovery {option.dr}"
        ruled = ", ".join(ev.ruled_out_by(option.id))
        line += f"; ruled out by {ruled}" if ruled else "; eligible"
        rows.append((option.id, line))
    return rows + _seat_mix(ev)


def _seat_mix(ev: Evaluation) -> list[tuple[str, str]]:
    """The seat mix: each segment (people, profile, plans), the shared mailboxes, and the
    seats each cloud option buys per plan in year 1 (values: the seat rules pick them)."""
    org = ev.scenario.organization
    rows: list[tuple[str, str]] = []
    profile = (
        "messages_sent_per_user_day",
        "messages_received_per_user_day",
        "mailbox_gb_per_user",
        "mailbox_growth_gb_per_user_year",
    )
    for seg in org.segments:
        own = [f"{name.replace('_', ' ')} {getattr(seg, name):g}" for name in profile]
        given = [
            text for name, text in zip(profile, own, strict=True) if getattr(seg, name) is not None
        ]
        plans = ", ".join(f"{k}: {v}" for k, v in seg.plans.items())
        parts = [f"{seg.users:,} people"]
        parts += given or ["the organisation's profile"]
        parts += [f"tier {seg.tier}"] if seg.tier else []
        parts += [f"plans {plans}"] if plans else []
        rows.append((f"Segment: {seg.name}", "; ".join(parts)))
    shared = org.shared_mailboxes
    if shared is not None:
        rows.append(
            (
                "Shared mailboxes",
                f"{shared.count:,} of {shared.mailbox_gb:g} GB, growing "
                f"{shared.growth_gb_per_year:g} GB a year",
            )
        )
    if ev.has_seat_mix:
        for o in ev.resolved.cloud:
            year1 = ev.seats_by_year(o.id)[0]
            text = ", ".join(f"{plan} {n:,}" for plan, n in year1.items() if n > 0)
            rows.append((f"Seats in year 1: {o.id}", text or BLANK))
    return rows


def write_inputs_sheet(book: Book, ev: Evaluation, name: str = "Inputs") -> None:
    """Write the registered inputs as named cells, then the structural choices."""
    ws = book.wb.add_worksheet(name)
    ws.write_string(0, 0, f"Inputs: {ev.scenario.name}", book.fmt("title"))
    book.note(
        ws,
        1,
        "Yellow cells are inputs: change one and every sheet follows. Amounts are USD "
        "(catalog currency) and are converted with the exchange rate.",
        4,
        160,
    )
    header = ["Name", "Input", "Value", "Unit", "Source", "As of", "Note"]
    book.header(ws, 3, header)
    kinds = {"pct": "input_pct", "money": "input_money", "number": "input", "text": "input_text"}
    row = 4
    for item in book.inputs.values():
        ws.write_string(row, 0, item.name)
        ws.write_string(row, 1, item.label, book.fmt("wrap"))
        value = item.value
        if isinstance(value, str):
            ws.write_string(row, 2, value, book.fmt("input_text"))
        else:
            number = float(value) if math.isfinite(float(value)) else 0.0
            ws.write_number(row, 2, number, book.fmt(kinds[item.kind]))
        ws.write_string(row, 3, item.unit or BLANK)
        ws.write_string(row, 4, item.source or BLANK, book.fmt("wrap"))
        ws.write_string(row, 5, item.as_of or BLANK)
        ws.write_string(row, 6, item.note or BLANK, book.fmt("wrap"))
        book.wb.define_name(item.name, f"='{name}'!$C${row + 1}")
        row += 1
    last_input = row - 1
    row += 1
    ws.write_string(row, 0, "Structural choices (values, not formulas)", book.fmt("section"))
    row += 1
    for label, text in _structure(ev):
        ws.write_string(row, 0, label, book.fmt("bold"))
        ws.merge_range(row, 1, row, 6, text, book.fmt("wrap"))
        ws.set_row(row, 15 * max(1, -(-len(text) // 190)))
        row += 1
    ws.freeze_panes(4, 2)
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 48)
    ws.set_column(2, 2, 16)
    ws.set_column(3, 3, 22)
    ws.set_column(4, 4, 40)
    ws.set_column(5, 5, 12)
    ws.set_column(6, 6, 60)
    ws.autofilter(3, 0, last_input, 6)
