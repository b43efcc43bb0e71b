"""SMTP client session for load (RFC 5321), loop-agnostic over a :class:`Connection`.

One session: greeting, EHLO, optional STARTTLS (RFC 3207: EHLO again after the
handshake) and AUTH PLAIN (RFC 4954), then for each message MAIL, RCPT x k, DATA, the
content, and finally QUIT. When the server offers PIPELINING (RFC 2920) MAIL, every
RCPT and DATA go in one write, and the last message's content is followed by QUIT in
the same write (content and QUIT may share a group, RFC 2920 section 3.1).

Phases recorded (seconds): ``greeting``, ``ehlo``, ``starttls``, ``auth``, ``envelope``
(MAIL sent to the 354), ``data`` (end of data handed to the socket to the reply: the
phase that matters), ``quit``, ``message`` (the session's intended start, or the end of
the previous message, to the 250). Refusals are counted by reply code.
"""

from __future__ import annotations

import base64
import ssl
import time
from dataclasses import dataclass, field

from planner.bench.metrics import Sink
from planner.bench.transport import Connection, ConnectionClosed, ProtocolError, ReplyError
from planner.bench.workload import MessageFactory

__all__ = ["SmtpConfig", "SmtpSession"]

S220_READY = 220
S221_BYE = 221
S235_AUTH_OK = 235
S250_OK = 250
S354_GO_AHEAD = 354

_now = time.perf_counter
_KNOWN_EXTENSIONS = ("PIPELINING", "STARTTLS", "AUTH")


@dataclass
class SmtpConfig:
    """Everything a session needs besides its connection and recorder."""

    factory: MessageFactory
    helo_name: str = "bench.mailplan.test"
    pipelining: bool = True
    starttls: bool = False
    auth: tuple[str, str] | None = None
    tls_context: ssl.SSLContext | None = None
    server_hostname: str = "localhost"
    ehlo_line: bytes = field(init=False, default=b"")

    def __post_init__(self) -> None:
        self.ehlo_line = f"EHLO {self.helo_name}\r\n".encode()


