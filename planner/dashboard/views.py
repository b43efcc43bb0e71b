"""Display tables and call-outs built from an evaluated scenario; no Streamlit here.

The figures come from the engine (``Evaluation``); this module only picks, labels and
formats them for a page: money with thousands separators and the currency, units in
column headers. The derived figures are the saving of the cheapest option over the next
cheapest (a difference of two NPVs) and each option's capex and opex over the horizon
(sums of the engine's yearly capex and opex).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict

from planner.errors import ScenarioError
from planner.evaluation import BreakEven, Evaluation, OptionSummary
from planner.models import CRITERIA, Catalog, Migration, Scenario
from planner.recommendation import money, parity, ranked
from planner.report.content import catch_up_phrase, ruled_out_reasons
from planner.resolution import Provenance, ResolvedOnPrem, resolve

__all__ = [
    "Callout",
    "Default",
    "assumptions_table",
    "basis_line",
    "break_even_line",
    "break_even_metric",
    "break_even_table",
    "break_even_year",
    "capacity_rows",
    "catalog_defaults",
    "cheapest_callout",
    "choice_words",
    "comparison_json",
    "costs_csv",
    "decision_matrix",
    "details_table",
    "downtime_note",
    "escalation_caption",
    "headline_break_even",
    "migration_caption",
    "migration_defaults",
    "money",
    "option_labels",
    "organisation_caption",
    "parity_table",
    "radar_default",
    "ranged_count",
    "ranges_added_line",
    "reasons_table",
    "requirement_table",
    "sizing_table",
    "totals_table",
]


def option_labels(ev: Evaluation) -> dict[str, str]:
    """Option id -> ``label (id)`` for pickers and headings."""
    return {o.id: f"{o.label} ({o.id})" for o in ev.options}


# region #### costs ####


class Callout(BaseModel):
    """The cheapest option and what it saves over the next cheapest (by NPV); ``cheapest``
    is None when every option is ruled out."""

    model_config = ConfigDict(frozen=True)

    cheapest: OptionSummary | None
    runner_up: OptionSummary | None
    saving_npv: float | None
    among: str  # "eligible options"


def cheapest_callout(ev: Evaluation) -> Callout:
    """The engine's cheapest option, the next cheapest eligible option, and the NPV gap."""
    comp = ev.comparison
    pool = [o for o in ranked(comp) if not o.ruled_out_by]
    best = pool[0] if pool else None
    runner = pool[1] if len(pool) > 1 else None
    return Callout(
        cheapest=best,
        runner_up=runner,
        saving_npv=None if runner is None or best is None else round(runner.npv - best.npv, 2),
        among="eligible options",
    )


def parity_table(ev: Evaluation) -> pd.DataFrame:
    """The feature table, options in ranked order, headed by their labels; missing cells
    read "–"."""
    frame = parity(ev)
    labels = {o.id: o.label for o in ev.options}
    frame.columns = [labels.get(str(c), str(c)) for c in frame.columns]
    return frame.replace({"none": "–"})


def totals_table(ev: Evaluation) -> pd.DataFrame:
    """One row per option, amounts with thousands separators (currency in the headers):
    option, name, kind, total, NPV, cost per user-month, qualitative score, ruled out by."""
    cur = ev.scenario.currency
    comp = ev.comparison
    rows = [
        {
            "Option": o.id + (" (cheapest)" if o.id == comp.cheapest else ""),
            "Name": o.label,
            "Kind": "on-prem" if o.kind == "onprem" else "cloud",
            f"Total, {ev.horizon} years ({cur})": f"{o.total:,.0f}",
            f"NPV ({cur})": f"{o.npv:,.0f}",
            f"Per user-month ({cur})": f"{o.per_user_month:,.2f}",
            "Score (1-5)": "–" if o.qualitative_score is None else f"{o.qualitative_score:.2f}",
            "Ruled out by": ruled_out_reasons(ev.catalog, o.ruled_out_by),
        }
        for o in ranked(comp)
    ]
    return pd.DataFrame(rows).set_index("Option")


