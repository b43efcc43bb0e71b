"""mailplan simulate and mailplan sensitivity, run as a user runs them: real files; each
command at least once as a real subprocess, its other outputs in-process (``cli``)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.cli.test_plan import mailplan


@pytest.fixture(scope="module")
def ranged_path(presets) -> Path:
    """The bundled scenario with ranges."""
    return presets["default-ranges"]


@pytest.fixture(scope="module")
def simulated(ranged_path) -> dict:
    """``mailplan simulate --format json`` of the ranged default, seed 7."""
    r = mailplan("simulate", ranged_path, "--draws", "2000", "--seed", "7", "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


class TestSimulate:
    def test_json_keys(self, simulated):
        """Each option has id, total and npv as p10/p50/p90/mean, and p_cheapest."""
        assert simulated["draws"] == 2000
        assert simulated["seed"] == 7
        for option in simulated["options"]:
            assert {"id", "total", "npv", "p_cheapest"} <= set(option)
            assert set(option["npv"]) == {"p10", "p50", "p90", "mean"}
        assert sum(o["p_cheapest"] for o in simulated["options"]) == pytest.approx(1.0)

    def test_seed_reproduces(self, cli, ranged_path, simulated):
        """The same seed prints the same result."""
        r = cli("simulate", ranged_path, "-n", "2000", "--seed", "7", "-f", "json")
        assert json.loads(r.stdout) == simulated

    def test_table(self, cli, ranged_path):
        """The table names every option, the seed, and how often the choice holds."""
        r = cli("simulate", ranged_path, "--draws", "500", "--seed", "1")
        assert r.returncode == 0, r.stderr
        assert "500 draws (seed 1)" in r.stdout
        for option in ("postfix-dovecot", "exchange-se", "m365-basic", "gws-starter"):
            assert option in r.stdout
        assert "Cheapest in the typical case: postfix-dovecot; it stays the cheapest in" in r.stdout


class TestSensitivity:
    def test_csv(self, ranged_path):
        """CSV has the tornado columns, largest swing first."""
        r = mailplan("sensitivity", ranged_path, "--format", "csv")
        assert r.returncode == 0, r.stderr
        rows = list(csv.DictReader(io.StringIO(r.stdout)))
        assert list(rows[0]) == [
            "input",
            "range",
            "low",
            "high",
            "npv_at_low",
            "npv_at_high",
            "swing",
            "flips",
        ]
        swings = [float(row["swing"]) for row in rows]
        assert swings == sorted(swings, reverse=True)
        assert rows[0]["input"] == "onprem.postfix-dovecot.admin_hours_per_month"

    def test_json_with_pair(self, cli, ranged_path):
        """--onprem and --cloud choose the pair; JSON says what the gap measures."""
        r = cli(
            "sensitivity",
            ranged_path,
            "--onprem",
            "exchange-se",
            "--cloud",
            "m365-standard",
            "-f",
            "json",
        )
        data = json.loads(r.stdout)
        assert (data["onprem"], data["cloud"]) == ("exchange-se", "m365-standard")
        assert data["measure"].startswith("NPV of the on-prem option minus NPV of the cloud option")
        assert {"input", "npv_at_low", "npv_at_high", "swing"} <= set(data["inputs"][0])


class TestBadInput:
    @pytest.mark.parametrize(
        ("args", "expected"),
        [
            (["simulate", "missing.yaml"], "mailplan: missing.yaml: no such file"),
            (
                ["simulate", "{ranged}", "--draws", "0"],
                "mailplan simulate: Invalid value for '--draws' / '-n'",
            ),
            (
                ["simulate", "{ranged}", "--draws", "2000000"],
                "mailplan: draws: must be 1 to 1,000,000 (got 2000000)",
            ),
            (
                ["sensitivity", "{ranged}", "--onprem", "nope"],
                "mailplan: --onprem: no on-prem option 'nope' (on-prem options: postfix-dovecot, exchange-se, exchange-2019)",
            ),
            (
                ["sensitivity", "{ranged}", "--format", "xml"],
                "mailplan sensitivity: Invalid value for '--format' / '-f'",
            ),
        ],
        ids=["missing-file", "zero-draws", "too-many-draws", "unknown-onprem", "bad-format"],
    )
    def test_one_line_exit_2(self, cli, ranged_path, args, expected):
        """Bad flags and files are one line naming the flag or file, exit 2, no traceback."""
        r = cli(*(a.replace("{ranged}", str(ranged_path)) for a in args))
        assert r.returncode == 2
        assert r.stderr.startswith(expected), r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        assert "Traceback" not in r.stderr

    def test_bad_ranges_one_line_each(self, tmp_path):
        """A file with bad ranges prints one line per problem naming the field, exit 2."""
        path = tmp_path / "bad.yaml"
        path.write_text(
            "name: Bad ranges\n"
            "organization:\n"
            "  users: 100\n"
            "  user_growth_per_year: {low: 0.3, typical: 0.1, high: 0.2}\n"
            "onprem:\n"
            "  - {id: box, stack: postfix-dovecot, server: smb-1u, pue: {low: 0.8, typical: 1.5, high: 2}}\n"
            "cloud:\n"
            "  - {id: m365, plan: m365-business-basic}\n"
        )
        r = mailplan("simulate", path)
        assert r.returncode == 2
        assert r.stderr.strip().splitlines() == [
            f"mailplan: {path}: organization.user_growth_per_year: needs low <= typical <= high (got 0.3, 0.1, 0.2)",
            f"mailplan: {path}: onprem[0].pue.low: Input should be greater than or equal to 1 (got 0.8)",
        ]
        assert r.stdout == ""


def test_schema_shows_range_forms(cli):
    """mailplan schema offers the range forms on numeric fields."""
    r = cli("schema")
    schema = json.loads(r.stdout)
    pue = schema["$defs"]["OnPremOption"]["properties"]["pue"]["anyOf"]
    assert {"$ref": "#/$defs/RangeTriangular"} in pue
    assert schema["$defs"]["RangeLogNormal"]["required"] == ["dist", "median", "p90"]
