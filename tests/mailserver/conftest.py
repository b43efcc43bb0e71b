"""Fixtures for the reference mail server: the server in a subprocess, DNS, remote MX hosts.

- :class:`ServerProcess`: ``mailplan serve`` started as a real subprocess on ephemeral
  loopback ports (its own process group, so a test can SIGKILL every process of it).
- :class:`FakeDNS`: a dnslib server on 127.0.0.1 answering from a dict (MX, A, AAAA, null
  MX, NXDOMAIN, SERVFAIL).
- :class:`FakeMX`: a small SMTP listener acting as the remote MX (accept, 4xx, 5xx, drop
  mid-DATA), with STARTTLS, recording what it received.
- POP3 fixtures (prefixed ``pop3_``): a POP3-only ``mailplan serve`` per module and fresh
  mailboxes on it (helpers in ``pop3_support``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dnslib import AAAA, MX, QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from planner.mailserver.tls import ensure_self_signed
from planner.mailserver.users import UserDB
from planner.net import free_port
from tests.mailserver.pop3_support import Pop3Mailbox, Pop3Process, Wire, add_user

MAILPLAN = [sys.executable, "-m", "planner"]
DOMAIN = "example.test"
PASSWORDS = {"bob@example.test": "bob-secret", "alice@example.test": "alice-secret"}
START_TIMEOUT_S = 60


def client_tls() -> ssl.SSLContext:
    """A client context that accepts the server's self-signed certificate."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def make_users(data_dir: Path, passwords: dict[str, str] = PASSWORDS) -> None:
    """Write the users file with scrypt hashes."""
    db = UserDB(data_dir / "users")
    for address, password in passwords.items():
        db.add(address, password)


# region #### the server process ####


@dataclass
class ServerProcess:
    """A running ``mailplan serve``; ``ports`` maps listener name to port."""

    data_dir: Path
    proc: subprocess.Popen[str]
    log_file: Path
    ports: dict[str, int] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    @property
    def smtp_port(self) -> int:
        return self.ports["smtp"]

    @property
    def submission_port(self) -> int:
        return self.ports["submission"]

    def log(self) -> str:
        """Everything logged so far."""
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def smtp(self, port: int | None = None, timeout: float = 10) -> smtplib.SMTP:
        """An smtplib client connected to the inbound listener (or ``port``)."""
        port = port or self.smtp_port
        return smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=timeout)

    def maildir_files(self, address: str, sub: str = "new") -> list[Path]:
        """Files in a user's Maildir folder."""
        local, _, domain = address.lower().partition("@")
        folder = self.data_dir / "mailboxes" / domain / local / sub
        return sorted(folder.iterdir()) if folder.is_dir() else []

    def stats(self) -> dict[str, Any]:
        """The current stats.json."""
        import json

        return dict(json.loads((self.data_dir / "stats.json").read_text()))

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc.stdout is not None and not self.proc.stdout.closed:
            self.lines += self.proc.stdout.read().splitlines()
            self.proc.stdout.close()
        return int(self.proc.returncode)

    def kill(self) -> None:
        """SIGKILL every process of the server (its process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def start_server(
    data_dir: Path, *args: str, domains: tuple[str, ...] = (DOMAIN,), workers: int = 1, **popen: Any
) -> ServerProcess:
    """Start ``mailplan serve`` on ephemeral ports and wait for its ``ready`` line."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log_file = data_dir.parent / f"{data_dir.name}.log"
    cmd = [*MAILPLAN, "serve", "--data-dir", str(data_dir), "--log-file", str(log_file)]
    for d in domains:
        cmd += ["--domain", d]
    cmd += ["--workers", str(workers), "--hostname", "mx.example.test"]
    if "--smtp" not in args:
        cmd += ["--smtp", "127.0.0.1:0"]
    if "--submission" not in args:
        cmd += ["--submission", "127.0.0.1:0"]
    cmd += list(args)
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        **popen,
    )
    server = ServerProcess(data_dir, proc, log_file)
    deadline = time.monotonic() + START_TIMEOUT_S
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"server exited ({proc.wait()}): {server.lines}")
        server.lines.append(line.rstrip("\n"))
        if line.startswith("listening "):
            _, name, addr = line.split()
            server.ports[name] = int(addr.rsplit(":", 1)[1])
        if line.startswith("ready "):
            return server
    server.kill()
    raise RuntimeError("server did not start")


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers (with bob and alice as users); all are stopped after the test."""
    started: list[ServerProcess] = []

    def factory(*args: str, name: str = "data", users: bool = True, **kw: Any) -> ServerProcess:
        data_dir = tmp_path / name
        data_dir.mkdir(exist_ok=True)
        if users and not (data_dir / "users").exists():
            make_users(data_dir)
        server = start_server(data_dir, *args, **kw)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def shared_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with bob and alice, shared by one test module's server."""
    data_dir = tmp_path_factory.mktemp("shared") / "data"
    data_dir.mkdir()
    make_users(data_dir)
    return data_dir


