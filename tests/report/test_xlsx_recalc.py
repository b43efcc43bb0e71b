"""The Excel model recalculated by a real spreadsheet engine (LibreOffice headless).

LibreOffice does not recalculate an .xlsx on load, so a small Basic macro, installed in a
private user profile (``-env:UserInstallation``: any user, parallel runs), loads each
workbook hidden, calls ``calculateAll()`` and stores it. One LibreOffice run recalculates
every bundled scenario's workbook and the default one with a price and the discount rate
changed in the workbook; the values it computes are then read with openpyxl and compared
with what the engine computes for the same inputs, to the cent.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from planner import (
    Evaluation,
    Scenario,
    evaluate,
    load_scenario,
    parse_scenario,
    scenario_presets,
)
from planner.costs import CLOUD_CATEGORIES, ONPREM_CATEGORIES
from planner.report import render
from planner.report.xlsx.options import line_label
from planner.report.xlsx.summary import COLUMNS
from planner.resolution import ResolvedOnPrem
from tests.report.conftest import START, _scenario

pytestmark = [pytest.mark.peers, pytest.mark.timeout(180)]

VALUE_NOTE = re.compile(r" \(values? (where|: ).*")  # a row written (partly) as values
CENT = 0.005  # "to the cent": the recalculated amount rounds to the engine's
NEW_PRICE = 9.25  # m365-basic, USD per user-month (the catalog says 7.00)
NEW_DISCOUNT_RATE = 0.085  # the default scenario says 0.05
PRICE_NAME = "in_m365_basic_0_price_per_user_month"
# Recalculated unchanged: between them every formula branch (moves and plan paths in the
# default; the rest in features_scenario). The other bundled scenarios' formulas are
# checked without LibreOffice as the workbook is written (test_xlsx.py), by an evaluator
# these runs hold to LibreOffice's results.
RECALC_CASES = ("default", "features")

_MACRO = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "module.dtd">
<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Module1"
 script:language="StarBasic">
Sub Recalc(pairs As String)
  Dim items, i, doc
  Dim load(0) As New com.sun.star.beans.PropertyValue
  load(0).Name = &quot;Hidden&quot;
  load(0).Value = True
  Dim store(0) As New com.sun.star.beans.PropertyValue
  store(0).Name = &quot;FilterName&quot;
  store(0).Value = &quot;Calc MS Excel 2007 XML&quot;
  items = Split(pairs, &quot;|&quot;)
  For i = 0 To UBound(items) - 1 Step 2
    doc = StarDesktop.loadComponentFromURL(ConvertToURL(items(i)), &quot;_blank&quot;, 0, load())
    doc.calculateAll()
    doc.storeToURL(ConvertToURL(items(i + 1)), store())
    doc.close(True)
  Next i
  StarDesktop.terminate()
End Sub
</script:module>
"""


