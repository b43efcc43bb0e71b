"""Yearly cost lines per option, array-first, and the discounting that turns them into NPV.

All amounts here are USD; conversion to the display currency happens once, when results
are built (``planner.evaluation``). Arrays have shape (N, H): N scenario points or draws,
H years. The formulas are in ``planner/report/formulas.md``; with y the year (1-based), every
recurring line is scaled by its category's escalation, (1 + e_c)^(y-1) (``ESCALATION``).

On-prem
- hardware = server_price * servers bought that year (new ones and replacements; none in
  year 1 for the existing servers of the option that runs today)
- residual (last year) = -server_price * servers in service weighted by undepreciated share
- setup = setup_cost in year 1 (not for the option that runs today)
- software_licences = servers * licence_per_server_year + users * licence_per_user_year
- os_licences = servers * licensed cores * os_licence_per_core_year
  + users * os_cal_per_user_year (licensed cores: at least 16 per server, Windows Server's
  minimum, where a per-core price is set)
- hardware_support = servers past their warranty * server_price * support_pct_per_year
- power = servers * server_watts * 8.76 kWh * pue * electricity_per_kwh
- space = servers * rack_per_server_month * 12 (rack_per_u_month * rack_units where given)
- network = network_per_month * 12
- monitoring = servers * monitoring_per_server_month * 12
- admin_labour = (admin_hours_per_month + admin_hours_per_server_month * servers
  + admin_hours_per_100_users_month * users / 100) * 12 * admin_hourly_cost
- helpdesk = users * helpdesk_hours_per_user_year * helpdesk_hourly_cost
- sender_auth = sending_domains * (sender_auth_hours_per_domain_month * 12
  + sender_auth_setup_hours_per_domain in year 1, not for the option that runs today)
  * admin_hourly_cost
- backup = storage_tb * retention copies * backup_per_tb_month * 12
  + servers * backup_software_per_server_year (+ add-ons bought for a backup requirement)
- disaster_recovery: cold = storage_tb * dr_cold_per_tb_month * 12; warm = a standby set of
  ceil(servers / copies) servers: server_price / refresh_years + power + space a year each
- filtering = users * filtering_per_user_month * 12 (+ add-ons for a filtering requirement)
- relay = outbound recipients / 1000 * outbound_relay_per_1000 + outbound GB *
  outbound_relay_per_gb
- feature_addons = users * (other required features' add-on prices) * 12

Cloud
- subscription = users * price_per_user_month * 12; with a seat mix (``planner.seats``),
  the sum over groups of seats (the rest on the option's plan, each segment on its plan,
  licensed shared mailboxes) of seats * that plan's price * 12; storage per group with the
  group's mailbox and its plan's included GB and add-on
- storage = users * 12 * (addon price, in years where the mailbox exceeds the included GB)
  + users * max(0, mailbox_gb - max(included, addon GB)) * extra_storage_per_gb_month * 12
- relay = outbound recipients / 1000 * per_1000_messages
- admin_labour = (admin_hours_per_month + admin_hours_per_100_users_month * users / 100)
  * 12 * admin_hourly_cost
- helpdesk = users * helpdesk_hours_per_user_year * helpdesk_hourly_cost
- sender_auth: as on-prem (DMARC report review and DNS records stay the customer's work)
- backup, filtering, feature_addons = users * add-on price * 12 for required features

Negotiated prices: ``hardware_discount_pct`` takes its share off the server price (and so
off hardware, residual, support and a warm standby), an on-prem ``discount_pct`` off the
software and OS licences, a cloud ``discount_pct`` off the subscription, storage and
add-ons; a cloud ``price_lock_years`` of L keeps the subscription flat through year L.

Both, for a move from the system that runs today (``Terms.moving``)
- migration = mailboxes in year 1 (people and shared mailboxes) * (per_mailbox +
  tool_per_mailbox), in year 1
- training = users in year 1 * training_hours_per_user * admin_hourly_cost, in year 1
- dual_running (added by ``planner.evaluation``) = today's system's year-1 running cost *
  dual_running_months / 12
- exit (cloud, last year) = exit_cost; downtime = hours down a year * cost of an hour
- tax (added by ``planner.evaluation``) = tax_pct.capex * capex lines + tax_pct.opex * the
  other taxed lines (not staff time, outages, the residual credit or dual running)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.sizing import (
    Demand,
    FloatArray,
    Inputs,
    finite,
    fleet_of,
    servers_needed,
    shaped,
    years,
)

__all__ = [
    "CAPEX_CATEGORIES",
    "CATEGORIES",
    "CLOUD_CATEGORIES",
    "ESCALATION",
    "HOURS_PER_YEAR",
    "LABOUR_CATEGORIES",
    "ONE_OFF_CATEGORIES",
    "ONPREM_CATEGORIES",
    "UNTAXED_CATEGORIES",
    "Terms",
    "availability",
    "cloud_lines",
    "discount_factors",
    "escalator",
    "npv",
    "onprem_lines",
    "sender_auth_line",
]

_MOVE = ("migration", "dual_running", "training", "exit", "downtime", "tax")
ONPREM_CATEGORIES = (
    "hardware",
    "residual",
    "setup",
    "software_licences",
    "os_licences",
    "hardware_support",
    "power",
    "space",
    "network",
    "monitoring",
    "admin_labour",
    "helpdesk",
    "sender_auth",
    "backup",
    "disaster_recovery",
    "filtering",
    "relay",
    "feature_addons",
    *_MOVE,
)
CLOUD_CATEGORIES = (
    "subscription",
    "storage",
    "relay",
    "admin_labour",
    "helpdesk",
    "sender_auth",
    "backup",
    "filtering",
    "feature_addons",
    *_MOVE,
)
CATEGORIES = tuple(dict.fromkeys((*ONPREM_CATEGORIES, *CLOUD_CATEGORIES)))
# capex: bought once and owned; everything else is opex
CAPEX_CATEGORIES = ("hardware", "residual", "setup", "migration")
ONE_OFF_CATEGORIES = ("hardware", "residual", "setup", *_MOVE)
LABOUR_CATEGORIES = ("admin_labour", "helpdesk", "sender_auth")
# what tax is not charged on: own staff's time, outages, the resale credit, today's bill
UNTAXED_CATEGORIES = (*LABOUR_CATEGORIES, "training", "downtime", "residual", "dual_running")
# category -> the escalation rate (a field of ``Escalation``) that scales it each year
ESCALATION = {
    "hardware": "hardware",
    "residual": "hardware",
    "software_licences": "software_licences",
    "os_licences": "os_licences",
    "hardware_support": "hardware_support",
    "power": "power",
    "space": "space",
    "network": "network",
    "monitoring": "monitoring",
    "admin_labour": "labour",
    "helpdesk": "labour",
    "sender_auth": "labour",
    "training": "labour",
    "migration": "labour",
    "exit": "labour",
    "backup": "backup",
    "disaster_recovery": "disaster_recovery",
    "filtering": "filtering",
    "relay": "relay",
    "feature_addons": "feature_addons",
    "subscription": "cloud_subscription",
    "storage": "storage",
}

HOURS_PER_YEAR = 8760.0
HOURS_PER_YEAR_KWH_PER_W = 8.76  # 8,760 hours a year / 1,000 W per kW
OS_MIN_CORES_PER_SERVER = 16.0  # Windows Server: every server licenses at least 16 cores
RETENTION_DAYS_PER_COPY = 30.0  # a month of backup versions keeps about one full-size copy


@dataclass(frozen=True)
class Terms:
    """How an option stands to the system that runs today.

    ``current``: it is that system (no set-up; its servers, ``initial_age`` years old at
    the start of year 1 when known, are replaced when due). ``moving``: the scenario names
    what runs today and this option is another one, so it pays migration and training.
    """

    current: bool = False
    moving: bool = False
    initial_age: float | None = None


def escalator(rate: FloatArray, horizon: int) -> FloatArray:
    """(1 + rate)^(y - 1) for each year, shape (N, H)."""
    return np.asarray((1.0 + rate) ** (years(horizon) - 1.0), dtype=np.float64)


def discount_factors(rate: FloatArray | float, horizon: int) -> FloatArray:
    """1 / (1 + r)^(y - 1): costs fall at the start of each year, so year 1 is not discounted."""
    r = np.asarray(rate, dtype=np.float64).reshape(-1, 1)
    return np.asarray(1.0 / (1.0 + r) ** (years(horizon) - 1.0), dtype=np.float64)


def npv(lines: dict[str, FloatArray], factors: FloatArray, end_factor: float) -> FloatArray:
    """NPV of cost lines (N, H) with start-of-year ``factors`` (H,); the residual credit is
    end-of-year money, discounted by ``end_factor`` = 1 / (1 + r)^H."""
    total = sum(v for k, v in lines.items() if k != "residual")
    out = np.asarray(total, dtype=np.float64) @ factors
    if "residual" in lines:
        out = out + lines["residual"][:, -1] * end_factor
    return np.asarray(out, dtype=np.float64)


def availability(opt: Inputs, kind: str) -> FloatArray:
    """Availability (N, 1) as a fraction: on-prem 1 - (1 - a)^(copies + warm standby) with a
    the availability of one server; cloud the option's figure (NaN when unknown)."""
    if kind == "cloud":
        return opt.get("availability", np.nan)
    copies = opt.get("copies", 1.0) + (opt.get("dr", 0.0) == 2)
    return np.asarray(1.0 - (1.0 - opt.get("server_availability", 0.99)) ** copies)


