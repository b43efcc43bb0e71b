"""Locust users that run the harness's SMTP and POP3 sessions, for load beyond one machine.

Run it with Locust in its own processes (Locust patches the standard library with gevent
at import, so it must not share a process with the harness or the dashboard)::

    locust -f planner/bench/locustfile.py SmtpUser --headless -u 50 -r 50 -t 60s \\
        --host 127.0.0.1:2525 --size-kb 10 --csv run1
    mailplan bench import-locust run1 --protocol smtp --target 127.0.0.1:2525 --users 50

Each task is one session (connect, the protocol session, close) driven by the same
session code as ``mailplan bench`` (:mod:`planner.bench.smtp`, :mod:`planner.bench.pop3`)
over a gevent-patched blocking socket (:class:`~planner.bench.transport.SocketConnection`,
run by :func:`~planner.bench.transport.run_sync`). Every phase fires a Locust request
event (request type ``SMTP`` or ``POP3``, name = phase, e.g. ``data``); every message
fires one ``message`` event, a failure carrying the reply code or error name.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from locust import User, constant, events, task

from planner.bench.pop3 import Pop3Config, Pop3Session
from planner.bench.smtp import SmtpConfig, SmtpSession
from planner.bench.targets import hostport_option, read_users_file
from planner.bench.transport import SocketConnection, error_key, run_sync
from planner.bench.workload import MessageFactory, Workload

__all__ = ["Pop3User", "SmtpUser"]


class Refused(Exception):
    """A failed message, named by its reply code or client error (``451``, ``timeout``)."""


@events.init_command_line_parser.add_listener  # type: ignore[untyped-decorator]
def _options(parser: Any) -> None:
    parser.add_argument("--size-kb", type=float, default=10.0, help="SMTP message size in KB")
    parser.add_argument("--per-session", type=int, default=1, help="Messages per session")
    parser.add_argument("--mail-from", default="bench@bench.test", help="SMTP envelope sender")
    parser.add_argument("--rcpt-to", default="user@bench.test", help="SMTP recipient")
    parser.add_argument("--login", default="", help="POP3 user (or --users-file)")
    parser.add_argument("--login-password", default="", help="POP3 password")
    parser.add_argument("--users-file", default="", help="POP3 logins, address:password lines")
    parser.add_argument("--session-timeout", type=float, default=30.0, help="Socket timeout, s")


class _EventRecorder:
    """The harness's Recorder interface, turned into Locust request events."""

    def __init__(self, user: User, request_type: str) -> None:
        self.fire = user.environment.events.request.fire
        self.request_type = request_type
        self.last_message_s = 0.0

    def _event(
        self, name: str, seconds: float, length: int = 0, exc: Exception | None = None
    ) -> None:
        self.fire(
            request_type=self.request_type,
            name=name,
            response_time=seconds * 1000,
            response_length=length,
            exception=exc,
            context={},
        )

    def phase(self, name: str, seconds: float) -> None:
        if name == "message":
            self.last_message_s = seconds
        else:
            self._event(name, seconds)

    def ok(self, nbytes: int, now: float) -> None:
        self._event("message", self.last_message_s, nbytes)

    def failed(self, n: int, key: str | None, now: float) -> None:
        for _ in range(n):
            self._event("message", 0.0, 0, Refused(key or "refused"))

    def error(self, key: str) -> None:
        pass  # counted with the message it belongs to


class _MailUser(User):
    abstract = True
    wait_time = constant(0)
    request_type = "SMTP"

    def on_start(self) -> None:
        opts = self.environment.parsed_options
        self.host_port = hostport_option(self.host or "127.0.0.1:25", "--host")
        self.per_session = max(1, int(getattr(opts, "per_session", 1)))
        self.timeout_s = float(getattr(opts, "session_timeout", 30.0))
        self.recorder = _EventRecorder(self, self.request_type)

    def _session(self, make: Any) -> None:
        rec = self.recorder
        start = time.perf_counter()
        session = None
        try:
            sock = socket.create_connection(self.host_port, timeout=self.timeout_s)
        except OSError as exc:
            rec.failed(self.per_session, error_key(exc), 0)
            return
        rec.phase("connect", time.perf_counter() - start)
        conn = SocketConnection(sock)
        try:
            session = make(conn, rec)
            run_sync(session.run(self.per_session, start))
        except Exception as exc:
            rec.failed(self.per_session - (session.done if session else 0), error_key(exc), 0)
        finally:
            conn.close()


class SmtpUser(_MailUser):
    """Sends mail: one SMTP session of ``--per-session`` messages per task."""

    request_type = "SMTP"

    def on_start(self) -> None:
        super().on_start()
        opts = self.environment.parsed_options
        workload = Workload(
            size_kb=float(getattr(opts, "size_kb", 10.0)),
            sender=getattr(opts, "mail_from", "bench@bench.test"),
            local_recipients=(getattr(opts, "rcpt_to", "user@bench.test"),),
        )
        run_id = f"locust{os.getpid()}"
        self.config = SmtpConfig(factory=MessageFactory(workload, run_id, id(self) % 100000))

    @task
    def send(self) -> None:
        """One SMTP session."""
        self._session(lambda conn, rec: SmtpSession(conn, rec, self.config))


class Pop3User(_MailUser):
    """Reads mail: one POP3 session (login, STAT, LIST, RETR x ``--per-session``) per task."""

    request_type = "POP3"

    def on_start(self) -> None:
        super().on_start()
        opts = self.environment.parsed_options
        if getattr(opts, "users_file", ""):
            users = read_users_file(opts.users_file)
        else:
            users = [(opts.login, opts.login_password)]
        self.config = Pop3Config(users=users)

    @task
    def read(self) -> None:
        """One POP3 session."""
        self._session(lambda conn, rec: Pop3Session(conn, rec, self.config))
