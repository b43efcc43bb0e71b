"""Uncertainty and sensitivity: Monte Carlo cost of ownership and one-at-a-time swings.

An opt-in subpackage (it loads scipy); importing ``planner`` does not load it.

Usage::

    from planner import load_scenario
    from planner import risk

    scenario = load_scenario("data/scenarios/default-ranges.yaml")
    sim = risk.simulate(scenario, draws=10_000, seed=1)
    sim.summary           # SimulationSummary: P10/P50/P90/mean, p_cheapest, break-even years
    sim.outcomes          # tidy frame: draw, option, kind, total, npv
    sens = risk.sensitivity(scenario)   # cheapest on-prem vs cheapest cloud
    sens.table            # tornado: input, range, low, high, npv_at_low, npv_at_high, swing, flips
    risk.headline(sim, sens).lines      # sentences for an executive summary
    risk.charts.tornado(sens)           # plotly figures: npv_distributions, p_cheapest, ...
"""

from planner.risk import charts
from planner.risk.edit import ranged_inputs, scale_ranges, scaled, with_range
from planner.risk.headline import RiskHeadline, headline
from planner.risk.sensitivity import (
    Sensitivity,
    SensitivitySummary,
    Swing,
    default_pair,
    sensitivity,
)
from planner.risk.simulate import (
    BreakEvenYears,
    OptionRisk,
    Percentiles,
    RangedInput,
    Simulation,
    SimulationSummary,
    simulate,
)

__all__ = [
    "BreakEvenYears",
    "OptionRisk",
    "Percentiles",
    "RangedInput",
    "RiskHeadline",
    "Sensitivity",
    "SensitivitySummary",
    "Simulation",
    "SimulationSummary",
    "Swing",
    "charts",
    "default_pair",
    "headline",
    "ranged_inputs",
    "scale_ranges",
    "scaled",
    "sensitivity",
    "simulate",
    "with_range",
]
