"""What the range editor shows and builds; no Streamlit here.

The inputs that may hold a range (every numeric field of ``organization``, ``escalation``,
``migration`` and each option, by field path such as ``onprem.<id>.pue``) with their form
labels, the four range forms (``planner.ranges``) and their parameters, and the parameters a range
starts from when an input gets one or changes form: the same centre and swing points, so
that nothing is invented (a plain number starts as a range of zero width around itself).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from planner.catalog import parse_scenario
from planner.dashboard.fields import (
    CLOUD_NUMBERS,
    COPIES,
    ESCALATION,
    MIGRATION,
    ONPREM_NUMBERS,
    ORGANIZATION,
    FieldSpec,
    Path,
)
from planner.errors import ScenarioError
from planner.evaluation import Evaluation, evaluate
from planner.models import Scenario
from planner.ranges import SINGLE_SECTIONS, Z90, Distribution
from planner.report.labels import path_title

__all__ = [
    "FORMS",
    "FORM_LABELS",
    "NO_RANGE",
    "Added",
    "add_ranges",
    "current_value",
    "field_path",
    "input_labels",
    "input_spec",
    "params_of",
    "range_data",
    "recentred",
    "starting_params",
]

NO_RANGE = "none"
"""The form that stands for a plain number (the range is dropped)."""

FORMS: dict[str, tuple[tuple[str, str], ...]] = {
    "triangular": (("low", "Low"), ("typical", "Typical"), ("high", "High")),
    "uniform": (("low", "Low"), ("high", "High")),
    "normal": (("mean", "Mean"), ("sd", "Standard deviation")),
    "lognormal": (("median", "Median"), ("p90", "90th percentile")),
}
"""Each range form's parameters, (key in the scenario file, label), in file order."""

FORM_LABELS: dict[str, str] = {
    NO_RANGE: "none: a plain number",
    "triangular": "triangular: low, typical, high",
    "uniform": "uniform: low to high",
    "normal": "normal: mean and standard deviation",
    "lognormal": "lognormal: median and 90th percentile",
}

_SECTIONS: tuple[tuple[str, str, tuple[FieldSpec, ...]], ...] = (
    ("organization", "Organisation", ORGANIZATION),
    ("escalation", "Price changes", ESCALATION),
    ("migration", "Moving from today's system", MIGRATION),
    ("onprem", "On-prem", (*ONPREM_NUMBERS, COPIES)),
    ("cloud", "Cloud", CLOUD_NUMBERS),
)


def input_labels(scenario: Scenario) -> dict[str, str]:
    """Field path -> ``Organisation · User growth (fraction per year)`` for every input of
    ``scenario`` that may hold a range, in form order; ranged inputs keep their place. The
    names are the report's (``planner.report.labels.path_title``): one labeller."""
    paths: list[str] = []
    for section, _, specs in _SECTIONS:
        if section in ("onprem", "cloud"):
            options = scenario.onprem if section == "onprem" else scenario.cloud
            paths += [f"{section}.{o.id}.{spec.name}" for o in options for spec in specs]
        else:
            paths += [f"{section}.{spec.name}" for spec in specs]
    return {path: path_title(path) for path in paths if scenario.has_field(path)}


def input_spec(path: str) -> FieldSpec | None:
    """The form spec (label, unit, step, format) of the input at a field path."""
    section, _, name = path.partition(".")
    name = name.rpartition(".")[2]
    for key, _, specs in _SECTIONS:
        if key == section:
            return next((s for s in specs if s.name == name), None)
    return None


def field_path(draft: dict[str, Any], path: Path) -> str | None:
    """The field path of a form path: ``("onprem", 0, "pue")`` -> ``onprem.<id>.pue`` (the
    option's id read from the form data ``draft``); None when it names no such input."""
    if len(path) == 2 and path[0] in SINGLE_SECTIONS:
        return f"{path[0]}.{path[1]}"
    if len(path) == 3 and path[0] in ("onprem", "cloud") and isinstance(path[1], int):
        options = draft.get(str(path[0])) or []
        if path[1] < len(options) and isinstance(options[path[1]], dict):
            option_id = options[path[1]].get("id")
            if isinstance(option_id, str) and option_id:
                return f"{path[0]}.{option_id}.{path[2]}"
    return None


def current_value(scenario: Scenario, ev: Evaluation, path: str) -> float | None:
    """The number an input has in the typical case: the scenario's own value, else the
    one the catalog gives it (``ev`` must be the evaluation of ``scenario``)."""
    value = scenario.field_value(path)
    if value is not None:
        return value
    section, _, rest = path.partition(".")
    if section == "migration":  # the catalog's default, as the engine takes it
        terms = ev.scenario_terms()
        try:
            return float(getattr(terms, rest)[0, 0])
        except AttributeError:
            return None
    option_id, _, name = rest.rpartition(".")
    options = ev.resolved.onprem if section == "onprem" else ev.resolved.cloud
    option = next((o for o in options if o.id == option_id), None)
    found = getattr(option, name, None)
    return float(found) if isinstance(found, int | float) else None


