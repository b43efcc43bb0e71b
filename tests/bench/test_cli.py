"""The ``mailplan bench`` command line: bad input, the results store, the JSON result."""

from __future__ import annotations

import json

import pytest

from planner.net import free_port

pytestmark = pytest.mark.timeout(90)

RESULT_KEYS = {
    "protocol",
    "target",
    "messages_ok",
    "messages_failed",
    "duration_s",
    "msgs_per_s",
    "mb_per_s",
    "latency_ms",
    "errors",
    "environment",
}


class TestBadInput:
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (
                ["smtp", "--smtp", "127.0.0.1:{free}"],
                "mailplan: --smtp 127.0.0.1:{free}: cannot connect (connection refused)",
            ),
            (
                ["smtp", "--smtp", "localhost"],
                "mailplan: --smtp: 'localhost' is not HOST:PORT (for example 127.0.0.1:2525)",
            ),
            (
                ["smtp", "--smtp", "127.0.0.1:99999"],
                "mailplan: --smtp: port 99999 is out of range (1-65535)",
            ),
            (
                ["smtp", "--smtp", "127.0.0.1:{free}", "--from", "not an address"],
                "mailplan: --from: 'not an address' is not an address like user@example.test",
            ),
            (
                ["smtp", "--smtp", "127.0.0.1:{free}", "--to", "x@"],
                "mailplan: --to: 'x@' is not an address like user@example.test",
            ),
            (["smtp"], "mailplan: --smtp HOST:PORT or --embedded: name the server to load"),
            (
                ["pop3", "--pop3", "127.0.0.1:{free}"],
                "mailplan: --pop3: give --user and --password, or --users-file",
            ),
            (
                ["imap", "--imap", "127.0.0.1:{free}", "--users-file", "/nonexistent/users"],
                "mailplan: --users-file /nonexistent/users: no such file",
            ),
            (
                ["show", "7", "--db", "{tmp}/none.sqlite"],
                "mailplan: --db {tmp}/none.sqlite: no results database (nothing saved yet)",
            ),
        ],
        ids=[
            "unreachable",
            "no-port",
            "port-range",
            "bad-from",
            "bad-to",
            "no-target",
            "no-login",
            "no-users-file",
            "no-db",
        ],
    )
    def test_one_line_and_exit_2(self, bench, tmp_path, args, message):
        """Each mistake is one line naming the flag, exit status 2, no traceback."""
        free = free_port()
        fill = {"free": free, "tmp": tmp_path}
        r = bench(
            *[a.format(**fill) for a in args],
            "--no-save" if args[0] != "show" else "--format=table",
        )

        assert r.returncode == 2
        assert r.stderr.splitlines() == [message.format(**fill)]
        assert r.stdout == ""

    def test_unreachable_target_as_a_user_sees_it(self, bench_process):
        """Run as its own process: the one line on stderr, exit 2, nothing else."""
        port = free_port()
        r = bench_process("smtp", "--smtp", f"127.0.0.1:{port}", "--no-save")

        assert r.returncode == 2
        assert (
            r.stderr == f"mailplan: --smtp 127.0.0.1:{port}: cannot connect (connection refused)\n"
        )
        assert r.stdout == ""

    def test_refused_login_is_one_line(self, dovecot, bench):
        """A wrong POP3 password is named as a refused login, exit 2, before any load."""
        r = bench(
            "pop3",
            "--pop3",
            f"127.0.0.1:{dovecot.pop3_port}",
            "--user",
            dovecot.USER,
            "--password",
            "wrong",
            "--no-save",
        )

        assert r.returncode == 2
        assert r.stderr.splitlines() == [
            f"mailplan: --pop3 127.0.0.1:{dovecot.pop3_port}: login refused for {dovecot.USER} (-ERR [AUTH])"
        ]

    @pytest.mark.parametrize("protocol", ["pop3", "imap"])
    def test_empty_mailbox_is_one_line(self, dovecot, bench, protocol):
        """Nothing to read is said before any load, not counted as a run of errors."""
        port = dovecot.pop3_port if protocol == "pop3" else dovecot.imap_port
        r = bench(
            protocol,
            f"--{protocol}",
            f"127.0.0.1:{port}",
            "--user",
            dovecot.EMPTY_USER,
            "--password",
            dovecot.PASSWORD,
            "--no-save",
        )

        assert r.returncode == 2
        assert r.stderr.splitlines() == [
            f"mailplan: --{protocol} 127.0.0.1:{port}: the mailbox of {dovecot.EMPTY_USER} is empty, "
            "so there is nothing to read (fill it first, or use --embedded)"
        ]


