"""Yearly demand and on-prem sizing, array-first.

Every function works on column arrays of shape (N, 1) — one row per scenario point (a
break-even sweep) or Monte Carlo draw — against the years of the horizon, and returns
(N, H) arrays. A single scenario is simply N = 1. The formulas (README, "How the numbers
are computed"):

- users_y = floor(users * (1 + g)^(y-1) + 0.5)
- messages_per_day_y = users_y * (sent + received)
- peak_msgs_per_s_y = messages_per_day_y * peak_factor / 86400
- storage_tb_y = users_y * (mailbox_gb + growth_gb * y) / 1000  (end of year y); with
  segments and shared mailboxes, the sum over every group of mailboxes (see ``demand``)
- servers_y = max(ceil(peak / (capacity * util)), ceil(storage * copies / (tb_per_server * util)),
  copies), then redundancy: none +0, n+1 +1, 2n x2
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import reduce
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

__all__ = [
    "DIMENSIONS",
    "DR_CODES",
    "REDUNDANCY_CODES",
    "Demand",
    "Fleet",
    "FloatArray",
    "Inputs",
    "Sizing",
    "demand",
    "finite",
    "fleet",
    "fleet_of",
    "segment_count",
    "servers_needed",
    "shaped",
    "size",
    "users_by_year",
    "years",
]

FloatArray = npt.NDArray[np.float64]

REDUNDANCY_CODES = {"none": 0, "n+1": 1, "2n": 2}
DR_CODES = {"none": 0, "cold": 1, "warm": 2}
_EPS = 1e-9  # absorbs floating-point noise before floor/ceil (0.1 * 3 / 0.3 must be 1)
_MAX = float(np.finfo(np.float64).max)  # what np.nan_to_num puts for inf by default
_MIN = float(np.finfo(np.float64).min)  # and for -inf


def _column(value: Any) -> FloatArray:
    if type(value) is float or type(value) is int:  # the common case, made cheap
        return np.array([[value]], dtype=np.float64)
    if isinstance(value, np.ndarray) and value.dtype == np.float64 and value.shape[1:] == (1,):
        return value  # already a column (an Inputs value passed on)
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim > 1:
        arr = arr.reshape(-1)
    return arr.reshape(-1, 1)


# float.hex() of a default -> its (1, 1) column, read-only (see Inputs.get); the defaults
# are the literals the cost model passes, a few dozen at most.
_DEFAULTS: dict[str, FloatArray] = {}


def _fields(model: BaseModel) -> list[tuple[str, Any]]:
    """``list(model)``: the public fields in order, then any extra fields."""
    out = [(k, v) for k, v in model.__dict__.items() if not k.startswith("_")]
    extra = model.__pydantic_extra__
    if extra:
        out += extra.items()
    return out


class Inputs:
    """Numeric inputs as column arrays of shape (N, 1), read as attributes.

    ``Inputs.of(model)`` takes every numeric field of a pydantic model (``redundancy`` as
    its code 0/1/2); keyword overrides replace any field with a scalar or an (N,) array.
    """

    __slots__ = ("_values", "n")

    def __init__(self, values: Mapping[str, Any]) -> None:
        # Chosen for speed: the plain numbers (most fields of a model) become one array in
        # one call, each field a (1, 1) view of it, instead of one np.array call a field.
        plain = [v for v in values.values() if type(v) is float or type(v) is int]
        block = iter(np.array(plain, dtype=np.float64).reshape(-1, 1, 1))
        cols = {
            k: next(block) if type(v) is float or type(v) is int else _column(v)
            for k, v in values.items()
        }
        sizes = {c.shape[0] for c in cols.values()} - {1}
        if len(sizes) > 1:
            raise ValueError(f"inputs of different lengths: {sorted(sizes)}")
        self._values = cols
        self.n = sizes.pop() if sizes else 1

    @classmethod
    def of(cls, model: BaseModel | None = None, **overrides: Any) -> Inputs:
        """Numeric fields of ``model`` (if any), then ``overrides``."""
        values: dict[str, Any] = {}
        if model is not None:
            # Chosen for speed: the model's fields read as ``iter(model)`` yields them (its
            # __dict__ without private names, then any extra fields), without the generator
            for name, value in _fields(model):
                kind = type(value)
                if kind is float or kind is int:  # the common case, tested first
                    values[name] = value
                elif name == "redundancy":
                    values[name] = REDUNDANCY_CODES[value]
                elif name == "dr":
                    values[name] = DR_CODES[value]
                elif isinstance(value, int | float) and not isinstance(value, bool):
                    values[name] = value
        values.update(overrides)
        return cls(values)

    @classmethod
    def stack(cls, rows: list[Inputs]) -> Inputs | None:
        """Single-row inputs stacked into one, a row each; None unless every one is a
        single row with the same fields."""
        names = list(rows[0]._values)
        # every field of a single row is a (1, 1) column (see __init__)
        if any(r.n != 1 or list(r._values) != names for r in rows):
            return None
        # one (fields, rows) block, each field a (rows, 1) view of it: one call, not one
        # np.concatenate a field
        block = np.array([[r._values[k][0, 0] for r in rows] for k in names], dtype=np.float64)
        return cls(dict(zip(names, block.reshape(len(names), len(rows), 1), strict=True)))

    def get(self, name: str, default: float) -> FloatArray:
        """The field ``name``, or ``default`` as a (1, 1) column when it is not given."""
        found = self._values.get(name)
        if found is not None:
            return found
        if type(default) is float:  # made once per value (read-only): a costing asks often
            key = default.hex()  # tells -0.0 from 0.0, and every NaN is one key
            col = _DEFAULTS.get(key)
            if col is None:
                col = _DEFAULTS[key] = _column(default)
                col.flags.writeable = False
            return col
        return _column(default)

    def replace(self, **overrides: Any) -> Inputs:
        """A copy with some fields replaced."""
        return Inputs({**self._values, **overrides})

    def __getattr__(self, name: str) -> FloatArray:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __getstate__(self) -> dict[str, Any]:
        return {"values": self._values, "n": self.n}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._values = state["values"]
        self.n = state["n"]


def years(horizon: int) -> FloatArray:
    """Year numbers 1..horizon as a (H,) float array."""
    return np.arange(1, horizon + 1, dtype=np.float64)


def users_by_year(org: Inputs, horizon: int) -> FloatArray:
    """Users in each year: floor(users * (1+g)^(y-1) + 0.5), shape (N, H)."""
    growth = (1.0 + org.user_growth_per_year) ** (years(horizon) - 1.0)
    return np.floor(org.users * growth + 0.5 + _EPS)


@dataclass(frozen=True)
class Demand:
    """What the organisation asks of its mail system each year, arrays of shape (N, H)."""

    users: FloatArray
    messages_per_day: FloatArray
    peak_msgs_per_s: FloatArray
    mailbox_gb: FloatArray  # average mailbox at the end of each year, GB
    storage_tb: FloatArray  # all mailboxes at the end of each year, TB
    fetches_per_s: FloatArray  # client message fetches a second in the busiest hour (0: none)
    sessions: FloatArray  # concurrent client sessions at the peak (0: none)
    # seat mix (issue #19): people per segment, their mailboxes, shared mailboxes
    segment_users: tuple[FloatArray, ...] = ()
    segment_mailbox_gb: tuple[FloatArray, ...] = ()
    sent_per_day: FloatArray | None = None  # messages people send a day (None: users x sent)
    shared: FloatArray | None = None  # shared mailboxes (None: none)
    shared_gb: FloatArray | None = None  # size of each shared mailbox at the end of the year

    @property
    def rest_users(self) -> FloatArray:
        """People on the organisation's own profile: users minus every segment."""
        out = self.users
        for seg in self.segment_users:
            out = out - seg
        return np.asarray(out, dtype=np.float64)

    @property
    def mailboxes(self) -> FloatArray:
        """Every mailbox: people plus shared mailboxes."""
        return self.users if self.shared is None else self.users + self.shared


