"""The per-address auth failure penalty: its arithmetic, and SMTP and POP3 sharing it."""

from __future__ import annotations

import base64
import poplib
import smtplib
import threading
import time

import pytest

from planner.mailserver.auth_penalty import AuthPenalty

pytestmark = pytest.mark.timeout(90)

WRONG = base64.b64encode(b"\0bob@example.test\0wrong").decode()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


class TestArithmetic:
    def test_one_session_waits_double_each_time_up_to_the_cap(self, clock):
        """Failures answered one after the other wait 1, 2, 4, 8, 15, 15 s; no wait before."""
        penalty = AuthPenalty(1.0, 15.0, clock=clock)
        waits = []
        for _ in range(6):
            assert penalty.before_attempt("192.0.2.1") == 0.0
            wait = penalty.failed("192.0.2.1")
            waits.append(wait)
            clock.now += wait
        assert waits == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0]

    def test_parallel_failures_are_answered_one_after_the_other(self, clock):
        """Ten failures at the same instant are due 1, 3, 7, 15, 30, ... s later, not all at 1 s."""
        penalty = AuthPenalty(1.0, 15.0, clock=clock)
        waits = [penalty.failed("192.0.2.1") for _ in range(10)]
        assert waits == [1.0, 3.0, 7.0, 15.0, 30.0, 45.0, 60.0, 75.0, 90.0, 105.0]

    def test_new_attempt_waits_for_the_answers_still_due(self, clock):
        """A fresh session from the address waits until the last pending failure is answered."""
        penalty = AuthPenalty(1.0, 15.0, clock=clock)
        penalty.failed("192.0.2.1")
        penalty.failed("192.0.2.1")
        clock.now += 0.5
        assert penalty.before_attempt("192.0.2.1") == 2.5
        assert penalty.before_attempt("198.51.100.7") == 0.0

    def test_forgotten_after_the_window(self, clock):
        """An address with no failure for the window starts again from the base delay."""
        penalty = AuthPenalty(1.0, 15.0, window_s=300.0, clock=clock)
        for _ in range(4):
            clock.now += penalty.failed("192.0.2.1")
        clock.now += 301.0
        assert penalty.failed("192.0.2.1") == 1.0

    def test_table_is_bounded(self, clock):
        """Past max_addresses the oldest records are dropped rather than the table growing."""
        penalty = AuthPenalty(1.0, 15.0, max_addresses=10, clock=clock)
        for i in range(25):
            penalty.failed(f"192.0.2.{i}")
            clock.now += 0.01
        assert len(penalty._records) <= 10
        assert penalty.before_attempt("192.0.2.24") > 0


def _auth_plain(port: int, wrong_times: int, timeout: float = 60) -> list[int]:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=timeout) as c:
        c.ehlo()
        return [c.docmd("AUTH", f"PLAIN {WRONG}")[0] for _ in range(wrong_times)]


class TestAcrossSessions:
    def test_parallel_smtp_guessing_is_spaced(self, server_factory):
        """10 sessions x 3 wrong passwords from one address: the 30 answers come one delay
        apart (>= 0.1 + 29 x 0.2 s), not 10 at a time as a per-session delay allowed."""
        srv = server_factory(
            "--insecure-auth", "--auth-failure-delay", "0.1", "--auth-failure-max-delay", "0.2"
        )
        codes: list[list[int]] = []
        lock = threading.Lock()

        def guess() -> None:
            got = _auth_plain(srv.smtp_port, 3)
            with lock:
                codes.append(got)

        threads = [threading.Thread(target=guess) for _ in range(10)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        elapsed = time.monotonic() - start
        assert codes == [[535, 535, 421]] * 10
        assert elapsed >= 0.1 + 29 * 0.2 - 0.05

    def test_pop3_failures_slow_the_next_smtp_auth(self, server_factory):
        """Two failed POP3 logins from an address make its next SMTP AUTH failure wait the
        third delay (1 s here), not the first (0.25 s): one penalty for both protocols."""
        srv = server_factory(
            "--pop3", "127.0.0.1:0", "--insecure-auth",
            "--auth-failure-delay", "0.25", "--auth-failure-max-delay", "1",
        )  # fmt: skip
        pop = poplib.POP3("127.0.0.1", srv.ports["pop3"], timeout=30)
        try:
            for _ in range(2):
                pop.user("bob@example.test")
                with pytest.raises(poplib.error_proto, match="AUTH"):
                    pop.pass_("wrong")
        finally:
            pop.close()
        start = time.monotonic()
        assert _auth_plain(srv.smtp_port, 1) == [535]
        assert time.monotonic() - start >= 1.0 - 0.05
