"""``mailplan bench smtp`` against real SMTP servers on 127.0.0.1."""

from __future__ import annotations

import json
import re
import time

import pytest

pytestmark = pytest.mark.timeout(90)


def settle(read, expected: int, timeout: float = 5.0) -> int:
    """``read()`` once it equals ``expected`` (or its last value after ``timeout``)."""
    limit = time.monotonic() + timeout
    value = read()
    while value != expected and time.monotonic() < limit:
        time.sleep(0.05)
        value = read()
    return value


class TestAgainstSmtpSink:
    @pytest.mark.parametrize(
        "flags",
        [
            [],
            ["--no-pipelining"],
            ["--messages-per-session", "5", "--recipients", "3"],
            ["--size-kb", "75", "--size-mix", "realistic", "--seed", "3"],
        ],
        ids=["pipelined", "stepwise", "5-per-session-3-rcpts", "realistic-mix"],
    )
    def test_sink_received_what_the_harness_counted(self, sink, bench_json, flags):
        """smtp-sink's own counter equals messages_ok, and nothing failed."""
        result = bench_json("smtp", "--smtp", sink.address, "--messages", 600, "-c", 20, *flags)

        assert result["messages_ok"] == 600
        assert result["messages_failed"] == 0
        assert settle(sink.received, 600) == 600

    def test_each_message_carries_a_unique_id(self, dumping_sink, bench_json):
        """Every message smtp-sink stored has its own X-Mailplan-Bench-Id, and its size."""
        result = bench_json(
            "smtp", "--smtp", dumping_sink.address, "--messages", 40, "-c", 4, "--size-kb", 3
        )
        settle(lambda: len(dumping_sink.dumped()), 40)
        dumped = dumping_sink.dumped()
        ids = {re.search(rb"X-Mailplan-Bench-Id: (\S+)", m).group(1) for m in dumped}

        assert len(dumped) == result["messages_ok"] == 40
        assert len(ids) == 40
        message = dumped[0][dumped[0].index(b"From: <bench") :].rstrip(b"\n") + b"\n"
        assert len(message.replace(b"\n", b"\r\n")) == pytest.approx(3 * 1024, rel=0.02)


class TestSlowAndFailingServers:
    def test_slow_reply_shows_in_the_data_phase(self, scripted, bench_json):
        """A 50 ms pause before the 250 after DATA puts data latency at 50 ms or more,
        while the envelope stays fast."""
        server = scripted(data_delay_s=0.05)
        result = bench_json("smtp", "--smtp", server.address, "--messages", 100, "-c", 10)
        data, envelope = result["phases"]["data"], result["phases"]["envelope"]

        assert result["latency_phase"] == "data"
        assert result["latency_ms"] == data
        assert 50 <= data["p50"] < 1000
        assert data["count"] == 100
        assert envelope["p50"] < 40
        assert result["msgs_per_s"] < 10 / 0.05 * 1.1  # 10 sessions x 20 messages/s at most

    def test_refusals_are_counted_by_reply_code(self, scripted, bench_json):
        """451 for every fourth message: 25 of 100 fail, counted under '451'."""
        server = scripted(fail_every=4)
        result = bench_json("smtp", "--smtp", server.address, "--messages", 100, "-c", 5)

        assert result["messages_failed"] == 25
        assert result["messages_ok"] == 75 == server.accepted
        assert result["errors"] == {"451": 25}

    def test_a_server_that_starts_failing_is_recorded_not_a_crash(self, scripted, bench):
        """After 30 messages the server greets with 421: the run ends normally, every
        message is either accepted by the server or counted as failed under '421'."""
        server = scripted(refuse_after=30)
        r = bench(
            "smtp",
            "--smtp",
            server.address,
            "--messages",
            100,
            "-c",
            5,
            "--format",
            "json",
            "--no-save",
            "-q",
        )
        result = json.loads(r.stdout)
        assert r.returncode == 0
        assert result["messages_ok"] == server.accepted >= 30
        assert result["messages_failed"] == 100 - result["messages_ok"] > 0
        assert result["errors"] == {"421": result["messages_failed"]}

    def test_a_session_past_its_timeout_is_cut(self, scripted, bench_json):
        """A server that takes 3 s per message, with --timeout 0.5: each session is cut
        and counted as a timeout, and the run does not wait for the server."""
        server = scripted(data_delay_s=3.0)
        result = bench_json(
            "smtp", "--smtp", server.address, "--messages", 4, "-c", 4, "--timeout", 0.5
        )

        assert result["messages_failed"] == 4
        assert result["errors"] == {"timeout": 4}
        assert result["duration_s"] < 2.5  # cut, not waited for (the server needs 3 s)


# aiosmtpd 1.4.6 sets its own deprecated Session.login_data on every AUTH
@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated:DeprecationWarning")
class TestStarttlsAndAuth:
    def test_authenticated_over_starttls(self, tls_smtp, bench_json):
        """--starttls then AUTH PLAIN: every message goes through a TLS session."""
        result = bench_json(
            "smtp",
            "--smtp",
            tls_smtp.address,
            "--starttls",
            "--user",
            tls_smtp.user,
            "--password",
            tls_smtp.password,
            "--messages",
            30,
            "-c",
            3,
        )

        assert result["messages_ok"] == 30 == tls_smtp.accepted == tls_smtp.tls_sessions
        assert {"starttls", "auth"} <= result["phases"].keys()
        assert result["workload"]["starttls"] is True
        assert result["workload"]["auth"] is True

    @pytest.mark.parametrize(
        ("flags", "message"),
        [
            (
                ["--starttls", "--user", "u1@bench.test", "--password", "wrong"],
                "AUTH refused for u1@bench.test (535)",
            ),
            (
                ["--user", "u1@bench.test", "--password", "secret"],
                "AUTH refused for u1@bench.test (538)",
            ),
        ],
        ids=["wrong-password", "auth-without-tls"],
    )
    def test_refused_auth_is_one_line(self, tls_smtp, bench, flags, message):
        """A refused AUTH (bad password, or no TLS) stops before any load: one line, exit 2."""
        r = bench("smtp", "--smtp", tls_smtp.address, *flags, "--no-save")

        assert r.returncode == 2
        assert r.stderr.splitlines() == [f"mailplan: --smtp {tls_smtp.address}: {message}"]
        assert tls_smtp.accepted == 0