def segment_count(org: Inputs) -> int:
    """How many segments ``org`` carries (``seg{i}_users`` inputs)."""
    k = 0
    while f"seg{k}_users" in org:
        k += 1
    return k


def _own(org: Inputs, name: str, field: str) -> FloatArray:
    """A segment's profile figure, the organisation's where the segment gives none (NaN)."""
    value = org.get(name, np.nan)
    return np.asarray(np.where(np.isnan(value), getattr(org, field), value), dtype=np.float64)


def demand(org: Inputs, horizon: int) -> Demand:
    """Users, messages a day, peak messages/s, storage and client load for each year.

    With segments (inputs ``seg{i}_users`` and profile figures, NaN for the organisation's
    own), segment i holds C_i - C_(i-1) people in year y, where C_i = min(floor(S_i * (1+g)^
    (y-1) + 0.5), users_y) and S_i is the segments' year-1 users up to and including i:
    they grow with the organisation and add up to its total; the rest keep its profile.
    Shared mailboxes (``shared_count``, ``shared_gb``, ``shared_growth_gb``,
    ``shared_received``) add storage and incoming mail.
    """
    shape = (org.n, horizon)  # any input may vary by point, so every array is (N, H)
    users = np.broadcast_to(users_by_year(org, horizon), shape)
    mailbox = org.mailbox_gb_per_user + org.mailbox_growth_gb_per_user_year * years(horizon)
    mailbox = np.broadcast_to(mailbox, shape)
    k = segment_count(org)
    shared_count = org.get("shared_count", 0.0)
    if k == 0 and not np.any(shared_count > 0):
        per_day = users * (org.messages_sent_per_user_day + org.messages_received_per_user_day)
        return Demand(
            users=users,
            messages_per_day=per_day,
            peak_msgs_per_s=per_day * org.peak_factor / 86400.0,
            mailbox_gb=mailbox,
            storage_tb=users * mailbox / 1000.0,
            fetches_per_s=users * org.get("client_fetches_per_user_hour", 0.0) / 3600.0,
            sessions=users * org.get("client_sessions_per_user", 0.0),
            sent_per_day=users * org.messages_sent_per_user_day,
        )
    growth = (1.0 + org.user_growth_per_year) ** (years(horizon) - 1.0)
    carved, before = np.zeros((org.n, 1)), np.zeros(shape)
    seg_users, seg_mailbox = [], []
    rest = users
    sent = np.zeros(shape)
    per_day = np.zeros(shape)
    gb = np.zeros(shape)
    for i in range(k):
        carved = carved + org.get(f"seg{i}_users", 0.0)
        upto = np.minimum(np.floor(carved * growth + 0.5 + _EPS), users)
        here = np.broadcast_to(upto - before, shape)
        before = np.broadcast_to(upto, shape)
        s = _own(org, f"seg{i}_sent", "messages_sent_per_user_day")
        r = _own(org, f"seg{i}_received", "messages_received_per_user_day")
        box = _own(org, f"seg{i}_mailbox_gb", "mailbox_gb_per_user") + _own(
            org, f"seg{i}_growth_gb", "mailbox_growth_gb_per_user_year"
        ) * years(horizon)
        box = np.broadcast_to(box, shape)
        seg_users.append(here)
        seg_mailbox.append(box)
        sent = sent + here * s
        per_day = per_day + here * (s + r)
        gb = gb + here * box
        rest = rest - here
    sent = sent + rest * org.messages_sent_per_user_day
    per_day = per_day + rest * (org.messages_sent_per_user_day + org.messages_received_per_user_day)
    gb = gb + rest * mailbox
    shared = np.broadcast_to(np.asarray(shared_count, dtype=np.float64), shape)
    shared_gb = np.broadcast_to(
        org.get("shared_gb", 0.0) + org.get("shared_growth_gb", 0.0) * years(horizon), shape
    )
    per_day = per_day + shared * _own(org, "shared_received", "messages_received_per_user_day")
    gb = gb + shared * shared_gb
    return Demand(
        users=users,
        messages_per_day=per_day,
        peak_msgs_per_s=per_day * org.peak_factor / 86400.0,
        mailbox_gb=mailbox,
        storage_tb=gb / 1000.0,
        fetches_per_s=users * org.get("client_fetches_per_user_hour", 0.0) / 3600.0,
        sessions=users * org.get("client_sessions_per_user", 0.0),
        segment_users=tuple(seg_users),
        segment_mailbox_gb=tuple(seg_mailbox),
        sent_per_day=sent,
        shared=shared,
        shared_gb=shared_gb,
    )