class SmtpSession:
    """One SMTP connection's worth of messages; ``done`` counts messages accounted for."""

    def __init__(self, conn: Connection, rec: Sink, cfg: SmtpConfig) -> None:
        self.conn = conn
        self.rec = rec
        self.cfg = cfg
        self.done = 0
        self.banner = ""
        self.extensions: set[str] = set()

    async def _reply(self) -> tuple[int, bytes]:
        """The reply code and its last line (RFC 5321 section 4.2: ``NNN-`` continues)."""
        line = await self.conn.readline()
        if line[3:4] == b"-":
            line = (await self._rest_of_reply(line))[-1]
        if not line.endswith(b"\n"):
            raise ConnectionClosed("closed while waiting for a reply")
        try:
            return int(line[:3]), line
        except ValueError:
            raise ProtocolError(f"not an SMTP reply: {line[:60]!r}") from None

    async def _rest_of_reply(self, first: bytes) -> list[bytes]:
        """The lines after ``first`` of a multi-line reply. Every line carries the same
        code (RFC 5321 section 4.2.1) and only the last has a space after it, so: read up
        to ``NNN `` at the start of a line, then that line; not one read per line."""
        code = first[:3]
        mark = code + b" "
        middle = await self.conn.readuntil(mark)
        while not (middle == mark or middle.endswith(b"\n" + mark)):  # "NNN " inside text
            middle += await self.conn.readuntil(mark)
        last = mark + await self.conn.readline()
        return [*middle[: -len(mark)].splitlines(keepends=True), last]

    async def _ehlo(self) -> None:
        self.conn.write(self.cfg.ehlo_line)
        t = _now()
        first = await self.conn.readline()
        if not first.endswith(b"\n"):
            raise ConnectionClosed("closed while waiting for the EHLO reply")
        rest = await self._rest_of_reply(first) if first[3:4] == b"-" else []
        self.rec.phase("ehlo", _now() - t)
        last = rest[-1] if rest else first
        if last[:3] != b"250":
            raise ReplyError(last[:3].decode("ascii", "replace"), "EHLO refused")
        text = b"".join(rest).upper()
        self.extensions = {
            name
            for name in _KNOWN_EXTENSIONS
            if b"-" + name.encode() in text or b" " + name.encode() in text
        }

    async def _open(self) -> None:
        """Greeting, EHLO, STARTTLS and AUTH: the part every session shares."""
        t = _now()
        code, line = await self._reply()
        self.rec.phase("greeting", _now() - t)
        self.banner = line[4:].strip().decode("utf-8", "replace")
        if code != S220_READY:
            raise ReplyError(str(code), "greeting")
        await self._ehlo()
        if self.cfg.starttls:
            if "STARTTLS" not in self.extensions:
                raise ReplyError("no_starttls", "the server does not offer STARTTLS")
            t = _now()
            self.conn.write(b"STARTTLS\r\n")
            code, _ = await self._reply()
            if code != S220_READY:
                raise ReplyError(str(code), "STARTTLS refused")
            assert self.cfg.tls_context is not None
            await self.conn.starttls(self.cfg.tls_context, self.cfg.server_hostname)
            self.rec.phase("starttls", _now() - t)
            await self._ehlo()  # RFC 3207 section 4.2: forget what was learnt before TLS
        if self.cfg.auth is not None:
            user, password = self.cfg.auth
            token = base64.b64encode(f"\0{user}\0{password}".encode()).decode("ascii")
            t = _now()
            self.conn.write(f"AUTH PLAIN {token}\r\n".encode())
            code, _ = await self._reply()
            self.rec.phase("auth", _now() - t)
            if code != S235_AUTH_OK:
                raise ReplyError(str(code), "AUTH refused")

    async def run(self, count: int, t_start: float) -> None:
        """Send ``count`` messages (0: just open and QUIT, a probe); ``t_start`` is the
        session's intended start (perf_counter seconds)."""
        await self._open()
        pipelining = self.cfg.pipelining and "PIPELINING" in self.extensions
        quit_sent = False
        t_msg = t_start
        for i in range(count):
            last = i == count - 1
            if pipelining:
                quit_sent = await self._send_pipelined(t_msg, with_quit=last)
            else:
                await self._send_stepwise(t_msg)
            self.done += 1
            t_msg = _now()
        if not quit_sent:
            self.conn.write(b"QUIT\r\n")
        t = _now()
        await self._reply()
        self.rec.phase("quit", _now() - t)

    async def _send_pipelined(self, t_msg: float, *, with_quit: bool) -> bool:
        """One message with MAIL/RCPT/DATA in one write; True if QUIT went with it."""
        msg = self.cfg.factory.next()
        rec = self.rec
        self.conn.write(self.cfg.factory.mail_line + b"".join(msg.rcpt_lines) + b"DATA\r\n")
        t = _now()
        mail_code, _ = await self._reply()
        if mail_code != S250_OK:
            rec.error(str(mail_code))
        accepted = 0
        for _ in msg.rcpt_lines:
            code, _ = await self._reply()
            if code // 100 == 2:
                accepted += 1
            else:
                rec.error(str(code))
        data_code, _ = await self._reply()
        if data_code != S354_GO_AHEAD:
            rec.failed(1, str(data_code), _now())
            if mail_code == S250_OK:
                await self._rset()
            return False
        rec.phase("envelope", _now() - t)
        if mail_code != S250_OK or not accepted:
            # RFC 2920 section 3.1: DATA was accepted although nothing else was; end it empty.
            self.conn.write(b".\r\n")
            await self._reply()
            rec.failed(1, None, _now())
            return False
        self.conn.write(msg.data + b"QUIT\r\n" if with_quit else msg.data)
        t = _now()
        code, _ = await self._reply()
        now = _now()
        rec.phase("data", now - t)
        if code == S250_OK:
            rec.phase("message", now - t_msg)
            rec.ok(msg.size_bytes, now)
        else:
            rec.failed(1, str(code), now)
        return with_quit

    async def _send_stepwise(self, t_msg: float) -> None:
        """One message, one command per round trip."""
        msg = self.cfg.factory.next()
        rec = self.rec
        t = _now()
        self.conn.write(self.cfg.factory.mail_line)
        code, _ = await self._reply()
        if code != S250_OK:
            rec.failed(1, str(code), _now())
            return
        accepted = 0
        for line in msg.rcpt_lines:
            self.conn.write(line)
            code, _ = await self._reply()
            if code // 100 == 2:
                accepted += 1
            else:
                rec.error(str(code))
        if not accepted:
            rec.failed(1, None, _now())
            await self._rset()
            return
        self.conn.write(b"DATA\r\n")
        code, _ = await self._reply()
        if code != S354_GO_AHEAD:
            rec.failed(1, str(code), _now())
            await self._rset()
            return
        rec.phase("envelope", _now() - t)
        self.conn.write(msg.data)
        t = _now()
        code, _ = await self._reply()
        now = _now()
        rec.phase("data", now - t)
        if code == S250_OK:
            rec.phase("message", now - t_msg)
            rec.ok(msg.size_bytes, now)
        else:
            rec.failed(1, str(code), now)

    async def _rset(self) -> None:
        self.conn.write(b"RSET\r\n")
        await self._reply()
