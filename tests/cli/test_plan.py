"""The planning commands, run as a user runs them: real files; each command at least once
as a real subprocess (exit status, streams, no traceback), its other outputs in-process
(the ``cli`` fixture of tests/cli/conftest.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from planner import evaluate, load_scenario

MAILPLAN = [sys.executable, "-m", "planner"]


def mailplan(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run ``mailplan ARGS`` and capture its output."""
    return subprocess.run(
        [*MAILPLAN, *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(scope="module")
def default_path(presets) -> Path:
    """The bundled default scenario file."""
    return presets["default"]


@pytest.fixture
def bad_scenario(tmp_path: Path) -> Path:
    """A scenario with three problems."""
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: Broken\n"
        "organization: {users: 0, peak_factor: 0.5}\n"
        "cloud:\n  - {id: c, plan: m365-business-basic, colour: blue}\n"
    )
    return path


class TestValidate:
    def test_ok(self, cli, default_path):
        """A good file prints ok and exits 0."""
        r = cli("validate", default_path)
        assert r.returncode == 0
        assert r.stdout.startswith("ok: Acme, 250 staff (6 options, 5 years)")

    def test_problems_one_line_each(self, bad_scenario):
        """A bad file prints one line per problem naming the field, exit 2, no traceback."""
        r = mailplan("validate", bad_scenario)
        assert r.returncode == 2
        lines = r.stderr.strip().splitlines()
        assert lines == [
            f"mailplan: {bad_scenario}: organization.users: Input should be greater than or equal to 1 (got 0)",
            f"mailplan: {bad_scenario}: organization.peak_factor: Input should be greater than or equal to 1 (got 0.5)",
            f"mailplan: {bad_scenario}: cloud[0].colour: unknown key (check the spelling; see 'mailplan schema')",
        ]
        assert "Traceback" not in r.stderr
        assert r.stdout == ""

    @pytest.mark.parametrize(
        ("args", "expected"),
        [
            (["validate", "missing.yaml"], "mailplan: missing.yaml: no such file"),
            (["compare"], "mailplan compare: Missing argument 'SCENARIO'."),
            (
                ["compare", "x.yaml", "--format", "xml"],
                "mailplan compare: Invalid value for '--format' / '-f'",
            ),
            (["compare", "x.yaml", "--bogus"], "mailplan compare: No such option: --bogus"),
            (["frobnicate"], "mailplan: No such command 'frobnicate'."),
        ],
        ids=["missing-file", "missing-argument", "bad-format", "bad-option", "bad-command"],
    )
    def test_usage_errors(self, cli, args, expected):
        """Usage errors are one line naming the command, exit 2."""
        r = cli(*args)
        assert r.returncode == 2
        assert r.stderr.startswith(expected)
        assert len(r.stderr.strip().splitlines()) == 1

    def test_unknown_plan(self, cli, tmp_path):
        """An unknown plan id is one line listing the known plans."""
        path = tmp_path / "s.yaml"
        path.write_text("name: x\norganization: {users: 5}\ncloud: [{id: c, plan: m365-bogus}]\n")
        r = cli("compare", path)
        assert r.returncode == 2
        assert r.stderr.startswith(
            "mailplan: cloud[0].plan: unknown plan 'm365-bogus' (known: exo-plan-1,"
        )


class TestCompare:
    def test_json_matches_engine(self, default_path):
        """compare --format json carries the engine's figures under the documented keys."""
        r = mailplan("compare", default_path, "--format", "json")
        assert r.returncode == 0, r.stderr
        data = json.loads(r.stdout)
        ev = evaluate(load_scenario(default_path))
        assert data["cheapest"] == ev.cheapest
        assert data["currency"] == "USD"
        assert data["horizon_years"] == 5
        by_id = {o["id"]: o for o in data["options"]}
        for o in ev.options:
            assert by_id[o.id]["npv"] == pytest.approx(ev.npv(o.id), abs=0.01)
            assert by_id[o.id]["kind"] == o.kind
            assert len(by_id[o.id]["years"]) == 5
        assert {"onprem", "cloud", "year", "users", "year_npv"} == data["break_even"][0].keys()

    def test_table(self, cli, default_path):
        """The table names every option and the cheapest."""
        r = cli("compare", default_path)
        assert r.returncode == 0
        ev = evaluate(load_scenario(default_path))
        for o in ev.options:
            assert o.id in r.stdout
        assert f"Cheapest by NPV: {ev.cheapest}" in r.stdout

    def test_csv(self, cli, default_path):
        """compare --format csv is one row per option with totals."""
        r = cli("compare", default_path, "--format", "csv")
        lines = r.stdout.strip().splitlines()
        assert (
            lines[0]
            == "id,kind,label,total,npv,per_user_month,qualitative_score,ruled_out,cheapest"
        )
        assert len(lines) == 7  # the header and six options


class TestSize:
    def test_json(self, default_path):
        """size --format json lists the on-prem options with yearly sizing and the capacity source."""
        r = mailplan("size", default_path, "--format", "json")
        data = json.loads(r.stdout)
        assert [o["id"] for o in data["options"]] == [
            "postfix-dovecot",
            "exchange-se",
            "exchange-2019",
        ]
        first = data["options"][0]
        assert first["capacity_source"].startswith(f"catalog: {first['server']}")
        assert set(first["years"][0]) == {
            "year",
            "users",
            "messages_per_day",
            "peak_msgs_per_s",
            "storage_tb",
            "capacity_msgs_per_s",
            "servers",
            "server",
            "binding",
            "utilisation",
        }
        assert first["years"][0]["binding"] == "storage"
        assert set(first["years"][0]["utilisation"]) == {"storage", "message_rate", "client_load"}

    def test_csv(self, cli, default_path):
        """size --format csv is the sizing frame."""
        r = cli("size", default_path, "--format", "csv")
        assert r.stdout.splitlines()[0] == (
            "option,year,users,messages_per_day,peak_msgs_per_s,storage_tb,capacity_msgs_per_s,servers,"
            "server,binding,storage_utilisation,message_rate_utilisation,client_load_utilisation"
        )

    def test_table(self, cli, default_path):
        """The table says where the capacity figure came from."""
        r = cli("size", default_path)
        text = " ".join(r.stdout.split())
        assert "capacity per server: 100 msgs/s (catalog: 1u-4x8tb-raid10" in text
        assert "(picked: the lowest NPV)" in text
        assert "Year 5: 2 servers, set by storage" in text


class TestCatalogAndSchema:
    def test_catalog_json(self):
        """catalog --format json has every plan with price, source and as-of date."""
        data = json.loads(mailplan("catalog", "--format", "json").stdout)
        plan = next(p for p in data["plans"] if p["id"] == "m365-business-basic")
        assert plan["price_per_user_month"]["value"] == 7.0
        assert plan["price_per_user_month"]["source"].startswith("https://")
        assert plan["price_per_user_month"]["as_of"] == "2026-07-01"

    def test_catalog_table(self, cli):
        """The catalog table lists plans and their sources."""
        r = cli("catalog")
        assert r.returncode == 0
        assert "gws-business-starter" in r.stdout
        assert "https://" in r.stdout

    def test_schema(self):
        """schema prints the JSON Schema of the scenario file."""
        schema = json.loads(mailplan("schema").stdout)
        assert schema["title"] == "Scenario"
        assert "organization" in schema["properties"]
        assert "users" in schema["$defs"]["Organization"]["required"]
