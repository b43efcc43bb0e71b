"""IMAP client session for load (RFC 9051 / RFC 3501 subset), loop-agnostic.

A client only, for measuring Dovecot or any IMAP server: greeting, LOGIN, SELECT INBOX,
one ``FETCH n (BODY.PEEK[])`` per message (PEEK leaves the \\Seen flag alone, so runs
repeat), LOGOUT. Messages are taken in a window that moves along the mailbox from
session to session, like the POP3 client.

Phases recorded (seconds): ``greeting``, ``login``, ``select``, ``fetch`` (the phase that
matters), ``logout``, ``message``. Refusals are counted as ``NO``, ``BAD`` or ``BYE``.
"""

from __future__ import annotations

import itertools
import time

from planner.bench.logins import Logins
from planner.bench.metrics import Sink
from planner.bench.transport import Connection, ConnectionClosed, ProtocolError, ReplyError

__all__ = ["ImapConfig", "ImapSession", "quote"]

_now = time.perf_counter
_MAX_LITERAL = 1 << 30


def quote(text: str) -> bytes:
    """An IMAP quoted string (RFC 9051 section 4.3): backslash and quote escaped."""
    return b'"' + text.replace("\\", "\\\\").replace('"', '\\"').encode() + b'"'


class ImapConfig(Logins):
    """Users to log in as, and the window of messages each session fetches."""


class ImapSession:
    """One IMAP connection's worth of fetches; ``done`` counts messages accounted for."""

    def __init__(self, conn: Connection, rec: Sink, cfg: ImapConfig) -> None:
        self.conn = conn
        self.rec = rec
        self.cfg = cfg
        self.done = 0
        self.banner = ""
        self.user = ""
        self._login: tuple[str, str] | None = None
        self.exists = 0
        self._tags = itertools.count(1)

    async def _line(self) -> bytes:
        line = await self.conn.readline()
        if not line.endswith(b"\n"):
            raise ConnectionClosed("closed while waiting for a response")
        return line

    async def _command(
        self, command: bytes, *, logout: bool = False
    ) -> tuple[bytes, list[bytes], int]:
        """Send a tagged command; return its status (OK/NO/BAD), the untagged lines
        (literals left out) and the number of literal bytes that came with them."""
        tag = b"a%d" % next(self._tags)
        self.conn.write(tag + b" " + command + b"\r\n")
        untagged: list[bytes] = []
        literal_bytes = 0
        while True:
            line = await self._line()
            while line.endswith(b"}\r\n"):  # a literal follows: {n}CRLF then n octets
                try:
                    n = int(line[line.rindex(b"{") + 1 : -3])
                except ValueError:
                    raise ProtocolError(f"bad literal: {line[-40:]!r}") from None
                if not 0 <= n <= _MAX_LITERAL:
                    raise ProtocolError(f"literal of {n} octets")
                await self.conn.readexactly(n)
                literal_bytes += n
                line = line + await self._line()
            if line.startswith(tag + b" "):
                status = line[len(tag) + 1 :].split(b" ", 1)[0].upper()
                return status, untagged, literal_bytes
            if line.startswith(b"* BYE") and not logout:
                raise ReplyError("BYE", line[6:].strip().decode("utf-8", "replace"))
            untagged.append(line)

    async def _open(self) -> None:
        """Greeting, LOGIN and SELECT INBOX: the part every session shares."""
        t = _now()
        line = await self._line()
        self.rec.phase("greeting", _now() - t)
        self.banner = line[4:].strip().decode("utf-8", "replace")
        if not line.startswith((b"* OK", b"* PREAUTH")):
            raise ReplyError(line[2:5].decode("ascii", "replace").strip() or "BYE", "greeting")
        self.user, password = self._login = self.cfg.next_user()
        t = _now()
        status, _, _ = await self._command(b"LOGIN " + quote(self.user) + b" " + quote(password))
        self.rec.phase("login", _now() - t)
        if status != b"OK":
            raise ReplyError(status.decode("ascii", "replace"), "login refused")
        t = _now()
        status, untagged, _ = await self._command(b"SELECT INBOX")
        self.rec.phase("select", _now() - t)
        if status != b"OK":
            raise ReplyError(status.decode("ascii", "replace"), "SELECT INBOX refused")
        for ln in untagged:
            parts = ln.split()
            if len(parts) >= 3 and parts[2].upper() == b"EXISTS":
                self.exists = int(parts[1])

    async def run(self, count: int, t_start: float) -> None:
        """Fetch ``count`` messages (0: log in, SELECT and LOGOUT, a probe)."""
        try:
            await self._fetch(count, t_start)
        finally:
            if self._login is not None:
                self.cfg.release(self._login)
                self._login = None

    async def _fetch(self, count: int, t_start: float) -> None:
        await self._open()
        rec = self.rec
        if count and self.exists == 0:
            raise ReplyError("empty_mailbox", f"{self.user} has no messages in INBOX")
        offset = self.cfg.next_window(count) if count else 0
        t_msg = t_start
        for i in range(count):
            n = (offset + i) % self.exists + 1
            t = _now()
            status, _, size = await self._command(b"FETCH %d (BODY.PEEK[])" % n)
            now = _now()
            if status == b"OK" and size:
                rec.phase("fetch", now - t)
                rec.phase("message", now - t_msg)
                rec.ok(size, now)
            else:
                rec.failed(
                    1, status.decode("ascii", "replace") if status != b"OK" else "empty", now
                )
            self.done += 1
            t_msg = _now()
        t = _now()
        await self._command(b"LOGOUT", logout=True)
        rec.phase("logout", _now() - t)