def _first_year(values: FloatArray, horizon: int) -> FloatArray:
    out = np.zeros((values.shape[0], horizon))
    out[:, 0] = values[:, 0]
    return out


def _last_year(values: FloatArray, horizon: int) -> FloatArray:
    out = np.zeros((values.shape[0], horizon))
    out[:, -1] = values[:, 0]
    return out


def _sent(org: Inputs, d: Demand) -> FloatArray:
    """Messages people send a day (each segment at its own rate)."""
    return d.users * org.messages_sent_per_user_day if d.sent_per_day is None else d.sent_per_day


def _relay_messages_thousands(org: Inputs, d: Demand) -> FloatArray:
    """Outbound recipients a year, in thousands (a relay bills each recipient)."""
    return _sent(org, d) * org.outbound_share * org.recipients_per_message * 365.0 / 1000.0


def _outbound_gb(org: Inputs, d: Demand) -> FloatArray:
    """Outbound mail a year in GB (1 GB = 10^6 KB)."""
    return _sent(org, d) * org.outbound_share * 365.0 * org.avg_message_kb / 1e6


def _moves(
    org: Inputs, opt: Inputs, sc: Inputs, d: Demand, terms: Terms, shape: tuple[int, int]
) -> dict[str, FloatArray]:
    """Migration, training and downtime lines (dual running is added by the evaluation)."""
    n, horizon = shape
    if not terms.moving:  # nothing moves: zero lines, without the arithmetic
        return {
            "migration": np.zeros(shape),
            "training": np.zeros(shape),
            "dual_running": np.zeros(shape),
        }
    first_users = shaped(d.users[:, :1], (n, 1))
    first_boxes = shaped(d.mailboxes[:, :1], (n, 1))  # shared mailboxes move too
    migration = first_boxes * (sc.per_mailbox + sc.tool_per_mailbox)
    training = first_users * sc.training_hours_per_user * opt.admin_hourly_cost
    return {
        "migration": _first_year(shaped(migration, (n, 1)), horizon),
        "training": _first_year(shaped(training, (n, 1)), horizon),
        "dual_running": np.zeros(shape),
    }


