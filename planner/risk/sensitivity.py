"""One-at-a-time sensitivity: how far each ranged input moves the NPV gap of a pair.

For a pair of options (by default the cheapest on-prem and the cheapest cloud option in
the typical case), the measure is the NPV gap = NPV(on-prem) − NPV(cloud), display
currency: negative while on-prem is cheaper. Each ranged input in turn is set to its low
and then its high value (p10 and p90 for normal and lognormal ranges; clipped to the
field's bounds, integers rounded half up) with every other input at its typical value.
The swing is |gap at high − gap at low|; the tornado lists the inputs by swing, largest
first (file order among equal swings). All 2k + 1 points are evaluated in one pass.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from planner.errors import PlannerError
from planner.evaluation import Evaluation, evaluate
from planner.models import Catalog, Scenario
from planner.risk.batch import batch_costs
from planner.risk.flips import FlipPoint, flip_points
from planner.risk.simulate import RangedInput, ranged_input

__all__ = ["MEASURE", "Sensitivity", "SensitivitySummary", "Swing", "default_pair", "sensitivity"]

MEASURE = "NPV of the on-prem option minus NPV of the cloud option; negative: on-prem is cheaper"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Swing(_Frozen):
    """One bar of the tornado: an input at its low and high value, and the gap at each."""

    input: str
    range: str
    low: float
    high: float
    npv_at_low: float
    npv_at_high: float
    swing: float
    flips: bool  # the gap changes sign at the low or the high value


class SensitivitySummary(_Frozen):
    """The tornado table, in the shape of ``mailplan sensitivity --format json``."""

    scenario: str
    currency: str
    onprem: str
    cloud: str
    measure: str
    onprem_npv: float
    cloud_npv: float
    base: float  # the gap in the typical case
    inputs: list[Swing]
    flip_points: list[FlipPoint] = []  # where the cheapest option changes, nearest first


def default_pair(ev: Evaluation) -> tuple[str, str]:
    """The cheapest on-prem and the cheapest cloud option by NPV in the typical case,
    among those meeting the requirements when any of that kind does."""
    picks = []
    for kind, options in (("on-prem", ev.resolved.onprem), ("cloud", ev.resolved.cloud)):
        ids = [o.id for o in options]
        if not ids:
            raise PlannerError(
                f"sensitivity: the scenario has no {kind} option; it compares an on-prem "
                "option with a cloud option"
            )
        pool = [i for i in ids if i in ev.eligible] or ids
        picks.append(min(pool, key=ev.npv))
    return picks[0], picks[1]


class Sensitivity:
    """One-at-a-time swings of every ranged input for a pair of options."""

    def __init__(
        self,
        scenario: Scenario,
        catalog: Catalog | None = None,
        *,
        onprem: str | None = None,
        cloud: str | None = None,
        start: dt.date | None = None,
    ) -> None:
        self.evaluation = ev = evaluate(scenario, catalog, start)
        self.scenario = scenario
        default = default_pair(ev) if onprem is None or cloud is None else None
        self.onprem = onprem or (default[0] if default else "")
        self.cloud = cloud or (default[1] if default else "")
        for flag, chosen, options in (
            ("--onprem", self.onprem, ev.resolved.onprem),
            ("--cloud", self.cloud, ev.resolved.cloud),
        ):
            ids = [o.id for o in options]
            if chosen not in ids:
                kind = flag.removeprefix("--").replace("onprem", "on-prem")
                raise PlannerError(
                    f"{flag}: no {kind} option '{chosen}' ({kind} options: "
                    f"{', '.join(ids) or 'none'})"
                )
        self.inputs: list[RangedInput] = [ranged_input(scenario, p) for p in scenario.ranges]
        k = len(self.inputs)
        values = {}
        for i, item in enumerate(self.inputs):
            column = np.full(2 * k + 1, item.typical)
            column[1 + 2 * i] = item.low
            column[2 + 2 * i] = item.high
            values[item.input] = column
        npvs = batch_costs(ev, values).npv
        self.onprem_npvs = npvs[self.onprem]
        self.cloud_npvs = npvs[self.cloud]
        self.gaps = self.onprem_npvs - self.cloud_npvs

    @property
    def base(self) -> float:
        """The NPV gap (on-prem minus cloud) in the typical case."""
        return float(self.gaps[0])

    @cached_property
    def swings(self) -> list[Swing]:
        """Every ranged input's swing, largest first."""
        base_sign = np.sign(round(self.base, 2))
        rows = []
        for i, item in enumerate(self.inputs):
            at_low, at_high = float(self.gaps[1 + 2 * i]), float(self.gaps[2 + 2 * i])
            rows.append(
                Swing(
                    input=item.input,
                    range=item.range,
                    low=item.low,
                    high=item.high,
                    npv_at_low=round(at_low, 2),
                    npv_at_high=round(at_high, 2),
                    swing=round(abs(at_high - at_low), 2),
                    flips=bool(
                        np.sign(round(at_low, 2)) != base_sign
                        or np.sign(round(at_high, 2)) != base_sign
                    ),
                )
            )
        return sorted(rows, key=lambda r: -r.swing)

    @cached_property
    def table(self) -> pd.DataFrame:
        """The tornado table: input, range, low, high, npv_at_low, npv_at_high, swing, flips
        (npv_* are NPV gaps, on-prem minus cloud, display currency), largest swing first."""
        columns = list(Swing.model_fields)
        return pd.DataFrame([r.model_dump() for r in self.swings], columns=columns)

    def top(self, n: int = 3) -> list[Swing]:
        """The ``n`` inputs with the largest swing (those that move the gap at all)."""
        return [r for r in self.swings if r.swing > 0][:n]

    @cached_property
    def summary(self) -> SensitivitySummary:
        """Everything ``mailplan sensitivity`` reports, as one model."""
        return SensitivitySummary(
            scenario=self.scenario.name,
            currency=self.scenario.currency,
            onprem=self.onprem,
            cloud=self.cloud,
            measure=MEASURE,
            onprem_npv=round(float(self.onprem_npvs[0]), 2),
            cloud_npv=round(float(self.cloud_npvs[0]), 2),
            base=round(self.base, 2),
            inputs=self.swings,
            flip_points=self.flip_points,
        )

    @cached_property
    def flip_points(self) -> list[FlipPoint]:
        """Every input's flip point (``planner.risk.flips``), nearest first."""
        return flip_points(self.evaluation)


def sensitivity(
    scenario: Scenario,
    catalog: Catalog | None = None,
    *,
    onprem: str | None = None,
    cloud: str | None = None,
    start: dt.date | None = None,
) -> Sensitivity:
    """Tornado for the pair ``onprem`` / ``cloud`` (default: the cheapest of each kind).

    Raises PlannerError naming ``--onprem`` or ``--cloud`` for an id that is not an
    option of that kind, or when the scenario lacks an option of either kind.
    """
    return Sensitivity(scenario, catalog, onprem=onprem, cloud=cloud, start=start)
