"""The Markdown report: every figure equals the engine's, and its structure is stable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from planner import Evaluation, evaluate, load_scenario
from planner.recommendation import ranked
from planner.report import render
from planner.report.content import formulas_markdown
from planner.risk.flips import flip_points, flip_sentences
from tests.report.figures import check_tables, markdown_tables

GOLDEN_DEFAULT = """\
# Mail options for Acme, 250 staff
## 1. Executive summary
  Totals over 5 years (USD) | Option | Kind | Total (USD) | NPV (USD) | Per user-month (USD) | vs today, total (USD) | vs today, NPV (USD) | Availability | Downtime h/yr | Score (1-5) | Status
## 2. Organisation and workload
  Organisation, workload and financial inputs | Input | Value | Meaning | Origin
### Sizing per year
  Demand and servers per year | Year | Users | Messages/day | Peak msgs/s | Mailbox GB | Storage TB | Servers postfix-dovecot | Servers exchange-se | Servers exchange-2019
  Capacity per server and where it comes from | Option | Msgs/s per server | Kind | Source | Target utilisation | TB per server | Redundancy
## 3. Costs
  What each option includes | Feature | {options}
{yearly}### Break-even
  Break-even: where on-prem costs no more than cloud | On-prem | Cloud | Year (cumulative cost) | Year (cumulative NPV) | Users at the start (NPV)
### List and negotiated prices
### Where the answer flips
### Notes on the options
## 4. Qualitative comparison
  Decision matrix (scores 1-5, 5 = best) | Criterion | Weight | postfix-dovecot | exchange-se | exchange-2019 | m365-basic | m365-standard | gws-starter
  Why each score | Option | Criterion | Score | Origin | Reason
## 5. Assumptions and sources
  Inputs, sources and dates | Scope | Input | Value | Origin | Source | As of | Estimate | Note
## 6. How the numbers are computed
"""


def _structure(md: str) -> str:
    """Headings, and each table's title and header, one per line."""
    out = []
    headings = [(m.start(), m.group(0)) for m in re.finditer(r"^#{1,6} .*$", md, re.M)]
    tables = [
        (md.index(f"**{t.title}**"), "  " + " | ".join([t.title, *t.columns]))
        for t in markdown_tables(md)
    ]
    for _, line in sorted(headings + tables):
        out.append(line)
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def default_md(default_ev: Evaluation) -> str:
    """The Markdown report of the default scenario, rendered once for the module."""
    return render(default_ev, "md").decode("utf-8")


@pytest.fixture(scope="module")
def case_md(case_ev: Evaluation) -> str:
    """The Markdown report of each case (see ``case_ev``), rendered once for the module."""
    return render(case_ev, "md").decode("utf-8")


@pytest.mark.timeout(60)
def test_every_table_figure_equals_the_engine(case_ev: Evaluation, case_md: str) -> None:
    """Totals, yearly costs, sizing, break-even, scores and assumptions match the engine."""
    check_tables(markdown_tables(case_md), case_ev)


def test_golden_structure(default_ev: Evaluation, default_md: str) -> None:
    """The default scenario's report has exactly these headings and tables, in this order:
    the options' tables in ranked order (cheapest first), and the last section's headings
    those of planner/report/formulas.md (kept there)."""
    order = [o.id for o in ranked(default_ev.comparison)]  # cheapest first
    yearly = "".join(
        f"  {oid}: cost per year by category (USD) | Category | Year 1 | Year 2 | Year 3 "
        "| Year 4 | Year 5 | All years\n"
        for oid in order
    )
    formulas = "".join(
        line + "\n" for line in formulas_markdown().splitlines() if line.startswith("### ")
    )
    expected = GOLDEN_DEFAULT.format(options=" | ".join(order), yearly=yearly) + formulas

    assert _structure(default_md) == expected


def test_summary_names_the_recommendation_and_the_disagreement(
    default_ev: Evaluation, default_md: str
) -> None:
    """The summary recommends the cheapest option and says the best-scored one differs."""
    md = default_md
    summary = md.split("## 1. Executive summary", 1)[1].split("**Totals", 1)[0]

    assert f"- Recommended by cost: {default_ev.cheapest} (" in summary
    assert "Recommended by the weighted qualitative score: m365-basic, m365-standard" in summary
    assert "This differs from the recommendation by cost" in summary
    assert "draws" not in summary  # no ranged inputs: no risk lines, nothing faked
    assert "## 5. Uncertainty and sensitivity" not in md


