"""Every numeric scenario input may be a range: simulate, sensitivity and the report run.

The rangeable fields are read from the models (``RANGED_MODELS`` and
``planner.ranges.numeric_fields``), so a numeric field added later is covered without
touching this file. Each field gets a range on its own on every bundled scenario, and
every field at once on each scenario,
about the field's typical value (for option fields left to the catalog: the resolved
value) and within its bounds.

One at a time runs what the CLI's ``simulate`` and ``sensitivity`` and the report's
uncertainty section run, the four range forms taking turns. The whole HTML report (its plotly charts take a second or two) is written for one
field, and for every field at once, with hypothesis choosing the fields, forms and
widths; the PDF once, for every field at once.
"""

from __future__ import annotations

import datetime as dt
import math
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner import Evaluation, Scenario, evaluate, load_scenario, report, risk, scenario_presets
from planner.models import RANGED_MODELS
from planner.ranges import (
    RANGED_SECTIONS,
    Z90,
    Distribution,
    LogNormal,
    Normal,
    Triangular,
    Uniform,
    numeric_fields,
    split_path,
)
from planner.report import content
from planner.risk.draws import path_spec

START = dt.date(2026, 1, 1)  # fixed, so end-of-life checks do not move with the calendar
DRAWS = 200
SCENARIOS = sorted(scenario_presets())
FORMS = ("triangular", "uniform", "normal", "lognormal")
_INSIDE = 1.0 - 1e-9  # keeps computed p10/p90 inside a bound against rounding


@cache
def _scenario(name: str) -> Scenario:
    return load_scenario(scenario_presets()[name])


@cache
def _evaluation(name: str) -> Evaluation:
    return evaluate(_scenario(name), start=START)


def rangeable_paths(scenario: Scenario, *, every_option: bool = True) -> Iterator[str]:
    """Every field path of ``scenario`` that may hold a range; without ``every_option``,
    each option field once, on the options of its kind in turn."""
    for section in RANGED_SECTIONS:
        fields = numeric_fields(RANGED_MODELS[section])
        if section not in ("onprem", "cloud"):
            yield from (f"{section}.{name}" if section else name for name in fields)
            continue
        options = getattr(scenario, section)
        for i, name in enumerate(fields):
            chosen = options if every_option else options[i % len(options) :][:1]
            yield from (f"{section}.{option.id}.{name}" for option in chosen)


# One at a time: every field of the models on every bundled scenario, the four forms in
# turn. An option field is ranged on one option of its kind (they take turns). The
# all-at-once tests range every field of every option of every scenario.
CASES = [
    (name, path, FORMS[(i + k) % len(FORMS)])
    for k, name in enumerate(SCENARIOS)
    for i, path in enumerate(rangeable_paths(_scenario(name), every_option=False))
]


def typical(name: str, path: str) -> float:
    """The field's value in the scenario; else the resolved option's (the catalog's); else
    the model's default; else a value inside the field's bounds."""
    value = _scenario(name).field_value(path)
    if value is not None:
        return value
    section, option_id, field = split_path(path)
    if option_id is not None:
        option = next(o for o in _evaluation(name).options if o.id == option_id)
        resolved = getattr(option, field, None)
        if isinstance(resolved, int | float):
            return float(resolved)
    default = RANGED_MODELS[section].model_fields[field].default
    if isinstance(default, int | float):
        return float(default)
    spec = path_spec(path)
    lo, hi = spec.lower(), spec.upper()
    if math.isfinite(lo) and math.isfinite(hi):
        middle = (lo + hi) / 2
    else:
        middle = lo + 1 if math.isfinite(lo) else min(hi - 1, 1.0)
    return float(round(middle)) if spec.integer else middle


def range_of(form: str, path: str, center: float, below: float, above: float) -> Distribution:
    """A range of ``form`` about ``center``, reaching ``below`` and ``above`` times
    max(|center|, 1) down and up (normal: down; lognormal: up), within the field's bounds.

    A strict bound (``gt``: a capacity, a utilisation) is kept a tenth of the way off, and
    normal tails six standard deviations off it: a draw clipped to just above 0 servers'
    worth of capacity is infinite servers (see ``settle``), not the crash looked for here.
    """
    spec = path_spec(path)
    lo, hi = spec.lower(), spec.upper()
    if spec.gt is not None:
        lo = max(lo, center - 0.9 * (center - spec.gt))
    scale = max(abs(center), 1.0)
    low, high = max(center - below * scale, lo), min(center + above * scale, hi)
    if form == "triangular":
        return Triangular(low=low, typical=center, high=high)
    if form == "uniform":
        return Uniform(dist="uniform", low=low, high=high)
    if form == "normal":
        room = min(center - lo, hi - center, below * scale) * _INSIDE
        tails = 6.0 if spec.gt is not None else Z90
        return Normal(dist="normal", mean=center, sd=room / tails)
    median = center if center > 0 else min(1.0, hi)
    ratio = min(math.exp(above), hi / median)
    if lo > 0:
        ratio = min(ratio, median / lo * _INSIDE)
    return LogNormal(dist="lognormal", median=median, p90=median * max(ratio, 1.0))