def params_of(dist: Distribution) -> dict[str, float]:
    """A range's parameters as written in the scenario file (``dist`` left out)."""
    return {key: float(getattr(dist, key)) for key, _ in FORMS[dist.dist]}


def starting_params(form: str, dist: Distribution | None, value: float) -> dict[str, float]:
    """The parameters a ``form`` range starts from: the range's own when it already has
    that form; else the same centre and swing points as ``dist`` (normal: sd from the
    p10-p90 spread; lognormal: the same p90), or zero width around ``value``."""
    if dist is not None and dist.dist == form:
        return params_of(dist)
    if dist is None:
        center = low = high = value
    else:
        center = dist.center()
        low, high = dist.swing_points()
    if form == "triangular":
        return {"low": low, "typical": center, "high": high}
    if form == "uniform":
        return {"low": low, "high": high}
    if form == "normal":
        return {"mean": center, "sd": (high - low) / (2.0 * Z90)}
    if form == "lognormal":
        return {"median": center, "p90": max(high, center)}
    raise ValueError(f"unknown range form '{form}'")


def range_data(form: str, params: dict[str, float | None]) -> dict[str, Any] | None:
    """The range as written in a scenario file (None for NO_RANGE): triangular without
    ``dist``, the others with it. Parameters left empty are left out, for validation to
    name them."""
    if form == NO_RANGE:
        return None
    given = {key: params[key] for key, _ in FORMS[form] if params.get(key) is not None}
    return given if form == "triangular" else {"dist": form, **given}


def recentred(dist: Distribution, value: float) -> dict[str, Any] | None:
    """``dist`` moved so that its typical value is ``value``, its spread scaled alike
    (every parameter times value / typical), or shifted when either is zero (a lognormal
    cannot be: None); as written in a scenario file."""
    center = dist.center()
    params = params_of(dist)
    if center == value:
        moved = params
    elif center != 0 and value / center > 0:
        moved = {k: v * value / center for k, v in params.items()}
    elif dist.dist == "lognormal":
        return None
    else:
        shift = value - center
        moved = {k: (v if k == "sd" else v + shift) for k, v in params.items()}
    return range_data(dist.dist, dict(moved))


class Added(NamedTuple):
    """What ``add_ranges`` did: the scenario, the inputs given a range, those left as they
    were (with why)."""

    scenario: Scenario
    added: list[str]
    skipped: dict[str, str]


def _npvs(ev: Evaluation) -> dict[str, float]:
    return {o.id: round(o.npv, 2) for o in ev.comparison.options}


def add_ranges(scenario: Scenario, ev: Evaluation, source: Scenario) -> Added:
    """``scenario`` with ``source``'s ranges on the inputs it shares and has no range on,
    each moved to the value the input has here (``recentred``), so no figure of the typical
    case changes; and ``source``'s correlations between inputs that then both have ranges.

    An input is left out when this scenario lacks it, already has a range on it, has no
    value to centre on, when the moved range is invalid here, or when giving it a range
    would change the typical case (a server price set inline makes ``server: auto`` price
    every profile alike). ``ev`` is the evaluation of ``scenario``.
    """
    from planner.risk import with_range

    out, moved, skipped = scenario, {}, {}
    own = scenario.ranges
    for path, dist in source.ranges.items():
        value = current_value(scenario, ev, path) if scenario.has_field(path) else None
        data = None if value is None or path in own else recentred(dist, value)
        if path in own:
            skipped[path] = "has a range already"
        elif not scenario.has_field(path):
            skipped[path] = "not in this scenario"
        elif data is None:
            skipped[path] = "no value to centre the range on"
        else:
            try:
                out = with_range(out, path, data)
                moved[path] = data
            except ScenarioError as exc:
                skipped[path] = "; ".join(exc.lines)
    base = _npvs(ev)
    if moved and _npvs(evaluate(out)) != base:  # one at a time: which inputs moved it
        out = scenario
        for path, data in list(moved.items()):
            trial = with_range(out, path, data)
            if _npvs(evaluate(trial)) == base:
                out = trial
            else:
                del moved[path]
                skipped[path] = "a range here would change the typical case"
    known = {(a, b) for a, b, _ in scenario.correlations}
    pairs = [
        [a, b, rho]
        for a, b, rho in source.correlations
        if a in moved and b in moved and (a, b) not in known
    ]
    if pairs:
        data = out.model_dump(mode="json", exclude_unset=True)
        data["correlations"] = [*data.get("correlations", []), *pairs]
        out = parse_scenario(data, name=out.name)
    return Added(out, list(moved), skipped)
