"""Outbound connection reuse: several messages to one MX over one SMTP session, RSET
between them, a new session after a drop, none after a 4yz, idle sessions closed; and the
resolver's own cache of DNS records."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from planner.mailserver.config import Listen, RelaySettings
from planner.mailserver.relay import ConnectionCache, MxResolver, send_message
from planner.net import free_port
from tests.mailserver.conftest import FakeDNS, ServerProcess, make_users, start_server, wait_for

pytestmark = pytest.mark.timeout(60)

_ips = (f"127.0.2.{n}" for n in itertools.count(1))


@dataclass
class MxSession:
    """What one connection to a :class:`ScriptedMX` saw."""

    commands: list[str] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)
    ended: str = ""
    """``quit`` (the client said QUIT), ``eof`` (it closed) or ``dropped`` (the MX did)."""


class ScriptedMX:
    """A remote MX on ``host:port`` that records each session; ``data_reply(raw)`` gives
    the reply to a message's final dot (``None``: 250), ``drop_after(session, raw)`` says
    whether to close the connection right after that reply, and ``drop_on_mail(session)``
    whether to close it instead of answering a MAIL command."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.sessions: list[MxSession] = []
        self.refused: list[MxSession] = []
        """Sessions in which a message got a reply other than 250."""
        self.data_reply: Callable[[bytes], str | None] = lambda raw: None
        self.drop_after: Callable[[MxSession, bytes], bool] = lambda s, raw: False
        self.drop_on_mail: Callable[[MxSession], bool] = lambda s: False
        self.rcpt_reply: Callable[[str], str | None] = lambda cmd: None
        """The reply to a RCPT command (``None``: 250)."""
        self.pipelining = False
        """Advertise PIPELINING and hold the replies to RSET, MAIL and RCPT until DATA
        (RFC 2920 lets a server answer a group at once): a client that waits for each
        reply before the next command would wait for ever."""
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(16)
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def accepted(self) -> list[bytes]:
        """Every message answered 250, in order."""
        with self._lock:
            return [m for s in self.sessions for m in s.messages]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            session = MxSession()
            with self._lock:
                self.sessions.append(session)
            threading.Thread(target=self._session, args=(conn, session), daemon=True).start()

    def _session(self, conn: socket.socket, s: MxSession) -> None:
        conn.settimeout(20)
        f = conn.makefile("rwb")

        def say(line: str, *, hold: bool = False) -> None:
            f.write(line.encode() + b"\r\n")
            if not hold:
                f.flush()

        try:
            say("220 mx.remote.test ESMTP scripted")
            while True:
                line = f.readline()
                if not line:
                    s.ended = s.ended or "eof"
                    return
                cmd = line.decode().strip()
                s.commands.append(cmd)
                verb = cmd.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    say("250-mx.remote.test")
                    if self.pipelining:
                        say("250-PIPELINING")
                    say("250 SIZE 10000000")
                elif verb == "MAIL" and self.drop_on_mail(s):
                    s.ended = "dropped"
                    return
                elif verb == "DATA":
                    say("354 go")
                    raw = b""
                    while (chunk := f.readline()) not in (b".\r\n", b""):
                        raw += chunk
                    reply = self.data_reply(raw)
                    if reply is None:
                        with self._lock:
                            s.messages.append(raw)
                        say("250 2.0.0 ok: queued")
                    else:
                        self.refused.append(s)
                        say(reply)
                    if self.drop_after(s, raw):
                        s.ended = "dropped"
                        return
                elif verb == "QUIT":
                    s.ended = "quit"
                    say("221 bye")
                    return
                elif verb == "RCPT":
                    say(self.rcpt_reply(cmd) or "250 2.1.5 ok", hold=self.pipelining)
                else:
                    say("250 2.0.0 ok", hold=self.pipelining and verb in ("RSET", "MAIL"))
        except (OSError, ValueError):
            s.ended = s.ended or "eof"
        finally:
            with contextlib.suppress(OSError):
                conn.close()


@pytest.fixture(scope="module")
def mx_port() -> int:
    return free_port()


@pytest.fixture
def remote(dns_server: FakeDNS, mx_port: int) -> Iterator[Callable[[], tuple[str, ScriptedMX]]]:
    """``remote()`` → (a new domain, its ScriptedMX on its own loopback address)."""
    made: list[ScriptedMX] = []

    def make() -> tuple[str, ScriptedMX]:
        domain = f"r{uuid.uuid4().hex[:8]}.test"
        ip = next(_ips)
        mx = ScriptedMX(ip, mx_port)
        made.append(mx)
        dns_server.mx(domain, (10, f"mx.{domain}"))
        dns_server.a(f"mx.{domain}", ip)
        return domain, mx

    yield make
    for mx in made:
        mx.close()


