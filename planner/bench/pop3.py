"""POP3 client session for load (RFC 1939), loop-agnostic over a :class:`Connection`.

One session: greeting, USER/PASS, STAT, LIST (optional), RETR or TOP of n messages,
DELE of each (optional; the server applies it at QUIT, RFC 1939 section 6), QUIT.
Which messages: a window of n that moves along the maildrop from session to session,
wrapping around, so sessions spread over the whole mailbox.

Phases recorded (seconds): ``greeting``, ``login`` (USER to the +OK of PASS), ``stat``,
``list``, ``retr`` (RETR or TOP sent to the end of the multi-line reply: the phase that
matters), ``dele``, ``quit``, ``message`` (intended start or end of the previous message
to the end of this one). Refusals are counted as ``-ERR`` plus the RFC 2449 response
code when the server gives one (``-ERR [IN-USE]``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from planner.bench.logins import Logins
from planner.bench.metrics import Sink
from planner.bench.transport import Connection, ConnectionClosed, ReplyError

__all__ = ["Pop3Config", "Pop3Session", "err_key"]

_now = time.perf_counter
_END = b"\r\n.\r\n"


def err_key(line: bytes) -> str:
    """``-ERR`` or ``-ERR [CODE]`` (RFC 2449 section 8) for a refusal line."""
    rest = line[4:].strip()
    if rest.startswith(b"[") and b"]" in rest:
        return "-ERR " + rest[: rest.index(b"]") + 1].decode("ascii", "replace")
    return "-ERR"


@dataclass
class Pop3Config(Logins):
    """Users to log in as (one session per user at a time), and what to retrieve."""

    retrieve: str = "retr"
    top_lines: int = 0
    list_messages: bool = True
    delete: bool = False


class Pop3Session:
    """One POP3 connection's worth of retrievals; ``done`` counts messages accounted for."""

    def __init__(self, conn: Connection, rec: Sink, cfg: Pop3Config) -> None:
        self.conn = conn
        self.rec = rec
        self.cfg = cfg
        self.done = 0
        self.banner = ""
        self.user = ""
        self._login: tuple[str, str] | None = None
        self.maildrop = 0

    async def _status(self) -> bytes:
        line = await self.conn.readline()
        if not line.endswith(b"\n"):
            raise ConnectionClosed("closed while waiting for a reply")
        return line

    async def _command(self, cmd: bytes, what: str) -> bytes:
        self.conn.write(cmd)
        line = await self._status()
        if not line.startswith(b"+OK"):
            raise ReplyError(err_key(line), what)
        return line

    async def _multiline(self) -> bytes:
        """The rest of a multi-line reply after its +OK line, up to and including the
        terminating ``.CRLF`` line (RFC 1939 section 3; content lines are dot-stuffed, so
        only the terminator is a line of a single dot)."""
        readuntil = self.conn.readuntil
        buf = await readuntil(b".\r\n")
        while not (buf.endswith(_END) or buf == b".\r\n"):
            buf += await readuntil(b".\r\n")
        return buf

    async def _open(self) -> None:
        """Greeting, USER/PASS and STAT: the part every session shares."""
        t = _now()
        line = await self._status()
        self.rec.phase("greeting", _now() - t)
        self.banner = line[3:].strip().decode("utf-8", "replace")
        if not line.startswith(b"+OK"):
            raise ReplyError(err_key(line), "greeting")
        self.user, password = self._login = self.cfg.next_user()
        t = _now()
        await self._command(f"USER {self.user}\r\n".encode(), "USER refused")
        await self._command(f"PASS {password}\r\n".encode(), "login refused")
        self.rec.phase("login", _now() - t)
        t = _now()
        stat = await self._command(b"STAT\r\n", "STAT refused")
        self.rec.phase("stat", _now() - t)
        try:
            self.maildrop = int(stat.split()[1])
        except (IndexError, ValueError):
            raise ReplyError("protocol_error", "STAT reply without a count") from None

    async def run(self, count: int, t_start: float) -> None:
        """Retrieve ``count`` messages (0: log in, STAT and QUIT, a probe); ``t_start`` is
        the session's intended start (perf_counter seconds)."""
        try:
            await self._retrieve(count, t_start)
        finally:
            if self._login is not None:
                self.cfg.release(self._login)
                self._login = None

    async def _retrieve(self, count: int, t_start: float) -> None:
        await self._open()
        rec = self.rec
        if count and self.maildrop == 0:
            raise ReplyError("empty_maildrop", f"{self.user} has no messages")
        if count and self.cfg.list_messages:
            t = _now()
            await self._command(b"LIST\r\n", "LIST refused")
            await self._multiline()
            rec.phase("list", _now() - t)
        offset = self.cfg.next_window(count) if count else 0
        top = self.cfg.retrieve == "top"
        t_msg = t_start
        for i in range(count):
            n = (offset + i) % self.maildrop + 1
            t = _now()
            self.conn.write(
                f"TOP {n} {self.cfg.top_lines}\r\n".encode() if top else b"RETR %d\r\n" % n
            )
            line = await self._status()
            if not line.startswith(b"+OK"):
                rec.failed(1, err_key(line), _now())
                self.done += 1
                continue
            body = await self._multiline()
            now = _now()
            rec.phase("retr", now - t)
            rec.phase("message", now - t_msg)
            rec.ok(len(body), now)
            self.done += 1
            if self.cfg.delete:
                t = _now()
                self.conn.write(b"DELE %d\r\n" % n)
                line = await self._status()
                rec.phase("dele", _now() - t)
                if not line.startswith(b"+OK"):
                    rec.error(err_key(line))
            t_msg = _now()
        t = _now()
        await self._command(b"QUIT\r\n", "QUIT refused")
        rec.phase("quit", _now() - t)