@st.composite
def ranges_around(draw: st.DrawFn, path: str, center: float) -> Distribution:
    """Any form, up to twice the centre's size down and up (hypothesis chooses)."""
    below, above = draw(st.floats(0.0, 2.0)), draw(st.floats(0.0, 2.0))
    return range_of(draw(st.sampled_from(FORMS)), path, center, below, above)


@pytest.fixture(scope="module", autouse=True)
def _few_report_draws() -> Iterator[None]:
    """The report's Monte Carlo uses DRAWS draws instead of its 10,000."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(content, "RISK_DRAWS", DRAWS)
        yield


def _ranged(name: str, values: dict[str, Distribution]) -> Scenario:
    """The bundled scenario ``name`` with the ranges ``values`` (by path) set."""
    scenario = _scenario(name)
    for path, dist in values.items():
        scenario = risk.with_range(scenario, path, dist)
    assert set(values) <= set(scenario.ranges)
    return scenario


def _simulate_and_swing(scenario: Scenario, paths: set[str]) -> Evaluation:
    """Simulate, rank the sensitivities and write the headline, as the CLI and the report
    do; every ranged path shows in the simulation and the tornado."""
    sim = risk.simulate(scenario, draws=DRAWS, seed=1, start=START)
    assert paths <= {i.input for i in sim.summary.inputs}
    assert sim.outcomes["npv"].notna().all()
    sens = risk.sensitivity(scenario, start=START)
    assert paths <= set(sens.table["input"])
    assert risk.headline(sim, sens).lines
    return sim.evaluation


@pytest.mark.parametrize(("name", "path", "form"), CASES, ids=[f"{n}-{p}-{f}" for n, p, f in CASES])
def test_one_range_at_a_time(name: str, path: str, form: str) -> None:
    """One field of a bundled scenario as a range (half the typical value down and up;
    the forms take turns along the fields): simulate, sensitivity and the headline run
    and name the ranged field."""
    dist = range_of(form, path, typical(name, path), 0.5, 0.5)

    _simulate_and_swing(_ranged(name, {path: dist}), {path})


@pytest.mark.parametrize("name", SCENARIOS)
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_report_with_one_range(name: str, data: st.DataObject) -> None:
    """One field of a bundled scenario (hypothesis picks which) as a range: the whole HTML
    report, its uncertainty section included, is written."""
    path = data.draw(st.sampled_from(list(rangeable_paths(_scenario(name)))), label="field")
    dist = data.draw(ranges_around(path, typical(name, path)), label=path)
    ev = evaluate(_ranged(name, {path: dist}), start=START)

    page = report.render(ev, "html").decode("utf-8")

    assert 'id="risk"' in page
    assert 'id="chart-risk-npv"' in page


@st.composite
def every_range(draw: st.DrawFn, name: str) -> dict[str, Distribution]:
    """A range on every rangeable field of the bundled scenario ``name`` (the downtime cost
    per hour, not also per user-hour: a scenario gives one of the two)."""
    return {
        path: draw(ranges_around(path, typical(name, path)), label=path)
        for path in rangeable_paths(_scenario(name))
        if path != "downtime_cost_per_user_hour"
    }


@pytest.mark.parametrize("name", SCENARIOS)
@settings(
    max_examples=2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)
@given(data=st.data())
def test_every_input_ranged_at_once(name: str, data: st.DataObject) -> None:
    """Every field of a bundled scenario as a range at once: simulate, sensitivity and the
    whole HTML report (charts included) run."""
    values = data.draw(every_range(name))
    scenario = _ranged(name, values)

    ev = _simulate_and_swing(scenario, set(values))

    page = report.render(ev, "html").decode("utf-8")
    assert 'id="risk"' in page
    assert 'id="chart-risk-tornado"' in page


@pytest.mark.timeout(180)
def test_pdf_with_every_input_ranged(tmp_path: Path) -> None:
    """The default scenario with a triangular range (half to twice the typical value,
    within bounds) on every field prints to a PDF (real Chromium) with its risk section."""
    values: dict[str, Any] = {}
    for path in rangeable_paths(_scenario("default")):
        if path == "downtime_cost_per_user_hour":  # one of the two downtime costs
            continue
        spec, center = path_spec(path), typical("default", path)
        low, high = sorted((center / 2, center * 2))
        values[path] = Triangular(
            low=max(low, spec.lower()), typical=center, high=min(high, spec.upper())
        )
    ev = evaluate(_ranged("default", values), start=START)
    out = tmp_path / "ranged.pdf"

    out.write_bytes(report.render(ev, "pdf"))

    text = subprocess.run(
        ["pdftotext", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Uncertainty and sensitivity" in " ".join(text.split())