# What can set the server count, in the order a tie is named.
DIMENSIONS = ("storage", "message_rate", "client_load", "copies")


@dataclass(frozen=True)
class Sizing:
    """Servers each dimension needs (N, H), before spares; the servers in service with
    spares; and each dimension's share of the fleet's capacity (NaN where not sized)."""

    needed: dict[str, FloatArray]
    servers: FloatArray
    utilisation: dict[str, FloatArray]

    def binding(self) -> FloatArray:
        """Index into ``DIMENSIONS`` of what sets each year's count (the first on a tie)."""
        shape = np.broadcast_shapes(*(self.needed[k].shape for k in DIMENSIONS))
        stacked = np.stack([np.broadcast_to(self.needed[k], shape) for k in DIMENSIONS])
        return np.asarray(np.argmax(stacked, axis=0), dtype=np.float64)


def shaped(x: FloatArray, shape: tuple[int, ...]) -> FloatArray:
    """``x`` broadcast to ``shape`` (a read-only view), or ``x`` itself when it has that
    shape already. Chosen for speed: ``np.broadcast_to`` costs a few microseconds even when
    there is nothing to do, and a costing makes hundreds of these calls on small arrays."""
    return x if x.shape == shape else np.broadcast_to(x, shape)


def finite(x: FloatArray, posinf: float = _MAX) -> FloatArray:
    """``np.nan_to_num(x, nan=0.0, posinf=posinf)``, several times faster on the small
    arrays of a single scenario (and ``x`` itself when every value is finite)."""
    ok = np.isfinite(x)
    if ok.all():
        return x
    fill = np.where(np.isnan(x), 0.0, np.where(x > 0, posinf, _MIN))
    return np.asarray(np.where(ok, x, fill), dtype=np.float64)


