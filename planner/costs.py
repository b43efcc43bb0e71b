"""Yearly cost lines per option, array-first, and the discounting that turns them into NPV.

All amounts here are USD; conversion to the display currency happens once, when results
are built (``planner.evaluation``). Arrays have shape (N, H): N scenario points or draws,
H years. The formulas (README, "How the numbers are computed"), with e the escalation and
y the year (1-based):

On-prem
- hardware = server_price * servers bought that year (new ones and replacements)
- residual (last year) = -server_price * servers in service weighted by undepreciated share
- setup = setup_cost in year 1
- software_licences = servers * licence_per_server_year + users * licence_per_user_year
- power = servers * server_watts * 8.76 kWh * pue * electricity_per_kwh * (1+e_power)^(y-1)
- space = servers * rack_per_server_month * 12
- admin_labour = (admin_hours_per_month + admin_hours_per_server_month * servers
  + admin_hours_per_100_users_month * users / 100) * 12 * admin_hourly_cost * (1+e_labour)^(y-1)
- filtering = users * filtering_per_user_month * 12
- backup = storage_tb * backup_per_tb_month * 12
- relay = users * sent * outbound_share * recipients_per_message * 365 / 1000
  * outbound_relay_per_1000
  + users * sent * outbound_share * 365 * avg_message_kb / 1e6 * outbound_relay_per_gb
- feature_addons = users * feature_addon_per_user_month * 12 (add-ons bought for required
  features)

Cloud
- subscription = users * price_per_user_month * 12 * (1+e_cloud)^(y-1)
- storage = users * 12 * (addon price, in years where the mailbox exceeds the included GB)
  + users * max(0, mailbox_gb - max(included, addon GB)) * extra_storage_per_gb_month * 12
- relay = users * sent * outbound_share * recipients_per_message * 365 / 1000
  * per_1000_messages
- feature_addons = users * feature_addon_per_user_month * 12 * (1+e_cloud)^(y-1)
- admin_labour = admin_hours_per_month * 12 * admin_hourly_cost * (1+e_labour)^(y-1)
- migration = users (year 1) * migration_per_user, in year 1
"""

from __future__ import annotations

import numpy as np

from planner.sizing import Demand, FloatArray, Inputs, fleet, servers_needed, years

__all__ = [
    "CATEGORIES",
    "CLOUD_CATEGORIES",
    "ONPREM_CATEGORIES",
    "cloud_lines",
    "discount_factors",
    "escalator",
    "onprem_lines",
]

ONPREM_CATEGORIES = (
    "hardware",
    "residual",
    "setup",
    "software_licences",
    "power",
    "space",
    "admin_labour",
    "backup",
    "filtering",
    "relay",
    "feature_addons",
)
CLOUD_CATEGORIES = (
    "subscription",
    "storage",
    "relay",
    "admin_labour",
    "migration",
    "feature_addons",
)
CATEGORIES = (
    "hardware",
    "residual",
    "setup",
    "software_licences",
    "subscription",
    "storage",
    "power",
    "space",
    "admin_labour",
    "backup",
    "filtering",
    "relay",
    "migration",
    "feature_addons",
)

HOURS_PER_YEAR_KWH_PER_W = 8.76  # 8,760 hours a year / 1,000 W per kW


def escalator(rate: FloatArray, horizon: int) -> FloatArray:
    """(1 + rate)^(y - 1) for each year, shape (N, H)."""
    return np.asarray((1.0 + rate) ** (years(horizon) - 1.0), dtype=np.float64)


def discount_factors(rate: FloatArray | float, horizon: int) -> FloatArray:
    """1 / (1 + r)^(y - 1): costs fall at the start of each year, so year 1 is not discounted."""
    r = np.asarray(rate, dtype=np.float64).reshape(-1, 1)
    return np.asarray(1.0 / (1.0 + r) ** (years(horizon) - 1.0), dtype=np.float64)


def _first_year(values: FloatArray, horizon: int) -> FloatArray:
    out = np.zeros((values.shape[0], horizon))
    out[:, 0] = values[:, 0]
    return out


