"""Test helpers for the POP3 server: Maildir files, users, a server process, a raw client.

- :func:`deliver` writes a message into a Maildir under the store's naming convention
  (``<sec>.M<usec>P<pid>Q<n>.<host>,S=<disk>,W=<crlf>``), or under a plain name as other
  MTAs write them.
- :func:`add_user` adds a user to ``DATA_DIR/users`` with a cheap scrypt cost (tests only).
- :class:`Pop3Process` runs ``mailplan serve`` as a POP3-only server (``--smtp off
  --submission off --pop3 127.0.0.1:0``) in a subprocess, so client and server never share
  an event loop.
- :class:`Wire` is a raw POP3 client on a socket that checks every reply line ends in CRLF.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from planner.mailserver.maildrop import maildir_path
from planner.mailserver.tls import ensure_self_signed
from planner.mailserver.users import hash_password

_counter = itertools.count(1)
TEST_HASH_LOG_N = 4  # scrypt n=16: fast for tests; the server verifies it like any hash


def crlf_bytes(body: bytes) -> bytes:
    """``body`` with every line end as CRLF (what a POP3 client receives, unstuffed)."""
    return body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def deliver(maildir: Path, body: bytes, *, sub: str = "new", plain_name: bool = False) -> str:
    """Write ``body`` into ``maildir/<sub>`` and return the file name."""
    for d in ("tmp", "new", "cur"):
        (maildir / d).mkdir(parents=True, exist_ok=True)
    n = next(_counter)
    now = time.time()
    sec, usec = int(now), int((now % 1) * 1_000_000)
    if plain_name:  # as Postfix's local(8) names them
        name = f"{sec}.V801I{n:x}M{usec}.mx.example.test"
    else:
        name = (
            f"{sec}.M{usec}P{os.getpid()}Q{n}.mx.example.test,"
            f"S={len(body)},W={len(crlf_bytes(body))}"
        )
    if sub == "cur":
        name += ":2,"
    tmp = maildir / "tmp" / name
    tmp.write_bytes(body)
    tmp.rename(maildir / sub / name)
    return name


@dataclass
class Pop3Mailbox:
    """A user of a test server and its Maildir."""

    address: str
    password: str
    root: Path

    def deliver(self, body: bytes, *, sub: str = "new", plain_name: bool = False) -> str:
        """Write a message into this Maildir (see :func:`deliver`)."""
        return deliver(self.root, body, sub=sub, plain_name=plain_name)


def add_user(data_dir: Path, address: str, password: str) -> Path:
    """Add a user (cheap hash) and create its Maildir; returns the Maildir path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    users = data_dir / "users"
    old = users.read_text() if users.exists() else ""
    tmp = data_dir / ".users.tmp"
    tmp.write_text(old + f"{address}:{hash_password(password, log_n=TEST_HASH_LOG_N)}\n")
    tmp.rename(users)
    root = maildir_path(data_dir, address)
    for d in ("tmp", "new", "cur"):
        (root / d).mkdir(parents=True, exist_ok=True)
    return root


