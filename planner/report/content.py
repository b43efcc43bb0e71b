"""The report's content, built once from an Evaluation and drawn by every document format.

A :class:`Report` is a title, how it was made (date, mailplan version) and sections of
blocks: paragraphs, bullet lists, tables whose cells are already formatted for people,
charts (plotly figures from :mod:`planner.charts`, made only when a format draws them)
and Markdown text (the formulas). ``html.py`` and ``markdown.py`` walk the same blocks,
so the HTML, PDF and Markdown reports show the same figures. Every figure comes from the
engine (:class:`~planner.evaluation.Evaluation`); this module only selects and formats.

Sections, in order: executive summary, organisation and workload (with sizing), costs
(with break-even), qualitative comparison, benchmark evidence (only when an on-prem
option's capacity comes from a benchmark), uncertainty and sensitivity (only when the
scenario has ranged inputs), assumptions and sources, how the numbers are computed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from planner import __version__, charts
from planner.errors import PlannerError
from planner.evaluation import Evaluation, OptionSummary
from planner.models import CRITERIA, Catalog, Escalation, Migration, Organization, Scenario
from planner.recommendation import features_phrase, headline, lacks, money, parity, ranked
from planner.report.labels import SCOPE_TITLES, field_title, path_title, plain, readable_paths
from planner.resolution import ResolvedOnPrem

if TYPE_CHECKING:
    from planner.risk import RiskHeadline, Sensitivity, Simulation

__all__ = [
    "CHART_HEIGHT_PX",
    "CHART_WIDTH_PX",
    "Block",
    "Bullets",
    "Chart",
    "MarkdownText",
    "Paragraph",
    "Report",
    "RiskAnalysis",
    "Section",
    "Subheading",
    "Table",
    "build",
    "catch_up_phrase",
    "downtime_line",
    "formulas_markdown",
    "labour_line",
    "number",
    "price_line",
    "risk_analysis",
    "today_line",
]

CHART_WIDTH_PX = 680  # fits an A4 page with 12 mm margins (186 mm = 703 CSS px)
CHART_HEIGHT_PX = 400


# region #### blocks ####


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of plain text."""

    text: str


@dataclass(frozen=True)
class Subheading:
    """A heading one level below the section's."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bullet list of plain-text items."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table with formatted cells. ``key`` is stable (used as the HTML id and by tests);
    ``numeric`` marks the right-aligned columns.

    ``endnotes`` (column indices) marks long text repeated down the rows (sources and
    notes): the HTML and PDF print it once, as numbered notes after the table, each row
    citing its note in one column titled ``endnotes_title``; Markdown keeps it inline."""

    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]
    note: str | None = None
    endnotes: tuple[int, ...] = ()
    endnotes_title: str = "Notes"


@dataclass(frozen=True)
class Chart:
    """A plotly figure, made on demand by ``make`` (the Markdown report draws none)."""

    key: str
    title: str
    make: Callable[[], go.Figure]
    height: int = CHART_HEIGHT_PX

    def figure(self) -> go.Figure:
        """The figure, sized for an A4 page (``CHART_WIDTH_PX`` x ``height``)."""
        fig = self.make()
        fig.update_layout(width=CHART_WIDTH_PX, height=self.height)
        return fig


@dataclass(frozen=True)
class MarkdownText:
    """Markdown source kept as such (headings start at level 3)."""

    text: str


Block = Paragraph | Subheading | Bullets | Table | Chart | MarkdownText


@dataclass(frozen=True)
class Section:
    """A titled part of the report."""

    key: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Report:
    """The whole report: title, provenance line and sections."""

    title: str
    scenario: str
    generated: dt.datetime
    version: str
    start: dt.date
    sections: tuple[Section, ...] = field(default_factory=tuple)
    catalog_as_of: str = ""

    @property
    def byline(self) -> str:
        """Who made it and when, in one line."""
        return (
            f"Generated {self.generated:%Y-%m-%d %H:%M} UTC by mailplan {self.version}; "
            f"year 1 starts on {self.start.isoformat()}."
        )

    @property
    def facts(self) -> tuple[tuple[str, str], ...]:
        """The title page's facts: scenario, date, catalog as-of date, year 1, version."""
        return (
            ("Scenario", self.scenario),
            ("Date", f"{self.generated:%Y-%m-%d %H:%M} UTC"),
            ("Catalog as of", self.catalog_as_of or EMPTY),
            ("Year 1 starts on", self.start.isoformat()),
            ("Made by", f"mailplan {self.version}"),
        )

    def tables(self) -> list[Table]:
        """Every table, in order."""
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]

    def charts(self) -> list[Chart]:
        """Every chart, in order."""
        return [b for s in self.sections for b in s.blocks if isinstance(b, Chart)]


# endregion
# region #### formatting ####


def number(x: float, decimals: int = 0) -> str:
    """``12,345`` / ``1.22``: thousands separators, a fixed number of decimals (never
    ``-0``)."""
    text = f"{x:,.{decimals}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text


EMPTY = "–"
"""What an empty cell shows (an en dash), in every table of every document format."""