def _signed(amount: float) -> str:
    """``+1,234`` / ``-1,234`` / ``0``: a difference, its sign always shown."""
    text = f"{amount:+,.0f}"
    return "0" if text in ("+0", "-0") else text


def details_table(ev: Evaluation) -> pd.DataFrame:
    """One row per option, in the totals table's order (same row labels): availability
    (%), expected downtime (hours a year), the total and NPV against today's system (only
    when the scenario names one; today's own row says so), the admin and helpdesk labour
    done by existing staff (only with ``labour_cost: existing_staff``), and capex and opex
    over the horizon (capex: hardware, set-up, migration, less the residual value)."""
    cur = ev.scenario.currency
    comp = ev.comparison
    current = ev.scenario.current
    staff = ev.scenario.labour_cost == "existing_staff"
    rows = []
    for o in ranked(comp):
        row: dict[str, str] = {
            "Option": o.id + (" (cheapest)" if o.id == comp.cheapest else ""),
            "Availability (%)": "–" if o.availability is None else f"{o.availability * 100:.3f}",
            "Downtime (hours/year)": "–"
            if o.downtime_hours_per_year is None
            else f"{o.downtime_hours_per_year:,.1f}",
        }
        if current is not None:
            if o.id == current:
                row[f"vs today, total ({cur})"] = row[f"vs today, NPV ({cur})"] = "today's system"
            elif o.vs_current is not None:
                row[f"vs today, total ({cur})"] = _signed(o.vs_current.total)
                row[f"vs today, NPV ({cur})"] = _signed(o.vs_current.npv)
        if staff:
            row[f"Opportunity cost ({cur})"] = f"{o.opportunity_cost:,.0f}"
        row[f"Capex ({cur})"] = f"{sum(y.capex for y in o.years):,.0f}"
        row[f"Opex ({cur})"] = f"{sum(y.opex for y in o.years):,.0f}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("Option")


def _labour_phrase(ev: Evaluation) -> str:
    if ev.scenario.labour_cost == "existing_staff":
        return (
            "admin and helpdesk labour done by existing staff (left out of the totals, "
            "shown as opportunity cost)"
        )
    return "admin and helpdesk labour paid for (in the totals)"


def _price_phrase(ev: Evaluation) -> str:
    sc = ev.scenario
    if sc.price_basis == "nominal":
        return (
            f"nominal prices (inflation {sc.inflation:.1%} a year added to every price "
            f"change; discount rate {ev.discount_rate:.2%} nominal)"
        )
    return f"real prices (today's money; discount rate {sc.discount_rate:.1%} a year)"


def basis_line(ev: Evaluation) -> str:
    """What the figures rest on, in one line: today's system (or a new installation), the
    labour basis and the price basis."""
    sc = ev.scenario
    if sc.current is None:
        today = "Nothing runs today (a new installation): no option pays a move"
    else:
        today = f"Today's system: {sc.current} ({ev.option(sc.current).label})"
        if sc.current_servers_bought is not None:
            today += f", servers bought in {sc.current_servers_bought}"
        today += "; every other option pays migration, dual running and training"
    return f"{today}. Labour: {_labour_phrase(ev)}. Prices: {_price_phrase(ev)}."


def downtime_note(ev: Evaluation) -> str:
    """Whether downtime is in the totals (a downtime cost is set) or only reported."""
    sc = ev.scenario
    cur = sc.currency
    hours = "expected hours down a year = (1 - availability) x 8,760"
    if sc.downtime_cost_per_user_hour is not None:
        rate = money(sc.downtime_cost_per_user_hour * sc.usd_exchange_rate, cur, 2)
        return (
            f"Downtime is in the totals: {rate} per user for each hour mail is down "
            f"(the 'downtime' line; {hours})."
        )
    if sc.downtime_cost_per_hour is not None:
        rate = money(sc.downtime_cost_per_hour * sc.usd_exchange_rate, cur, 2)
        return (
            f"Downtime is in the totals: {rate} for each hour mail is down "
            f"(the 'downtime' line; {hours})."
        )
    return (
        f"Downtime is only reported, not in the totals ({hours}): set a downtime cost on the "
        "Scenario page to count it."
    )