def downtime_line(avail: FloatArray, d: Demand, sc: Inputs) -> FloatArray:
    """Cost of the hours mail is down a year: (1 - availability) * 8,760 h * (cost per
    user-hour * users + cost per hour); 0 where availability is unknown."""
    hours = finite((1.0 - avail) * HOURS_PER_YEAR)
    return np.asarray(
        hours * (sc.downtime_cost_per_user_hour * d.users + sc.downtime_cost_per_hour),
        dtype=np.float64,
    )


def sender_auth_line(org: Inputs, opt: Inputs, terms: Terms, shape: tuple[int, int]) -> FloatArray:
    """Sender-authentication and reputation labour a year, (N, H): sending domains x (hours
    per domain-month x 12, plus the first-time set-up hours in year 1 unless the option is
    the system that runs today) x the admin hourly cost."""
    domains = org.get("sending_domains", 1.0)
    hours = np.broadcast_to(
        domains * opt.get("sender_auth_hours_per_domain_month", 0.0) * 12.0, shape
    ).copy()
    if not terms.current:
        setup = domains * opt.get("sender_auth_setup_hours_per_domain", 0.0)
        hours[:, 0] = hours[:, 0] + shaped(setup, (shape[0], 1))[:, 0]
    return np.asarray(hours * opt.admin_hourly_cost, dtype=np.float64)


