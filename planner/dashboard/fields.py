"""What each scenario field looks like in a form: label, unit, input kind, step, format.

Help texts come from the field descriptions in ``planner.models`` (the scenario file's own
documentation), so the form and ``mailplan schema`` say the same thing. The numeric lists
are built from the models' fields (``ESCALATION`` wholly, the others with a label table
and a made-up label for a field the table does not know yet), so a field added to the
model gets an input without a change here. Paths address a
place in the scenario data, ``("onprem", 0, "server_price")``, and print the way
validation problems name it, ``onprem[0].server_price``. No Streamlit here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from planner.models import (
    CloudOption,
    Escalation,
    Migration,
    OnPremOption,
    Organization,
    Scenario,
    TaxShares,
)
from planner.ranges import numeric_fields

__all__ = [
    "CLOUD_NUMBERS",
    "COPIES",
    "COPIES_CHOICE",
    "CURRENT",
    "CURRENT_SERVERS_BOUGHT",
    "DOWNTIME",
    "DOWNTIME_BASIS",
    "DR_CHOICE",
    "ESCALATION",
    "GENERAL",
    "INFLATION",
    "LABOUR_COST",
    "MIGRATION",
    "NONE",
    "ONPREM_NUMBERS",
    "ORGANIZATION",
    "PRICE_BASIS",
    "SIDEBAR",
    "TAX",
    "ChoiceSpec",
    "FieldSpec",
    "Path",
    "path_key",
]

NONE = ""
"""The choice that leaves a field unset (the catalog or model default applies)."""

Path = tuple[str | int, ...]
Kind = Literal["int", "float", "text"]


def path_key(path: Path) -> str:
    """``("onprem", 0, "pue")`` -> ``onprem[0].pue``: the spelling of validation problems."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass(frozen=True)
class FieldSpec:
    """One input: the model field it edits, its label and unit, and how to step it."""

    model: type[BaseModel]
    name: str
    label: str
    unit: str
    kind: Kind = "float"
    step: float = 1.0
    fmt: str = "%.2f"
    empty: str | None = None  # what leaving it empty means, where that is not 0

    @property
    def title(self) -> str:
        """The label with its unit, as shown next to the input."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    @property
    def description(self) -> str:
        """The field's description from the scenario model."""
        return self.model.model_fields[self.name].description or ""

    @property
    def default(self) -> Any:
        """The model's default (None when the field is required or filled from the catalog)."""
        info = self.model.model_fields[self.name]
        if info.default_factory is not None:
            return None
        return None if info.is_required() else info.default


@dataclass(frozen=True)
class ChoiceSpec:
    """A field picked from a few values: (value, text) pairs, ``NONE`` for unset."""

    model: type[BaseModel]
    name: str
    label: str
    choices: tuple[tuple[Any, str], ...]

    @property
    def description(self) -> str:
        """The field's description from the scenario model."""
        return self.model.model_fields[self.name].description or ""

    @property
    def texts(self) -> dict[Any, str]:
        """Value -> text, in order."""
        return dict(self.choices)


def _f(model: type[BaseModel], name: str, label: str, unit: str, **kw: Any) -> FieldSpec:
    return FieldSpec(model, name, label, unit, **kw)


_FRACTION = {"step": 0.01, "fmt": "%.3f"}
_HOURS = {"step": 0.5, "fmt": "%.1f"}

SIDEBAR = (
    _f(Scenario, "currency", "Currency", "ISO 4217 code", kind="text"),
    _f(
        Scenario,
        "usd_exchange_rate",
        "Exchange rate",
        "units of the currency per USD",
        step=0.01,
        fmt="%.4f",
    ),
)
"""Edited in the sidebar, on every page."""

GENERAL = (
    _f(Scenario, "name", "Scenario name", "", kind="text"),
    _f(Scenario, "horizon_years", "Planning horizon", "years", kind="int", fmt="%d"),
    _f(Scenario, "discount_rate", "Discount rate", "fraction per year", **_FRACTION),
)

CURRENT = ChoiceSpec(Scenario, "current", "What runs today", ())
"""The option that runs today; its choices are the scenario's options (see the form)."""

CURRENT_SERVERS_BOUGHT = _f(
    Scenario,
    "current_servers_bought",
    "Today's servers bought in",
    "year",
    kind="int",
    fmt="%d",
    empty="empty: bought in year 1",
)

LABOUR_COST = ChoiceSpec(
    Scenario,
    "labour_cost",
    "Admin and helpdesk labour",
    (
        ("cash", "paid for: in the totals"),
        ("existing_staff", "existing staff: opportunity cost, not in the totals"),
    ),
)

