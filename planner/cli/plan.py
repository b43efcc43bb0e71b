"""Planning commands: ``validate``, ``compare``, ``size``, ``catalog``, ``schema``."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from planner.cli.app import app
from planner.errors import PlannerError

if TYPE_CHECKING:
    from planner.evaluation import Evaluation

# The engine (pandas, pydantic models) is imported inside each command, so that commands
# that do not need it (``serve``, ``user``, ``--help``) start fast.


class TableFormat(enum.StrEnum):
    """Output formats for tabular commands."""

    table = "table"
    json = "json"
    csv = "csv"


class CatalogFormat(enum.StrEnum):
    """Output formats for ``mailplan catalog``."""

    table = "table"
    json = "json"


ScenarioArg = Annotated[
    Path,
    typer.Argument(metavar="SCENARIO", help="Scenario file (YAML or JSON).", show_default=False),
]
CatalogOpt = Annotated[
    Path | None,
    typer.Option(
        "--catalog",
        metavar="DIR",
        help="Price catalog folder (default: the bundled data/catalog).",
        show_default=False,
    ),
]
FormatOpt = Annotated[TableFormat, typer.Option("--format", "-f", help="Output format.")]


def _evaluate(path: Path, catalog_dir: Path | None) -> Evaluation:
    from planner.catalog import load_catalog, load_scenario
    from planner.evaluation import evaluate

    scenario = load_scenario(path)
    return evaluate(scenario, load_catalog(catalog_dir) if catalog_dir else None)


def _print(items: list[object]) -> None:
    from planner.cli import render

    con = render.console()
    for i, item in enumerate(items):
        if i:
            con.print()
        con.print(item)


@app.command()
def validate(scenario: ScenarioArg, catalog: CatalogOpt = None) -> None:
    """Check a scenario file: print 'ok', or one line per problem and exit 2."""
    ev = _evaluate(scenario, catalog)
    print(f"ok: {ev.scenario.name} ({len(ev.options)} options, {ev.horizon} years)")


@app.command()
def compare(
    scenario: ScenarioArg, fmt: FormatOpt = TableFormat.table, catalog: CatalogOpt = None
) -> None:
    """Total cost, NPV and cost per user-month of every option, and the cheapest."""
    from planner.cli import render

    ev = _evaluate(scenario, catalog)
    if fmt is TableFormat.json:
        render.print_json(ev.comparison.model_dump(mode="json"))
    elif fmt is TableFormat.csv:
        print(render.frame_csv(ev.summary), end="")
    else:
        _print(list(render.comparison_table(ev)))


@app.command()
def size(
    scenario: ScenarioArg,
    fmt: FormatOpt = TableFormat.table,
    catalog: CatalogOpt = None,
    capacity_from: Annotated[
        Path | None,
        typer.Option(
            "--capacity-from",
            metavar="RESULT.json",
            help="Use the capacity measured by 'mailplan bench' (a result JSON) for this run.",
            show_default=False,
        ),
    ] = None,
    option: Annotated[
        str | None,
        typer.Option(
            "--option",
            metavar="ID",
            help="With --capacity-from: the on-prem option that was measured "
            "(needed when the scenario has several).",
            show_default=False,
        ),
    ] = None,
    indicative: Annotated[
        bool,
        typer.Option(
            "--indicative",
            help="With --capacity-from: accept a run shorter than a capacity figure needs "
            "(30 s), marked indicative.",
        ),
    ] = False,
) -> None:
    """Yearly sizing of every on-prem option: demand, storage, servers."""
    from planner.cli import render

    if capacity_from is None:
        for flag, given in (("--option", option is not None), ("--indicative", indicative)):
            if given:
                raise PlannerError(f"{flag}: only used with --capacity-from")
        ev = _evaluate(scenario, catalog)
    else:
        from planner.bench.apply import apply_capacity, choose_option, require_trusted
        from planner.bench.result import load_result_json
        from planner.catalog import load_catalog, load_scenario
        from planner.evaluation import evaluate

        measured = load_result_json(capacity_from)
        current = load_scenario(scenario)
        measured_option = choose_option(current, option)
        require_trusted(measured, indicative_ok=indicative)
        updated = apply_capacity(current, measured, measured_option)
        ev = evaluate(updated, load_catalog(catalog) if catalog else None)
    if fmt is TableFormat.json:
        render.print_json(render.sizing_json(ev))
    elif fmt is TableFormat.csv:
        print(render.frame_csv(ev.sizing), end="")
    else:
        _print(list(render.sizing_tables(ev)))


@app.command("catalog")
def catalog_cmd(
    fmt: Annotated[CatalogFormat, typer.Option("--format", "-f", help="Output format.")] = (
        CatalogFormat.table
    ),
    catalog: CatalogOpt = None,
    stale: Annotated[
        int | None,
        typer.Option(
            "--stale",
            metavar="DAYS",
            min=0,
            help="List only figures older than DAYS (exit 1 if there are any, 0 if none).",
            show_default=False,
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="DATE",
            help="With --stale: the day ages are counted to, YYYY-MM-DD (default: today).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Every plan, stack, server profile and default with its price, source and date."""
    import datetime as dt

    from planner.catalog import load_catalog
    from planner.cli import render

    day = dt.date.today()
    if as_of is not None:
        if stale is None:
            raise PlannerError("--as-of: only used with --stale DAYS")
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            raise PlannerError(f"--as-of: not a date YYYY-MM-DD: {as_of[:40]!r}") from None
    cat = load_catalog(catalog)
    if stale is not None:
        from planner.freshness import stale as stale_figures

        old = stale_figures(cat, stale, day)
        if fmt is CatalogFormat.json:
            render.print_json(
                {
                    "as_of": day.isoformat(),
                    "days": stale,
                    "stale": [f.model_dump(mode="json") for f in old],
                }
            )
        else:
            _print([render.stale_table(old, stale, day)])
        raise typer.Exit(1 if old else 0)
    if fmt is CatalogFormat.json:
        render.print_json(cat.model_dump(mode="json"))
    else:
        _print([f"Catalog reviewed on {cat.as_of}.", *render.catalog_tables(cat)])


@app.command()
def schema() -> None:
    """The JSON Schema of the scenario file."""
    from planner.cli import render
    from planner.models import Scenario

    render.print_json(Scenario.model_json_schema())
