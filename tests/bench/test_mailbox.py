"""``mailplan bench pop3`` and ``bench imap`` against a real Dovecot on 127.0.0.1."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.timeout(90)


def dovecot_log_sum(dovecot, pattern: str) -> int:
    """Sum of one number Dovecot logs for every session (``retr=N/``, ``body_count=N``)."""
    text = (dovecot.root / "dovecot.log").read_text()
    return sum(int(n) for n in re.findall(pattern, text))


class TestPop3:
    def test_every_retr_counted_is_one_dovecot_served(self, dovecot, bench_json):
        """300 RETRs in sessions of 10: the harness and Dovecot's own log agree."""
        before = dovecot_log_sum(dovecot, r"retr=(\d+)/")
        result = bench_json(
            "pop3",
            "--pop3",
            f"127.0.0.1:{dovecot.pop3_port}",
            "--user",
            dovecot.USER,
            "--password",
            dovecot.PASSWORD,
            "--messages",
            300,
            "-c",
            4,
            "--messages-per-session",
            10,
        )

        assert result["protocol"] == "pop3"
        assert result["messages_ok"] == 300
        assert result["errors"] == {}
        assert result["latency_phase"] == "retr"
        assert result["phases"]["retr"]["count"] == 300
        assert {"login", "stat", "list", "quit"} <= result["phases"].keys()
        assert result["mb_per_s"] > 0
        assert dovecot_log_sum(dovecot, r"retr=(\d+)/") - before == 300

    def test_top_reads_headers_only(self, dovecot, bench_json):
        """--top 0 fetches headers only: fewer bytes per message than RETR."""
        common = (
            "pop3",
            "--pop3",
            f"127.0.0.1:{dovecot.pop3_port}",
            "--user",
            dovecot.USER,
            "--password",
            dovecot.PASSWORD,
            "--messages",
            50,
            "-c",
            2,
        )
        top = bench_json(*common, "--top", 0)
        retr = bench_json(*common)

        assert top["messages_ok"] == retr["messages_ok"] == 50
        assert top["workload"]["retrieve"] == "top 0"
        assert top["mb_per_s"] / top["msgs_per_s"] < retr["mb_per_s"] / retr["msgs_per_s"] / 3


class TestImap:
    def test_every_fetch_counted_is_one_dovecot_served(self, dovecot, bench_json, tmp_path):
        """200 FETCHes logged in from a users file: the harness and Dovecot's log agree."""
        users = tmp_path / "users"
        users.write_text(f"# logins\n{dovecot.USER}:{dovecot.PASSWORD}\n")
        before = dovecot_log_sum(dovecot, r"body_count=(\d+)")
        result = bench_json(
            "imap",
            "--imap",
            f"127.0.0.1:{dovecot.imap_port}",
            "--users-file",
            users,
            "--messages",
            200,
            "-c",
            4,
        )

        assert result["messages_ok"] == 200
        assert result["errors"] == {}
        assert result["latency_phase"] == "fetch"
        assert {"login", "select", "fetch", "logout"} <= result["phases"].keys()
        assert dovecot_log_sum(dovecot, r"body_count=(\d+)") - before == 200
