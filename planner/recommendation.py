"""What the comparison recommends, in order and in words, and what each option includes.

- ``ranked``: eligible options by NPV, cheapest first, then the ruled-out ones by NPV;
- ``parity``: the feature table (``data/catalog/features.yaml``) of every option, from the
  catalog entry of the plan or stack it starts on;
- ``lacks``: the table features one option lacks that another includes;
- ``headline``: the recommendation in one or two sentences, naming what the cheapest option
  lacks that the option it beats includes.
"""

from __future__ import annotations

import pandas as pd

from planner.evaluation import Comparison, Evaluation, OptionSummary
from planner.models import CloudPlan, Stack
from planner.resolution import ResolvedCloud

__all__ = [
    "BUNDLED_EXTRAS",
    "feature_cells",
    "features_phrase",
    "headline",
    "lacks",
    "money",
    "parity",
    "ranked",
    "staying_line",
]


def money(amount: float, currency: str, decimals: int | None = None) -> str:
    """``USD 12,345``: the currency code, thousands separators, whole units (cents only
    below 100: ``USD 9.53``); ``decimals`` fixes the places instead. The one money format
    of the CLI, the dashboard and the reports."""
    if decimals is None:
        decimals = 2 if abs(amount) < 100 else 0
    text = f"{amount:,.{decimals}f}"
    if text.startswith("-") and not text.strip("-0.,"):
        text = text[1:]  # never "-0"
    return f"{currency} {text}"


BUNDLED_EXTRAS = "Bundled extras"
NOT_STATED = "not stated"


def ranked(cmp: Comparison) -> list[OptionSummary]:
    """Eligible options by NPV (cheapest first), then ruled-out options by NPV."""
    return sorted(cmp.options, key=lambda o: (bool(o.ruled_out_by), o.npv))


def _entry(ev: Evaluation, option_id: str) -> CloudPlan | Stack | None:
    option = ev.option(option_id)
    if isinstance(option, ResolvedCloud):
        return ev.catalog.plan(option.plan)
    return ev.catalog.stack(option.stack) if option.stack else None


def feature_cells(ev: Evaluation, option_id: str) -> dict[str, str]:
    """Per feature label: ``included``, ``add-on: <label>, USD x/user-month``, ``not
    included`` or ``not stated`` (a custom plan or a stack-less option); then the bundled
    extras."""
    entry = _entry(ev, option_id)
    out: dict[str, str] = {}
    for info in ev.catalog.features:
        cell = entry.features.get(info.id) if entry is not None else None
        if cell is None:
            out[info.label] = NOT_STATED
        elif cell.included:
            out[info.label] = "included"
        elif cell.addon is not None:
            price = cell.addon.price_per_user_month.value
            out[info.label] = f"add-on: {cell.addon.label}, USD {price:,.2f}/user-month"
        else:
            out[info.label] = "not included"
    extras = entry.bundled_extras if entry is not None else []
    out[BUNDLED_EXTRAS] = ", ".join(extras) if extras else "none"
    return out


def parity(ev: Evaluation) -> pd.DataFrame:
    """The feature table: one row per feature (then bundled extras), one column per option
    in ``ranked`` order, headed by the option id."""
    columns = {o.id: feature_cells(ev, o.id) for o in ranked(ev.comparison)}
    frame = pd.DataFrame(columns)
    frame.index.name = "feature"
    return frame


def lacks(ev: Evaluation, option_id: str, other_id: str) -> list[str]:
    """Feature labels that ``other_id`` includes and ``option_id`` does not."""
    a, b = feature_cells(ev, option_id), feature_cells(ev, other_id)
    return [
        label
        for label in a
        if label != BUNDLED_EXTRAS and b[label] == "included" and a[label] != "included"
    ]


def _in_sentence(label: str) -> str:
    """A label as it reads inside a sentence: lower-case first letter, acronyms kept."""
    return label if label[:2].isupper() else label[:1].lower() + label[1:]


def features_phrase(labels: list[str]) -> str:
    """Feature labels as a phrase inside a sentence: ``calendar and contacts, mobile sync or
    eDiscovery``."""
    words = [_in_sentence(i) for i in labels]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def headline(ev: Evaluation) -> str:
    """The recommendation by cost in one or two sentences (display currency)."""
    cmp = ev.comparison
    if cmp.cheapest is None:
        return (
            "No option can be recommended: every option is ruled out for this organisation "
            "(see each option's notes)."
        )
    order = [o for o in ranked(cmp) if not o.ruled_out_by]
    best = order[0]
    text = f"Cheapest by NPV: {best.id} ({ev.path_label(best.id)})"
    if len(order) > 1:
        runner_up = order[1]
        saving = runner_up.npv - best.npv
        text += (
            f", saving {money(saving, cmp.currency)} of NPV against the runner-up, {runner_up.id}."
        )
        missing = lacks(ev, best.id, runner_up.id)
        if missing:
            text += f" It has no {features_phrase(missing)}, which {runner_up.label} includes."
    else:
        text += ", the only option that can be recommended."
    return text + staying_line(ev, best)


def staying_line(ev: Evaluation, best: OptionSummary) -> str:
    """`` Against staying on <today's system>: ...`` (empty without a ``current``)."""
    current = ev.scenario.current
    if current is None or best.id == current or best.vs_current is None:
        return ""
    gap = best.vs_current.npv
    verb = "saves" if gap <= 0 else "costs"
    return (
        f" Against staying on today's system ({current}), it {verb} "
        f"{ev.scenario.currency} {abs(gap):,.0f} of NPV, migration and dual running included."
    )