# endregion

# region #### DNS ####


class _ZoneResolver(BaseResolver):  # type: ignore[misc]
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[Any]] = {}
        self.servfail: set[str] = set()
        self.names: set[str] = set()

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        qname = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        if qname in self.servfail:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if qname not in self.names:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for rdata in self.records.get((qname, qtype), []):
            reply.add_answer(RR(qname + ".", getattr(QTYPE, qtype), rdata=rdata, ttl=1))
        return reply


class FakeDNS:
    """A real DNS server (dnslib, UDP) on 127.0.0.1 answering from a dict."""

    def __init__(self) -> None:
        self.resolver = _ZoneResolver()
        self.port = 0
        self.server: DNSServer | None = None

    def start(self) -> None:
        for _ in range(20):
            port = free_port()
            try:
                self.server = DNSServer(
                    self.resolver,
                    port=port,
                    address="127.0.0.1",
                    logger=DNSLogger(log="-request,-reply,-truncated,-error", prefix=False),
                )
            except OSError:
                continue
            self.port = port
            self.server.start_thread()
            return
        raise RuntimeError("no free UDP port for the DNS server")

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server.server.server_close()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def mx(self, domain: str, *hosts: tuple[int, str]) -> None:
        """MX records (preference, host); ``(0, ".")`` is a null MX."""
        self.resolver.names.add(domain)
        self.resolver.records[(domain, "MX")] = [MX(h if h != "." else ".", p) for p, h in hosts]

    def a(self, name: str, *ips: str) -> None:
        self.resolver.names.add(name)
        self.resolver.records[(name, "A")] = [A(ip) for ip in ips]

    def aaaa(self, name: str, *ips: str) -> None:
        self.resolver.names.add(name)
        self.resolver.records[(name, "AAAA")] = [AAAA(ip) for ip in ips]

    def servfail(self, name: str) -> None:
        self.resolver.servfail.add(name)


@pytest.fixture(scope="module")
def dns_server() -> Iterator[FakeDNS]:
    """A DNS server on loopback for one test module."""
    dns = FakeDNS()
    dns.start()
    yield dns
    dns.stop()


# endregion

# region #### remote MX ####


@dataclass
class Received:
    """One message a FakeMX accepted."""

    mail_from: str
    rcpts: list[str]
    raw: bytes
    """DATA as sent on the wire (dot-stuffed, up to and without the final ``.`` line)."""
    tls: bool


class FakeMX:
    """A remote MX on ``host:port``: ``mode`` is accept, tempfail, permfail or drop."""

    def __init__(self, host: str, port: int, mode: str = "accept", tls_dir: Path | None = None):
        self.host, self.port, self.mode = host, port, mode
        self.received: list[Received] = []
        self.connections = 0
        self._tls: ssl.SSLContext | None = None
        if tls_dir is not None:
            cert, key = ensure_self_signed(tls_dir, "mx.remote.test")
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(cert, key)
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(16)
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):
            self._sock.close()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        f = conn.makefile("rwb")
        tls = False
        mail_from, rcpts = "", []

        def say(line: str) -> None:
            f.write(line.encode() + b"\r\n")
            f.flush()

        try:
            say("220 mx.remote.test ESMTP fake")
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.decode().strip()
                verb = cmd.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    keywords = ["mx.remote.test", "SIZE 10000000"]
                    if self._tls is not None and not tls:
                        keywords.append("STARTTLS")
                    for i, k in enumerate(keywords):
                        say(("250-" if i < len(keywords) - 1 else "250 ") + k)
                elif verb == "STARTTLS" and self._tls is not None:
                    say("220 go ahead")
                    f.close()
                    conn = self._tls.wrap_socket(conn, server_side=True)
                    f = conn.makefile("rwb")
                    tls = True
                elif verb == "MAIL":
                    mail_from, rcpts = cmd[10:].split(">")[0].lstrip("<"), []
                    say("250 2.1.0 ok")
                elif verb == "RCPT":
                    if self.mode == "permfail":
                        say("550 5.1.1 no such user here")
                    else:
                        rcpts.append(cmd[8:].split(">")[0].lstrip("<"))
                        say("250 2.1.5 ok")
                elif verb == "DATA":
                    say("354 go")
                    raw = b""
                    while True:
                        chunk = f.readline()
                        if not chunk:
                            return
                        if chunk == b".\r\n":
                            break
                        raw += chunk
                        if self.mode == "drop" and len(raw) > 10:
                            conn.close()
                            return
                    if self.mode == "tempfail":
                        say("451 4.3.0 try again later")
                    else:
                        self.received.append(Received(mail_from, rcpts, raw, tls))
                        say("250 2.0.0 ok: queued")
                elif verb == "QUIT":
                    say("221 bye")
                    return
                else:
                    say("250 ok")
        except (OSError, ValueError):
            return
        finally:
            with contextlib.suppress(OSError):
                conn.close()