PRICE_BASIS = ChoiceSpec(
    Scenario,
    "price_basis",
    "Price basis",
    (
        ("real", "real: today's money, changes above inflation"),
        ("nominal", "nominal: inflation added to every change"),
    ),
)

INFLATION = _f(Scenario, "inflation", "Inflation", "fraction per year", **_FRACTION)

DOWNTIME = (
    _f(Scenario, "downtime_cost_per_user_hour", "Downtime cost", "USD per user-hour", step=1.0),
    _f(Scenario, "downtime_cost_per_hour", "Downtime cost", "USD per hour", step=100.0),
)
"""The two ways to cost downtime; a scenario gives one of them, or neither."""

DOWNTIME_BASIS = ChoiceSpec(
    Scenario,
    "downtime_cost_per_user_hour",
    "Cost of downtime",
    (
        (NONE, "not costed: downtime is only reported"),
        ("downtime_cost_per_user_hour", "per user and hour"),
        ("downtime_cost_per_hour", "per hour, for the organisation"),
    ),
)
"""Which of the DOWNTIME fields is given (the choice picks the key, not a value)."""


def _named(name: str) -> str:
    """A label made from a field name: ``client_sessions_per_user`` -> "Client sessions
    per user" (the unit is in the name; the description is the help)."""
    return name.replace("_", " ").capitalize()


def _described(model: type[BaseModel], name: str) -> str:
    """A short label from a field description: the text before " per year"."""
    text = model.model_fields[name].description or ""
    short = text.split(" per year", 1)[0].rstrip(".").strip()
    return short or _named(name)


def _numbers(
    model: type[BaseModel], known: tuple[FieldSpec, ...], skip: tuple[str, ...] = ()
) -> tuple[FieldSpec, ...]:
    """Every numeric field of ``model`` in the model's order: the spec in ``known`` where
    there is one, else one made from the field (so a field added to the model gets an
    input and a range without a change here)."""
    by_name = {s.name: s for s in known}
    out = []
    for name, num in numeric_fields(model).items():
        if name in skip:
            continue
        if name in by_name:
            out.append(by_name[name])
        elif num.integer:
            out.append(_f(model, name, _named(name), "", kind="int", fmt="%d"))
        else:
            out.append(_f(model, name, _named(name), "", step=0.01, fmt="%.4f"))
    return tuple(out)


ESCALATION = tuple(
    _f(Escalation, name, _described(Escalation, name), "fraction per year", **_FRACTION)
    for name in numeric_fields(Escalation)
)
"""One yearly change per kind of price, straight from ``Escalation``'s fields."""

ORGANIZATION = _numbers(
    Organization,
    (
        _f(Organization, "users", "Users at the start", "users", kind="int", fmt="%d"),
        _f(Organization, "user_growth_per_year", "User growth", "fraction per year", **_FRACTION),
        _f(
            Organization,
            "messages_sent_per_user_day",
            "Messages sent",
            "per user per day",
            step=1.0,
            fmt="%.1f",
        ),
        _f(
            Organization,
            "messages_received_per_user_day",
            "Messages received",
            "per user per day",
            step=1.0,
            fmt="%.1f",
        ),
        _f(Organization, "outbound_share", "Outbound share of sent mail", "fraction", **_FRACTION),
        _f(Organization, "avg_message_kb", "Average message size", "KB", step=5.0, fmt="%.1f"),
        _f(
            Organization,
            "mailbox_gb_per_user",
            "Mailbox size at the start",
            "GB per user",
            step=0.5,
            fmt="%.1f",
        ),
        _f(
            Organization,
            "mailbox_growth_gb_per_user_year",
            "Mailbox growth",
            "GB per user per year",
            step=0.5,
            fmt="%.1f",
        ),
        _f(
            Organization,
            "peak_factor",
            "Peak factor",
            "busiest hour / daily average",
            step=0.1,
            fmt="%.2f",
        ),
        _f(
            Organization,
            "backup_retention_days",
            "Backup retention",
            "days",
            kind="int",
            fmt="%d",
            empty="empty: each option's backup copies",
        ),
        _f(
            Organization,
            "recipients_per_message",
            "Recipients per outbound message",
            "recipients",
            step=0.1,
            fmt="%.2f",
        ),
        _f(Organization, "sending_domains", "Sending domains", "domains", kind="int", fmt="%d"),
    ),
)

TAX = _numbers(
    TaxShares,
    (
        _f(TaxShares, "capex", "Tax on capex", "fraction not recovered", **_FRACTION),
        _f(TaxShares, "opex", "Tax on opex", "fraction not recovered", **_FRACTION),
    ),
)
"""Unrecoverable sales tax or VAT (``tax_pct``): catalog prices exclude it."""