# (id of escalation inputs, horizon) -> (those inputs, factor of each escalation field,
# None where it escalates by nothing). Chosen for speed: every pass of an evaluation costs
# each option with the same escalation inputs, and working a factor out again is several
# numpy calls. The inputs are kept so a reused id never matches; emptied past _FACTORS_MAX.
_FACTORS: dict[tuple[int, int], tuple[Inputs, dict[str, FloatArray | None]]] = {}
_FACTORS_MAX = 256


def _esc_factors(esc: Inputs, horizon: int) -> dict[str, FloatArray | None]:
    """The escalation factors worked out so far for ``esc`` over ``horizon`` years."""
    hit = _FACTORS.get((id(esc), horizon))
    if hit is not None and hit[0] is esc:
        return hit[1]
    if len(_FACTORS) >= _FACTORS_MAX:
        _FACTORS.clear()
    factors: dict[str, FloatArray | None] = {}
    _FACTORS[id(esc), horizon] = (esc, factors)
    return factors


def _factor(rate: FloatArray, horizon: int, lock: FloatArray | None) -> FloatArray | None:
    """Escalation factors (N, H) at ``rate`` (None: no escalation); under a price ``lock``
    of L years > 1, flat through year L."""
    if not (rate != 0.0).any():
        return None
    if lock is not None and np.any(lock > 1):
        steps = np.maximum(years(horizon) - np.maximum(lock, 1.0), 0.0)
        return np.asarray((1.0 + rate) ** steps, dtype=np.float64)
    return escalator(rate, horizon)


def _escalate(
    lines: dict[str, FloatArray],
    esc: Inputs,
    horizon: int,
    shape: tuple[int, int],
    opt: Inputs,
) -> dict[str, FloatArray]:
    """Each line times its category's escalation; a cloud subscription under a price lock
    of L years stays flat through year L and escalates from year L + 1."""
    inflation = esc.get("inflation", 0.0)
    # the factors of a category depend on ``esc`` and the horizon alone (a subscription's
    # also on the option's price lock: worked out each call)
    factors = _esc_factors(esc, horizon)
    lock = opt.get("price_lock_years", 0.0)
    out = {}
    for k, v in lines.items():
        field = ESCALATION.get(k)
        factor: FloatArray | None = None
        if field is not None and k == "subscription":  # not kept: depends on the lock
            factor = _factor(esc.get(field, 0.0) + inflation, horizon, lock)
        elif field is not None:
            if field not in factors:
                factors[field] = _factor(esc.get(field, 0.0) + inflation, horizon, None)
            factor = factors[field]
        value = v if factor is None else v * factor
        out[k] = shaped(value, shape)
    return out