def _value(v: Any) -> str:
    """An input value as written (shortest exact form, thousands separators); "–" for none."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return EMPTY
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{int(v):,}" if v.is_integer() and abs(v) < 1e15 else f"{v:,}"
    return str(v)


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or str(v) == "":
        return EMPTY
    return plain(str(v))


def _label(name: str) -> str:
    return name.replace("_", " ")


def formulas_markdown() -> str:
    """The formulas ("How the numbers are computed"), the same text as in the README."""
    return resources.files("planner.report").joinpath("formulas.md").read_text("utf-8").strip()


# endregion
# region #### sections ####


def _ranked(ev: Evaluation) -> list[OptionSummary]:
    """Options that can be recommended, by NPV, lowest first."""
    return [o for o in ranked(ev.comparison) if not o.ruled_out_by]


def _best_scored(ev: Evaluation) -> tuple[list[str], float | None]:
    """The option(s) with the highest weighted score among those meeting the requirements."""
    pool = [o for o in ev.comparison.options if o.id in ev.eligible] or ev.comparison.options
    scored = [o for o in pool if o.qualitative_score is not None]
    if not scored:
        return [], None
    top = max(o.qualitative_score for o in scored if o.qualitative_score is not None)
    return [o.id for o in scored if o.qualitative_score == top], top


def catch_up_phrase(year: int | None, horizon: int) -> str:
    """How an on-prem option's cumulative cost meets the cloud's: "is cheaper from year 1"
    (from the start), "catches up in year N", or "does not catch up within H years"."""
    if year is None:
        return f"does not catch up within {horizon} years"
    if year == 1:
        return "is cheaper from year 1"
    return f"catches up in year {year}"


def _break_even_line(ev: Evaluation) -> str | None:
    """Break-even of the cheapest on-prem option against the cheapest cloud option."""
    ranked = sorted(ev.comparison.options, key=lambda o: o.npv)
    onprem = next((o for o in ranked if o.kind == "onprem"), None)
    cloud = next((o for o in ranked if o.kind == "cloud"), None)
    if onprem is None or cloud is None:
        return None
    be = next(b for b in ev.break_even if b.onprem == onprem.id and b.cloud == cloud.id)
    users = ev.scenario.organization.users
    year = catch_up_phrase(be.year, ev.horizon) + " (cumulative cost)"
    size = (
        f"costs no more by NPV from {be.users:,} users at the start (this scenario: {users:,})"
        if be.users is not None
        else "costs more by NPV at every size from 10 to 100,000 users"
    )
    return (
        f"Break-even: the cheapest on-prem option, {onprem.id}, against the cheapest cloud "
        f"option, {cloud.id}, {year} and {size}."
    )


def today_line(ev: Evaluation) -> str:
    """What runs today and what staying on it costs against the recommendation (or: a new
    installation)."""
    sc = ev.scenario
    cur = sc.currency
    if sc.current is None:
        return (
            "Today's system: none named, so this is planned as a new installation (no "
            "migration, dual running or training)."
        )
    text = f"Today's system: {sc.current} ({ev.option(sc.current).label})"
    if sc.current_servers_bought is not None:
        text += f", servers bought in {sc.current_servers_bought}"
    text += (
        f"; staying on it costs {money(ev.npv(sc.current), cur)} of NPV "
        f"(total {money(ev.total(sc.current), cur)}). Every other option pays migration, "
        "dual running and training to replace it."
    )
    best = ev.comparison.cheapest
    if best is not None and best != sc.current:
        gap = ev.npv(best) - ev.npv(sc.current)
        verb = "saves" if gap <= 0 else "costs"
        text += (
            f" The recommended option, {best}, {verb} {money(abs(gap), cur)} of NPV "
            "against staying."
        )
    return text


def labour_line(ev: Evaluation) -> str:
    """Whether admin, helpdesk and sender-authentication labour is paid for or done by
    existing staff."""
    if ev.scenario.labour_cost == "existing_staff":
        cur = ev.scenario.currency
        parts = [
            f"{o.id} {money(o.opportunity_cost, cur)}"
            for o in ranked(ev.comparison)
            if o.opportunity_cost
        ]
        return (
            "Labour basis: existing staff. Admin, helpdesk and sender-authentication hours are "
            "done by staff already paid, so they are left out of the totals and reported as "
            "opportunity cost"
            + (f" over {ev.horizon} years: " + "; ".join(parts) if parts else "")
            + "."
        )
    return (
        "Labour basis: paid for. Admin, helpdesk and sender-authentication hours are costed "
        "in the totals."
    )


def price_line(ev: Evaluation) -> str:
    """The price basis: real (today's money) or nominal (with inflation)."""
    sc = ev.scenario
    if sc.price_basis == "nominal":
        return (
            f"Price basis: nominal. Inflation of {sc.inflation:.1%} a year is added to every "
            f"price change and combined with the {sc.discount_rate:.1%} real discount rate "
            f"({ev.discount_rate:.2%} nominal)."
        )
    return (
        "Price basis: real. Prices are in today's money, price changes are above inflation, "
        f"and the discount rate is {sc.discount_rate:.1%} a year."
    )


def downtime_line(ev: Evaluation) -> str:
    """Whether downtime is costed in the totals or only reported."""
    sc = ev.scenario
    cur = sc.currency
    if sc.downtime_cost_per_user_hour is not None:
        rate = money(sc.downtime_cost_per_user_hour * sc.usd_exchange_rate, cur)
        return (
            f"Downtime is in the totals at {rate} per user for each hour mail is down "
            "(the downtime line; expected hours a year in the totals table)."
        )
    if sc.downtime_cost_per_hour is not None:
        rate = money(sc.downtime_cost_per_hour * sc.usd_exchange_rate, cur)
        return (
            f"Downtime is in the totals at {rate} for each hour mail is down "
            "(the downtime line; expected hours a year in the totals table)."
        )
    return (
        "Downtime is reported, not costed: the scenario sets no downtime cost, so the "
        "expected hours down a year (totals table) are not in the totals."
    )


RISK_DRAWS = 10_000
RISK_SEED = 1  # fixed, so the same scenario always gives the same report


@dataclass(frozen=True)
class RiskAnalysis:
    """The Monte Carlo run and tornado of a scenario with ranged inputs."""

    simulation: Simulation
    sensitivity: Sensitivity | None
    headline: RiskHeadline


def risk_analysis(ev: Evaluation) -> RiskAnalysis | None:
    """Simulate and rank the sensitivities when the scenario has ranged inputs, else None.

    The tornado needs an on-prem and a cloud option; without both it is left out.
    """
    if not ev.scenario.ranges:
        return None
    from planner import risk

    sim = risk.simulate(ev.scenario, ev.catalog, draws=RISK_DRAWS, seed=RISK_SEED)
    try:
        sens: Sensitivity | None = risk.sensitivity(ev.scenario, catalog=ev.catalog)
    except PlannerError:
        sens = None
    return RiskAnalysis(sim, sens, risk.headline(sim, sens, top=3))


def _summary(ev: Evaluation, analysis: RiskAnalysis | None = None) -> Section:
    cmp = ev.comparison
    cur = cmp.currency
    order = _ranked(ev)
    if not order:
        items = [headline(ev)]
        cheapest = None
    else:
        cheapest = order[0]
        items = [
            f"Recommended by cost: {cheapest.id} ({ev.path_label(cheapest.id)}), the lowest net "
            "present value among the options the organisation can buy that meet every "
            "requirement: "
            f"{money(cheapest.npv, cur)} over {cmp.horizon_years} years "
            f"(total {money(cheapest.total, cur)}, "
            f"{money(cheapest.per_user_month, cur)} per user-month)."
        ]
    runner_up = order[1] if len(order) > 1 else None
    if cheapest is not None and runner_up is not None:
        saving = runner_up.npv - cheapest.npv
        share = saving / runner_up.npv if runner_up.npv else 0.0
        items.append(
            f"Saving against the runner-up, {runner_up.id}: {money(saving, cur)} of NPV "
            f"({share:.1%})."
        )
        missing = lacks(ev, cheapest.id, runner_up.id)
        if missing:
            items.append(
                f"Not like for like: {cheapest.id} has no {features_phrase(missing)}, which "
                f"{ev.path_label(runner_up.id)} includes (see the feature table under Costs)."
            )
    best, score = _best_scored(ev)
    if score is not None:
        verdict = (
            "The cheapest option also scores best."
            if cheapest is None or cheapest.id in best
            else f"This differs from the recommendation by cost ({cheapest.id} scores "
            f"{cheapest.qualitative_score:.2f}): weigh the saving against the score."
        )
        items.append(
            f"Recommended by the weighted qualitative score: {', '.join(best)} "
            f"({score:.2f} of 5). {verdict}"
        )
    if (line := _break_even_line(ev)) is not None:
        items.append(line)
    items += [today_line(ev), labour_line(ev), price_line(ev), downtime_line(ev)]
    ruled = [o for o in ranked(cmp) if o.ruled_out_by]
    if ruled:
        items.append(
            "Ruled out (cannot be bought for this organisation, or fails a requirement): "
            + "; ".join(f"{o.id} ({ruled_out_reasons(ev.catalog, o.ruled_out_by)})" for o in ruled)
            + "."
        )
    items.append(
        f"Catalog reviewed on {ev.catalog.as_of}; the oldest figure this report uses is "
        f"dated {ev.oldest_as_of or '–'}."
    )
    if analysis is not None:
        kinds = {o.id: o.kind for o in ev.options}
        items.extend(readable_paths(line, kinds) for line in analysis.headline.lines)
    items.extend(f"Note: {w}." for w in cmp.warnings)
    return Section("summary", "Executive summary", (Bullets(tuple(items)), _totals_table(ev)))


_RULES = {
    "seat_cap": "more users than the plan allows",
    "min_users": "fewer users than the plan needs",
    "end_of_life": "support ends",
    "not_sold_to_new_customers": "not sold to new customers",
    "mailbox_cap": "mailboxes outgrow the plan's cap",
}


def ruled_out_reasons(catalog: Catalog, ids: Iterable[str]) -> str:
    """Why an option is ruled out, in words: the requirement's label or the rule
    (``end_of_life`` reads "support ends"); "–" when nothing rules it out."""
    labels = {r.id: r.label for r in catalog.qualitative.requirements}
    words = [labels.get(i) or _RULES.get(i) or i.replace("_", " ") for i in ids]
    return ", ".join(words) or "–"


def _signed(x: float) -> str:
    """A difference with its sign: ``+1,234`` / ``-1,234`` / ``0``."""
    text = f"{x:+,.0f}"
    return "0" if text in ("+0", "-0") else text


BASELINE = "baseline"
"""The vs-today cells of the option that runs today."""


def _totals_table(ev: Evaluation) -> Table:
    cmp = ev.comparison
    cur = cmp.currency
    current = ev.scenario.current
    staff = ev.scenario.labour_cost == "existing_staff"
    rows = []
    for o in ranked(cmp):
        status = ["recommended"] if o.id == cmp.cheapest else []
        if o.ruled_out_by:
            status.append("ruled out: " + ruled_out_reasons(ev.catalog, o.ruled_out_by))
        vs: tuple[str, ...] = ()
        if current is not None:
            if o.id == current or o.vs_current is None:
                vs = (BASELINE, BASELINE)
            else:
                vs = (_signed(o.vs_current.total), _signed(o.vs_current.npv))
        rows.append(
            (
                o.id,
                o.kind,
                number(ev.total(o.id)),
                number(ev.npv(o.id)),
                number(ev.per_user_month(o.id), 2),
                *vs,
                *((number(o.opportunity_cost),) if staff else ()),
                EMPTY if o.availability is None else f"{o.availability * 100:.3f}%",
                EMPTY
                if o.downtime_hours_per_year is None
                else number(o.downtime_hours_per_year, 1),
                EMPTY if o.qualitative_score is None else number(o.qualitative_score, 2),
                "; ".join(status) or EMPTY,
            )
        )
    vs_columns = (f"vs today, total ({cur})", f"vs today, NPV ({cur})") if current else ()
    staff_columns = (f"Opportunity cost ({cur})",) if staff else ()
    columns = (
        "Option",
        "Kind",
        f"Total ({cur})",
        f"NPV ({cur})",
        f"Per user-month ({cur})",
        *vs_columns,
        *staff_columns,
        "Availability",
        "Downtime h/yr",
        "Score (1-5)",
        "Status",
    )
    note = (
        f"Sorted by NPV at a discount rate of {cmp.discount_rate:.1%} a year; "
        "the total is undiscounted. Availability: of the plan each option runs on in year 1; "
        "downtime: the expected hours a year mail is down."
    )
    if current:
        note += (
            f" vs today: the option's total and NPV minus those of today's system, {current} "
            "(negative: cheaper than staying)."
        )
    if staff:
        note += (
            " Opportunity cost: admin, helpdesk and sender-authentication labour done by "
            "existing staff, not in the total."
        )
    return Table(
        key="totals",
        title=f"Totals over {cmp.horizon_years} years ({cur})",
        columns=columns,
        rows=tuple(rows),
        numeric=(False, False, *(True,) * (len(columns) - 3), False),
        note=note,
    )


_SCENARIO_FIELDS: dict[str, dict[str, str | None]] = {
    "scenario": {k: f.description for k, f in Scenario.model_fields.items()},
    "escalation": {k: f.description for k, f in Escalation.model_fields.items()},
    "organization": {k: f.description for k, f in Organization.model_fields.items()},
    "migration": {k: f.description for k, f in Migration.model_fields.items()},
}
_BASIS_FIELDS = (
    "current",
    "current_servers_bought",
    "labour_cost",
    "price_basis",
    "inflation",
    "downtime_cost_per_user_hour",
    "downtime_cost_per_hour",
)


def _basis_rows(ev: Evaluation, listed: set[tuple[str, str]]) -> list[tuple[str, ...]]:
    """Today's system, the bases, downtime and the move: the scenario's value, or the
    default used (for the move, the catalog's defaults as the engine takes them). Inputs
    the engine's assumptions already list (``listed``) are left to them."""
    sc = ev.scenario
    rows: list[tuple[str, ...]] = []
    for name in _BASIS_FIELDS:
        if ("scenario", name) in listed:
            continue
        value = getattr(sc, name)
        origin = "scenario" if name in sc.model_fields_set else "mailplan default"
        meaning = _SCENARIO_FIELDS["scenario"].get(name) or ""
        shown = (
            "not set"
            if value is None
            else str(value)
            if name.endswith("_bought")
            else _value(value)
        )
        rows.append((field_title("scenario", name), shown, plain(meaning), origin))
    terms = ev.scenario_terms()
    for name in Migration.model_fields:
        if ("migration", name) in listed:
            continue
        given = getattr(sc.migration, name)
        used = float(getattr(terms, name)[0, 0]) if name in terms else given
        origin = "scenario" if given is not None else "catalog defaults"
        meaning = _SCENARIO_FIELDS["migration"].get(name) or ""
        rows.append((field_title("migration", name), _value(used), plain(meaning), origin))
    return rows


def _organisation(ev: Evaluation) -> Section:
    a = ev.assumptions
    rows: list[tuple[str, ...]] = []
    for r in a[a["scope"].isin(list(_SCENARIO_FIELDS))].itertuples():
        meaning = _SCENARIO_FIELDS[str(r.scope)].get(str(r.field)) or ""
        title = field_title(str(r.scope), str(r.field))
        rows.append((title, _value(r.value), plain(meaning), _text(r.origin)))
    rows += _basis_rows(ev, {(str(s), str(f)) for s, f in zip(a["scope"], a["field"], strict=True)})
    org = Table(
        key="organisation",
        title="Organisation, workload and financial inputs",
        columns=("Input", "Value", "Meaning", "Origin"),
        rows=tuple(rows),
        numeric=(False, True, False, False),
    )
    blocks: list[Block] = [org, Subheading("Sizing per year"), _demand_table(ev)]
    onprem = ev.resolved.onprem
    if onprem:
        blocks.append(
            Bullets(
                tuple(
                    f"{o.id} ({o.label}): {ev.binding_sentence(o.id, ev.horizon)}" for o in onprem
                )
            )
        )
        blocks.append(_capacity_table(ev))
        blocks.append(
            Chart("servers-by-year", "Servers needed", partial(charts.servers_by_year, ev))
        )
        for o in onprem:
            blocks.append(
                Chart(
                    f"demand-vs-capacity-{o.id}",
                    f"Demand and capacity: {o.id}",
                    partial(charts.demand_vs_capacity, ev, o.id),
                )
            )
    else:
        blocks.append(Paragraph("No on-prem options in this scenario: no servers to size."))
    return Section("organisation", "Organisation and workload", tuple(blocks))


def _demand_table(ev: Evaluation) -> Table:
    """Yearly demand (users, messages, peak rate, storage) and servers per on-prem option."""
    d = ev.demand
    onprem = [o.id for o in ev.resolved.onprem]
    servers = {oid: ev.sizing.loc[ev.sizing["option"] == oid, "servers"].tolist() for oid in onprem}
    rows = []
    for y in range(ev.horizon):
        rows.append(
            (
                str(y + 1),
                number(float(d.users[0][y])),
                number(float(d.messages_per_day[0][y])),
                number(float(d.peak_msgs_per_s[0][y]), 2),
                number(float(d.mailbox_gb[0][y]), 1),
                number(float(d.storage_tb[0][y]), 2),
                *(str(servers[oid][y]) for oid in onprem),
            )
        )
    return Table(
        key="sizing",
        title="Demand and servers per year",
        columns=(
            "Year",
            "Users",
            "Messages/day",
            "Peak msgs/s",
            "Mailbox GB",
            "Storage TB",
            *(f"Servers {oid}" for oid in onprem),
        ),
        rows=tuple(rows),
        numeric=(True,) * (6 + len(onprem)),
        note="Mailbox and storage at the end of each year; servers include redundancy.",
    )


def _capacity_table(ev: Evaluation) -> Table:
    rows = [
        (
            o.id,
            number(o.capacity_msgs_per_s, 2),
            o.capacity_kind,
            o.capacity_source,
            f"{o.target_utilization:.0%}",
            _value(o.storage_tb_per_server),
            o.redundancy,
        )
        for o in ev.resolved.onprem
    ]
    return Table(
        key="capacity",
        title="Capacity per server and where it comes from",
        columns=(
            "Option",
            "Msgs/s per server",
            "Kind",
            "Source",
            "Target utilisation",
            "TB per server",
            "Redundancy",
        ),
        rows=tuple(rows),
        numeric=(False, True, False, False, True, True, False),
    )


def _yearly_table(ev: Evaluation, option_id: str) -> Table:
    cur = ev.scenario.currency
    frame = ev.costs[ev.costs["option"] == option_id]
    by_cat = frame.pivot(index="category", columns="year", values="amount")
    order = list(dict.fromkeys(frame["category"]))  # the engine's category order
    rows = [
        (_label(c), *(number(float(v)) for v in by_cat.loc[c]), number(float(by_cat.loc[c].sum())))
        for c in order
    ]
    yearly = ev.yearly(option_id)
    rows.append(("total", *(number(float(v)) for v in yearly), number(ev.total(option_id))))
    summary = next(o for o in ev.comparison.options if o.id == option_id)
    for kind in ("capex", "opex"):
        amounts = [float(getattr(y, kind)) for y in summary.years]
        rows.append((f"of which {kind}", *(number(v) for v in amounts), number(sum(amounts))))
    if ev.scenario.labour_cost == "existing_staff":
        staff = [float(v) for v in ev.opportunity[option_id]]
        rows.append(
            ("opportunity cost (not in the total)", *(number(v) for v in staff), number(sum(staff)))
        )
    years = tuple(f"Year {y}" for y in by_cat.columns)
    return Table(
        key=f"yearly-{option_id}",
        title=f"{option_id}: cost per year by category ({cur})",
        columns=("Category", *years, "All years"),
        rows=tuple(rows),
        numeric=(False, *(True,) * (len(years) + 1)),
        note=f"Runs on {ev.path_label(option_id)}. Capex: hardware, set-up and migration, "
        "less the residual value; opex: everything else.",
    )


def _break_even_table(ev: Evaluation) -> Table:
    users = ev.scenario.organization.users
    rows = [
        (
            b.onprem,
            b.cloud,
            EMPTY if b.year is None else str(b.year),
            EMPTY if b.year_npv is None else str(b.year_npv),
            EMPTY if b.users is None else number(b.users),
        )
        for b in ev.break_even
    ]
    return Table(
        key="break-even",
        title="Break-even: where on-prem costs no more than cloud",
        columns=(
            "On-prem",
            "Cloud",
            "Year (cumulative cost)",
            "Year (cumulative NPV)",
            "Users at the start (NPV)",
        ),
        rows=tuple(rows),
        numeric=(False, False, True, True, True),
        note=(
            f"Year: the first year whose cumulative on-prem cost is at or below the cloud's "
            "(undiscounted, then discounted). "
            f"Users: the smallest starting organisation (10 to 100,000) at which on-prem NPV "
            f"is at or below cloud NPV; this scenario starts with {users:,}. "
            f"'{EMPTY}': never within the range."
        ),
    )


def _costs(ev: Evaluation, analysis: RiskAnalysis | None) -> Section:
    blocks: list[Block] = [
        Paragraph(
            "Every amount is in "
            f"{ev.scenario.currency}, at the start of the year it falls in. Residual is the "
            "undepreciated value of the servers still in service at the end of the horizon "
            "(negative: it reduces the cost)."
        ),
        Chart("cumulative-tco", "Cumulative cost of ownership", partial(charts.cumulative_tco, ev)),
        Chart(
            "yearly-by-category",
            "Yearly cost by category",
            partial(charts.yearly_by_category, ev),
            height=560,  # room for every category in the legend
        ),
    ]
    frame = parity(ev)
    blocks.append(
        Table(
            key="features",
            title="What each option includes",
            columns=("Feature", *(str(c) for c in frame.columns)),
            rows=tuple(
                (str(label), *(str(v) if v != "none" else "–" for v in row))
                for label, row in frame.iterrows()
            ),
            numeric=(False,) * (len(frame.columns) + 1),
            note="From the catalog entry of the plan or stack each option starts on "
            "(data/catalog/features.yaml); an add-on is bought only when a requirement names "
            "the feature.",
        )
    )
    if ev.has_seat_mix and ev.resolved.cloud:
        blocks += [Subheading("Seats by plan"), _seats_table(ev)]
    for o in ranked(ev.comparison):
        blocks.append(_yearly_table(ev, o.id))
    if ev.break_even:
        blocks += [
            Subheading("Break-even"),
            _break_even_table(ev),
            Chart(
                "break-even-map", "Cost per user-month by size", partial(charts.break_even_map, ev)
            ),
        ]
    blocks += [Subheading("List and negotiated prices"), Bullets(tuple(_price_terms(ev)))]
    blocks += _flips(ev, analysis)
    notes = [f"{o.id}: {w}" for o in ev.comparison.options for w in o.warnings]
    if notes:
        blocks += [Subheading("Notes on the options"), Bullets(tuple(notes))]
    return Section("costs", "Costs", tuple(blocks))


def _price_terms(ev: Evaluation) -> list[str]:
    """Which prices are the catalog's list prices and which negotiated, one line per option,
    then how tax is treated (catalog prices exclude VAT and sales tax)."""
    lines = []
    for o in ev.resolved.options:
        terms = []
        if o.discount_pct:
            onprem = isinstance(o, ResolvedOnPrem)
            what = "licences" if onprem else "subscription and add-ons"
            terms.append(f"{o.discount_pct:.0%} off the list price of the {what}")
        if isinstance(o, ResolvedOnPrem) and o.hardware_discount_pct:
            terms.append(f"{o.hardware_discount_pct:.0%} off the server price")
        if not isinstance(o, ResolvedOnPrem) and o.price_lock_years:
            terms.append(f"price locked for {o.price_lock_years} years")
        lines.append(
            f"{o.id}: negotiated, " + ", ".join(terms) if terms else f"{o.id}: list prices"
        )
    tax = ev.scenario.tax_pct
    if tax is not None and (tax.capex or tax.opex):
        lines.append(
            f"Catalog prices exclude VAT and sales tax; the tax line adds what is not "
            f"recovered: {tax.capex:.0%} of capex, {tax.opex:.0%} of opex."
        )
    else:
        lines.append("Catalog prices exclude VAT and sales tax; none is added (no tax rate given).")
    return lines


def _flips(ev: Evaluation, analysis: RiskAnalysis | None) -> list[Block]:
    """Where the answer flips: the nearest flip points as sentences (the ranged inputs'
    when the scenario has ranges, as the sensitivity found them; else every input's)."""
    if ev.cheapest is None:
        return []
    head = Subheading("Where the answer flips")
    try:
        from planner.risk.flips import flip_points, flip_sentences
    except ImportError:  # the risk extra (scipy) is not installed
        return [head, Paragraph("Install mailplan[risk] to find where the answer flips.")]
    sens = analysis.sensitivity if analysis is not None else None
    flips = sens.flip_points if sens is not None else flip_points(ev)
    what = "ranged input" if ev.scenario.ranges else "numeric input"
    return [
        head,
        Paragraph(
            f"Each {what} in turn, the others at their typical values, searched from a tenth "
            "to ten times its value (within its bounds) for the value at which another "
            "option becomes the cheapest; nearest first."
        ),
        Bullets(tuple(flip_sentences(ev, flips))),
    ]


def _seats_table(ev: Evaluation) -> Table:
    """Licensed seats per cloud option, plan and year (a scenario with a seat mix)."""
    frame = ev.seats
    rows = []
    for o in ev.resolved.cloud:
        mine = frame[frame["option"] == o.id]
        for _plan, group in mine.groupby("plan", sort=False):
            by_year = dict(zip(group["year"], group["seats"], strict=True))
            rows.append(
                (
                    o.id,
                    str(group["label"].iloc[0]),
                    *(number(float(by_year.get(y, 0))) for y in range(1, ev.horizon + 1)),
                )
            )
    org = ev.scenario.organization
    parts = [f"{s.name}: {s.users:,} of {org.users:,} people in year 1" for s in org.segments]
    if org.shared_mailboxes is not None:
        parts.append(f"{org.shared_mailboxes.count:,} shared mailboxes (not people)")
    return Table(
        key="seats",
        title="Licensed seats by plan",
        columns=("Option", "Plan", *(f"Year {y}" for y in range(1, ev.horizon + 1))),
        rows=tuple(rows),
        numeric=(False, False, *(True,) * ev.horizon),
        note="; ".join(parts)
        + ". Segments grow with the organisation; each is on its plan for the option (a "
        "plans mapping, else the catalog's plan for its tier, else the option's own plan); "
        "shared mailboxes follow the vendor's licence rule (Microsoft 365: none up to 50 GB).",
    )


def _qualitative(ev: Evaluation) -> Section:
    labels = {c.id: c.label for c in ev.catalog.qualitative.criteria}
    options = [o.id for o in ev.options]
    cells = {oid: {c.criterion: c for c in ev.assessments[oid].criteria} for oid in options}
    weights = {c.criterion: c.weight for c in ev.assessments[options[0]].criteria}
    rows = [
        (labels.get(c, c), _value(weights[c]), *(str(cells[oid][c].score) for oid in options))
        for c in CRITERIA
    ]
    scores = [ev.assessments[oid].score for oid in options]
    rows.append(("Weighted score", EMPTY, *(EMPTY if s is None else number(s, 2) for s in scores)))
    matrix = Table(
        key="qualitative",
        title="Decision matrix (scores 1-5, 5 = best)",
        columns=("Criterion", "Weight", *options),
        rows=tuple(rows),
        numeric=(False, True, *(True,) * len(options)),
        note="Weighted score = sum of weight x score / sum of the weights.",
    )
    qual = ev.scenario.qualitative
    requirements = list(qual.requirements) if qual is not None else []
    req_labels = {r.id: r.label for r in ev.catalog.qualitative.requirements}
    blocks: list[Block] = [matrix]
    if requirements:
        items = [f"{r}: {req_labels.get(r, r)}" for r in requirements]
        blocks += [Paragraph("Requirements every option must meet:"), Bullets(tuple(items))]
        ruled = [
            f"{oid} is ruled out: " + "; ".join(ev.assessments[oid].reasons)
            for oid in options
            if ev.assessments[oid].ruled_out_by
        ]
        if ruled:
            blocks += [Paragraph("Options ruled out:"), Bullets(tuple(ruled))]
        else:
            blocks.append(Paragraph("Every option meets the requirements."))
    else:
        blocks.append(Paragraph("The scenario sets no requirements, so no option is ruled out."))
    blocks.append(
        Chart(
            "qualitative-scores",
            "Qualitative scores",
            partial(charts.qualitative_bars, ev),
            height=min(900, 200 + 12 * len(CRITERIA) * len(ev.options)),
        )
    )
    reasons = [
        (oid, labels.get(c.criterion, c.criterion), str(c.score), c.origin, c.reason)
        for oid in options
        for c in ev.assessments[oid].criteria
    ]
    blocks.append(
        Table(
            key="qualitative-reasons",
            title="Why each score",
            columns=("Option", "Criterion", "Score", "Origin", "Reason"),
            rows=tuple(reasons),
            numeric=(False, False, True, False, False),
        )
    )
    return Section("qualitative", "Qualitative comparison", tuple(blocks))


def _benchmark(ev: Evaluation) -> Section | None:
    measured = [o for o in ev.resolved.onprem if o.capacity_kind == "benchmark"]
    if not measured:
        return None
    rows = [(o.id, number(o.capacity_msgs_per_s, 2), o.capacity_source) for o in measured]
    return Section(
        "benchmark",
        "Benchmark evidence",
        (
            Paragraph(
                "These on-prem options are sized with a measured capacity instead of the "
                "catalog's estimate."
            ),
            Table(
                key="benchmark",
                title="Measured capacity per server",
                columns=("Option", "Msgs/s per server", "Benchmark"),
                rows=tuple(rows),
                numeric=(False, True, False),
            ),
        ),
    )


def _risk(ev: Evaluation, analysis: RiskAnalysis | None) -> Section | None:
    if analysis is None:
        return None
    from planner.risk import charts as risk_charts

    sim, sens = analysis.simulation, analysis.sensitivity
    summary = sim.summary
    cur = summary.currency
    rows = [
        (
            o.id,
            o.kind,
            number(o.npv.p10),
            number(o.npv.p50),
            number(o.npv.p90),
            number(o.total.p50),
            f"{o.p_cheapest:.0%}",
        )
        for o in sorted(summary.options, key=lambda o: o.npv.p50)
    ]
    blocks: list[Block] = [
        Paragraph(
            f"{summary.draws:,} draws (seed {summary.seed}) of the {len(summary.inputs)} ranged "
            "inputs, each evaluated through the whole cost model; P10 and P90 bound the middle "
            "80 % of outcomes."
        ),
        Table(
            key="risk-options",
            title=f"NPV over the draws ({cur})",
            columns=(
                "Option",
                "Kind",
                f"NPV P10 ({cur})",
                f"NPV P50 ({cur})",
                f"NPV P90 ({cur})",
                f"Total P50 ({cur})",
                "Cheapest in",
            ),
            rows=tuple(rows),
            numeric=(False, False, True, True, True, True, True),
        ),
        Chart("risk-npv", "NPV distributions", partial(risk_charts.npv_distributions, sim)),
    ]
    if sens is not None:
        swings = sens.table.head(10)
        kinds = {o.id: o.kind for o in ev.options}
        labels = {str(p): path_title(str(p), kinds) for p in sens.table["input"]}
        blocks.append(
            Table(
                key="risk-tornado",
                title=f"Sensitivity of the NPV gap {sens.onprem} - {sens.cloud} ({cur})",
                columns=(
                    "Input",
                    "Range",
                    f"Gap at low ({cur})",
                    f"Gap at high ({cur})",
                    f"Swing ({cur})",
                    "Can reverse",
                ),
                rows=tuple(
                    (
                        labels[str(r["input"])],
                        str(r["range"]),
                        number(float(r["npv_at_low"])),
                        number(float(r["npv_at_high"])),
                        number(float(r["swing"])),
                        "yes" if r["flips"] else "no",
                    )
                    for r in swings.to_dict(orient="records")
                ),
                numeric=(False, False, True, True, True, False),
                note="One input at a time at its low and high value (P10/P90 for normal and "
                "lognormal ranges); below zero the on-prem option is cheaper.",
            )
        )
        blocks.append(Chart("risk-tornado", "Tornado", partial(_tornado, sens, labels), height=520))
    return Section("risk", "Uncertainty and sensitivity", tuple(blocks))


def _tornado(sens: Sensitivity, labels: dict[str, str]) -> go.Figure:
    """The tornado with each input's title instead of its field path."""
    from planner.risk import charts as risk_charts

    fig = risk_charts.tornado(sens, top=10)
    for trace in fig.data:  # option or section on one line, the input's title below it
        trace.y = [labels.get(str(y), str(y)).replace(" · ", "<br>") for y in trace.y]
    cur = sens.scenario.currency
    fig.update_yaxes(automargin=True, title=None)
    fig.update_xaxes(title=f"NPV gap ({cur}); below 0: on-prem cheaper")
    fig.update_layout(  # the legend under the axis title: the long labels take the width
        legend={"orientation": "h", "y": -0.2, "yanchor": "top", "x": 0, "xanchor": "left"},
        margin={"b": 90},
    )
    return fig


def _scope_kind(ev: Evaluation, scope: str) -> str:
    """The field kind of an assumptions scope: the section, or the option's kind."""
    if scope in SCOPE_TITLES:
        return scope
    return next((o.kind for o in ev.options if o.id == scope), scope)


def _assumptions(ev: Evaluation) -> Section:
    rows = [
        (
            SCOPE_TITLES.get(str(r.scope), _text(r.scope)),
            field_title(_scope_kind(ev, str(r.scope)), str(r.field)),
            _value(r.value),
            _text(r.origin),
            _text(r.source),
            _text(r.as_of),
            "yes" if r.estimate is True else "no",
            _text(r.note),
        )
        for r in ev.assumptions.itertuples()
    ]
    return Section(
        "assumptions",
        "Assumptions and sources",
        (
            Paragraph(
                "Every input of the calculation: where it came from (the scenario, a catalog "
                "entry or a mailplan default), the source and the date the source states. "
                "Estimates are marked; prices are in USD before conversion to the display "
                "currency."
            ),
            Table(
                key="assumptions",
                title="Inputs, sources and dates",
                columns=(
                    "Scope",
                    "Input",
                    "Value",
                    "Origin",
                    "Source",
                    "As of",
                    "Estimate",
                    "Note",
                ),
                rows=tuple(rows),
                numeric=(False, False, True, False, False, False, False, False),
                # 227 rows share 78 source notes (default scenario): printed once each,
                # the appendix takes 11 PDF pages instead of 22
                endnotes=(4, 7),
                endnotes_title="Source, note",
            ),
        ),
    )


def _formulas() -> Section:
    return Section("formulas", "How the numbers are computed", (MarkdownText(formulas_markdown()),))


# endregion


def build(ev: Evaluation, generated: dt.datetime | None = None) -> Report:
    """The report of ``ev``; ``generated`` (UTC) defaults to now."""
    analysis = risk_analysis(ev)
    sections: Iterable[Section | None] = (
        _summary(ev, analysis),
        _organisation(ev),
        _costs(ev, analysis),
        _qualitative(ev),
        _benchmark(ev),
        _risk(ev, analysis),
        _assumptions(ev),
        _formulas(),
    )
    return Report(
        title=f"Mail options for {ev.scenario.name}",
        scenario=ev.scenario.name,
        generated=generated or dt.datetime.now(dt.UTC),
        version=__version__,
        start=ev.start,
        sections=tuple(s for s in sections if s is not None),
        catalog_as_of=str(ev.catalog.as_of),
    )