MIGRATION = _numbers(
    Migration,
    (
        _f(Migration, "per_mailbox", "Migration labour", "USD per mailbox", step=1.0),
        _f(Migration, "tool_per_mailbox", "Migration tool", "USD per mailbox", step=1.0),
        _f(Migration, "dual_running_months", "Dual running", "months", step=0.5, fmt="%.1f"),
        _f(
            Migration,
            "training_hours_per_user",
            "Training",
            "IT hours per user",
            step=0.05,
            fmt="%.2f",
        ),
    ),
)
"""What a move away from today's system costs; empty fields use the catalog's defaults."""

_ONPREM_KNOWN = (
    _f(OnPremOption, "server_price", "Server price", "USD per server", step=50.0),
    _f(OnPremOption, "server_watts", "Power draw", "W per server", step=10.0, fmt="%.0f"),
    _f(
        OnPremOption,
        "capacity_msgs_per_s",
        "Capacity",
        "messages/s per server",
        step=1.0,
        fmt="%.1f",
    ),
    _f(OnPremOption, "storage_tb_per_server", "Storage", "TB per server", step=1.0, fmt="%.1f"),
    _f(OnPremOption, "refresh_years", "Refresh cycle", "years", kind="int", fmt="%d"),
    _f(
        OnPremOption,
        "target_utilization",
        "Target utilisation",
        "fraction of capacity",
        **_FRACTION,
    ),
    _f(OnPremOption, "electricity_per_kwh", "Electricity", "USD per kWh", step=0.01, fmt="%.4f"),
    _f(OnPremOption, "pue", "PUE", "facility power / IT power", step=0.1),
    _f(OnPremOption, "rack_per_server_month", "Rack space", "USD per server-month", step=5.0),
    _f(OnPremOption, "admin_hours_per_month", "Admin, fixed", "hours per month", **_HOURS),
    _f(
        OnPremOption,
        "admin_hours_per_server_month",
        "Admin per server",
        "hours per server-month",
        **_HOURS,
    ),
    _f(
        OnPremOption,
        "admin_hours_per_100_users_month",
        "Admin per 100 users",
        "hours per 100 users a month",
        **_HOURS,
    ),
    _f(OnPremOption, "admin_hourly_cost", "Admin hourly cost", "USD per hour", step=1.0),
    _f(
        OnPremOption,
        "licence_per_server_year",
        "Licence per server",
        "USD per server-year",
        step=10.0,
    ),
    _f(OnPremOption, "licence_per_user_year", "Licence per user", "USD per user-year", step=1.0),
    _f(
        OnPremOption,
        "filtering_per_user_month",
        "Spam/virus filtering",
        "USD per user-month",
        step=0.1,
    ),
    _f(OnPremOption, "backup_per_tb_month", "Backup", "USD per TB-month", step=1.0),
    _f(
        OnPremOption,
        "outbound_relay_per_1000",
        "Outbound relay",
        "USD per 1,000 outbound messages",
        step=0.01,
        fmt="%.3f",
    ),
    _f(
        OnPremOption,
        "outbound_relay_per_gb",
        "Outbound relay per GB",
        "USD per outbound GB",
        step=0.01,
        fmt="%.3f",
    ),
    _f(OnPremOption, "setup_cost", "Set-up", "USD once, in year 1", step=100.0),
    _f(
        OnPremOption,
        "discount_pct",
        "Licence discount",
        "fraction off the list price",
        **_FRACTION,
    ),
    _f(
        OnPremOption,
        "hardware_discount_pct",
        "Hardware discount",
        "fraction off the list price",
        **_FRACTION,
    ),
    _f(OnPremOption, "cores", "CPU cores", "cores per server", kind="int", fmt="%d"),
    _f(OnPremOption, "rack_units", "Rack units", "U per server", kind="int", fmt="%d"),
    _f(OnPremOption, "warranty_years", "Warranty", "years included", kind="int", fmt="%d"),
    _f(
        OnPremOption,
        "support_pct_per_year",
        "Hardware support after warranty",
        "fraction of the server price a year",
        **_FRACTION,
    ),
    _f(
        OnPremOption,
        "os_licence_per_core_year",
        "OS licence per core",
        "USD per core-year",
        step=1.0,
    ),
    _f(
        OnPremOption,
        "os_cal_per_user_year",
        "OS client access licence",
        "USD per user-year",
        step=1.0,
    ),
    _f(
        OnPremOption,
        "backup_software_per_server_year",
        "Backup software",
        "USD per server-year",
        step=10.0,
    ),
    _f(OnPremOption, "backup_copies", "Backup copies", "full-size copies", kind="int", fmt="%d"),
    _f(
        OnPremOption,
        "dr_cold_per_tb_month",
        "Cold standby copy",
        "USD per TB-month",
        step=1.0,
    ),
    _f(OnPremOption, "network_per_month", "Network", "USD per month", step=10.0),
    _f(OnPremOption, "rack_per_u_month", "Rack space per U", "USD per U-month", step=1.0),
    _f(
        OnPremOption,
        "monitoring_per_server_month",
        "Monitoring",
        "USD per server-month",
        step=1.0,
    ),
    _f(
        OnPremOption,
        "helpdesk_hours_per_user_year",
        "Helpdesk",
        "hours per user a year",
        step=0.1,
        fmt="%.2f",
    ),
    _f(OnPremOption, "helpdesk_hourly_cost", "Helpdesk hourly cost", "USD per hour", step=1.0),
    _f(
        OnPremOption,
        "sender_auth_hours_per_domain_month",
        "Sender authentication",
        "hours per sending domain a month",
        **_HOURS,
    ),
    _f(
        OnPremOption,
        "sender_auth_setup_hours_per_domain",
        "Sender authentication set-up",
        "hours per sending domain, once",
        **_HOURS,
    ),
    _f(
        OnPremOption,
        "server_availability",
        "Server availability",
        "fraction of the time",
        step=0.001,
        fmt="%.4f",
    ),
)