def headline_break_even(ev: Evaluation) -> BreakEven | None:
    """The break-even of the lowest-NPV on-prem option against the lowest-NPV cloud option."""
    onprem = [o.id for o in ev.resolved.onprem]
    cloud = [o.id for o in ev.resolved.cloud]
    if not onprem or not cloud:
        return None
    best_onprem, best_cloud = min(onprem, key=ev.npv), min(cloud, key=ev.npv)
    return next(b for b in ev.break_even if b.onprem == best_onprem and b.cloud == best_cloud)


def break_even_year(year: int | None, horizon: int) -> str:
    """A break-even year in words, the report's (``catch_up_phrase``): "cheaper from year
    1" (from the start, nothing to catch up), "catches up in year 3", "does not catch up
    within 5 years"."""
    return catch_up_phrase(year, horizon).removeprefix("is ")


def break_even_metric(year: int | None) -> str:
    """The break-even year for a metric: "3", "from year 1" (cheaper from the start), or
    "none" (not within the horizon)."""
    if year is None:
        return "none"
    return "from year 1" if year == 1 else str(year)


def break_even_line(ev: Evaluation) -> str | None:
    """The headline pair's break-even as the report words it: "Break-even against
    m365-basic, the cheapest cloud option: postfix-dovecot, the cheapest on-prem option,
    catches up in year 3 (cumulative cost)." ("is cheaper from year 1" when it is cheaper
    from the start); None without both kinds."""
    head = headline_break_even(ev)
    if head is None:
        return None
    return (
        f"Break-even against {head.cloud}, the cheapest cloud option: {head.onprem}, the "
        f"cheapest on-prem option, {catch_up_phrase(head.year, ev.horizon)} (cumulative cost)."
    )


def break_even_table(ev: Evaluation) -> pd.DataFrame:
    """Every on-prem/cloud pair: break-even year (cumulative cost, then cumulative NPV) in
    words (``break_even_year``) and users (NPV)."""
    rows = [
        {
            "On-prem": b.onprem,
            "Cloud": b.cloud,
            "Break-even year": break_even_year(b.year, ev.horizon),
            "Break-even year (NPV)": break_even_year(b.year_npv, ev.horizon),
            "Break-even users": f"{b.users:,}" if b.users else "none from 10 to 100,000",
        }
        for b in ev.break_even
    ]
    columns = ["On-prem", "Cloud", "Break-even year", "Break-even year (NPV)", "Break-even users"]
    return pd.DataFrame(rows, columns=columns)


def seats_table(ev: Evaluation) -> pd.DataFrame:
    """Licensed seats per cloud option and plan (rows) and year (columns): a seat mix's
    segments and shared mailboxes on their plans."""
    frame = ev.seats
    if frame.empty:
        return pd.DataFrame(columns=["Option", "Plan"])
    table = frame.pivot_table(
        index=["option", "label"], columns="year", values="seats", fill_value=0, sort=False
    )
    table.columns = [f"Year {y}" for y in table.columns]
    table = table.astype(int).reset_index().rename(columns={"option": "Option", "label": "Plan"})
    return table.set_index(["Option", "Plan"])


# endregion
# region #### scale ####