def recalculate(pairs: list[tuple[Path, Path]], work: Path) -> None:
    """Recalculate each (source, target) workbook with LibreOffice in one run.

    The profile is private to ``work``: a first start creates it (LibreOffice copies its
    Basic template then), the macro replaces the template's empty Module1, and the second
    start runs it.
    """
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.fail("LibreOffice not found: install libreoffice-calc-nogui (.ci/run does)")
    profile = work / "lo-profile"
    base = [
        soffice,
        "--headless",
        "--norestore",
        "--nologo",
        "--nodefault",
        "--nolockcheck",
        f"-env:UserInstallation={profile.as_uri()}",
    ]
    env = {"HOME": str(work), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    run: dict[str, Any] = {"env": env, "capture_output": True, "timeout": 120, "check": True}
    subprocess.run([*base, "--terminate_after_init"], **run)
    module = profile / "user" / "basic" / "Standard" / "Module1.xba"
    assert module.exists(), "LibreOffice did not create its Basic library"
    module.write_text(_MACRO, encoding="utf-8")
    arg = "|".join(str(p) for pair in pairs for p in pair)
    subprocess.run([*base, f'macro:///Standard.Module1.Recalc("{arg}")'], **run)
    missing = [str(target) for _, target in pairs if not target.exists()]
    assert not missing, f"LibreOffice wrote no {missing}"


def pinned(ev: Evaluation) -> dict[str, Any]:
    """The default scenario's data with every `server: auto` pinned to the profile it
    picked: the profile is a structural choice, a value in the workbook."""
    data = load_scenario(scenario_presets()["default"]).model_dump(mode="json", exclude_unset=True)
    for entry in data["onprem"]:
        option = ev.option(entry["id"])
        assert isinstance(option, ResolvedOnPrem)
        entry["server"] = option.server
    return data


def features_scenario() -> Scenario:
    """The default scenario with every branch the default leaves unused: tax, a nominal
    price basis with escalation, labour by existing staff, a downtime cost, a longer
    horizon, a backup retention, warm and cold disaster recovery with copies, warranty,
    negotiated discounts, a price lock, an own migration price and exit costs."""
    data = load_scenario(scenario_presets()["default"]).model_dump(mode="json", exclude_unset=True)
    data.update(
        tax_pct={"capex": 0.1, "opex": 0.2},
        price_basis="nominal",
        inflation=0.025,
        labour_cost="existing_staff",
        downtime_cost_per_hour=200.0,
        horizon_years=7,
    )
    data["escalation"].update(cloud_subscription=0.03, labour=0.02, power=0.04, hardware=0.01)
    data["organization"]["backup_retention_days"] = 95
    changes = {
        "postfix-dovecot": {
            "dr": "warm",
            "copies": 2,
            "warranty_years": 3,
            "hardware_discount_pct": 0.15,
            "discount_pct": 0.1,
        },
        "exchange-se": {"dr": "cold", "discount_pct": 0.2},
        "m365-standard": {
            "discount_pct": 0.1,
            "price_lock_years": 3,
            "migration_per_user": 12.0,
            "exit_cost": 5000.0,
        },
        "gws-starter": {"exit_cost": 3000.0},
    }
    for entry in [*data["onprem"], *data["cloud"]]:
        entry.update(changes.get(entry["id"], {}))
    return parse_scenario(data)


def changed_scenario(ev: Evaluation) -> Scenario:
    """The default scenario with m365-basic's price and the discount rate changed."""
    data = pinned(ev)
    data["discount_rate"] = NEW_DISCOUNT_RATE
    for entry in data["cloud"]:
        if entry["id"] == "m365-basic":
            entry["price_per_user_month"] = NEW_PRICE
    return parse_scenario(data)


def set_inputs(source: Path, target: Path, values: dict[str, float]) -> None:
    """Set named input cells with openpyxl, keeping every formula."""
    wb = load_workbook(source)
    for name, value in values.items():
        ref = wb.defined_names[name].attr_text  # 'Inputs'!$C$12
        sheet, coord = ref.rsplit("!", 1)
        wb[sheet.strip("'")][coord.replace("$", "")] = value
    wb.save(target)


def option_rows(ws: Any, horizon: int) -> dict[str, list[Any]]:
    """An option sheet's rows by their label: the yearly values, then the total column."""
    out: dict[str, list[Any]] = {}
    for row in ws.iter_rows(min_row=4, values_only=True):
        if row and isinstance(row[0], str):
            out.setdefault(VALUE_NOTE.sub("", row[0]), list(row[2 : 3 + horizon]))
    return out


TOTAL, NPV, PER_USER_MONTH = (COLUMNS[k][0] for k in ("total", "npv", "per_user_month"))


def summary_rows(wb: Any) -> dict[str, tuple[Any, ...]]:
    """The Summary's options table by option id, and its Cheapest row."""
    out: dict[str, tuple[Any, ...]] = {}
    for row in wb["Summary"].iter_rows(min_row=6, values_only=True):
        if not row[0]:
            continue
        out.setdefault(row[0], row)
        if row[0] == "Cheapest":
            break
    return out


def assert_model_matches(path: Path, ev: Evaluation) -> None:
    """Every option's cost lines, yearly cost, total and NPV in the recalculated workbook
    equal the engine's, to the cent; so do the Summary's figures and cheapest option."""
    wb = load_workbook(path, data_only=True)
    summary = summary_rows(wb)
    for option in ev.options:
        rows = option_rows(wb[option.id[:31]], ev.horizon)
        cats = ONPREM_CATEGORIES if option.kind == "onprem" else CLOUD_CATEGORIES
        for cat in cats:
            got = rows[line_label(cat)][: ev.horizon]
            want = ev.lines[option.id][cat]
            for y, (a, b) in enumerate(zip(got, want, strict=True)):
                assert a == pytest.approx(b, abs=CENT), (option.id, cat, y + 1, a, b)
        cost = rows["Cost"]
        assert cost[: ev.horizon] == pytest.approx(list(ev.yearly(option.id)), abs=CENT)
        total, npv = summary[option.id][TOTAL], summary[option.id][NPV]
        assert total == pytest.approx(ev.total(option.id), abs=CENT), option.id
        assert npv == pytest.approx(ev.npv(option.id), abs=CENT), option.id
        per_user_month = summary[option.id][PER_USER_MONTH]
        assert per_user_month == pytest.approx(ev.per_user_month(option.id), abs=CENT)
    assert summary["Cheapest"][2] == (ev.cheapest or "none")


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Evaluation]]:
    """The RECALC_CASES' workbooks, and the default one changed in the workbook,
    recalculated in one LibreOffice run: case -> (recalculated file, the engine's
    evaluation to compare it with)."""
    work = tmp_path_factory.mktemp("xlsx-recalc")
    pairs: list[tuple[Path, Path]] = []
    out: dict[str, tuple[Path, Evaluation]] = {}
    for case in RECALC_CASES:
        scenario = features_scenario() if case == "features" else _scenario(case)
        ev = evaluate(scenario, start=START)
        source = work / f"{case}.xlsx"
        source.write_bytes(render(ev, "xlsx"))
        pairs.append((source, work / f"{case}.recalc.xlsx"))
        out[case] = (pairs[-1][1], ev)
    default = out["default"][1]
    written = work / "default.xlsx"
    changed_in = work / "changed.xlsx"
    set_inputs(written, changed_in, {PRICE_NAME: NEW_PRICE, "in_discount_rate": NEW_DISCOUNT_RATE})
    pairs.append((changed_in, work / "changed.recalc.xlsx"))
    changed = evaluate(changed_scenario(default), start=START)
    out["changed"] = (pairs[-1][1], changed)
    recalculate(pairs, work)
    return out