def _start(data: Path, dns: FakeDNS, mx_port: int, idle: str) -> ServerProcess:
    if not data.exists():
        data.mkdir(parents=True)
        make_users(data)
    return start_server(
        data,
        "--dns", dns.address, "--relay-port", str(mx_port), "--insecure-auth",
        "--retry-initial", "0.3", "--retry-max", "0.6", "--queue-scan", "0.2",
        "--relay-timeout", "5", "--relay-connection-idle", idle,
    )  # fmt: skip


@pytest.fixture(scope="module")
def server(shared_data: Path, dns_server: FakeDNS, mx_port: int) -> Iterator[ServerProcess]:
    """A relaying server keeping idle outbound connections for 30 s."""
    srv = _start(shared_data, dns_server, mx_port, "30")
    yield srv
    srv.stop()


def send(server: ServerProcess, rcpt: str, tok: bytes = b"") -> bytes:
    """Relay one message as bob; returns its unique token."""
    tok = tok or uuid.uuid4().hex.encode()
    msg = b"Subject: " + tok + b"\r\nFrom: bob@example.test\r\n\r\nHi.\r\n"
    with server.smtp() as c:
        c.login("bob@example.test", "bob-secret")
        assert c.sendmail("bob@example.test", [rcpt], msg) == {}
    return tok


def tokens(mx: ScriptedMX) -> list[bytes]:
    """The Subject token of each accepted message."""
    return [raw.split(b"\r\nSubject: ", 1)[1][:32] for raw in mx.accepted]


def send_one_by_one(server: ServerProcess, mx: ScriptedMX, to: str, count: int) -> list[bytes]:
    """Send ``count`` messages to ``to``, each once the one before it has been relayed;
    their Subject tokens."""
    sent: list[bytes] = []
    for _ in range(count):
        sent.append(send(server, to))
        wait_for(lambda: len(mx.accepted) == len(sent), what="relayed")
    return sent


def queue_empty(server: ServerProcess) -> bool:
    return not any((server.data_dir / "queue" / "entries").iterdir())


class TestReuse:
    def test_messages_to_one_mx_share_a_connection(self, server, remote):
        """Five messages one after another go over one session, with RSET between them."""
        domain, mx = remote()
        sent = send_one_by_one(server, mx, f"u@{domain}", 5)
        assert tokens(mx) == sent
        assert len(mx.sessions) == 1
        verbs = [c.split(" ", 1)[0] for c in mx.sessions[0].commands]
        assert verbs.count("EHLO") == 1
        assert verbs.count("RSET") == 4
        wait_for(lambda: queue_empty(server), what="queue empty")

    def test_connection_dropped_between_messages(self, server, remote):
        """The MX closes the session after a 250: the next message goes over a new one,
        each message arrives once."""
        domain, mx = remote()
        mx.drop_after = lambda s, raw: True
        sent = [send(server, f"u@{domain}")]
        wait_for(lambda: mx.sessions and mx.sessions[0].ended == "dropped", what="drop")
        sent.append(send(server, f"u@{domain}"))
        wait_for(lambda: len(mx.accepted) == 2, what="second relayed")
        wait_for(lambda: queue_empty(server), what="queue empty")
        assert tokens(mx) == sent
        assert len(mx.sessions) == 2

    def test_connection_dropped_after_rset(self, server, remote):
        """The MX answers RSET but closes at MAIL (nothing of the message sent yet): the
        message goes over a new session at once, not after a retry delay."""
        domain, mx = remote()
        mx.drop_on_mail = lambda s: any(c == "RSET" for c in s.commands)
        sent = [send(server, f"u@{domain}")]
        wait_for(lambda: len(mx.accepted) == 1, what="first relayed")
        sent.append(send(server, f"u@{domain}"))
        wait_for(lambda: len(mx.accepted) == 2, what="second relayed")
        assert tokens(mx) == sent
        assert [s.ended for s in mx.sessions[:1]] == ["dropped"]
        assert len(mx.sessions) == 2
        assert "deferred" not in server.log()
        wait_for(lambda: queue_empty(server), what="queue empty")

    def test_pipelining_one_group_per_message(self, server, remote):
        """An MX that advertises PIPELINING and answers RSET, MAIL and RCPT only once it
        has DATA (RFC 2920): every message arrives, over one session, none deferred."""
        domain, mx = remote()
        mx.pipelining = True
        sent = send_one_by_one(server, mx, f"u@{domain}", 3)
        assert tokens(mx) == sent
        assert len(mx.sessions) == 1
        verbs = [c.split(" ", 1)[0] for c in mx.sessions[0].commands]
        assert verbs == ["EHLO", "MAIL", "RCPT", "DATA"] + ["RSET", "MAIL", "RCPT", "DATA"] * 2
        wait_for(lambda: queue_empty(server), what="queue empty")
        assert "deferred" not in server.log()

    def test_pipelining_refused_recipient_with_data_accepted(self, server, remote):
        """A pipelining MX refuses the only RCPT (550) yet answers the DATA of the group
        with 354: the client ends that DATA with an empty message (none of the message goes
        out; this fake MX, which keeps no recipient list, takes the empty one), and the
        recipient bounces (the 550) instead of being retried."""
        domain, mx = remote()
        mx.pipelining = True
        mx.rcpt_reply = lambda cmd: "550 5.1.1 no such user"
        send(server, f"nobody@{domain}")
        wait_for(lambda: "bounced to=<nobody@" in server.log(), what="bounced")
        wait_for(lambda: mx.sessions[0].ended, what="session ended")
        assert mx.accepted in ([], [b""])
        verbs = [c.split(" ", 1)[0] for c in mx.sessions[0].commands]
        assert verbs[:4] == ["EHLO", "MAIL", "RCPT", "DATA"]
        assert "deferred" not in server.log()

    def test_4xx_is_retried_and_the_session_not_reused(self, server, remote):
        """A 451 to one message's final dot: that session gets QUIT, never another
        message; the message is retried and arrives once, the next one too."""
        domain, mx = remote()
        bad = uuid.uuid4().hex.encode()
        mx.data_reply = lambda raw: (
            "451 4.3.0 try again later" if b"Subject: " + bad in raw and not mx.refused else None
        )
        first = send(server, f"u@{domain}")
        wait_for(lambda: len(mx.accepted) == 1, what="first relayed")
        send(server, f"u@{domain}", bad)
        wait_for(lambda: mx.refused, what="451")
        last = send(server, f"u@{domain}")
        wait_for(lambda: len(mx.accepted) == 3, what="all relayed")
        wait_for(lambda: queue_empty(server), what="queue empty")
        assert sorted(tokens(mx)) == sorted([first, bad, last])
        failing = mx.refused[0]
        wait_for(lambda: failing.ended, what="the refusing session ended")
        assert failing.ended == "quit"
        assert [c.split(" ", 1)[0] for c in failing.commands][-2:] == ["DATA", "QUIT"]
        assert "deferred" in server.log()

    def test_idle_connection_closed(self, tmp_path, dns_server, mx_port, remote):
        """A session idle for --relay-connection-idle gets QUIT and is closed."""
        srv = _start(tmp_path / "d", dns_server, mx_port, "0.5")
        try:
            domain, mx = remote()
            send(srv, f"u@{domain}")
            wait_for(lambda: len(mx.accepted) == 1, what="relayed")
            wait_for(lambda: mx.sessions[0].ended == "quit", what="idle session closed")
            assert mx.sessions[0].commands[-1] == "QUIT"
        finally:
            srv.stop()

    def test_no_reuse_with_idle_zero(self, tmp_path, dns_server, mx_port, remote):
        """--relay-connection-idle 0: each message over its own session, ended by QUIT."""
        srv = _start(tmp_path / "d", dns_server, mx_port, "0")
        try:
            domain, mx = remote()
            for n in (1, 2):
                send(srv, f"u@{domain}")
                wait_for(lambda n=n: len(mx.accepted) == n, what="relayed")
            wait_for(lambda: [s.ended for s in mx.sessions] == ["quit", "quit"], what="quits")
        finally:
            srv.stop()


