"""What each scenario field looks like in a form: label, unit, input kind, step, format.

Help texts come from the field descriptions in ``planner.models`` (the scenario file's own
documentation), so the form and ``mailplan schema`` say the same thing. Paths address a
place in the scenario data, ``("onprem", 0, "server_price")``, and print the way
validation problems name it, ``onprem[0].server_price``. No Streamlit here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from planner.models import CloudOption, Escalation, OnPremOption, Organization, Scenario

__all__ = [
    "CLOUD_NUMBERS",
    "ESCALATION",
    "GENERAL",
    "ONPREM_NUMBERS",
    "ORGANIZATION",
    "SIDEBAR",
    "FieldSpec",
    "Path",
    "path_key",
]

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

ESCALATION = (
    _f(
        Escalation,
        "cloud_subscription",
        "Cloud subscription change",
        "fraction per year",
        **_FRACTION,
    ),
    _f(Escalation, "labour", "Admin labour cost change", "fraction per year", **_FRACTION),
    _f(Escalation, "power", "Electricity price change", "fraction per year", **_FRACTION),
)

ORGANIZATION = (
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
)

ONPREM_NUMBERS = (
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
    _f(OnPremOption, "setup_cost", "Set-up", "USD once, in year 1", step=100.0),
)
"""On-prem inputs that fall back to the catalog when left empty."""

CLOUD_NUMBERS = (
    _f(CloudOption, "price_per_user_month", "Price", "USD per user-month", step=0.1),
    _f(
        CloudOption, "included_gb_per_user", "Included storage", "GB per user", step=1.0, fmt="%.1f"
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
    _f(CloudOption, "admin_hourly_cost", "Admin hourly cost", "USD per hour", step=1.0),
)
"""Cloud inputs that fall back to the plan (or zero for ``plan: custom``) when left empty."""
