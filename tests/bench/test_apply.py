"""Measured capacity into sizing: ``bench apply`` and ``mailplan size --capacity-from``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from planner import cli, evaluate, load_scenario
from planner.bench.result import parse_result

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def measured(tmp_path_factory, presets) -> tuple[Path, Path]:
    """One closed-loop SMTP run into smtp-sink, saved in a store and as a JSON file."""
    from tests.bench.servers import SmtpSink

    folder = tmp_path_factory.mktemp("measured")
    db, out = folder / "results.sqlite", folder / "result.json"
    sink = SmtpSink()
    try:
        code = cli.run(
            [
                "bench",
                "smtp",
                "--smtp",
                sink.address,
                "--messages",
                "300",
                "-c",
                "10",
                "--size-kb",
                "75",
                "--db",
                str(db),
                "--quiet",
            ]
        )
        assert code == 0
    finally:
        sink.stop()
    return db, out


@pytest.fixture
def result_json(measured, capsys) -> Path:
    """The saved result written as a JSON file, as ``--format json`` prints it."""
    db, out = measured
    capsys.readouterr()
    cli.run(["bench", "show", "1", "--db", str(db), "--format", "json"])
    out.write_text(capsys.readouterr().out)
    return out


@pytest.fixture
def scenario_copy(tmp_path, presets) -> Path:
    """A copy of the bundled default scenario (two on-prem options)."""
    return Path(shutil.copy(presets["default"], tmp_path / "scenario.yaml"))


class TestApply:
    def test_writes_capacity_and_source(self, measured, scenario_copy, bench):
        """apply sets the option's capacity to the measured rate; its source starts with
        'benchmark 1:' so the engine classes it as a benchmark figure."""
        db, _ = measured
        measured_rate = parse_result(
            json.loads(bench("show", "1", "--db", db, "--format", "json").stdout)
        )

        r = bench("apply", "1", scenario_copy, "--option", "postfix-dovecot", "--db", db)
        scenario = load_scenario(scenario_copy)
        option = next(o for o in scenario.onprem if o.id == "postfix-dovecot")
        resolved = evaluate(scenario).resolved.onprem

        assert r.returncode == 0, r.stderr
        assert option.capacity_msgs_per_s == round(measured_rate.msgs_per_s, 1)
        assert option.capacity_source.startswith("benchmark 1: ")
        assert "smtp 75 KB" in option.capacity_source
        assert "shared with load generator" in option.capacity_source
        assert next(o for o in resolved if o.id == "postfix-dovecot").capacity_kind == "benchmark"
        assert next(o for o in scenario.onprem if o.id == "exchange-se").capacity_msgs_per_s is None

    def test_several_onprem_options_need_option(self, measured, scenario_copy, bench):
        """Without --option, a scenario with two on-prem options is left as it was."""
        db, _ = measured
        before = scenario_copy.read_text()
        r = bench("apply", "1", scenario_copy, "--db", db)

        assert r.returncode == 2
        assert r.stderr.splitlines() == [
            "mailplan: --option: the scenario has 3 on-prem options (postfix-dovecot, "
            "exchange-se, exchange-2019); name the one that was measured with --option ID"
        ]
        assert scenario_copy.read_text() == before

    def test_a_json_result_file_works_too(self, result_json, scenario_copy, bench, tmp_path):
        """A result JSON file is accepted in place of an id, and --output leaves the
        original scenario alone."""
        out = tmp_path / "applied.json"
        before = scenario_copy.read_text()
        r = bench("apply", result_json, scenario_copy, "--option", "exchange-se", "--output", out)

        assert r.returncode == 0, r.stderr
        assert scenario_copy.read_text() == before
        applied = load_scenario(out)
        assert next(o for o in applied.onprem if o.id == "exchange-se").capacity_source.startswith(
            "benchmark 1:"
        )

    def test_a_pop3_result_is_refused(self, result_json, scenario_copy, bench, tmp_path):
        """A POP3 result says nothing about how many messages a server accepts."""
        data = json.loads(result_json.read_text())
        data["protocol"] = "pop3"
        pop3 = tmp_path / "pop3.json"
        pop3.write_text(json.dumps(data))
        r = bench("apply", pop3, scenario_copy, "--option", "postfix-dovecot")

        assert r.returncode == 2
        assert r.stderr.splitlines() == [
            "mailplan: result 1: measured pop3; only an SMTP result gives capacity_msgs_per_s"
        ]


class TestSizeCapacityFrom:
    def test_sizing_names_the_benchmark(self, result_json, scenario_copy, capsys):
        """size --capacity-from uses the measured figure for this run only and says so."""
        before = scenario_copy.read_text()
        capsys.readouterr()
        code = cli.run(
            [
                "size",
                str(scenario_copy),
                "--capacity-from",
                str(result_json),
                "--option",
                "postfix-dovecot",
                "--format",
                "json",
            ]
        )
        out = json.loads(capsys.readouterr().out)
        option = next(o for o in out["options"] if o["id"] == "postfix-dovecot")

        assert code == 0
        assert option["capacity_kind"] == "benchmark"
        assert option["capacity_source"].startswith("benchmark 1: ")
        assert scenario_copy.read_text() == before

    def test_needs_option_with_several_onprem_options(self, result_json, scenario_copy, capsys):
        """Two on-prem options and no --option: one line, exit 2."""
        capsys.readouterr()
        code = cli.run(["size", str(scenario_copy), "--capacity-from", str(result_json)])

        assert code == 2
        assert capsys.readouterr().err.splitlines() == [
            "mailplan: --option: the scenario has 3 on-prem options (postfix-dovecot, "
            "exchange-se, exchange-2019); name the one that was measured with --option ID"
        ]

    def test_bad_result_file(self, scenario_copy, tmp_path, capsys):
        """A file that is not a result: one line naming the file, exit 2."""
        bad = tmp_path / "bad.json"
        bad.write_text('{"protocol": "smtp"')
        capsys.readouterr()
        code = cli.run(["size", str(scenario_copy), "--capacity-from", str(bad), "--option", "x"])

        assert code == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1
        assert err[0].startswith(f"mailplan: {bad}: line 1, column ")
