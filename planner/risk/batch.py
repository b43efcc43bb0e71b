"""Every option's yearly cost for many input points at once (Monte Carlo draws, swings).

An input point gives values to some ranged inputs by field path; every other input keeps
the scenario's (typical) value. The points are passed to the array-first engine as
``Inputs`` overrides: organisation and escalation fields replace the scenario's, option
fields replace the resolved option's (``Evaluation.costs_of(..., **overrides)``). No Python loop
runs over the points.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from planner.evaluation import Evaluation
from planner.ranges import split_path
from planner.sizing import FloatArray, Inputs, demand

__all__ = ["batch_costs", "discounted", "yearly_costs"]


def yearly_costs(ev: Evaluation, values: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    """Yearly cost of every option, display currency, (N, H) per option id.

    ``values`` maps field paths (``organization.users``, ``onprem.<id>.pue``, ...) to (N,)
    arrays; N = 1 without values. The arithmetic is the deterministic engine's, so a point
    that holds the typical values costs what ``evaluate()`` says.
    """
    return batch_costs(ev, values)[0]


def batch_costs(
    ev: Evaluation, values: Mapping[str, FloatArray]
) -> tuple[dict[str, FloatArray], dict[str, npt.NDArray[np.bool_]]]:
    """``yearly_costs``, and per option the points (N,) at which a feasibility rule rules
    it out (a seat cap crossed with no successor plan, say)."""
    n = max((len(v) for v in values.values()), default=1)
    org: dict[str, Any] = {}
    esc: dict[str, Any] = {}
    per_option: dict[str, dict[str, Any]] = {}
    for path, column in values.items():
        section, option_id, name = split_path(path)
        if section == "organization":
            org[name] = column
        elif section == "escalation":
            esc[name] = column
        elif option_id is not None:
            per_option.setdefault(option_id, {})[name] = column
    org_inputs = Inputs.of(ev.scenario.organization, **org)
    esc_inputs = Inputs.of(ev.scenario.escalation, **esc)
    d = demand(org_inputs, ev.horizon)
    out = {}
    ruled_out = {}
    for option in ev.options:
        lines, _, plan_path = ev.costs_of(
            option.id, org_inputs, esc_inputs, d, **per_option.get(option.id, {})
        )
        yearly = sum(v * ev.rate for v in lines.values())
        out[option.id] = np.broadcast_to(np.asarray(yearly, dtype=np.float64), (n, ev.horizon))
        ruled_out[option.id] = np.broadcast_to(plan_path.ruled_out, (n,))
    return out, ruled_out


def discounted(ev: Evaluation, yearly: FloatArray) -> FloatArray:
    """NPV of each row of ``yearly`` (N, H): Σ cost_y / (1 + rate)^(y-1), shape (N,)."""
    return np.asarray(yearly @ ev.discount, dtype=np.float64)