def _ceil(x: FloatArray) -> FloatArray:
    return np.asarray(np.ceil(finite(x, posinf=0.0) - _EPS), dtype=np.float64)


def size(d: Demand, opt: Inputs) -> Sizing:
    """Servers by storage, message rate, client load and copies, spares added.

    storage: mailboxes x (1 + index + retention overheads) x copies on usable TB x
    (1 - filesystem overhead); client load: fetches/s and sessions against the server's
    client capacity, and (where the stack gives per-mailbox figures, as Exchange does)
    IOPS and memory per mailbox x copies against the server's disks and RAM. Each is at
    the planned utilisation.
    """
    needed, servers = _needed(d, opt)
    util = opt.target_utilization
    copies = opt.get("copies", 1.0)
    usable, data_tb = _storage(d, opt, copies)
    fetch_cap = opt.get("client_capacity_fetches_per_s", np.nan) * util
    session_cap = opt.get("client_capacity_sessions", np.nan) * util
    with np.errstate(divide="ignore", invalid="ignore"):
        utilisation = {
            "storage": data_tb / (servers * usable),
            "message_rate": d.peak_msgs_per_s / (servers * opt.capacity_msgs_per_s),
            "client_load": np.maximum(
                finite(d.fetches_per_s / (servers * fetch_cap / util)),
                finite(d.sessions / (servers * session_cap / util)),
            ),
        }
    return Sizing(needed, servers, utilisation)