def test_summary_break_even_line_uses_the_engine_pair(
    default_ev: Evaluation, default_md: str
) -> None:
    """The summary's break-even is the engine's for the cheapest on-prem and cloud options."""
    be = next(
        b for b in default_ev.break_even if (b.onprem, b.cloud) == ("postfix-dovecot", "m365-basic")
    )
    md = default_md

    assert f"catches up in year {be.year} (cumulative cost)" in md
    assert f"costs no more by NPV from {be.users:,} users at the start" in md


def test_ruled_out_options_are_named(case_ev: Evaluation, case_md: str) -> None:
    """Every option ruled out by a requirement is named with its requirement, in words."""
    md = case_md
    labels = {r.id: r.label for r in case_ev.catalog.qualitative.requirements}
    for oid, a in case_ev.assessments.items():
        for req in a.ruled_out_by:
            assert f"{oid} ({labels[req]}" in md


def test_ranged_scenario_names_risk_in_summary(presets: dict[str, Path]) -> None:
    """With ranged inputs the summary gives the probability the recommendation holds and the
    top sensitivities, and a section shows the simulation and the tornado."""
    from planner import risk
    from planner.report.labels import path_title

    scenario = load_scenario(presets["default-ranges"])
    ev = evaluate(scenario)
    md = render(ev, "md").decode("utf-8")
    summary = md.split("## 1. Executive summary", 1)[1].split("**Totals", 1)[0]
    sim = risk.simulate(scenario, draws=10_000, seed=1)
    sens = risk.sensitivity(scenario)
    p_holds = sim.summary.p_cheapest_holds
    assert f"stays the cheapest in {p_holds:.0%} of 10,000 draws" in summary
    kinds = {o.id: o.kind for o in ev.options}
    for swing in sens.top(3):  # named by their titles, not their field paths
        assert path_title(swing.input, kinds) in summary
        assert swing.input not in summary
    assert "Uncertainty and sensitivity" in md
    assert "**Sensitivity of the NPV gap postfix-dovecot - m365-basic (USD)**" in md


def test_sizing_names_what_sets_each_server_count(default_ev: Evaluation, default_md: str) -> None:
    """Under Sizing, one sentence per on-prem option says what sets its last year's server
    count, the engine's own sentence."""
    md = default_md
    sizing = md.split("### Sizing per year", 1)[1].split("## 3. Costs", 1)[0]
    for o in default_ev.resolved.onprem:
        assert default_ev.binding_sentence(o.id, default_ev.horizon) in sizing


def test_costs_say_where_the_answer_flips(default_ev: Evaluation, default_md: str) -> None:
    """Under Costs, the nearest flip points of the (unranged) default scenario, as the
    engine's sentences, nearest first."""
    md = default_md
    flips = md.split("### Where the answer flips", 1)[1].split("###", 1)[0]
    sentences = flip_sentences(default_ev, flip_points(default_ev))
    assert len(sentences) == 5
    assert [line[2:] for line in flips.splitlines() if line.startswith("- ")] == sentences


def test_costs_say_which_prices_are_list_and_which_negotiated() -> None:
    """Each option's prices are named list or negotiated (with the terms), and the tax
    treatment is stated: catalog prices exclude VAT, and what the tax line adds."""
    from tests.conftest import make_scenario

    sc = make_scenario(
        cloud=[
            {"id": "flat", "plan": "custom", "price_per_user_month": 6.0},
            {"id": "deal", "plan": "custom", "price_per_user_month": 6.0, "discount_pct": 0.15}
            | {"price_lock_years": 2},
        ],
        tax_pct={"capex": 0.2, "opex": 0.1},
    )
    md = render(evaluate(sc), "md").decode()
    prices = md.split("### List and negotiated prices", 1)[1].split("###", 1)[0]
    assert [line[2:] for line in prices.splitlines() if line.startswith("- ")] == [
        "flat: list prices",
        "deal: negotiated, 15% off the list price of the subscription and add-ons, price "
        "locked for 2 years",
        "Catalog prices exclude VAT and sales tax; the tax line adds what is not recovered: "
        "20% of capex, 10% of opex.",
    ]