def test_a_changed_price_and_discount_rate_move_the_totals_as_the_engine_does(
    recalculated: dict[str, tuple[Path, Evaluation]],
) -> None:
    """Change m365-basic's price and the discount rate in the workbook, recalculate it in
    LibreOffice: every cost line, total and NPV equals `mailplan compare` on the scenario
    changed the same way, to the cent."""
    path, changed = recalculated["changed"]
    _, before = recalculated["default"]
    for oid in ("m365-basic", "postfix-dovecot"):  # the changes move the figures
        assert changed.npv(oid) != pytest.approx(before.npv(oid), abs=1.0)
    for option in before.options:  # the structural choices stay as they were
        assert changed.plan_by_year(option.id) == before.plan_by_year(option.id)
        assert changed.ruled_out_by(option.id) == before.ruled_out_by(option.id)
        if option.id in before.servers:
            assert list(changed.servers[option.id]) == list(before.servers[option.id])

    assert_model_matches(path, changed)


def test_the_changed_workbook_reads_as_compare_json(
    recalculated: dict[str, tuple[Path, Evaluation]],
) -> None:
    """The recalculated totals and NPVs are those of `mailplan compare --format json` on
    the changed scenario, rounded to cents."""
    path, changed = recalculated["changed"]
    summary = summary_rows(load_workbook(path, data_only=True))
    for option in changed.comparison.options:
        assert round(summary[option.id][TOTAL], 2) == option.total
        assert round(summary[option.id][NPV], 2) == option.npv


@pytest.mark.parametrize("case", RECALC_CASES)
def test_the_formulas_recalculate_to_the_engine(
    recalculated: dict[str, tuple[Path, Evaluation]], case: str
) -> None:
    """Recalculated unchanged, each workbook's formulas give the engine's cost lines,
    totals, NPVs and cheapest option, to the cent: every branch of the cost model."""
    path, ev = recalculated[case]

    assert_model_matches(path, ev)


def test_the_recalculated_break_even_years_are_the_engines(
    recalculated: dict[str, tuple[Path, Evaluation]],
) -> None:
    """The Summary's break-even years (cumulative cost and cumulative NPV), recalculated
    after the change, are the engine's for the changed scenario."""
    path, changed = recalculated["changed"]
    ws = load_workbook(path, data_only=True)["Summary"]
    found = {
        (r[0], r[1]): (r[2], r[3])
        for r in ws.iter_rows(values_only=True)
        if r[0] in changed.servers and r[1] in changed.lines
    }
    for b in changed.break_even:
        want = (b.year or "never", b.year_npv or "never")
        assert found[(b.onprem, b.cloud)] == want, (b.onprem, b.cloud)