def sizing_table(ev: Evaluation, option_id: str) -> pd.DataFrame:
    """The sizing frame of one on-prem option, units in the column names."""
    rows = ev.sizing[ev.sizing["option"] == option_id]
    return pd.DataFrame(
        {
            "Year": rows["year"],
            "Users": rows["users"],
            "Messages per day": rows["messages_per_day"].round(0),
            "Peak messages/s": rows["peak_msgs_per_s"].round(2),
            "Storage (TB)": rows["storage_tb"].round(2),
            "Capacity (msgs/s per server)": rows["capacity_msgs_per_s"],
            "Servers": rows["servers"],
        }
    ).set_index("Year")


def capacity_rows(ev: Evaluation) -> pd.DataFrame:
    """Where each on-prem option's capacity figure came from: kind, source text, reference."""
    rows = []
    for o in ev.resolved.onprem:
        prov = o.provenance.get("capacity_msgs_per_s", Provenance(origin="inline"))
        rows.append(
            {
                "Option": o.id,
                "Capacity (msgs/s per server)": o.capacity_msgs_per_s,
                "From": o.capacity_kind,
                "How": o.capacity_source,
                "Source": prov.source or "–",
                "As of": prov.as_of or "–",
                "Note": prov.note or "–",
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "Option",
            "Capacity (msgs/s per server)",
            "From",
            "How",
            "Source",
            "As of",
            "Note",
        ],
    )


# endregion
# region #### compare ####


def decision_matrix(ev: Evaluation) -> pd.DataFrame:
    """Criteria (with weight) by option: the 1-5 score per cell, the weighted score last."""
    labels = {c.id: c.label for c in ev.catalog.qualitative.criteria}
    table: dict[str, list[Any]] = {
        "Criterion": [labels.get(c, c) for c in CRITERIA] + ["Weighted score"],
    }
    first = ev.assessments[ev.options[0].id]
    table["Weight"] = [f"{cell.weight:g}" for cell in first.criteria] + [""]
    for o in ev.options:
        a = ev.assessments[o.id]
        table[o.id] = [str(cell.score) for cell in a.criteria] + [
            "–" if a.score is None else f"{a.score:.2f}"
        ]
    return pd.DataFrame(table).set_index("Criterion")


def radar_default(ev: Evaluation) -> list[str]:
    """The options the Compare radar starts with: the cheapest (by NPV, eligible first)
    and the best-scored option of the other kind (ties: the cheaper)."""
    order = ranked(ev.comparison)
    if not order:
        return []
    first = order[0]
    others = [o for o in order if o.kind != first.kind and o.qualitative_score is not None]
    if not others:
        return [first.id]
    best = max(others, key=lambda o: (o.qualitative_score or 0.0, -o.npv))
    return [first.id, best.id]


def reasons_table(ev: Evaluation, option_id: str) -> pd.DataFrame:
    """One option's scores with where each came from and the one-line reason."""
    labels = {c.id: c.label for c in ev.catalog.qualitative.criteria}
    return pd.DataFrame(
        [
            {
                "Criterion": labels.get(cell.criterion, cell.criterion),
                "Score": cell.score,
                "From": cell.origin,
                "Reason": cell.reason,
            }
            for cell in ev.assessments[option_id].criteria
        ]
    ).set_index("Criterion")


def requirement_table(ev: Evaluation) -> pd.DataFrame:
    """Options ruled out (by a requirement, a missing feature, or a plan the organisation
    cannot buy), with why."""
    comp = {o.id: o for o in ev.comparison.options}
    rows = [
        {
            "Option": o.id,
            "Ruled out by": ruled_out_reasons(ev.catalog, o.ruled_out_by),
            "Why": "; ".join(
                [*ev.assessments[o.id].reasons, *(w for w in o.warnings if "ruled out" in w)]
            ),
        }
        for o in ranked(ev.comparison)
        if comp[o.id].ruled_out_by
    ]
    return pd.DataFrame(rows, columns=["Option", "Ruled out by", "Why"])


# endregion
# region #### wording ####


def ranged_count(n: int) -> str:
    """How many inputs have a range, in words: "No input has a range yet", "1 input has a
    range", "3 inputs have ranges"."""
    if n == 0:
        return "No input has a range yet"
    if n == 1:
        return "1 input has a range"
    return f"{n:,} inputs have ranges"