def _relay_messages_thousands(org: Inputs, d: Demand) -> FloatArray:
    """Outbound recipients a year, in thousands (a relay bills each recipient)."""
    return (
        d.users
        * org.messages_sent_per_user_day
        * org.outbound_share
        * org.recipients_per_message
        * 365.0
        / 1000.0
    )


def onprem_lines(
    org: Inputs, opt: Inputs, esc: Inputs, d: Demand
) -> tuple[dict[str, FloatArray], FloatArray]:
    """Yearly USD cost per on-prem category, and the servers in service; all (N, H)."""
    n = max(org.n, opt.n, esc.n, d.users.shape[0])
    horizon = d.users.shape[1]
    shape = (n, horizon)
    servers = np.broadcast_to(servers_needed(d, opt), shape)
    purchases, residual_units = fleet(servers, np.broadcast_to(opt.refresh_years, (n, 1)))
    residual = np.zeros(shape)
    residual[:, -1] = -(opt.server_price[:, 0] * residual_units)
    setup = _first_year(np.broadcast_to(opt.setup_cost, (n, 1)), horizon)
    labour_hours = (
        opt.admin_hours_per_month
        + opt.admin_hours_per_server_month * servers
        + opt.admin_hours_per_100_users_month * d.users / 100.0
    )
    lines = {
        "hardware": opt.server_price * purchases,
        "residual": residual,
        "setup": setup,
        "software_licences": servers * opt.licence_per_server_year
        + d.users * opt.licence_per_user_year,
        "power": servers
        * opt.server_watts
        * HOURS_PER_YEAR_KWH_PER_W
        * opt.pue
        * opt.electricity_per_kwh
        * escalator(esc.power, horizon),
        "space": servers * opt.rack_per_server_month * 12.0,
        "admin_labour": labour_hours
        * 12.0
        * opt.admin_hourly_cost
        * escalator(esc.labour, horizon),
        "backup": d.storage_tb * opt.backup_per_tb_month * 12.0,
        "filtering": d.users * opt.filtering_per_user_month * 12.0,
        "relay": _relay_messages_thousands(org, d) * opt.outbound_relay_per_1000
        + d.users
        * org.messages_sent_per_user_day
        * org.outbound_share
        * 365.0
        * org.avg_message_kb
        / 1e6
        * opt.outbound_relay_per_gb,
        "feature_addons": d.users * opt.feature_addon_per_user_month * 12.0,
    }
    return {k: np.broadcast_to(v, shape).astype(np.float64) for k, v in lines.items()}, servers


def cloud_lines(org: Inputs, opt: Inputs, esc: Inputs, d: Demand) -> dict[str, FloatArray]:
    """Yearly USD cost per cloud category, (N, H)."""
    n = max(org.n, opt.n, esc.n, d.users.shape[0])
    horizon = d.users.shape[1]
    shape = (n, horizon)
    needs_addon = (opt.addon_gb_per_user > 0) & (d.mailbox_gb > opt.included_gb_per_user)
    storage_gb = np.maximum(opt.included_gb_per_user, opt.addon_gb_per_user)
    over_gb = np.maximum(d.mailbox_gb - storage_gb, 0.0)
    lines = {
        "subscription": d.users
        * opt.price_per_user_month
        * 12.0
        * escalator(esc.cloud_subscription, horizon),
        "storage": d.users * 12.0 * opt.addon_price_per_user_month * needs_addon
        + d.users * over_gb * opt.extra_storage_per_gb_month * 12.0,
        "relay": _relay_messages_thousands(org, d) * opt.per_1000_messages,
        "admin_labour": opt.admin_hours_per_month
        * 12.0
        * opt.admin_hourly_cost
        * escalator(esc.labour, horizon),
        "migration": _first_year(
            np.broadcast_to(d.users[:, :1] * opt.migration_per_user, (n, 1)), horizon
        ),
        "feature_addons": d.users
        * opt.feature_addon_per_user_month
        * 12.0
        * escalator(esc.cloud_subscription, horizon),
    }
    return {k: np.broadcast_to(v, shape).astype(np.float64) for k, v in lines.items()}
