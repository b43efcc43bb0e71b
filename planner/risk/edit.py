"""Read and change the ranges of a scenario: list them, set or remove one, widen or narrow all.

Every change returns a new, validated Scenario (the dashboard's sliders call these); the
scenario's own ``ranges`` stay the source of truth, and ``dump_scenario`` writes them back
in place of the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from planner.catalog import parse_scenario
from planner.errors import Problem, ScenarioError
from planner.models import Scenario
from planner.ranges import Z90, Distribution, LogNormal, Normal, Triangular, Uniform, split_path
from planner.risk.draws import path_spec
from planner.risk.simulate import ranged_input

__all__ = ["ranged_inputs", "scale_ranges", "scaled", "with_range"]


def ranged_inputs(scenario: Scenario) -> pd.DataFrame:
    """One row per ranged input: input (field path), dist, range (one line), typical,
    low, high (the swing points: p10 and p90 for normal and lognormal)."""
    rows = [ranged_input(scenario, path).model_dump() for path in scenario.ranges]
    return pd.DataFrame(rows, columns=["input", "dist", "range", "typical", "low", "high"])


def _locate(data: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    section, option_id, name = split_path(path)
    holder: dict[str, Any] | None
    if section == "":  # the scenario's own top-level numbers
        holder = data
    elif option_id is None:
        holder = data.setdefault(section, {})
    else:
        holder = next((o for o in data.get(section) or [] if o.get("id") == option_id), None)
    if not isinstance(holder, dict):
        raise ScenarioError(Problem(path, "no such field in the scenario"))
    return holder, name


def with_range(
    scenario: Scenario, path: str, value: Distribution | Mapping[str, Any] | float | None
) -> Scenario:
    """A copy of ``scenario`` with the input at ``path`` set to a range or a number.

    ``value``: a range (model or its data), a plain number, or None to drop the range and
    keep its typical value. Correlations that name the input are dropped when it no longer
    has a range. Raises ScenarioError naming the field when the result is invalid.
    """
    if not scenario.has_field(path):
        raise ScenarioError(Problem(path, "no such field in the scenario"))
    data = scenario.model_dump(mode="json", exclude_unset=True)
    holder, name = _locate(data, path)
    if value is None:
        value = scenario.field_value(path)
    holder[name] = (
        value.as_data() if isinstance(value, Triangular | Uniform | Normal | LogNormal) else value
    )
    if not isinstance(holder[name], Mapping) and data.get("correlations"):
        data["correlations"] = [c for c in data["correlations"] if path not in c[:2]]
    return parse_scenario(data, name=scenario.name)


def scaled(dist: Distribution, factor: float, path: str) -> Distribution:
    """``dist`` widened (factor > 1) or narrowed (factor < 1) around its typical value,
    kept within the bounds of the field at ``path``."""
    if not factor >= 0 or math.isinf(factor):
        raise ScenarioError(Problem("factor", f"must be a finite number >= 0 (got {factor})"))
    spec = path_spec(path)
    lo, hi = spec.lower(), spec.upper()
    if isinstance(dist, Triangular):
        return Triangular(
            low=max(dist.typical - factor * (dist.typical - dist.low), lo),
            typical=dist.typical,
            high=min(dist.typical + factor * (dist.high - dist.typical), hi),
        )
    if isinstance(dist, Uniform):
        mid, half = dist.center(), factor * (dist.high - dist.low) / 2.0
        return Uniform(dist="uniform", low=max(mid - half, lo), high=min(mid + half, hi))
    if isinstance(dist, Normal):
        room = min(dist.mean - lo, hi - dist.mean) / Z90
        return Normal(dist="normal", mean=dist.mean, sd=min(factor * dist.sd, room))
    ratio = (dist.p90 / dist.median) ** factor
    cap = min(hi / dist.median, dist.median / lo if lo > 0 else math.inf)
    return LogNormal(dist="lognormal", median=dist.median, p90=dist.median * min(ratio, cap))


def scale_ranges(scenario: Scenario, factor: float) -> Scenario:
    """A copy of ``scenario`` with every range scaled by ``factor`` around its typical
    value (0 collapses them, 1 keeps them, 2 doubles their width), within field bounds."""
    data = scenario.model_dump(mode="json", exclude_unset=True)
    for path, dist in scenario.ranges.items():
        holder, name = _locate(data, path)
        holder[name] = scaled(dist, factor, path).as_data()
    return parse_scenario(data, name=scenario.name)
