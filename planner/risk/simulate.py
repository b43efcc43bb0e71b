"""Monte Carlo cost of ownership: every option's total and NPV over N draws of the ranges.

``simulate(scenario, draws=10_000, seed=1)`` draws every ranged input at once
(``planner.risk.draws``), evaluates every option for all draws in one pass of the
array-first engine (``planner.risk.batch``) and summarises:

- total and NPV per option: P10, P50, P90 (linear interpolation) and the mean;
- p_cheapest: the share of draws in which the option has the lowest NPV among the options
  that can be recommended in that draw (they meet the requirements, and no feasibility rule
  such as a seat cap rules them out at that draw's inputs); ties are shared equally, so the
  shares sum to 1 less the share of draws in which no option can be recommended;
- the break-even year per on-prem/cloud pair: the share of draws in which cumulative
  on-prem cost first reaches cumulative cloud cost in year 1, 2, ..., or never.
"""

from __future__ import annotations

import datetime as dt
import secrets
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from planner.errors import PlannerError
from planner.evaluation import Evaluation, evaluate
from planner.models import Catalog, Correlation, Scenario
from planner.risk.batch import batch_costs
from planner.risk.draws import draw_inputs, path_spec, settle
from planner.sizing import FloatArray

__all__ = [
    "MAX_DRAWS",
    "BreakEvenYears",
    "OptionRisk",
    "Percentiles",
    "RangedInput",
    "Simulation",
    "SimulationSummary",
    "ranged_input",
    "simulate",
]

MAX_DRAWS = 1_000_000
_TIE = 1e-9  # relative tolerance under which two NPVs (or cumulative costs) count as equal


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Percentiles(_Frozen):
    """P10, P50, P90 and mean of a quantity over the draws (display currency)."""

    p10: float
    p50: float
    p90: float
    mean: float

    @classmethod
    def of(cls, values: FloatArray) -> Percentiles:
        """The percentiles of ``values`` (N,), rounded to cents."""
        p10, p50, p90 = np.percentile(values, [10, 50, 90])
        return cls(
            p10=round(float(p10), 2),
            p50=round(float(p50), 2),
            p90=round(float(p90), 2),
            mean=round(float(values.mean()), 2),
        )


class OptionRisk(_Frozen):
    """One option over the draws."""

    id: str
    kind: Literal["onprem", "cloud"]
    label: str
    total: Percentiles
    npv: Percentiles
    p_cheapest: float
    ruled_out_by: list[str]


class BreakEvenYears(_Frozen):
    """How often on-prem catches up with cloud in each year (shares of the draws)."""

    onprem: str
    cloud: str
    p_by_year: list[float]  # year 1 first
    p_never: float


class RangedInput(_Frozen):
    """A ranged input: its range and the values its sensitivity swing uses."""

    input: str
    dist: str
    range: str
    typical: float
    low: float
    high: float


class SimulationSummary(_Frozen):
    """The Monte Carlo result, in the shape of ``mailplan simulate --format json``."""

    scenario: str
    currency: str
    horizon_years: int
    discount_rate: float
    draws: int
    seed: int
    inputs: list[RangedInput]
    correlations: list[Correlation]
    cheapest: str | None
    p_cheapest_holds: float
    options: list[OptionRisk]
    break_even: list[BreakEvenYears]


def ranged_input(scenario: Scenario, path: str) -> RangedInput:
    """The range at ``path`` with its typical value and swing points (clipped, rounded)."""
    dist = scenario.ranges[path]
    spec = path_spec(path)
    points = settle(np.array([dist.center(), *dist.swing_points()]), spec)
    return RangedInput(
        input=path,
        dist=dist.dist,
        range=dist.describe(),
        typical=float(points[0]),
        low=float(points[1]),
        high=float(points[2]),
    )