def ranges_added_line(added: list[str], skipped: dict[str, str], source: str) -> str:
    """What adding another scenario's ranges did, in one line."""
    if not added:
        return f"No range of '{source}' could be added: this scenario lacks its inputs."
    n = len(added)
    line = (
        f"Added {n} range{'' if n == 1 else 's'} of '{source}', each centred on this "
        "scenario's value (no figure of the typical case changed)"
    )
    if skipped:
        line += f"; {len(skipped)} left out ({', '.join(sorted(set(skipped.values())))})"
    return line + "."


def _per_day(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def organisation_caption(scenario: Scenario) -> str:
    """What the Organisation section holds, from the scenario's own figures: users and
    growth, messages sent and received a day, message size and mailbox."""
    org = scenario.organization
    g = org.user_growth_per_year
    growth = (
        "no growth"
        if g == 0
        else f"growing {g * 100:g} % a year"
        if g > 0
        else f"shrinking {-g * 100:g} % a year"
    )
    return (
        f"Who the organisation is and how much mail it moves: {org.users:,} users "
        f"({growth}), each sending {_per_day(org.messages_sent_per_user_day)} and receiving "
        f"{_per_day(org.messages_received_per_user_day)} messages a day of "
        f"{org.avg_message_kb:g} KB on average; mailboxes start at "
        f"{org.mailbox_gb_per_user:g} GB and grow {org.mailbox_growth_gb_per_user_year:g} GB "
        "a year. An empty field takes mailplan's default (hover ? for it)."
    )


def escalation_caption(scenario: Scenario) -> str:
    """What the price changes mean under the scenario's price basis."""
    head = (
        "Yearly price changes as fractions (0.03 = +3 % a year); year y is scaled by (1+e)^(y-1)."
    )
    if scenario.price_basis == "nominal":
        return (
            f"{head} Prices are nominal: inflation ({scenario.inflation:.1%} a year) is added "
            "to each of these changes."
        )
    return f"{head} Prices are real (today's money): these are changes above inflation."


def migration_caption(scenario: Scenario) -> str:
    """What moving costs, naming the system that runs today (or none)."""
    head = "What moving from the system that runs today to another option costs"
    if scenario.current is None:
        return f"{head}. Nothing runs today (a new installation), so no option pays these now."
    return (
        f"{head} (today: {scenario.current}); each field left empty comes from the catalog's "
        "defaults."
    )


_CHOICE_WORDS = {
    "price_basis: real": "the real price basis",
    "price_basis: nominal": "the nominal price basis",
    "cash:": "paid for:",
    "existing_staff:": "existing staff:",
}
_RAW_CHOICE = re.compile("|".join(re.escape(k) for k in _CHOICE_WORDS))


def choice_words(text: str) -> str:
    """A model description with its raw choice values (``cash``, ``price_basis: real``) in
    the words the form's pickers use."""
    return _RAW_CHOICE.sub(lambda m: _CHOICE_WORDS[m.group(0)], text)


# endregion
# region #### scenario form ####


class Default(BaseModel):
    """The value an option field takes when left empty, and where it comes from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: Any
    origin: str
    source: str | None = None
    as_of: str | None = None
    estimate: bool = False
    note: str | None = None


_ONPREM_KEEP = ("id", "label", "stack", "server", "relay")
_STANDALONE = ("server_price", "capacity_msgs_per_s", "storage_tb_per_server")
_CLOUD_KEEP = ("id", "label", "plan", "billing")


def catalog_defaults(scenario: Scenario, catalog: Catalog) -> dict[str, dict[str, Default]]:
    """Per option id and field, what the catalog gives when the field is left empty.

    Resolves a copy of the scenario with every inline override removed, so an overridden
    field still shows the default it replaces. Options that cannot be resolved that way
    (a custom plan, a server-less option) are left out.
    """
    data = scenario.model_dump(mode="json", exclude_unset=True)
    bare_onprem = []
    for o in data.get("onprem", []):
        keep: tuple[str, ...] = _ONPREM_KEEP
        if not (o.get("stack") or o.get("server")):
            keep += _STANDALONE
        bare_onprem.append({k: v for k, v in o.items() if k in keep})
    bare_cloud = []
    for c in data.get("cloud", []):
        keep = _CLOUD_KEEP
        if c.get("plan") == "custom":
            keep += ("price_per_user_month",)
        bare_cloud.append({k: v for k, v in c.items() if k in keep})
    bare = {**data, "onprem": bare_onprem, "cloud": bare_cloud}
    bare.pop("qualitative", None)
    try:
        resolved = resolve(Scenario.model_validate(bare), catalog)
    except (ScenarioError, ValueError):
        return {}
    out: dict[str, dict[str, Default]] = {}
    for option in resolved.options:
        fields: dict[str, Default] = {}
        for field, prov in option.provenance.items():
            if not hasattr(option, field):
                continue
            fields[field] = Default(value=getattr(option, field), **prov.model_dump())
        if isinstance(option, ResolvedOnPrem):
            fields["capacity_source"] = Default(
                value=option.capacity_source, origin=option.capacity_kind
            )
        out[option.id] = fields
    return out


_MIGRATION_DEFAULTS = {  # Migration field -> the catalog defaults giving it, first found wins
    "per_mailbox": ("migration_per_mailbox", "migration_per_user"),
    "tool_per_mailbox": ("migration_tool_per_mailbox",),
    "dual_running_months": ("dual_running_months",),
    "training_hours_per_user": ("training_hours_per_user",),
}


def migration_defaults(catalog: Catalog) -> dict[str, Default]:
    """Per ``migration`` field, the value used when it is left empty: the catalog's
    defaults (as ``Evaluation.scenario_terms`` takes them), or 0 when the catalog gives
    none. A field of ``Migration`` this table does not know defaults to 0."""
    out: dict[str, Default] = {}
    for name in Migration.model_fields:
        facts = [getattr(catalog.defaults, key, None) for key in _MIGRATION_DEFAULTS.get(name, ())]
        fact = next((f for f in facts if f is not None), None)
        if fact is None:
            out[name] = Default(
                value=0.0, origin="mailplan default", note="the catalog gives none: 0"
            )
        else:
            out[name] = Default(
                value=fact.value,
                origin="defaults",
                source=fact.source,
                as_of=fact.as_of,
                estimate=fact.estimate,
                note=fact.note,
            )
    return out


def assumptions_table(ev: Evaluation) -> pd.DataFrame:
    """Every input with its origin and source (``Evaluation.assumptions``), values as text;
    an empty cell reads "–" (the source column, shown as links, stays empty instead)."""
    frame = ev.assumptions.copy()

    def text(v: object) -> str:
        return "–" if v is None or (isinstance(v, float) and v != v) or v == "" else str(v)

    for column in frame.columns:
        if column == "estimate":
            frame[column] = frame[column].map(lambda v: "yes" if v is True else "no")
        elif column == "source":
            frame[column] = frame[column].map(lambda v: "" if text(v) == "–" else str(v))
        else:
            frame[column] = frame[column].map(text)
    return frame


# endregion
# region #### exports ####


def costs_csv(ev: Evaluation) -> bytes:
    """The report's CSV: the tidy cost frame (option, kind, year, category, amount, in the
    display currency) with each row's plan and cost type (capex or opex)."""
    from planner.report.tables import costs_csv as report_costs_csv

    return report_costs_csv(ev)


def comparison_json(ev: Evaluation) -> bytes:
    """The comparison in the shape of ``mailplan compare --format json``."""
    return (json.dumps(ev.comparison.model_dump(mode="json"), indent=2) + "\n").encode("utf-8")


# endregion
