"""The session code over a blocking socket, driven without an event loop (as under Locust)."""

from __future__ import annotations

import socket
import time

import pytest

from planner.bench.metrics import Recorder
from planner.bench.smtp import SmtpConfig, SmtpSession
from planner.bench.transport import SocketConnection, run_sync
from planner.bench.workload import MessageFactory, Workload
from tests.bench.test_smtp import settle

pytestmark = pytest.mark.timeout(30)


def session_over_socket(port: int, count: int) -> tuple[SmtpSession, Recorder]:
    """One SMTP session of ``count`` messages over a plain socket, run with run_sync."""
    rec = Recorder("data")
    conn = SocketConnection(socket.create_connection(("127.0.0.1", port), timeout=10))
    session = SmtpSession(conn, rec, SmtpConfig(factory=MessageFactory(Workload(size_kb=2), "t")))
    try:
        run_sync(session.run(count, time.perf_counter()))
    finally:
        conn.close()
    return session, rec


class TestBlockingSocket:
    def test_a_session_reaches_smtp_sink(self, sink):
        """Three messages in one session: all counted, all received by smtp-sink."""
        session, rec = session_over_socket(sink.port, 3)

        assert (session.done, rec.messages_ok, rec.messages_failed) == (3, 3, 0)
        assert "PIPELINING" in session.extensions
        assert settle(sink.received, 3) == 3

    def test_multiline_reply_with_the_code_inside_its_text(self, scripted):
        """An EHLO line whose text holds '250 ' does not end the reply early."""
        server = scripted(pipelining=True, ehlo_extra=b"250-X-NOTE see 250 above\r\n")
        session, rec = session_over_socket(server.port, 2)

        assert session.extensions == {"PIPELINING"}
        assert rec.messages_ok == 2 == server.accepted