class Simulation:
    """N draws of a scenario's ranged inputs and every option's cost for each draw."""

    def __init__(
        self,
        scenario: Scenario,
        catalog: Catalog | None = None,
        *,
        draws: int = 10_000,
        seed: int | None = None,
        start: dt.date | None = None,
    ) -> None:
        if not 1 <= draws <= MAX_DRAWS:
            raise PlannerError(f"draws: must be 1 to {MAX_DRAWS:,} (got {draws})")
        self.evaluation: Evaluation = evaluate(scenario, catalog, start)
        self.scenario = scenario
        self.n = draws
        self.seed = secrets.randbits(63) if seed is None else int(seed)
        ranges = scenario.ranges
        correlations = [c for c in scenario.correlations if c[0] in ranges and c[1] in ranges]
        rng = np.random.default_rng(self.seed)
        self.inputs: dict[str, FloatArray] = draw_inputs(ranges, correlations, draws, rng)
        batch = batch_costs(self.evaluation, self.inputs)
        self.yearly: dict[str, FloatArray] = batch.yearly
        self.ruled_out = batch.ruled_out
        self.totals: dict[str, FloatArray] = {
            k: np.asarray(v.sum(axis=1), dtype=np.float64) for k, v in self.yearly.items()
        }
        self.npvs = batch.npv

    def npv(self, option_id: str) -> FloatArray:
        """NPV of one option in each draw (N,), display currency."""
        return self.npvs[option_id]

    def total(self, option_id: str) -> FloatArray:
        """Undiscounted total of one option in each draw (N,), display currency."""
        return self.totals[option_id]

    @cached_property
    def p_cheapest(self) -> dict[str, float]:
        """Share of draws in which each option has the lowest NPV (ties shared).

        Options ruled out whatever the draw (a requirement, a closed plan) get 0; the others
        compete in the draws where no feasibility rule rules them out.
        """
        ev = self.evaluation
        path_rules = {o.id: set(ev.paths[o.id].rules) for o in ev.options}
        pool = [o.id for o in ev.options if not set(ev.ruled_out_by(o.id)) - path_rules[o.id]]
        if not pool:
            return {o.id: 0.0 for o in ev.options}
        npv = np.column_stack([np.where(self.ruled_out[i], np.inf, self.npvs[i]) for i in pool])
        best = npv.min(axis=1, keepdims=True)
        finite = np.isfinite(best)
        tied = (npv <= best + _TIE * np.maximum(np.abs(np.where(finite, best, 0.0)), 1.0)) & finite
        share = tied / np.maximum(tied.sum(axis=1, keepdims=True), 1)
        p = dict(zip(pool, share.mean(axis=0).tolist(), strict=True))
        return {o.id: p.get(o.id, 0.0) for o in ev.options}

    def break_even_shares(self, onprem_id: str, cloud_id: str) -> tuple[FloatArray, float]:
        """Share of draws whose break-even year is 1..H, and the share with none."""
        a = np.cumsum(self.yearly[onprem_id], axis=1)
        c = np.cumsum(self.yearly[cloud_id], axis=1)
        hit = a <= c + _TIE * np.maximum(np.abs(c), 1.0)
        year = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0)
        counts = np.bincount(year, minlength=self.evaluation.horizon + 1) / self.n
        return counts[1:], float(counts[0])

    @cached_property
    def summary(self) -> SimulationSummary:
        """Percentiles, probability of being cheapest and break-even years, as one model."""
        ev = self.evaluation
        p = self.p_cheapest
        options = [
            OptionRisk(
                id=o.id,
                kind=o.kind,
                label=o.label,
                total=Percentiles.of(self.totals[o.id]),
                npv=Percentiles.of(self.npvs[o.id]),
                p_cheapest=p[o.id],
                ruled_out_by=ev.ruled_out_by(o.id),
            )
            for o in ev.options
        ]
        pairs = []
        for o in ev.resolved.onprem:
            for c in ev.resolved.cloud:
                by_year, never = self.break_even_shares(o.id, c.id)
                pairs.append(
                    BreakEvenYears(
                        onprem=o.id,
                        cloud=c.id,
                        p_by_year=[float(x) for x in by_year],
                        p_never=never,
                    )
                )
        return SimulationSummary(
            scenario=self.scenario.name,
            currency=self.scenario.currency,
            horizon_years=ev.horizon,
            discount_rate=self.scenario.discount_rate,
            draws=self.n,
            seed=self.seed,
            inputs=[ranged_input(self.scenario, path) for path in self.inputs],
            correlations=[c for c in self.scenario.correlations if c[0] in self.inputs],
            cheapest=ev.cheapest,
            p_cheapest_holds=p[ev.cheapest] if ev.cheapest is not None else 0.0,
            options=options,
            break_even=pairs,
        )

    @cached_property
    def percentiles(self) -> pd.DataFrame:
        """One row per option: id, kind, total_p10, total_p50, total_p90, total_mean,
        npv_p10, npv_p50, npv_p90, npv_mean, p_cheapest."""
        rows = []
        for o in self.summary.options:
            row: dict[str, object] = {"id": o.id, "kind": o.kind}
            for name in ("total", "npv"):
                for key, value in getattr(o, name).model_dump().items():
                    row[f"{name}_{key}"] = value
            row["p_cheapest"] = o.p_cheapest
            rows.append(row)
        return pd.DataFrame(rows)

    @cached_property
    def outcomes(self) -> pd.DataFrame:
        """Tidy frame of every draw: draw, option, kind, total, npv (display currency)."""
        frames = [
            pd.DataFrame(
                {
                    "draw": np.arange(self.n),
                    "option": o.id,
                    "kind": o.kind,
                    "total": self.totals[o.id],
                    "npv": self.npvs[o.id],
                }
            )
            for o in self.evaluation.options
        ]
        return pd.concat(frames, ignore_index=True)

    @cached_property
    def input_draws(self) -> pd.DataFrame:
        """Tidy frame of the drawn inputs: draw, input (field path), value."""
        if not self.inputs:
            return pd.DataFrame({"draw": [], "input": [], "value": []})
        return pd.concat(
            [
                pd.DataFrame({"draw": np.arange(self.n), "input": path, "value": values})
                for path, values in self.inputs.items()
            ],
            ignore_index=True,
        )

    @cached_property
    def break_even_years(self) -> pd.DataFrame:
        """Tidy frame: onprem, cloud, year (1..H, or <NA> for never), share of draws."""
        rows = []
        for pair in self.summary.break_even:
            for y, share in enumerate(pair.p_by_year, start=1):
                rows.append({"onprem": pair.onprem, "cloud": pair.cloud, "year": y, "share": share})
            rows.append(
                {"onprem": pair.onprem, "cloud": pair.cloud, "year": None, "share": pair.p_never}
            )
        frame = pd.DataFrame(rows, columns=["onprem", "cloud", "year", "share"])
        frame["year"] = frame["year"].astype("Int64")
        return frame


def simulate(
    scenario: Scenario,
    catalog: Catalog | None = None,
    *,
    draws: int = 10_000,
    seed: int | None = None,
    start: dt.date | None = None,
) -> Simulation:
    """Monte Carlo over the scenario's ranges: ``draws`` draws, reproducible with ``seed``
    (a fresh seed, kept in ``.seed``, when None). A scenario without ranges gives N copies
    of the typical case."""
    return Simulation(scenario, catalog, draws=draws, seed=seed, start=start)