def onprem_lines(
    org: Inputs,
    opt: Inputs,
    esc: Inputs,
    d: Demand,
    sc: Inputs | None = None,
    terms: Terms = Terms(),
) -> tuple[dict[str, FloatArray], FloatArray]:
    """Yearly USD cost per on-prem category, and the servers in service; all (N, H)."""
    sc = sc or _NO_TERMS
    n = max(org.n, opt.n, esc.n, sc.n, d.users.shape[0])
    horizon = d.users.shape[1]
    shape = (n, horizon)
    servers = shaped(servers_needed(d, opt), shape)
    age = None
    if terms.current and terms.initial_age is not None:
        age = np.full((n, 1), terms.initial_age)
    f = fleet_of(
        servers,
        shaped(opt.refresh_years, (n, 1)),
        initial_age=age,
        warranty_years=shaped(opt.get("warranty_years", 0.0), (n, 1)),
    )
    price = opt.server_price * (1.0 - opt.get("hardware_discount_pct", 0.0))  # negotiated
    licence_factor = 1.0 - opt.get("discount_pct", 0.0)
    residual = np.zeros(shape)
    residual[:, -1] = -(shaped(price, (n, 1))[:, 0] * f.residual_units)
    setup = np.zeros((n, 1)) if terms.current else shaped(opt.setup_cost, (n, 1))
    labour_hours = (
        opt.admin_hours_per_month
        + opt.admin_hours_per_server_month * servers
        + opt.admin_hours_per_100_users_month * d.users / 100.0
    )
    os_core = opt.get("os_licence_per_core_year", 0.0)
    cores = np.where(os_core > 0, np.maximum(opt.get("cores", 1.0), OS_MIN_CORES_PER_SERVER), 0.0)
    retention = org.get("backup_retention_days", np.nan)
    backup_copies = np.where(
        np.isnan(retention),
        opt.get("backup_copies", 1.0),
        np.maximum(np.ceil(retention / RETENTION_DAYS_PER_COPY), 1.0),
    )
    power_per_server = (
        opt.server_watts * HOURS_PER_YEAR_KWH_PER_W * opt.pue * opt.electricity_per_kwh
    )
    space_per_server = opt.rack_per_server_month * 12.0
    dr = opt.get("dr", 0.0)
    standby = np.ceil(servers / opt.get("copies", 1.0) - 1e-9)
    warm = standby * (price / opt.refresh_years + power_per_server + space_per_server)
    cold = d.storage_tb * opt.get("dr_cold_per_tb_month", 0.0) * 12.0
    lines = {
        "hardware": price * f.purchases,
        "residual": residual,
        "setup": _first_year(setup, horizon),
        "software_licences": (
            servers * opt.licence_per_server_year + d.users * opt.licence_per_user_year
        )
        * licence_factor,
        "os_licences": (servers * cores * os_core + d.users * opt.get("os_cal_per_user_year", 0.0))
        * licence_factor,
        "hardware_support": f.out_of_warranty * price * opt.get("support_pct_per_year", 0.0),
        "power": servers * power_per_server,
        "space": servers * space_per_server,
        "network": np.broadcast_to(opt.get("network_per_month", 0.0) * 12.0, shape),
        "monitoring": servers * opt.get("monitoring_per_server_month", 0.0) * 12.0,
        "admin_labour": labour_hours * 12.0 * opt.admin_hourly_cost,
        "helpdesk": d.users
        * opt.get("helpdesk_hours_per_user_year", 0.0)
        * opt.get("helpdesk_hourly_cost", 0.0),
        "sender_auth": sender_auth_line(org, opt, terms, shape),
        "backup": d.storage_tb * backup_copies * opt.backup_per_tb_month * 12.0
        + servers * opt.get("backup_software_per_server_year", 0.0)
        + d.users * opt.get("backup_addon_per_user_month", 0.0) * 12.0,
        "disaster_recovery": np.where(dr == 2, warm, np.where(dr == 1, cold, 0.0)),
        "filtering": d.users
        * (opt.filtering_per_user_month + opt.get("filtering_addon_per_user_month", 0.0))
        * 12.0,
        "relay": _relay_messages_thousands(org, d) * opt.outbound_relay_per_1000
        + _outbound_gb(org, d) * opt.get("outbound_relay_per_gb", 0.0),
        "feature_addons": d.users * opt.feature_addon_per_user_month * 12.0,
        **_moves(org, opt, sc, d, terms, shape),
        "exit": np.zeros(shape),
        "downtime": downtime_line(availability(opt, "onprem"), d, sc),
        "tax": np.zeros(shape),  # added by planner.evaluation
    }
    return _escalate(lines, esc, horizon, shape, opt), servers