class TestCache:
    """The cache in-process, against a ScriptedMX on loopback."""

    def test_max_messages_per_connection(self, remote):
        """With at most 2 messages a connection, 5 messages take 3 sessions, each QUIT."""
        _, mx = remote()
        settings = RelaySettings(command_timeout_s=5, connect_timeout_s=5)

        async def run() -> None:
            cache = ConnectionCache(30, 2, per_destination=4)
            for n in range(5):
                sent = await send_message(
                    mx.host, mx.port, helo="me.test", sender="a@me.test",
                    recipients=["u@x.test"], content=f"Subject: {n}\r\n\r\nx\r\n".encode(),
                    settings=settings, host="mx.x.test", cache=cache,
                )  # fmt: skip
                assert sent.per_recipient["u@x.test"][0] == 250
            assert (cache.opened, cache.reused, cache.idle_count()) == (3, 2, 1)
            await cache.close_all()

        asyncio.run(run())
        wait_for(lambda: [s.ended for s in mx.sessions] == ["quit"] * 3, what="quits")
        assert [len(s.messages) for s in mx.sessions] == [2, 2, 1]


class TestAnswerCache:
    def test_records_kept_for_their_ttl(self, dns_server):
        """An A record is answered from the resolver's own cache until its TTL (1 s from
        the test DNS server) runs out; then the new record is asked for and kept."""
        name = f"h{uuid.uuid4().hex[:8]}.test"
        dns_server.a(name, "127.0.3.1")
        settings = RelaySettings(dns=Listen(host="127.0.0.1", port=dns_server.port))
        resolver = MxResolver(settings)

        async def lookup() -> list[str]:
            return await resolver.addresses(name)

        assert asyncio.run(lookup()) == ["127.0.3.1"]
        expires, _ = resolver._answers[(name, "A")]
        assert expires <= time.monotonic() + 1
        dns_server.a(name, "127.0.3.2")
        wait_for(lambda: asyncio.run(lookup()) == ["127.0.3.2"], what="the new record")