def wait_for(predicate: Callable[[], Any], timeout: float = 15, what: str = "condition") -> Any:
    """Poll ``predicate`` until truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


# endregion


# region #### POP3 ####

_pop3_users = itertools.count(1)


@pytest.fixture(scope="module")
def pop3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pop3Process]:
    """A POP3-only server (plain-text logins allowed on loopback, short failure delay) for
    the module."""
    server = Pop3Process(
        tmp_path_factory.mktemp("pop3-data"),
        *("--insecure-auth", "--auth-failure-delay", "0.01", "--auth-failure-max-delay", "0.04"),
    ).start()
    yield server
    server.stop()
    assert "Traceback" not in server.log(), server.log()


@pytest.fixture
def pop3_mailbox(pop3_server: Pop3Process) -> Pop3Mailbox:
    """A new user with an empty Maildir on the module's server."""
    n = next(_pop3_users)
    address, password = f"user{n}@example.test", f"pw {n} secret"
    return Pop3Mailbox(address, password, add_user(pop3_server.data_dir, address, password))


@pytest.fixture
def pop3_connect(pop3_server: Pop3Process) -> Iterator[Callable[..., Wire]]:
    """Open raw connections (to the module's server, or to ``port``); closed after the test."""
    wires: list[Wire] = []

    def connect(port: int | None = None) -> Wire:
        wire = Wire.connect(port or pop3_server.port)
        wires.append(wire)
        return wire

    yield connect
    for wire in wires:
        wire.close()


@pytest.fixture
def pop3_start(tmp_path: Path) -> Iterator[Callable[..., Pop3Process]]:
    """Start servers with particular flags on ``tmp_path``; stopped after the test."""
    servers: list[Pop3Process] = []

    def start(*args: str, data_dir: Path | None = None) -> Pop3Process:
        server = Pop3Process(data_dir or tmp_path, *args, log_dir=tmp_path).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# endregion


# region #### IMAP ####


class ImapProcess(Pop3Process):
    """``mailplan serve`` with an IMAP listener (``--imap 127.0.0.1:0``) beside POP3, on
    the same data folder; ``ports`` maps every listener to its port, ``port`` is IMAP's
    (IMAPS's with ``--imaps`` among ``args``)."""

    ports: dict[str, int]

    def command(self) -> list[str]:
        """The ``mailplan serve`` command line (POP3's, plus the IMAP listener)."""
        cmd = super().command()
        if "--imaps" not in self.args:
            cmd += ["--imap", "127.0.0.1:0"]
        return cmd

    def start(self) -> ImapProcess:
        """Start it and wait for ``ready``; every ``listening`` line lands in ``ports``."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        self.ports = {}
        while (line := self.proc.stdout.readline()).startswith("listening "):
            _, name, address = line.split()
            self.ports[name] = int(address.rsplit(":", 1)[1])
        self.lines.append(line.rstrip("\n"))
        if not line.startswith("ready ") or not self.ports:
            self.kill()
            raise RuntimeError(f"server did not start: {line!r} {self.log()}")
        self.port = self.ports.get("imap") or self.ports["imaps"]
        return self


_imap_users = itertools.count(1)


@pytest.fixture(scope="module")
def imap_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImapProcess]:
    """An IMAP and POP3 server (plain-text logins allowed on loopback, short failure
    delay) for the module; its log must hold no traceback at the end."""
    server = ImapProcess(
        tmp_path_factory.mktemp("imap-data"),
        *("--insecure-auth", "--auth-failure-delay", "0.01", "--auth-failure-max-delay", "0.04"),
    ).start()
    yield server
    server.stop()
    assert "Traceback" not in server.log(), server.log()


@pytest.fixture
def imap_mailbox(imap_server: ImapProcess) -> Pop3Mailbox:
    """A new user with an empty Maildir on the module's IMAP server."""
    n = next(_imap_users)
    address, password = f"imapuser{n}@example.test", f"pw {n} secret"
    return Pop3Mailbox(address, password, add_user(imap_server.data_dir, address, password))


@pytest.fixture
def imap_start(tmp_path: Path) -> Iterator[Callable[..., ImapProcess]]:
    """Start IMAP servers with particular flags on ``tmp_path``; stopped after the test."""
    servers: list[ImapProcess] = []

    def start(*args: str, data_dir: Path | None = None) -> ImapProcess:
        server = ImapProcess(data_dir or tmp_path, *args, log_dir=tmp_path).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# endregion
