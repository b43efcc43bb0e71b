"""Measured capacity into sizing: ``bench apply`` and ``mailplan size --capacity-from``.

The measured run here is short (under a second), so it is indicative: ``apply`` refuses
it unless told ``--indicative``. A trusted result is the same one with 31 measured
seconds written into its JSON (no 30-s run in the tests)."""

from __future__ import annotations

import json
import re
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
def trusted_json(result_json, tmp_path) -> Path:
    """The measured result as if it had run for 31 s (indicative left for the model to
    judge from the duration)."""
    data = json.loads(result_json.read_text())
    data.pop("indicative")
    data["duration_s"] = 31.0
    out = tmp_path / "trusted.json"
    out.write_text(json.dumps(data))
    return out


@pytest.fixture
def scenario_copy(tmp_path, presets) -> Path:
    """A copy of the bundled default scenario (two on-prem options)."""
    return Path(shutil.copy(presets["default"], tmp_path / "scenario.yaml"))


class TestApply:
    def test_writes_capacity_and_source(self, measured, scenario_copy, bench):
        """apply --indicative sets the option's capacity to the measured rate, with
        capacity_origin benchmark, capacity_indicative true and a source that starts with
        'benchmark 1, indicative', so the engine classes it as a benchmark figure."""
        db, _ = measured
        measured_rate = parse_result(
            json.loads(bench("show", "1", "--db", db, "--format", "json").stdout)
        )

        r = bench(
            "apply", "1", scenario_copy, "--option", "postfix-dovecot", "--db", db, "--indicative"
        )
        scenario = load_scenario(scenario_copy)
        option = next(o for o in scenario.onprem if o.id == "postfix-dovecot")
        resolved = next(o for o in evaluate(scenario).resolved.onprem if o.id == "postfix-dovecot")

        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(
            f"{scenario_copy}: onprem 'postfix-dovecot' capacity_msgs_per_s = "
            f"{round(measured_rate.msgs_per_s, 1):g} (indicative) (benchmark 1, indicative ("
        )
        assert option.capacity_msgs_per_s == round(measured_rate.msgs_per_s, 1)
        assert (option.capacity_origin, option.capacity_indicative) == ("benchmark", True)
        assert option.capacity_source.startswith("benchmark 1, indicative (")
        assert "s measured, under 30 s): " in option.capacity_source
        assert "smtp 75 KB" in option.capacity_source
        assert "shared with load generator" in option.capacity_source
        assert (resolved.capacity_kind, resolved.capacity_indicative) == ("benchmark", True)
        assert next(o for o in scenario.onprem if o.id == "exchange-se").capacity_msgs_per_s is None

    def test_a_short_run_is_refused_without_indicative(self, measured, scenario_copy, bench):
        """Without --indicative a run under 30 s is one line naming the flag, exit 2, and
        the scenario is left as it was."""
        db, _ = measured
        before = scenario_copy.read_text()

        r = bench("apply", "1", scenario_copy, "--option", "postfix-dovecot", "--db", db)

        assert r.returncode == 2
        (line,) = r.stderr.splitlines()
        assert re.fullmatch(
            r"mailplan: result 1: measured \d+\.\d s, under the 30 s a capacity figure needs; "
            r"run longer, or pass --indicative to use it as an indicative figure",
            line,
        ), line
        assert scenario_copy.read_text() == before

    def test_a_long_enough_run_needs_no_flag(self, trusted_json, scenario_copy, bench):
        """A result measured for 31 s is trusted: applied without --indicative, written
        with capacity_indicative false and a plain 'benchmark 1:' source."""
        r = bench("apply", trusted_json, scenario_copy, "--option", "postfix-dovecot")
        option = next(o for o in load_scenario(scenario_copy).onprem if o.id == "postfix-dovecot")

        assert r.returncode == 0, r.stderr
        assert "(indicative)" not in r.stdout
        assert (option.capacity_origin, option.capacity_indicative) == ("benchmark", False)
        assert option.capacity_source.startswith("benchmark 1: ")

    def test_several_onprem_options_need_option(self, measured, scenario_copy, bench):
        """Without --option, a scenario with two on-prem options is left as it was."""
        db, _ = measured
        before = scenario_copy.read_text()
        r = bench("apply", "1", scenario_copy, "--db", db, "--indicative")

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
        r = bench(
            "apply",
            result_json,
            scenario_copy,
            "--option",
            "exchange-se",
            "-o",
            out,
            "--indicative",
        )

        assert r.returncode == 0, r.stderr
        assert scenario_copy.read_text() == before
        applied = load_scenario(out)
        assert next(o for o in applied.onprem if o.id == "exchange-se").capacity_source.startswith(
            "benchmark 1, indicative"
        )

    @pytest.mark.parametrize("protocol", ["pop3", "imap"])
    def test_a_client_result_sets_the_fetch_capacity(
        self, result_json, scenario_copy, bench, tmp_path, protocol
    ):
        """A POP3 or IMAP result gives messages fetched per second: it goes into
        client_capacity_fetches_per_s with its source, not into the message rate, and the
        client-load sizing reads it."""
        data = json.loads(result_json.read_text())
        data["protocol"] = protocol
        client = tmp_path / f"{protocol}.json"
        client.write_text(json.dumps(data))
        before = load_scenario(scenario_copy)
        r = bench("apply", client, scenario_copy, "--option", "postfix-dovecot", "--indicative")

        assert r.returncode == 0, r.stderr
        applied = next(o for o in load_scenario(scenario_copy).onprem if o.id == "postfix-dovecot")
        old = next(o for o in before.onprem if o.id == "postfix-dovecot")
        figure = round(data["capacity_msgs_per_s"] or data["msgs_per_s"], 1)
        assert applied.client_capacity_fetches_per_s == figure
        assert applied.client_capacity_source.startswith("benchmark 1, indicative (")
        assert f", {protocol} " in applied.client_capacity_source
        assert applied.client_capacity_indicative is True
        assert applied.capacity_msgs_per_s == old.capacity_msgs_per_s
        assert r.stdout.startswith(
            f"{scenario_copy}: onprem 'postfix-dovecot' client_capacity_fetches_per_s = "
        )
        ev = evaluate(load_scenario(scenario_copy))
        assert ev.option("postfix-dovecot").client_capacity_fetches_per_s == figure