def _storage(d: Demand, opt: Inputs, copies: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Usable TB a server (after filesystem overhead) and the TB to store each year (every
    copy, with index and retention overheads)."""
    overhead = (
        1.0 + opt.get("storage_index_overhead", 0.0) + opt.get("storage_retention_overhead", 0.0)
    )
    usable = opt.storage_tb_per_server * (1.0 - opt.get("storage_filesystem_overhead", 0.0))
    return usable, d.storage_tb * overhead * copies


def _needed(d: Demand, opt: Inputs) -> tuple[dict[str, FloatArray], FloatArray]:
    """Servers each dimension needs (N, H) and the servers in service, spares added (see
    ``size``)."""
    util = opt.target_utilization
    copies = opt.get("copies", 1.0)
    usable, data_tb = _storage(d, opt, copies)
    fetch_cap = opt.get("client_capacity_fetches_per_s", np.nan) * util
    session_cap = opt.get("client_capacity_sessions", np.nan) * util
    iops_cap = opt.get("disks", 0.0) * opt.get("disk_iops", 0.0) * util
    ram_cap = opt.get("ram_gb", 0.0) * 1024.0 * util
    iops = d.mailboxes * opt.get("iops_per_mailbox", 0.0) * copies
    ram = d.mailboxes * opt.get("ram_mb_per_mailbox", 0.0) * copies
    with np.errstate(divide="ignore", invalid="ignore"):
        storage = _ceil(data_tb / (usable * util))
        rate = _ceil(d.peak_msgs_per_s / (opt.capacity_msgs_per_s * util))
        client = reduce(
            np.maximum,
            [
                _ceil(d.fetches_per_s / fetch_cap),
                _ceil(d.sessions / session_cap),
                _ceil(np.where(iops > 0, iops / iops_cap, 0.0)),
                _ceil(np.where(ram > 0, ram / ram_cap, 0.0)),
            ],
        )
    needed = {
        "storage": storage,
        "message_rate": rate,
        "client_load": client,
        "copies": np.broadcast_to(
            copies, np.broadcast_shapes(np.shape(copies), d.users.shape)
        ).astype(np.float64),
    }
    base = np.maximum(reduce(np.maximum, needed.values()), 1.0)
    code = opt.redundancy
    servers = np.where(code == 2, base * 2.0, base + (code == 1))
    return needed, np.asarray(servers, dtype=np.float64)


def servers_needed(d: Demand, opt: Inputs) -> FloatArray:
    """Servers in service each year, spares included; shape (N, H), at least ``copies``
    (each copy of a mailbox lives on its own server). See ``size``."""
    return _needed(d, opt)[1]  # without the utilisation, which only ``size`` reports


def fleet(servers: FloatArray, refresh_years: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Servers bought each year and the residual share of the fleet at the horizon's end.

    A server bought in year b is replaced in year b + refresh_years if that is within the
    horizon. When the fleet shrinks, the oldest servers retire first. Returns
    ``(purchases, residual_units)``: purchases has shape (N, H); residual_units (N,) counts
    servers in service at the end weighted by their undepreciated share,
    max(0, 1 - (H - b + 1) / refresh_years) for a server bought in year b (straight line).
    """
    f = fleet_of(servers, refresh_years)
    return f.purchases, f.residual_units


@dataclass(frozen=True)
class Fleet:
    """A fleet's purchases (N, H), residual share (N,) and servers past their warranty (N, H)."""

    purchases: FloatArray
    residual_units: FloatArray
    out_of_warranty: FloatArray


def fleet_of(
    servers: FloatArray,
    refresh_years: FloatArray,
    *,
    initial_age: FloatArray | None = None,
    warranty_years: FloatArray | None = None,
) -> Fleet:
    """The fleet that keeps ``servers`` (N, H) in service, as ``fleet`` describes it.

    ``initial_age`` (N, 1): the year-1 servers are already in service, bought that many
    years before year 1 (the system that runs today); they are not bought in year 1 and are
    replaced when their refresh is due (in year 1 if overdue). Their cost is sunk, so their
    value is counted neither today nor at the end: they earn no residual credit (a credit
    for hardware never paid for in the model would make a larger fleet cheaper).
    ``warranty_years`` (N, 1):
    ``out_of_warranty`` counts, each year, the servers in service at least that old.
    """
    n, horizon = servers.shape
    refresh = shaped(np.rint(refresh_years[:, 0]), (n,))
    if initial_age is None and _grows_only(servers, refresh):
        return _growing_fleet(servers, refresh, warranty_years)
    age0 = None if initial_age is None else shaped(initial_age[:, 0], (n,))
    # column 0: servers in service before year 1 (empty for a new installation)
    births = np.empty((n, horizon + 1))
    births[:, 0] = -age0 if age0 is not None else 0.0
    births[:, 1:] = np.arange(horizon, dtype=np.float64)
    cohorts = np.zeros((n, horizon + 1))
    purchases = np.zeros((n, horizon))
    warranty = None if warranty_years is None else shaped(warranty_years[:, 0], (n,))
    aged = np.zeros((n, horizon))
    in_service = np.zeros(n)
    if age0 is not None:
        cohorts[:, 0] = servers[:, 0]
        in_service = servers[:, 0].copy()
    for y in range(horizon):
        target = servers[:, y]
        excess = np.maximum(in_service - target, 0.0)
        if excess.any():
            for c in range(y + 1):
                take = np.minimum(cohorts[:, c], excess)
                cohorts[:, c] -= take
                excess -= take
            in_service = np.minimum(in_service, target)
        col = y + 1
        age = y - births[:, :col]
        due_now = age == refresh[:, None]
        if y == 0:  # servers of today's system already past their refresh go in year 1
            due_now[:, 0] |= age[:, 0] > refresh
        # Chosen for speed: most years nothing is due (a refresh of H years or more never
        # is), and one test of the mask saves taking the due servers out
        if due_now.any():
            due = np.where(due_now, cohorts[:, :col], 0.0)
            if due.any():
                cohorts[:, :col] -= due
                moved = due.sum(axis=1)
                cohorts[:, col] += moved
                purchases[:, y] += moved
        added = np.maximum(target - in_service, 0.0)
        cohorts[:, col] += added
        purchases[:, y] += added
        in_service = in_service + added
        if warranty is not None:
            old = (y - births[:, : col + 1]) >= warranty[:, None]
            aged[:, y] = (cohorts[:, : col + 1] * old).sum(axis=1)
    used_years = horizon - births  # years of use by the end of the horizon
    share = np.clip(1.0 - used_years / refresh[:, None], 0.0, 1.0)
    share[:, 0] = 0.0  # servers in service before year 1: sunk, see above
    return Fleet(purchases, (cohorts * share).sum(axis=1), aged)


def _grows_only(servers: FloatArray, refresh: FloatArray) -> bool:
    """A new installation whose fleet of whole servers never shrinks and never comes up for
    refresh within the horizon (every refresh at least ``horizon`` years): no server is
    retired or replaced, so each year buys only the growth."""
    return bool(
        (refresh >= servers.shape[1]).all()
        and (servers[:, 0] >= 0.0).all()
        and (servers == np.floor(servers)).all()
        and (servers[:, -1] < 2.0**53).all()
        and (servers[:, 1:] >= servers[:, :-1]).all()
    )


def _growing_fleet(
    servers: FloatArray, refresh: FloatArray, warranty_years: FloatArray | None
) -> Fleet:
    """``fleet_of`` for a fleet that ``_grows_only``, without the year-by-year loop. Server
    counts are whole numbers, so the sums here are exact; the residual share is the same
    arithmetic as in ``fleet_of``."""
    n, horizon = servers.shape
    purchases = np.diff(servers, axis=1, prepend=0.0)
    births = np.empty((n, horizon + 1))
    births[:, 0] = 0.0
    births[:, 1:] = np.arange(horizon, dtype=np.float64)
    cohorts = np.zeros((n, horizon + 1))
    cohorts[:, 1:] = purchases
    aged = np.zeros((n, horizon))
    if warranty_years is not None:
        y = np.arange(horizon, dtype=np.float64)
        # [row, year, year bought]: bought by that year and at least the warranty old
        old = (y[:, None] - y[None, :] >= shaped(warranty_years[:, 0], (n,))[:, None, None]) & (
            y[None, :] <= y[:, None]
        )
        aged = (purchases[:, None, :] * old).sum(axis=2)
    used_years = horizon - births
    share = np.clip(1.0 - used_years / refresh[:, None], 0.0, 1.0)
    share[:, 0] = 0.0
    return Fleet(purchases, (cohorts * share).sum(axis=1), aged)