def make_tls_files(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for ``localhost`` (PEM files in ``folder``)."""
    return ensure_self_signed(folder, "localhost")


def client_tls_context() -> ssl.SSLContext:
    """A client context that accepts the self-signed test certificate."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Pop3Process:
    """``mailplan serve`` serving POP3 only, on 127.0.0.1 and an ephemeral port.

    ``args`` are more ``mailplan serve`` options (``--insecure-auth``,
    ``--pop3-idle-timeout 0.5``...); with ``--pop3s HOST:PORT`` among them the server
    speaks TLS from the first byte and ``port`` is that listener's. One worker unless
    ``--workers`` says otherwise; the log goes to ``log_path``.
    """

    def __init__(self, data_dir: Path, *args: str, log_dir: Path | None = None) -> None:
        self.data_dir = data_dir
        self.args = args
        self.log_path = (log_dir or data_dir) / f"pop3-{next(_counter)}.log"
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.lines: list[str] = []

    def command(self) -> list[str]:
        """The ``mailplan serve`` command line."""
        cmd = [sys.executable, "-m", "planner", "serve", "--data-dir", str(self.data_dir)]
        cmd += ["--smtp", "off", "--submission", "off", "--log-file", str(self.log_path)]
        cmd += ["--hostname", "localhost"]
        if "--workers" not in self.args:
            cmd += ["--workers", "1"]
        if "--pop3s" not in self.args:
            cmd += ["--pop3", "127.0.0.1:0"]
        return [*cmd, *self.args]

    def start(self) -> Pop3Process:
        """Start it and wait for its ``ready`` line (after ``listening pop3 127.0.0.1:PORT``)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # its own process group: kill() ends every process of it
        )
        assert self.proc.stdout is not None
        ports: dict[str, int] = {}
        while (line := self.proc.stdout.readline()).startswith("listening "):
            _, name, address = line.split()
            ports[name] = int(address.rsplit(":", 1)[1])
        self.lines.append(line.rstrip("\n"))
        if not line.startswith("ready ") or not ports:
            self.kill()
            raise RuntimeError(f"server did not start: {line!r} {self.log()}")
        self.port = ports.get("pop3") or ports["pop3s"]
        return self

    def log(self) -> str:
        """What the server logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_logged(self, text: str, timeout: float = 5.0) -> str:
        """The log once it holds ``text`` (the server writes its log a few times a second)."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.log()):
            assert time.monotonic() < deadline, f"{text!r} not logged: {log}"
            time.sleep(0.05)
        return log

    def stop(self) -> None:
        """SIGTERM, then wait (SIGKILL to the process group if it does not stop)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    def kill(self) -> None:
        """SIGKILL to every process of the server: a crash, nothing cleaned up."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class ProtocolError(AssertionError):
    """The server broke the wire format (a line without CRLF, an early close)."""


@dataclass
class Wire:
    """A raw POP3 client: exact bytes in and out, every reply line checked for CRLF."""

    sock: socket.socket

    @classmethod
    def connect(cls, port: int, *, timeout: float = 10.0) -> Wire:
        """Connect and read the greeting (kept in ``greeting``)."""
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        wire = cls(sock)
        wire.greeting = wire.line()
        return wire

    _buf: bytes = b""
    greeting: str = ""

    def send(self, data: bytes | str) -> None:
        """Send raw bytes (a str gets CRLF appended)."""
        if isinstance(data, str):
            data = data.encode() + b"\r\n"
        self.sock.sendall(data)

    def start_tls(self, context: ssl.SSLContext) -> None:
        """Wrap the socket in TLS (after the server's +OK to STLS)."""
        assert not self._buf, "plaintext left unread before the handshake"
        self.sock = context.wrap_socket(self.sock, server_hostname="localhost")

    def raw_line(self) -> bytes:
        """One reply line, CRLF included; ProtocolError if the server closes first."""
        while b"\n" not in self._buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ProtocolError(f"connection closed; unterminated: {self._buf!r}")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        line += b"\n"
        if not line.endswith(b"\r\n"):
            raise ProtocolError(f"reply line without CRLF: {line!r}")
        return line

    def line(self) -> str:
        """One reply line without CRLF."""
        return self.raw_line()[:-2].decode("utf-8", "replace")

    def cmd(self, command: str) -> str:
        """Send a command and return its first reply line."""
        self.send(command)
        return self.line()

    def multiline_raw(self) -> bytes:
        """The body of a multi-line reply as sent (stuffed), terminator excluded."""
        out = []
        while (line := self.raw_line()) != b".\r\n":
            out.append(line)
        return b"".join(out)

    def multi(self, command: str) -> tuple[str, bytes]:
        """Send a command expecting a multi-line answer: (first line, raw body) or (-ERR, b"")."""
        first = self.cmd(command)
        return (first, self.multiline_raw()) if first.startswith("+OK") else (first, b"")

    def login(self, address: str, password: str) -> str:
        """USER/PASS; the PASS reply."""
        assert self.cmd(f"USER {address}").startswith("+OK")
        return self.cmd(f"PASS {password}")

    def closed_by_server(self, timeout: float = 5.0) -> bool:
        """True when the server has closed the connection (reads to EOF)."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except (ConnectionResetError, TimeoutError):
            return False
        return True

    def close(self) -> None:
        """Close the socket without QUIT (a dropped connection)."""
        self.sock.close()


def unstuff(raw: bytes) -> bytes:
    """Undo RFC 1939 byte-stuffing of a multi-line body."""
    return b"\r\n".join(line[1:] if line[:1] == b"." else line for line in raw.split(b"\r\n"))
