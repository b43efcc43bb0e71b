"""Display tables and call-outs built from an evaluated scenario; no Streamlit here.

The figures come from the engine (``Evaluation``); this module only picks, labels and
formats them for a page: money with thousands separators and the currency, units in
column headers. The derived figures are the saving of the cheapest option over the next
cheapest (a difference of two NPVs) and each option's capex and opex over the horizon
(sums of the engine's yearly capex and opex).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict

from planner.errors import ScenarioError
from planner.evaluation import BreakEven, Evaluation, OptionSummary
from planner.models import CRITERIA, Catalog, Migration, Scenario
from planner.recommendation import money, parity, ranked
from planner.resolution import Provenance, ResolvedOnPrem, resolve

__all__ = [
    "Callout",
    "Default",
    "assumptions_table",
    "basis_line",
    "break_even_table",
    "capacity_rows",
    "catalog_defaults",
    "cheapest_callout",
    "comparison_json",
    "costs_csv",
    "decision_matrix",
    "details_table",
    "downtime_note",
    "headline_break_even",
    "migration_defaults",
    "money",
    "option_labels",
    "parity_table",
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
            "Ruled out by": ", ".join(o.ruled_out_by) or "–",
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


def break_even_table(ev: Evaluation) -> pd.DataFrame:
    """Every on-prem/cloud pair: break-even year (cumulative cost, then cumulative NPV) and
    users (NPV)."""
    never = f"none within {ev.horizon} years"
    rows = [
        {
            "On-prem": b.onprem,
            "Cloud": b.cloud,
            "Break-even year": str(b.year) if b.year else never,
            "Break-even year (NPV)": str(b.year_npv) if b.year_npv else never,
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
            "Ruled out by": ", ".join(o.ruled_out_by),
            "Why": "; ".join(
                [*ev.assessments[o.id].reasons, *(w for w in o.warnings if "ruled out" in w)]
            ),
        }
        for o in ranked(ev.comparison)
        if comp[o.id].ruled_out_by
    ]
    return pd.DataFrame(rows, columns=["Option", "Ruled out by", "Why"])


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