class TestResultsStore:
    def test_list_and_show(self, sink, bench, tmp_path):
        """Two saved runs are listed with ids 1 and 2; show returns the whole result."""
        db = tmp_path / "results.sqlite"
        for n in (50, 80):
            r = bench("smtp", "--smtp", sink.address, "--messages", n, "-c", 5, "--db", db, "-q")
            assert r.returncode == 0, r.stderr
            assert f"in {db}" in r.stdout

        listed = json.loads(bench("list", "--db", db, "--format", "json").stdout)
        shown = json.loads(bench("show", "2", "--db", db, "--format", "json").stdout)
        table = bench("list", "--db", db).stdout

        assert [(row["id"], row["protocol"]) for row in listed] == [(1, "smtp"), (2, "smtp")]
        assert shown["id"] == 2
        assert shown["messages_ok"] == 80
        assert "2 saved result(s)" in table

    def test_default_store_is_in_the_user_data_dir(self, sink, bench, tmp_path):
        """Without --db, results go to $XDG_DATA_HOME/mailplan/benchmarks.sqlite."""
        r = bench("smtp", "--smtp", sink.address, "--messages", 20, "-q")

        assert r.returncode == 0, r.stderr
        assert (tmp_path / "xdg" / "mailplan" / "benchmarks.sqlite").is_file()

    def test_show_unknown_id(self, sink, bench, tmp_path):
        """An id that is not in the store is one line, exit 2."""
        db = tmp_path / "r.sqlite"
        bench("smtp", "--smtp", sink.address, "--messages", 10, "--db", db, "-q")
        r = bench("show", "9", "--db", db)

        assert r.returncode == 2
        assert r.stderr.splitlines() == [f"mailplan: --db {db}: no result with id 9"]


class TestJsonResult:
    def test_has_the_documented_keys(self, sink, bench_json):
        """The JSON result carries every key the issue lists, with the environment."""
        result = bench_json(
            "smtp", "--smtp", sink.address, "--messages", 50, "--label", "smtp-sink"
        )

        assert result.keys() >= RESULT_KEYS
        assert set(result["latency_ms"]) >= {"p50", "p90", "p99", "max"}
        env = result["environment"]
        assert env["cores"] >= 1
        assert all(env[k] for k in ("cpu_model", "os", "python"))
        assert env["server_label"] == "smtp-sink"
        assert env["server_banner"].startswith("smtp-sink")
        assert env["shared_machine"] is True
        assert result["target"] == sink.address


class TestEmbedded:
    def test_embedded_smtp(self, bench):
        """Every message the harness counted as accepted against the embedded reference
        server is in a Maildir, and the server's own counters agree."""
        r = bench(
            "smtp", "--embedded", "--messages", 200, "-c", 10, "--format", "json", "--no-save", "-q"
        )
        assert r.returncode == 0, r.stderr
        result = json.loads(r.stdout)
        counters = result["server_counters"]
        assert counters["accepted"] == counters["harness_accepted"] == result["messages_ok"] == 200
        assert counters["maildir_files"] == 200

    def test_embedded_pop3(self, bench):
        """POP3 against the embedded server: one user per session, so no maildrop is ever
        in use by another session, and every retrieval succeeds."""
        r = bench(
            "pop3", "--embedded", "--messages", 300, "-c", 5, "--format", "json", "--no-save", "-q"
        )
        assert r.returncode == 0, r.stderr
        result = json.loads(r.stdout)
        assert result["messages_ok"] == 300
        assert result["messages_failed"] == 0
        assert result["errors"] == {}