class TestSizeCapacityFrom:
    def test_sizing_names_the_benchmark(self, result_json, scenario_copy, capsys):
        """size --capacity-from uses the measured figure for this run only and says so,
        indicative included (the source says it)."""
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
                "--indicative",
                "--format",
                "json",
            ]
        )
        out = json.loads(capsys.readouterr().out)
        option = next(o for o in out["options"] if o["id"] == "postfix-dovecot")

        assert code == 0
        assert option["capacity_kind"] == "benchmark"
        assert option["capacity_source"].startswith("benchmark 1, indicative (")
        assert scenario_copy.read_text() == before

    def test_a_short_run_is_refused_unless_accepted(self, result_json, scenario_copy, capsys):
        """A run shorter than a capacity figure needs is refused in one line that says how
        to accept it (exit 2), as bench apply does; --indicative without --capacity-from is
        a usage error."""
        capsys.readouterr()
        args = ["size", str(scenario_copy), "--capacity-from", str(result_json)]
        code = cli.run([*args, "--option", "postfix-dovecot"])
        err = capsys.readouterr().err.splitlines()
        assert code == 2
        assert len(err) == 1
        assert err[0].startswith("mailplan: result 1: measured ")
        assert err[0].endswith("pass --indicative to use it as an indicative figure")

        code = cli.run(["size", str(scenario_copy), "--indicative"])
        assert code == 2
        assert capsys.readouterr().err.splitlines() == [
            "mailplan: --indicative: only used with --capacity-from"
        ]

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
