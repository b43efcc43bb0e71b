"""Risk commands: ``simulate`` (Monte Carlo over the ranges) and ``sensitivity`` (tornado).

Thin: parse, call ``planner.risk``, print. ``planner.risk`` (and scipy) load inside the
commands so that other commands stay fast.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from planner.cli.app import app, require_extra
from planner.cli.plan import CatalogOpt, ScenarioArg, TableFormat
from planner.recommendation import money

if TYPE_CHECKING:
    from planner.risk import Sensitivity, Simulation


class SimulateFormat(enum.StrEnum):
    """Output formats for ``mailplan simulate``."""

    table = "table"
    json = "json"


def _pct(share: float) -> str:
    return f"{share:.0%}" if share == 0 or share >= 0.005 else "<1%"


def _print(items: list[Table | str]) -> None:
    from planner.cli import render

    con = render.console()
    for i, item in enumerate(items):
        if i:
            con.print()
        con.print(item)


def simulation_tables(sim: Simulation) -> list[Table | str]:
    """Percentiles per option, break-even years per pair, the ranged inputs and a verdict."""
    s = sim.summary
    cur = s.currency
    t = Table(
        title=f"{s.scenario}: {s.draws:,} draws (seed {s.seed}), {s.horizon_years} years, "
        f"discount rate {s.discount_rate:.1%}",
        title_justify="left",
    )
    t.add_column("option", no_wrap=True)
    t.add_column("kind", no_wrap=True)
    for name in ("NPV P10", "NPV P50", "NPV P90", "NPV mean", "total P50", "cheapest"):
        t.add_column(name, justify="right", no_wrap=True)
    for o in sorted(s.options, key=lambda o: o.npv.p50):
        mark = " *" if o.id == s.cheapest else (" x" if o.ruled_out_by else "")
        t.add_row(
            o.id + mark,
            o.kind,
            f"{o.npv.p10:,.0f}",
            f"{o.npv.p50:,.0f}",
            f"{o.npv.p90:,.0f}",
            f"{o.npv.mean:,.0f}",
            f"{o.total.p50:,.0f}",
            _pct(o.p_cheapest),
        )
    t.caption = (
        f"{cur}; cheapest: share of draws with the lowest NPV (ties shared); "
        "* cheapest in the typical case; x ruled out by a requirement"
    )
    t.caption_justify = "left"
    out: list[Table | str] = [t]
    if s.break_even:
        b = Table(title="Break-even year (share of draws)", title_justify="left")
        b.add_column("on-prem vs cloud", no_wrap=True)
        for y in range(1, s.horizon_years + 1):
            b.add_column(f"year {y}", justify="right", no_wrap=True)
        b.add_column("never", justify="right", no_wrap=True)
        for pair in s.break_even:
            b.add_row(
                f"{pair.onprem} vs {pair.cloud}",
                *(_pct(x) for x in pair.p_by_year),
                _pct(pair.p_never),
            )
        out.append(b)
    if s.inputs:
        r = Table(title="Ranged inputs", title_justify="left")
        for name in ("input", "range", "typical", "low", "high"):
            r.add_column(name, justify="left" if name in ("input", "range") else "right")
        for item in s.inputs:
            r.add_row(
                item.input, item.range, f"{item.typical:g}", f"{item.low:g}", f"{item.high:g}"
            )
        if s.correlations:
            count = len(s.correlations)
            r.caption = f"{count} correlation{'s' * (count != 1)} between them (Gaussian copula)"
            r.caption_justify = "left"
        out.append(r)
        out.append(
            f"Cheapest in the typical case: {s.cheapest}; it stays the cheapest in "
            f"{_pct(s.p_cheapest_holds)} of the draws."
        )
    else:
        out.append("The scenario has no ranges: every draw is the typical case.")
    return out


def sensitivity_tables(sens: Sensitivity) -> list[Table | str]:
    """The tornado table and the typical case it swings around."""
    s = sens.summary
    cur = s.currency
    out: list[Table | str] = [
        f"{s.scenario}: NPV gap = NPV {s.onprem} − NPV {s.cloud} "
        f"(negative: on-prem is cheaper). Typical case: {s.onprem} {money(s.onprem_npv, cur)}, "
        f"{s.cloud} {money(s.cloud_npv, cur)}, gap {money(s.base, cur)}."
    ]
    if not s.inputs:
        out.append("The scenario has no ranges: nothing to swing.")
        return out + flip_lines(sens)
    moving = [r for r in s.inputs if r.swing > 0]
    still = [r.input for r in s.inputs if r.swing == 0]
    t = Table(title="Inputs by swing of the NPV gap", title_justify="left")
    t.add_column("input", no_wrap=True)
    for name in ("low", "high", "gap at low", "gap at high", "swing"):
        t.add_column(name, justify="right", no_wrap=True)
    for r in moving:
        t.add_row(
            r.input + (" !" if r.flips else ""),
            f"{r.low:g}",
            f"{r.high:g}",
            f"{r.npv_at_low:,.0f}",
            f"{r.npv_at_high:,.0f}",
            f"{r.swing:,.0f}",
        )
    t.caption = (
        f"{cur}; each input alone at its low and high value (p10/p90 for normal and "
        "lognormal), the others typical; ! the cheaper option changes"
    )
    t.caption_justify = "left"
    if moving:
        out.append(t)
    if still:
        out.append(f"No effect on this pair: {', '.join(still)}.")
    return out + flip_lines(sens)


def flip_lines(sens: Sensitivity, top: int = 5) -> list[str]:
    """The nearest flip points as sentences."""
    from planner.risk.flips import flip_sentences

    sentences = flip_sentences(sens.evaluation, sens.flip_points, top=top)
    if not any(f.flips_at is not None for f in sens.flip_points):
        return sentences  # none, or the one saying nothing flips
    return ["Where the answer flips (nearest first):\n" + "\n".join(f"  - {s}" for s in sentences)]


@app.command()
def simulate(
    scenario: ScenarioArg,
    draws: Annotated[
        int, typer.Option("--draws", "-n", min=1, help="Number of Monte Carlo draws.")
    ] = 10_000,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed", min=0, help="Seed for reproducible draws (default: a fresh one, printed)."
        ),
    ] = None,
    fmt: Annotated[
        SimulateFormat, typer.Option("--format", "-f", help="Output format.")
    ] = SimulateFormat.table,
    catalog: CatalogOpt = None,
) -> None:
    """Monte Carlo over the scenario's ranges: P10/P50/P90 cost and NPV per option, the
    probability each option is the cheapest, and the break-even year distribution."""
    require_extra("risk", "scipy")
    from planner import risk
    from planner.catalog import load_catalog, load_scenario
    from planner.cli import render

    sc = load_scenario(scenario)
    sim = risk.simulate(sc, load_catalog(catalog) if catalog else None, draws=draws, seed=seed)
    if fmt is SimulateFormat.json:
        render.print_json(sim.summary.model_dump(mode="json"))
    else:
        _print(simulation_tables(sim))


@app.command()
def sensitivity(
    scenario: ScenarioArg,
    onprem: Annotated[
        str | None,
        typer.Option("--onprem", metavar="ID", help="On-prem option (default: the cheapest)."),
    ] = None,
    cloud: Annotated[
        str | None,
        typer.Option("--cloud", metavar="ID", help="Cloud option (default: the cheapest)."),
    ] = None,
    fmt: Annotated[TableFormat, typer.Option("--format", "-f", help="Output format.")] = (
        TableFormat.table
    ),
    catalog: CatalogOpt = None,
) -> None:
    """Tornado: how far each ranged input, alone at its low and high value, moves the NPV
    gap between an on-prem and a cloud option."""
    require_extra("risk", "scipy")
    from planner import risk
    from planner.catalog import load_catalog, load_scenario
    from planner.cli import render

    sc = load_scenario(scenario)
    sens = risk.sensitivity(
        sc, load_catalog(catalog) if catalog else None, onprem=onprem, cloud=cloud
    )
    if fmt is TableFormat.json:
        render.print_json(sens.summary.model_dump(mode="json"))
    elif fmt is TableFormat.csv:
        print(render.frame_csv(sens.table), end="")
    else:
        _print(sensitivity_tables(sens))