COPIES = _f(OnPremOption, "copies", "Copies of every mailbox", "copies", kind="int", fmt="%d")
"""Drawn as a choice of 1, 2 or 3 (``COPIES_CHOICE``); listed here for ranges."""

COPIES_CHOICE = ChoiceSpec(
    OnPremOption,
    "copies",
    COPIES.label,
    (
        (NONE, "1 (default)"),
        (1, "1: a single copy"),
        (2, "2: a highly available pair"),
        (3, "3: site resilience"),
    ),
)

DR_CHOICE = ChoiceSpec(
    OnPremOption,
    "dr",
    "Disaster recovery",
    (
        (NONE, "none (default)"),
        ("none", "none"),
        ("cold", "cold: restore from an off-site copy"),
        ("warm", "warm: a standby kept in sync"),
    ),
)

ONPREM_NUMBERS = _numbers(OnPremOption, _ONPREM_KNOWN, skip=("copies",))
"""On-prem inputs that fall back to the catalog when left empty (``copies`` is a choice)."""

CLOUD_NUMBERS = _numbers(
    CloudOption,
    (
        _f(CloudOption, "price_per_user_month", "Price", "USD per user-month", step=0.1),
        _f(
            CloudOption,
            "included_gb_per_user",
            "Included storage",
            "GB per user",
            step=1.0,
            fmt="%.1f",
        ),
        _f(
            CloudOption,
            "extra_storage_per_gb_month",
            "Extra storage",
            "USD per GB-month",
            step=0.01,
            fmt="%.3f",
        ),
        _f(
            CloudOption,
            "per_1000_messages",
            "Outbound messages",
            "USD per 1,000",
            step=0.01,
            fmt="%.3f",
        ),
        _f(CloudOption, "migration_per_user", "Migration", "USD per user, once", step=1.0),
        _f(CloudOption, "admin_hours_per_month", "Admin", "hours per month", **_HOURS),
        _f(
            CloudOption,
            "admin_hours_per_100_users_month",
            "Admin per 100 users",
            "hours per 100 users a month",
            **_HOURS,
        ),
        _f(
            CloudOption,
            "helpdesk_hours_per_user_year",
            "Helpdesk",
            "hours per user a year",
            step=0.1,
            fmt="%.2f",
        ),
        _f(CloudOption, "admin_hourly_cost", "Admin hourly cost", "USD per hour", step=1.0),
        _f(CloudOption, "helpdesk_hourly_cost", "Helpdesk hourly cost", "USD per hour", step=1.0),
        _f(
            CloudOption,
            "sender_auth_hours_per_domain_month",
            "Sender authentication",
            "hours per sending domain a month",
            **_HOURS,
        ),
        _f(
            CloudOption,
            "sender_auth_setup_hours_per_domain",
            "Sender authentication set-up",
            "hours per sending domain, once",
            **_HOURS,
        ),
        _f(CloudOption, "exit_cost", "Exit", "USD once, at the end", step=100.0),
        _f(CloudOption, "discount_pct", "Discount", "fraction off the list price", **_FRACTION),
        _f(CloudOption, "price_lock_years", "Price lock", "years", kind="int", fmt="%d"),
        _f(
            CloudOption,
            "availability",
            "Availability",
            "fraction of the time",
            step=0.001,
            fmt="%.4f",
        ),
    ),
)
"""Cloud inputs that fall back to the plan (or zero for ``plan: custom``) when left empty."""
