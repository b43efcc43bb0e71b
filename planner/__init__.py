"""mailplan: decide between running your own mail server and buying cloud mail.

The pure planning API: read a scenario, evaluate it against the sourced price catalog,
and get sizing and cost frames, totals, NPV and break-even points. The mail server
(``planner.mailserver``), load harness (``planner.bench``) and dashboard
(``planner.dashboard``) are opt-in subpackages; importing ``planner`` loads none of them,
and loads the engine itself only when one of its names is first used.

Usage::

    import planner
    ev = planner.evaluate(planner.load_scenario("data/scenarios/default.yaml"))
    ev.costs        # tidy frame: option, kind, year, category, amount
    ev.sizing       # option, year, users, ..., servers
    ev.comparison   # totals, NPV, cost per user-month, cheapest, break-even
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from planner.errors import BenchmarkError, CatalogError, PlannerError, ScenarioError

if TYPE_CHECKING:
    from planner.catalog import (
        data_dir,
        dump_scenario,
        load_catalog,
        load_scenario,
        parse_scenario,
        scenario_presets,
    )
    from planner.evaluation import (
        BreakEven,
        Comparison,
        Evaluation,
        OptionSummary,
        YearCost,
        evaluate,
        option_costs,
    )
    from planner.models import Catalog, CloudOption, OnPremOption, Organization, Scenario
    from planner.resolution import resolve, with_capacity

# The engine (pandas, pydantic models) loads on first use of one of its names, so that
# ``import planner.mailserver`` and ``mailplan serve`` do not pay for it (PEP 562).
_LAZY = {
    **dict.fromkeys(
        ("data_dir", "dump_scenario", "load_catalog", "load_scenario", "parse_scenario",
         "scenario_presets"),
        "planner.catalog",
    ),
    **dict.fromkeys(
        ("BreakEven", "Comparison", "Evaluation", "OptionSummary", "YearCost", "evaluate",
         "option_costs"),
        "planner.evaluation",
    ),
    **dict.fromkeys(
        ("Catalog", "CloudOption", "OnPremOption", "Organization", "Scenario"), "planner.models"
    ),
    **dict.fromkeys(("resolve", "with_capacity"), "planner.resolution"),
}  # fmt: skip


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'planner' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
