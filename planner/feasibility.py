"""Whether an option can be bought in each year of the horizon, and what it moves to when not.

The rules, by the ids ``mailplan compare --format json`` puts in ``options[].ruled_out_by``:

- ``seat_cap``: the year's users exceed the plan's ``max_users``;
- ``min_users``: the year's users are below the plan's ``min_users``;
- ``end_of_life``: the plan or stack reaches its end of life (end of support) before the
  year ends;
- ``not_sold_to_new_customers``: the plan or stack is closed to new customers (never for the
  option the scenario names as ``current``: it is already bought);
- ``mailbox_cap``: the average mailbox at the year's end exceeds the plan's hard cap.

An option that breaks a rule in year y moves to its catalog successor (``upgrade_to``) from
year y on, for the rest of the horizon; the successor is held to the same rules. Where no
successor is left, the option is ruled out. Everything is array-first: users and mailboxes
are (N, H) arrays, so each Monte Carlo draw or sweep point gets its own path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from planner.resolution import ResolvedCloud, ResolvedOnPrem
from planner.sizing import Demand

__all__ = [
    "RULES",
    "Move",
    "Path",
    "add_years",
    "path",
    "rule_reason",
]

Option = ResolvedOnPrem | ResolvedCloud
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

RULES = ("seat_cap", "min_users", "end_of_life", "not_sold_to_new_customers", "mailbox_cap")
_EPS = 1e-9


def add_years(day: dt.date, n: int) -> dt.date:
    """``day`` moved ``n`` years on (29 February becomes 28 February in other years)."""
    try:
        return day.replace(year=day.year + n)
    except ValueError:
        return day.replace(year=day.year + n, day=28)


def _broken(option: Option, d: Demand, start: dt.date, current: bool) -> dict[str, BoolArray]:
    """Each rule's verdict for ``option``, (N, H) booleans: True where the year breaks it."""
    shape = d.users.shape
    horizon = shape[1]
    out: dict[str, BoolArray] = {}
    if isinstance(option, ResolvedCloud):
        if option.max_users is not None:
            out["seat_cap"] = d.users > option.max_users
        if option.min_users is not None:
            out["min_users"] = d.users < option.min_users
        if option.mailbox_cap_gb is not None:
            out["mailbox_cap"] = d.mailbox_gb > option.mailbox_cap_gb + _EPS
    if option.end_of_life is not None:
        eol = dt.date.fromisoformat(option.end_of_life)
        ends = np.array([eol < add_years(start, y) for y in range(1, horizon + 1)])
        out["end_of_life"] = np.broadcast_to(ends, shape)
    if not option.available_to_new_customers and not current:
        out["not_sold_to_new_customers"] = np.ones(shape, dtype=np.bool_)
    return out


@dataclass(frozen=True)
class Move:
    """One change of plan on the typical path: in ``year``, ``rules`` (with one line of
    detail each) move the option from ``from_id`` to ``to_id`` (None: no successor, so the
    option is ruled out)."""

    year: int
    rules: tuple[str, ...]
    from_id: str
    to_id: str | None
    details: tuple[str, ...]


@dataclass(frozen=True)
class Path:
    """The plans an option runs on, per point and year.

    ``stage`` (N, H) indexes ``chain`` (the option, then its successors); it equals
    ``len(chain)`` where no plan of the chain is allowed, and ``ruled_out`` (N,) marks the
    points that reach that. ``moves`` describes the first point's path, and ``rules`` the
    rules that rule it out there.
    """

    chain: tuple[Option, ...]
    stage: IntArray
    ruled_out: BoolArray
    rules: tuple[str, ...]
    moves: tuple[Move, ...]


def _catalog_id(option: Option) -> str:
    if isinstance(option, ResolvedCloud):
        return option.plan
    return option.stack or option.id


def rule_reason(rule: str, option: Option, year: int, d: Demand, start: dt.date) -> str:
    """One line saying why ``option`` breaks ``rule`` in ``year`` (first point of ``d``)."""
    users = int(d.users[0, year - 1])
    if rule == "seat_cap" and isinstance(option, ResolvedCloud):
        return f"{users:,} users in year {year} exceed its limit of {option.max_users:,} seats"
    if rule == "min_users" and isinstance(option, ResolvedCloud):
        return f"{users:,} users in year {year} are below its minimum of {option.min_users:,}"
    if rule == "mailbox_cap" and isinstance(option, ResolvedCloud):
        mailbox = float(d.mailbox_gb[0, year - 1])
        kind = "pooled storage" if option.storage_pooled else "mailbox cap"
        return (
            f"average mailbox of {mailbox:g} GB in year {year} exceeds its {kind} of "
            f"{option.mailbox_cap_gb:g} GB per user; no purchase lifts it"
        )
    if rule == "end_of_life":
        verb = "ended" if option.end_of_life and option.end_of_life < start.isoformat() else "ends"
        return f"support {verb} on {option.end_of_life} (year {year})"
    if rule == "not_sold_to_new_customers":
        return "closed to new customers"
    return rule


def path(chain: Sequence[Option], d: Demand, start: dt.date, *, current: bool = False) -> Path:
    """The plan each point runs on each year: ``chain[0]`` until a rule breaks, then the next.

    ``current`` marks the option the organisation runs today: it is not held to
    ``not_sold_to_new_customers`` (its successors are).
    """
    chain = tuple(chain)
    shape = d.users.shape
    stage = np.zeros(shape, dtype=np.int64)
    moves: list[Move] = []
    for k, option in enumerate(chain):
        verdicts = _broken(option, d, start, current and k == 0)
        if not verdicts:
            continue
        here = stage == k
        hits = {rule: v & here for rule, v in verdicts.items()}
        any_hit = np.logical_or.reduce(list(hits.values()))
        moved = np.logical_or.accumulate(any_hit, axis=1)
        stage = np.where(moved & here, k + 1, stage)
        row = any_hit[0]
        if row.any():
            y = int(np.argmax(row))
            broken = tuple(r for r, v in hits.items() if v[0, y])
            nxt = chain[k + 1] if k + 1 < len(chain) else None
            moves.append(
                Move(
                    year=y + 1,
                    rules=broken,
                    from_id=_catalog_id(option),
                    to_id=_catalog_id(nxt) if nxt is not None else None,
                    details=tuple(rule_reason(r, option, y + 1, d, start) for r in broken),
                )
            )
    return Path(
        chain=chain,
        stage=stage,
        ruled_out=(stage == len(chain)).any(axis=1),
        rules=tuple(r for m in moves if m.to_id is None for r in m.rules),
        moves=tuple(moves),
    )
