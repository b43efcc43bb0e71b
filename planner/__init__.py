"""mailplan: decide between running your own mail server and buying cloud mail.

The pure planning API: read a scenario, evaluate it against the sourced price catalog,
and get sizing and cost frames, totals, NPV and break-even points. The mail server
(``planner.mailserver``), load harness (``planner.bench``) and dashboard
(``planner.dashboard``) are opt-in subpackages; importing ``planner`` loads none of them.

Usage::

    import planner
    ev = planner.evaluate(planner.load_scenario("data/scenarios/default.yaml"))
    ev.costs        # tidy frame: option, kind, year, category, amount
    ev.sizing       # option, year, users, ..., servers
    ev.comparison   # totals, NPV, cost per user-month, cheapest, break-even
"""

from planner.catalog import (
    data_dir,
    dump_scenario,
    load_catalog,
    load_scenario,
    parse_scenario,
    scenario_presets,
)
from planner.errors import BenchmarkError, CatalogError, PlannerError, ScenarioError
from planner.evaluate import (
    BreakEven,
    Comparison,
    Evaluation,
    OptionSummary,
    YearCost,
    evaluate,
    option_costs,
)
from planner.models import Catalog, CloudOption, OnPremOption, Organization, Scenario
from planner.resolve import resolve, with_capacity

__all__ = [
    "BenchmarkError",
    "BreakEven",
    "Catalog",
    "CatalogError",
    "CloudOption",
    "Comparison",
    "Evaluation",
    "OnPremOption",
    "OptionSummary",
    "Organization",
    "PlannerError",
    "Scenario",
    "ScenarioError",
    "YearCost",
    "__version__",
    "data_dir",
    "dump_scenario",
    "evaluate",
    "load_catalog",
    "load_scenario",
    "option_costs",
    "parse_scenario",
    "resolve",
    "scenario_presets",
    "with_capacity",
]

__version__ = "0.1.0"