def cloud_lines(
    org: Inputs,
    opt: Inputs,
    esc: Inputs,
    d: Demand,
    sc: Inputs | None = None,
    terms: Terms = Terms(),
) -> dict[str, FloatArray]:
    """Yearly USD cost per cloud category, (N, H)."""
    sc = sc or _NO_TERMS
    n = max(org.n, opt.n, esc.n, sc.n, d.users.shape[0])
    horizon = d.users.shape[1]
    shape = (n, horizon)
    needs_addon = (opt.addon_gb_per_user > 0) & (d.mailbox_gb > opt.included_gb_per_user)
    storage_gb = np.maximum(opt.included_gb_per_user, opt.addon_gb_per_user)
    over_gb = np.maximum(d.mailbox_gb - storage_gb, 0.0)
    hours = (
        opt.admin_hours_per_month
        + opt.get("admin_hours_per_100_users_month", 0.0) * d.users / 100.0
    )
    moves = _moves(org, opt, sc, d, terms, shape)
    own = opt.get("migration_per_user", np.nan)  # the option's own price per mailbox, if any
    if terms.moving:
        first_boxes = shaped(d.mailboxes[:, :1], (n, 1))
        per_mailbox = np.where(np.isnan(own), sc.per_mailbox, own) + sc.tool_per_mailbox
        moves["migration"] = _first_year(shaped(first_boxes * per_mailbox, (n, 1)), horizon)
    vendor = 1.0 - opt.get("discount_pct", 0.0)  # a negotiated discount on the list price
    if d.segment_users or d.shared is not None:
        subscription, storage = _seat_mix(opt, d)
    else:
        subscription = d.users * opt.price_per_user_month * 12.0
        storage = (
            d.users * 12.0 * opt.addon_price_per_user_month * needs_addon
            + d.users * over_gb * opt.extra_storage_per_gb_month * 12.0
        )
    lines = {
        "subscription": subscription * vendor,
        "storage": storage * vendor,
        "relay": _relay_messages_thousands(org, d) * opt.per_1000_messages,
        "admin_labour": hours * 12.0 * opt.admin_hourly_cost,
        "helpdesk": d.users
        * opt.get("helpdesk_hours_per_user_year", 0.0)
        * opt.get("helpdesk_hourly_cost", 0.0),
        "sender_auth": sender_auth_line(org, opt, terms, shape),
        "backup": d.users * opt.get("backup_addon_per_user_month", 0.0) * 12.0 * vendor,
        "filtering": d.users * opt.get("filtering_addon_per_user_month", 0.0) * 12.0 * vendor,
        "feature_addons": d.users * opt.feature_addon_per_user_month * 12.0 * vendor,
        **moves,
        "exit": _last_year(
            shaped(opt.get("exit_cost", 0.0), (n, 1)) * (not terms.current), horizon
        ),
        "downtime": downtime_line(availability(opt, "cloud"), d, sc),
        "tax": np.zeros(shape),  # added by planner.evaluation
    }
    return _escalate(lines, esc, horizon, shape, opt)


def _group_cost(
    users: FloatArray, mailbox: FloatArray, opt: Inputs, prefix: str
) -> tuple[FloatArray, FloatArray]:
    """Subscription and storage a year (list price) for ``users`` seats with ``mailbox`` GB
    each, on the option's own plan (``{prefix}_own`` = 1, or no prefix) or the group's."""
    own = opt.get(f"{prefix}_own", 1.0) if prefix else np.ones((1, 1))

    def pick(name: str, own_name: str) -> FloatArray:
        mine = getattr(opt, own_name)
        return np.asarray(np.where(own > 0, mine, opt.get(f"{prefix}_{name}", 0.0)))

    price = pick("price", "price_per_user_month")
    included = pick("included_gb", "included_gb_per_user")
    addon_gb = pick("addon_gb", "addon_gb_per_user")
    addon_price = pick("addon_price", "addon_price_per_user_month")
    extra = pick("extra", "extra_storage_per_gb_month")
    needs_addon = (addon_gb > 0) & (mailbox > included)
    over_gb = np.maximum(mailbox - np.maximum(included, addon_gb), 0.0)
    storage = users * 12.0 * addon_price * needs_addon + users * over_gb * extra * 12.0
    return users * price * 12.0, storage


def _seat_mix(opt: Inputs, d: Demand) -> tuple[FloatArray, FloatArray]:
    """Subscription and storage (list price) summed over the groups of seats: the people on
    the organisation's profile (the option's own plan), each segment on its plan with its
    own mailbox, and the shared mailboxes that need a licence (no storage add-on)."""
    subscription, storage = _group_cost(d.rest_users, d.mailbox_gb, opt, "")
    for i, (users, mailbox) in enumerate(zip(d.segment_users, d.segment_mailbox_gb, strict=True)):
        sub_i, sto_i = _group_cost(users, mailbox, opt, f"seg{i}")
        subscription, storage = subscription + sub_i, storage + sto_i
    if d.shared is not None and d.shared_gb is not None:
        free = opt.get("shared_free_gb", 0.0)
        licensed = d.shared * (d.shared_gb > free + 1e-9)
        own = opt.get("shared_own", 1.0)
        price = np.where(own > 0, opt.price_per_user_month, opt.get("shared_price", 0.0))
        subscription = subscription + licensed * price * 12.0
    return subscription, storage


_NO_TERMS = Inputs(
    {
        "per_mailbox": 0.0,
        "tool_per_mailbox": 0.0,
        "training_hours_per_user": 0.0,
        "downtime_cost_per_user_hour": 0.0,
        "downtime_cost_per_hour": 0.0,
    }
)
