"""The cost model in the report: the summary names today's system and the bases, the totals
carry availability, downtime and the comparison with today, the yearly tables every new
line and the capex/opex split, in HTML and Markdown alike."""

from __future__ import annotations

import pytest

from planner import Evaluation, evaluate
from planner.costs import CLOUD_CATEGORIES, ONPREM_CATEGORIES
from planner.report import render
from tests.report.conftest import STAFF_NOMINAL_DOWNTIME, START, changed_default
from tests.report.figures import html_tables, markdown_tables


def _summary(md: str) -> str:
    return md.split("## 1. Executive summary", 1)[1].split("**Totals", 1)[0]


def _totals(tables):
    (table,) = [t for t in tables if t.title.startswith("Totals over")]
    return table


@pytest.fixture(scope="module", name="staff_ev")
def _staff_ev() -> Evaluation:
    """The default scenario with existing staff, nominal prices and a downtime cost."""
    return evaluate(changed_default(**STAFF_NOMINAL_DOWNTIME), start=START)


@pytest.fixture(scope="module", name="new_ev")
def _new_ev() -> Evaluation:
    """The default scenario as a new installation (nothing runs today)."""
    return evaluate(changed_default(current=None, current_servers_bought=None), start=START)


def test_summary_names_today_labour_prices_and_downtime(default_ev: Evaluation) -> None:
    """The default summary names Exchange 2019 as today's system with what staying costs,
    labour paid for, real prices, and downtime only reported."""
    summary = _summary(render(default_ev, "md").decode("utf-8"))
    current = default_ev.scenario.current
    assert current == "exchange-2019"

    assert (
        f"- Today's system: {current} ({default_ev.option(current).label}), servers bought in 2021"
        in summary
    )
    assert f"staying on it costs USD {default_ev.npv(current):,.0f} of NPV" in summary
    gap = default_ev.npv(default_ev.cheapest) - default_ev.npv(current)
    verb = "saves" if gap <= 0 else "costs"
    assert f"{default_ev.cheapest}, {verb} USD {abs(gap):,.0f} of NPV against staying" in summary
    assert "- Labour basis: paid for." in summary
    assert "- Price basis: real." in summary
    assert "- Downtime is reported, not costed" in summary


def test_summary_on_the_other_bases(staff_ev: Evaluation) -> None:
    """Existing staff (with each option's opportunity cost), nominal prices (inflation and
    the nominal discount rate) and a downtime cost per user-hour are each named."""
    summary = _summary(render(staff_ev, "md").decode("utf-8"))

    assert "- Labour basis: existing staff." in summary
    for o in staff_ev.comparison.options:
        assert f"{o.id} USD {o.opportunity_cost:,.0f}" in summary
    assert "- Price basis: nominal. Inflation of 2.0% a year" in summary
    assert f"({staff_ev.discount_rate:.2%} nominal)" in summary
    assert "- Downtime is in the totals at USD 40.00 per user for each hour" in summary


def test_new_installation_has_no_today_column(new_ev: Evaluation) -> None:
    """Without a current system the totals have no vs-today columns and the summary says
    it is a new installation."""
    md = render(new_ev, "md").decode("utf-8")
    totals = _totals(markdown_tables(md))

    assert not [c for c in totals.columns if c.startswith("vs today")]
    assert "Availability" in totals.columns
    assert "- Today's system: none named, so this is planned as a new installation" in md


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_totals_columns_in_html_and_markdown(default_ev: Evaluation, fmt: str) -> None:
    """Both formats have the same totals columns: the money, vs today, availability,
    downtime, score and status."""
    text = render(default_ev, fmt).decode("utf-8")
    tables = markdown_tables(text) if fmt == "md" else html_tables(text)

    assert _totals(tables).columns == [
        "Option",
        "Kind",
        "Total (USD)",
        "NPV (USD)",
        "Per user-month (USD)",
        "vs today, total (USD)",
        "vs today, NPV (USD)",
        "Availability",
        "Downtime h/yr",
        "Score (1-5)",
        "Status",
    ]


def test_existing_staff_adds_opportunity_cost(staff_ev: Evaluation) -> None:
    """With existing staff the totals have an opportunity-cost column and each yearly table
    an opportunity line outside its total; labour lines are zero."""
    tables = markdown_tables(render(staff_ev, "md").decode("utf-8"))

    assert "Opportunity cost (USD)" in _totals(tables).columns
    for o in staff_ev.options:
        (yearly,) = [t for t in tables if t.title.startswith(f"{o.id}: cost per year")]
        rows = yearly.by_first_column()
        assert "opportunity cost (not in the total)" in rows
        assert rows["admin labour"]["All years"] == "0"


def test_yearly_tables_show_every_new_line(default_ev: Evaluation) -> None:
    """Each on-prem option's yearly table has a row for every on-prem category, each cloud
    option's for every cloud category (the move, exit and downtime included), then the
    total and the capex/opex split."""
    tables = html_tables(render(default_ev, "html").decode("utf-8"))
    for o in default_ev.options:
        (yearly,) = [t for t in tables if t.title.startswith(f"{o.id}: cost per year")]
        cats = ONPREM_CATEGORIES if o.kind == "onprem" else CLOUD_CATEGORIES
        labels = [r[0] for r in yearly.rows]
        assert sorted(labels[: len(cats)]) == sorted(c.replace("_", " ") for c in cats)
        assert labels[len(cats) :] == ["total", "of which capex", "of which opex"]


def test_inputs_table_lists_the_move_and_the_bases(default_ev: Evaluation) -> None:
    """The organisation inputs list today's system, the bases and each move figure, the
    latter from the catalog's defaults when the scenario leaves them out."""
    tables = markdown_tables(render(default_ev, "md").decode("utf-8"))
    (inputs,) = [t for t in tables if t.title.startswith("Organisation, workload")]
    rows = inputs.by_first_column()
    defaults = default_ev.catalog.defaults

    assert rows["What runs today"]["Value"] == "exchange-2019"
    assert rows["Today's servers bought in (year)"]["Value"] == "2021"
    assert rows["Admin and helpdesk labour"]["Value"] == "cash"
    assert rows["Price basis"]["Value"] == "real"
    tool = rows["Migration tool (USD per mailbox)"]
    assert (tool["Value"], tool["Origin"]) == (
        f"{defaults.migration_tool_per_mailbox.value:g}",
        "catalog defaults",
    )
