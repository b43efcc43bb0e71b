"""Flip points: the value of each input at which the cheapest option changes.

For each numeric input, with every other input at its typical value, the search walks away
from the current value in both directions over a stated range (a tenth to ten times the
current value, within the field's own bounds; for a zero value, the field's bounds or 0 to
100) on a grid, finds the first grid point where the cheapest option is another one, and
bisects between it and the last point where it is not. The cheapest option changes in one
direction at most in most inputs (NPV gaps are monotone in them), so the nearest crossing
on each side is the flip. All points of all inputs are evaluated in one pass of the
array-first engine per step; an input with no flip within its range is reported as such.

Inputs: the scenario's ranged inputs when it has ranges; otherwise every numeric input of
the organisation, the escalation rates, the move (``migration``) and the options.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from planner.evaluation import Evaluation
from planner.models import RANGED_MODELS
from planner.ranges import FieldSpec, numeric_fields, split_path
from planner.risk.batch import batch_costs
from planner.sizing import FloatArray

__all__ = ["FlipPoint", "flip_points", "flip_sentences", "input_label"]

GRID = 16  # points on each side of the current value
STEPS = 20  # bisection steps: 2^-20 of the bracket


class FlipPoint(BaseModel):
    """Where the recommendation changes for one input (``flips_at`` None: not within the
    search range ``searched``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: str
    label: str
    current: float
    flips_at: float | None
    direction: str | None  # "above" or "below": where new_cheapest takes over
    new_cheapest: str | None
    searched: tuple[float, float]

    def sentence(self, cheapest_label: str) -> str:
        """``Postfix + Dovecot stays cheapest for admin hours per month of postfix-dovecot
        below 41 (now 30); above that, m365-basic is.``"""
        if self.flips_at is None:
            low, high = self.searched
            return (
                f"{cheapest_label} stays cheapest for any {self.label} from {_num(low)} to "
                f"{_num(high)} (now {_num(self.current)})."
            )
        stays = "below" if self.direction == "above" else "above"
        return (
            f"{cheapest_label} stays cheapest for {self.label} {stays} "
            f"{_num(self.flips_at)} (now {_num(self.current)}); {self.direction} that, "
            f"{self.new_cheapest} is."
        )


def _num(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


_WORDS = {"tb": "TB", "gb": "GB", "kwh": "kWh", "kb": "KB", "msgs": "messages", "s": "second"}


def input_label(path: str, ev: Evaluation) -> str:
    """A field path as words: ``admin hours per month of postfix-dovecot``."""
    section, option_id, name = split_path(path)
    words = " ".join(_WORDS.get(w, w) for w in name.split("_"))
    if option_id is not None:
        return f"{words} of {option_id}"
    if section == "escalation":
        return f"yearly price change of {words}"
    if section == "migration":
        return f"migration {words}"
    return words


def _candidates(ev: Evaluation) -> list[tuple[str, float, FieldSpec]]:
    """(path, current value, spec) of every input the search may move."""
    sc = ev.scenario
    if sc.ranges:
        out = []
        for path in sc.ranges:
            value = sc.field_value(path)
            section, _, name = split_path(path)
            if value is not None:
                out.append((path, value, numeric_fields(RANGED_MODELS[section])[name]))
        return out
    out = []
    org = ev.organization_inputs()
    for section, values in (
        ("", ev.scenario_terms()),
        ("organization", org),
        ("escalation", ev.escalation_inputs()),
        ("migration", ev.scenario_terms()),
    ):
        for name, spec in numeric_fields(RANGED_MODELS[section]).items():
            if name in values:
                path = f"{section}.{name}" if section else name
                out.append((path, float(getattr(values, name)[0, 0]), spec))
    for option in ev.options:
        model = RANGED_MODELS[option.kind]
        for name, spec in numeric_fields(model).items():
            value = getattr(option, name, None)
            if isinstance(value, int | float) and not isinstance(value, bool):
                out.append((f"{option.kind}.{option.id}.{name}", float(value), spec))
    return out


def _bounds(current: float, spec: FieldSpec) -> tuple[float, float]:
    low, high = spec.lower(), spec.upper()
    if current > 0:
        low, high = max(low, current / 10.0), min(high, current * 10.0)
    elif current < 0:
        low, high = max(low, current * 10.0), min(high, current / 10.0)
    else:
        low, high = max(low, 0.0 if math.isinf(low) else low), min(high, 100.0)
    return float(low), float(high)


def _cheapest(ev: Evaluation, values: dict[str, FloatArray]) -> np.ndarray:
    """Index (into ``ev.eligible``) of the cheapest option at each point; -1 where none."""
    batch = batch_costs(ev, values)
    pool = ev.eligible
    if not pool:
        n = len(next(iter(values.values())))
        return np.full(n, -1)
    npv = np.column_stack([np.where(batch.ruled_out[i], np.inf, batch.npv[i]) for i in pool])
    best = np.argmin(npv, axis=1)
    return np.where(np.isfinite(npv.min(axis=1)), best, -1)


def _points(
    items: list[tuple[str, float, FieldSpec]], moved: Iterable[tuple[int, float]]
) -> dict[str, FloatArray]:
    """One point per (input index, value): that input moved, the others at their values."""
    moved = list(moved)
    values = {path: np.full(len(moved), current) for path, current, _ in items}
    for p, (i, value) in enumerate(moved):
        path, _, spec = items[i]
        values[path][p] = round(value) if spec.integer else value
    return values


def flip_points(ev: Evaluation, *, top: int | None = None) -> list[FlipPoint]:
    """The flip point of each input, nearest (relative to its current value) first.

    ``top`` keeps the nearest ``top`` of those that flip, then the rest in input order.
    """
    if ev.cheapest is None:
        return []
    items = _candidates(ev)
    if not items:
        return []
    pool = ev.eligible
    base = pool.index(ev.cheapest)
    bounds = [_bounds(current, spec) for _, current, spec in items]
    # grid: GRID points each way from the current value to the bound
    fractions = (np.arange(1, GRID + 1) / GRID) ** 2  # denser near the current value
    moved: list[tuple[int, float]] = []
    for i, (_, current, _) in enumerate(items):
        low, high = bounds[i]
        moved += [(i, current + f * (high - current)) for f in fractions]
        moved += [(i, current - f * (current - low)) for f in fractions]
    best = _cheapest(ev, _points(items, moved)).reshape(len(items), 2, GRID)
    out: list[FlipPoint] = []
    brackets: list[tuple[int, int, float, float]] = []  # (item, side, inside, outside)
    for i, (_, current, _) in enumerate(items):
        low, high = bounds[i]
        for side, edge in ((0, high), (1, low)):
            changed = np.flatnonzero(best[i, side] != base)
            if not changed.size:
                continue
            k = int(changed[0])
            inside = current if k == 0 else current + fractions[k - 1] * (edge - current)
            outside = current + fractions[k] * (edge - current)
            brackets.append((i, side, inside, outside))
    # bisect every bracket at once
    inside = np.array([b[2] for b in brackets])
    outside = np.array([b[3] for b in brackets])
    for _ in range(STEPS if brackets else 0):
        mid = (inside + outside) / 2.0
        at = _cheapest(ev, _points(items, [(b[0], m) for b, m in zip(brackets, mid, strict=True)]))
        same = at == base
        inside = np.where(same, mid, inside)
        outside = np.where(same, outside, mid)
    found: dict[int, tuple[float, str, str]] = {}
    if brackets:
        final = _cheapest(
            ev, _points(items, [(b[0], o) for b, o in zip(brackets, outside, strict=True)])
        )
        for b, o, who in zip(brackets, outside, final, strict=True):
            i, side = b[0], b[1]
            value = float(round(o) if items[i][2].integer else o)
            distance = abs(value - items[i][1])
            if i not in found or distance < abs(found[i][0] - items[i][1]):
                new = pool[int(who)] if who >= 0 else "none"
                found[i] = (value, "above" if side == 0 else "below", new)
    for i, (path, current, _) in enumerate(items):
        hit = found.get(i)
        out.append(
            FlipPoint(
                input=path,
                label=input_label(path, ev),
                current=current,
                flips_at=None if hit is None else round(hit[0], 6),
                direction=None if hit is None else hit[1],
                new_cheapest=None if hit is None else hit[2],
                searched=bounds[i],
            )
        )

    def nearness(f: FlipPoint) -> float:
        if f.flips_at is None:
            return math.inf
        return abs(f.flips_at - f.current) / max(abs(f.current), 1e-9)

    flips = sorted((f for f in out if f.flips_at is not None), key=nearness)
    rest = [f for f in out if f.flips_at is None]
    return (flips[:top] if top is not None else flips) + ([] if top is not None else rest)


def flip_sentences(ev: Evaluation, flips: Sequence[FlipPoint], *, top: int = 5) -> list[str]:
    """The ``top`` nearest flips of ``flips`` (nearest first, as :func:`flip_points` orders
    them) as sentences; one sentence saying that nothing flips within the searched ranges
    when none does; nothing when the scenario has no cheapest option."""
    if ev.cheapest is None:
        return []
    found = [f for f in flips if f.flips_at is not None][:top]
    if not found:
        return [
            f"No input changes the cheapest option ({ev.cheapest}) within its search range "
            "(a tenth to ten times its value, within its bounds)."
        ]
    return [f.sentence(ev.cheapest) for f in found]
