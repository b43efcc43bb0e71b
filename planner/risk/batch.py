"""Every option's yearly cost for many input points at once (Monte Carlo draws, swings).

An input point gives values to some ranged inputs by field path; every other input keeps
the scenario's (typical) value. The points are passed to the array-first engine as
``Inputs`` overrides: organisation and escalation fields replace the scenario's, option
fields replace the resolved option's (``Evaluation.costs_all``). No Python loop
runs over the points.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from planner.evaluation import Evaluation
from planner.ranges import split_path
from planner.sizing import FloatArray, demand

__all__ = ["Batch", "batch_costs", "yearly_costs"]


def yearly_costs(ev: Evaluation, values: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    """Yearly cost of every option, display currency, (N, H) per option id.

    ``values`` maps field paths (``organization.users``, ``onprem.<id>.pue``, ...) to (N,)
    arrays; N = 1 without values. The arithmetic is the deterministic engine's, so a point
    that holds the typical values costs what ``evaluate()`` says.
    """
    return batch_costs(ev, values).yearly


@dataclass(frozen=True)
class Batch:
    """Every option at N points: yearly cost (N, H) and NPV (N,) in display currency, and
    the points at which a feasibility rule (a seat cap crossed with no successor plan, say)
    rules it out (N,)."""

    yearly: dict[str, FloatArray]
    npv: dict[str, FloatArray]
    ruled_out: dict[str, npt.NDArray[np.bool_]]


def batch_costs(ev: Evaluation, values: Mapping[str, FloatArray]) -> Batch:
    """Cost every option at the points ``values`` gives (see ``yearly_costs``)."""
    n = max((len(v) for v in values.values()), default=1)
    org: dict[str, Any] = {}
    esc: dict[str, Any] = {}
    mig: dict[str, Any] = {}
    per_option: dict[str, dict[str, Any]] = {}
    for path, column in values.items():
        section, option_id, name = split_path(path)
        if section == "":  # the scenario's own downtime costs
            mig[name] = column
        elif section == "organization":
            org[name] = column
        elif section == "escalation":
            esc[name] = column
        elif section == "migration":
            mig[name] = column
        elif option_id is not None:
            per_option.setdefault(option_id, {})[name] = column
    org_inputs = ev.organization_inputs(**org)
    esc_inputs = ev.escalation_inputs(**esc)
    d = demand(org_inputs, ev.horizon)
    costed = ev.costs_all(org_inputs, esc_inputs, d, ev.scenario_terms(**mig), per_option)
    yearly, npvs, ruled_out = {}, {}, {}
    for option_id, c in costed.items():
        total = sum(v * ev.rate for v in c.lines.values())
        yearly[option_id] = np.broadcast_to(np.asarray(total, dtype=np.float64), (n, ev.horizon))
        npvs[option_id] = np.broadcast_to(ev.npv_of(c.lines), (n,))
        ruled_out[option_id] = np.broadcast_to(c.path.ruled_out, (n,))
    return Batch(yearly, npvs, ruled_out)
