"""The SMTP protocol of the reference server: aiosmtpd's ``SMTP`` with exact framing and limits.

What this subclass changes in aiosmtpd 1.4.6 (and why):

- DATA is read in chunks up to the end-of-data line instead of line by line (CPU), and
  ends **only** at ``<CR><LF>.<CR><LF>``; any bare CR or LF in the data rejects the
  message with 550 5.5.2 after its end (SMTP smuggling, CERT VU#302671).
- Limits with their RFC reply codes (:class:`~planner.mailserver.policy.Limits`): message
  size, text line, command line, recipients (excess RCPTs count as errors only beyond an
  overshoot allowance, as in Postfix), idle time (every read from the client restarts it)
  and total session time (421 4.4.2 is *sent*, not just a dropped connection), connections,
  errors per session, AUTH failures (the per-address penalty of
  :mod:`~planner.mailserver.auth_penalty`, shared with POP3).
- AUTH PLAIN/LOGIN check the users file in a thread (scrypt would stall the loop), and are
  offered and accepted only under TLS unless ``insecure_auth``; a second STARTTLS is refused.
- Anything unexpected answers 451 4.3.0 and resets the transaction (aiosmtpd's default is a
  permanent ``500 Error: (Exc)`` that leaks internals).

Routing, policy and delivery live in the handler (:mod:`planner.mailserver.handler`); this
module only speaks the protocol.
"""

from __future__ import annotations

import asyncio
import binascii
import collections
import logging
import re
from base64 import b64decode
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, _AuthMechAttr

from planner.mailserver.envelope import RoutedEnvelope, session_ip
from planner.mailserver.handler import DeliveryHandler
from planner.mailserver.smtp_replies import AIOSMTPD_REPLIES, Reply

__all__ = [
    "AIOSMTPD_PRIVATE_ATTRIBUTES",
    "AIOSMTPD_PRIVATE_METHODS",
    "READ_CHUNK_BYTES",
    "ServerSMTP",
    "read_data",
    "unstuff",
]

log = logging.getLogger("mailplan.smtp")

READ_CHUNK_BYTES = 65536
"""Stream buffer limit: the largest piece of DATA read at once (and the longest command
line held in memory before it is refused)."""

# The private parts of aiosmtpd 1.4.x that ServerSMTP calls, overrides or reads; the
# version is pinned (<1.5) and tests/mailserver/test_aiosmtpd_private.py checks that each
# still exists, so an upgrade that renames one fails loudly instead of silently.
AIOSMTPD_PRIVATE_METHODS = (
    "_call_handler_hook",  # runs handle_DATA after our own DATA framing
    "_cb_client_connected",  # the per-connection stream callback the factory re-binds
    "_create_envelope",  # overridden: RoutedEnvelope
    "_getaddr",  # overridden: a fast path for plain addresses
    "_reset_timeout",  # restarts the idle timer
    "_set_post_data_state",  # after DATA
    "_set_rset_state",  # EHLO and internal errors reset the transaction
    "_timeout_cb",  # overridden: 421 4.4.2 unless bytes came in since
)
"""Methods of ``aiosmtpd.smtp.SMTP``."""
AIOSMTPD_PRIVATE_ATTRIBUTES = (
    "_auth_methods",  # AUTH mechanisms (re-bound per connection by the factory)
    "_auth_require_tls",  # whether AUTH is offered without TLS
    "_smtp_methods",  # command table (re-bound per connection by the factory)
    "_tls_protocol",  # set once STARTTLS ran
    "_reader",  # the connection's streams, set by _cb_client_connected
    "_writer",
)
"""Attributes of an ``aiosmtpd.smtp.SMTP`` instance (the last two once connected); plus
``aiosmtpd.smtp._AuthMechAttr`` with its fields ``method`` and ``is_builtin``."""


# A plain ``<dot-atom@domain>`` path (the common case), local part at most 64 octets;
# anything else goes to aiosmtpd's full parser.
_PLAIN_PATH = re.compile(
    r"\s*<([A-Za-z0-9_+=-]{1,64}(?:\.[A-Za-z0-9_+=-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)>(.*)\Z",
    re.ASCII | re.DOTALL,
)


def unstuff(raw: bytes) -> bytes:
    """Remove the transparency dot of each line that starts with one (RFC 5321 §4.5.2)."""
    if raw[:1] == b"." or b"\r\n." in raw:
        return (b"\r\n" + raw).replace(b"\r\n.", b"\r\n")[2:]
    return raw


async def read_data(reader: asyncio.StreamReader, max_bytes: int) -> tuple[bytes | None, int]:
    """Read DATA up to the line ``.``; ``(raw bytes with dot-stuffing, size)``.

    The data ends only where a line holding a single ``.`` follows a CRLF: the DATA
    command's own CRLF counts as the one before the first line. Pieces are read with
    ``readuntil(b".\\r\\n")`` (or as much as the buffer holds), so a message costs a few
    calls, not one per line. Over ``max_bytes`` the rest is read and dropped and the
    content returned is None (RFC 5321 §4.2.5: reply only after the end of data).
    """
    parts: list[bytes] = []
    size = 0
    tail = b"\r\n"
    kept = True
    while True:
        try:
            piece = await reader.readuntil(b".\r\n")
            at_dot = True
        except asyncio.LimitOverrunError as exc:
            piece = await reader.readexactly(exc.consumed)
            at_dot = False
        if at_dot:
            before = piece[-5:-3] if len(piece) >= 5 else (tail + piece[:-3])[-2:]
            if before == b"\r\n":
                body = piece[:-3]
                size += len(body)
                if kept and size <= max_bytes:
                    parts.append(body)
                else:
                    kept = False
                break
        size += len(piece)
        if kept and size <= max_bytes:
            parts.append(piece)
        elif kept:
            kept = False
            parts.clear()
        tail = piece[-2:] if len(piece) >= 2 else (tail + piece)[-2:]
    return (b"".join(parts) if kept else None), size


def bare_newline(raw: bytes) -> bool:
    """True when ``raw`` holds a CR or LF that is not part of a CRLF pair."""
    crlf = raw.count(b"\r\n")
    return raw.count(b"\n") != crlf or raw.count(b"\r") != crlf


def longest_line(content: bytes) -> int:
    """Length of the longest line of CRLF-separated ``content``, CRLF included."""
    return max(map(len, content.split(b"\r\n"))) + 2


class _CommandTable(Mapping[str, Any]):
    """aiosmtpd's command table (``_smtp_methods``: name → bound ``smtp_*`` method) for
    one connection, binding a method when it is looked up: building the whole dict of
    bound methods for every connection cost a few percent of the event loop's CPU when
    relaying (py-spy), and a session uses five or six commands of it."""

    __slots__ = ("_names", "_obj")

    def __init__(self, obj: object, names: dict[str, str]) -> None:
        self._obj = obj
        self._names = names

    def __getitem__(self, name: str) -> Any:
        return getattr(self._obj, self._names[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class ServerSMTP(SMTP):
    """One SMTP connection of the reference server (inbound or submission listener)."""

    line_length_limit = READ_CHUNK_BYTES  # aiosmtpd uses this as the StreamReader limit
    local_part_limit = 64  # RFC 5321 §4.5.3.1.1

    def __init__(self, handler: DeliveryHandler, *, submission: bool) -> None:
        ctx = handler.ctx
        limits = ctx.config.limits
        super().__init__(
            handler,
            data_size_limit=limits.max_message_size_bytes,
            hostname=ctx.config.hostname,
            ident=Reply.GREETING_IDENT,
            tls_context=ctx.tls_context,
            timeout=limits.idle_timeout_s,
            auth_required=submission,
            auth_require_tls=not ctx.config.insecure_auth,
            loop=ctx.loop,
        )
        self.handler = handler
        self.ctx = ctx
        self.limits = limits
        self.submission = submission
        self._per_connection_state()

    def _per_connection_state(self) -> None:
        limits = self.limits
        # aiosmtpd keeps these limits in a class-level dict that every EHLO increments;
        # keep our own per connection (the SIZE parameter adds 26 octets to MAIL, RFC 1870).
        self.command_size_limits = collections.defaultdict(
            lambda: limits.max_command_line_bytes - 2
        )
        self.command_size_limits["MAIL"] = limits.max_command_line_bytes - 2 + 26
        self.busy = False
        self._errors = 0
        self._auth_failures = 0
        self._refused = False
        self._closing = False
        self._session_timer: asyncio.TimerHandle | None = None
        self._last_read = 0.0

    @classmethod
    def factory(cls, handler: DeliveryHandler, *, submission: bool) -> Callable[[], ServerSMTP]:
        """A protocol factory that clones a prototype instead of running ``__init__``.

        aiosmtpd's ``__init__`` introspects the class and the handler (``inspect.
        getmembers``, ``dir``) on every connection: about a quarter of the CPU a short
        session costs here. The prototype is built once the normal way; each connection
        copies its attributes, gets fresh stream state (``StreamReaderProtocol.__init__``)
        and re-binds the two method tables to itself.
        """
        proto = cls(handler, submission=submission)
        state = dict(vars(proto))
        smtp_names = {name: "smtp_" + name for name in proto._smtp_methods}
        auth = [
            (
                name,
                getattr(attr.method, "__func__", attr.method) if attr.is_builtin else attr.method,
                attr.is_builtin,
            )
            for name, attr in proto._auth_methods.items()
        ]
        loop = proto.loop
        limit = cls.line_length_limit
        srp_init = asyncio.StreamReaderProtocol.__init__

        def make() -> ServerSMTP:
            obj = cls.__new__(cls)
            obj.__dict__.update(state)
            srp_init(
                obj,
                asyncio.StreamReader(loop=loop, limit=limit),
                client_connected_cb=obj._cb_client_connected,
                loop=loop,
            )
            obj._smtp_methods = _CommandTable(obj, smtp_names)  # type: ignore[assignment]
            obj._auth_methods = {
                name: _AuthMechAttr(fn.__get__(obj) if builtin else fn, builtin)
                for name, fn, builtin in auth
            }
            obj._per_connection_state()
            return obj

        return make

    # region #### connection life ####

    def _create_envelope(self) -> RoutedEnvelope:
        return RoutedEnvelope()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None:  # the TCP connection (not the switch to TLS)
            if self.ctx.connections() >= self.limits.max_connections or self.ctx.stopping:
                self._refused = True
                text = (
                    Reply.SHUTTING_DOWN if self.ctx.stopping else Reply.TOO_MANY_CONNECTIONS
                ).format(host=self.hostname)
                transport.write(text.encode("ascii") + b"\r\n")  # type: ignore[attr-defined]
                transport.close()
                if not self.ctx.stopping:
                    self.ctx.stats.reject("too_many_connections")
                return
            self.ctx.stats.incr("connections")
            self.ctx.sessions.add(self)
            self._session_timer = self.loop.call_later(
                self.limits.session_timeout_s, self._session_timeout
            )
            self._last_read = self.loop.time()
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        """Bytes from the client (also under TLS): any read restarts the idle time."""
        self._last_read = self.loop.time()
        super().data_received(data)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        self.ctx.stats.incr("connections", -1)
        self.ctx.sessions.discard(self)
        if self._session_timer is not None:
            self._session_timer.cancel()
        super().connection_lost(error)

    def say_and_close(self, text: str) -> None:
        """Send one reply line and close the connection (timeouts, limits, shutdown)."""
        if self._closing or self.transport is None:
            return
        self._closing = True
        self._writer.write(text.encode("ascii") + b"\r\n")
        self.transport.close()

    def _timeout_cb(self) -> None:
        """The idle timer (aiosmtpd restarts it per command): 421 4.4.2, unless bytes came in
        since, as in a slow DATA (RFC 5321 §4.5.3.2.5-7 time each transfer, not the phase)."""
        idle = self.loop.time() - self._last_read
        if idle < self.limits.idle_timeout_s:
            self._reset_timeout(max(self.limits.idle_timeout_s - idle, 0.001))
            return
        log.info("%s idle timeout", self._peer_text())
        self.ctx.stats.reject("timeout")
        self.say_and_close(Reply.TIMEOUT.format(host=self.hostname))

    def _session_timeout(self) -> None:
        log.info("%s session time limit", self._peer_text())
        self.ctx.stats.reject("timeout")
        self.say_and_close(Reply.TIMEOUT.format(host=self.hostname))

    def shutdown(self) -> None:
        """Tell the client the server is going away and close (between transactions)."""
        self.say_and_close(Reply.SHUTTING_DOWN.format(host=self.hostname))

    def _peer_text(self) -> str:
        peer = self.session.peer if self.session is not None else None
        return f"[{peer[0]}]:{peer[1]}" if isinstance(peer, tuple) else "[unknown]"

    # endregion

    # region #### replies ####

    async def push(self, status: str | bytes, *, count_error: bool = True) -> None:
        """Send a reply; count errors and disconnect after ``max_errors`` (421 4.7.0)."""
        if isinstance(status, bytes):
            await super().push(status)
            return
        status = AIOSMTPD_REPLIES.get(status, status)
        if status.startswith("500 Error: command "):  # aiosmtpd's unknown-command reply
            status = "500 5.5.2 " + status[4:]
        await super().push(status)
        if count_error and status[0] in "45" and not status.startswith("421"):
            self._errors += 1
            if self._errors >= self.limits.max_errors:
                log.info("%s too many errors", self._peer_text())
                self.ctx.stats.reject("too_many_errors")
                self.say_and_close(Reply.TOO_MANY_ERRORS.format(host=self.hostname))

    async def handle_exception(self, error: Exception) -> str:
        """Any unexpected error: log the traceback, reset the transaction, answer 451 4.3.0."""
        log.error("%s internal error", self._peer_text(), exc_info=error)
        self.ctx.stats.reject("internal_error")
        self._set_rset_state()  # type: ignore[no-untyped-call]
        self.busy = False
        return Reply.LOCAL_ERROR

    # endregion

    # region #### commands ####

    async def smtp_EHLO(self, hostname: str | None) -> None:
        """EHLO: the keywords this server supports (AUTH only under TLS unless insecure)."""
        if not hostname:
            await self.push(Reply.EHLO_SYNTAX)
            return
        self._set_rset_state()  # type: ignore[no-untyped-call]
        assert self.session is not None
        self.session.extended_smtp = True
        self.session.host_name = hostname
        tls_active = self._tls_protocol is not None
        lines = [self.hostname, "PIPELINING", f"SIZE {self.data_size_limit}", "8BITMIME"]
        if self.tls_context is not None and not tls_active:
            lines.append("STARTTLS")
        if tls_active or not self._auth_require_tls:
            lines.append("AUTH PLAIN LOGIN")
        lines.append("HELP")
        text = "\r\n".join(
            f"250-{line}" if i < len(lines) - 1 else f"250 {line}" for i, line in enumerate(lines)
        )
        await self.push(text)

    async def smtp_STARTTLS(self, arg: str | None) -> None:
        """STARTTLS (RFC 3207); refused once TLS is active. aiosmtpd ≥1.4.6 drops buffered
        plaintext after the handshake and starts a fresh session (§4.2)."""
        if self._tls_protocol is not None:
            await self.push(Reply.TLS_ACTIVE)
            return
        await super().smtp_STARTTLS(arg)

    async def smtp_RCPT(self, arg: str | None) -> None:
        """RCPT: the recipient limit, and source routes (``<@a,@b:user@d>``) refused before
        aiosmtpd strips them.

        Over ``max_recipients`` the reply is 452 4.5.3, which a client must expect and carry
        on after (RFC 5321 §4.5.3.1.10): it then sends DATA for the accepted ones. Those
        452s count toward ``max_errors`` only after ``recipient_overshoot_limit`` of them in
        one transaction (Postfix ``smtpd_recipient_overshoot_limit``).
        """
        envelope = self.envelope
        if envelope is not None and len(envelope.rcpt_tos) >= self.limits.max_recipients:
            assert isinstance(envelope, RoutedEnvelope)
            envelope.overshoot += 1
            self.ctx.stats.reject("too_many_recipients")
            counted = envelope.overshoot > self.limits.recipient_overshoot_limit
            await self.push(Reply.TOO_MANY_RCPTS, count_error=counted)
            return
        rest = (arg or "")[3:].lstrip() if (arg or "")[:3].upper() == "TO:" else ""
        if rest.startswith("<@"):
            self.ctx.stats.reject("routing")
            await self.push(Reply.RELAY_DENIED.format(addr=rest.strip("<> ")))
            return
        await super().smtp_RCPT(arg)

    async def smtp_DATA(self, arg: str | None) -> None:
        """DATA: read to CRLF.CRLF, check the framing and limits, then call the handler."""
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push(Reply.NEED_RCPT)
            return
        if arg:
            await self.push(Reply.DATA_SYNTAX)
            return
        self.busy = True
        try:
            await self.push(Reply.START_DATA)
            try:
                raw, _size = await read_data(self._reader, self.limits.max_message_size_bytes)
            except asyncio.IncompleteReadError:
                self._writer.close()
                return
            status = self._check_data(raw)
            if status is None:
                assert raw is not None
                content = unstuff(raw)
                if len(content) > self.limits.max_line_length_bytes - 2 and (
                    longest_line(content) > self.limits.max_line_length_bytes
                ):
                    self.ctx.stats.reject("line_too_long")
                    status = Reply.LINE_TOO_LONG.format(limit=self.limits.max_line_length_bytes)
                else:
                    self.envelope.content = self.envelope.original_content = content
                    status = await self._call_handler_hook("DATA")
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            await self.push(status)
        finally:
            self.busy = False

    def _check_data(self, raw: bytes | None) -> str | None:
        if raw is None:
            self.ctx.stats.reject("message_too_big")
            return Reply.TOO_BIG
        if bare_newline(raw):
            self.ctx.stats.reject("bare_newline")
            return Reply.BARE_NEWLINE
        return None

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """``<user@domain> params`` without aiosmtpd's RFC 5322 parser for plain addresses."""
        m = _PLAIN_PATH.match(arg)
        if m is not None:
            return m.group(1), m.group(2)
        result: tuple[str | None, str | None] = super()._getaddr(arg)
        return result

    # endregion

    # region #### AUTH ####

    async def auth_PLAIN(self, _: Any, args: list[str]) -> AuthResult:
        """AUTH PLAIN (RFC 4616): ``authzid NUL authcid NUL password``, initial response or 334."""
        if len(args) == 1:
            blob = await self.challenge_auth("")
            if not isinstance(blob, bytes):
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = b64decode(args[1].encode("ascii"), validate=True)
            except (binascii.Error, UnicodeEncodeError):
                await self.push("501 5.5.2 Error: cannot decode base64")
                return AuthResult(success=False, handled=True)
        fields = blob.split(b"\0")
        if len(fields) != 3:
            await self.push("501 5.5.2 Error: malformed AUTH PLAIN response")
            return AuthResult(success=False, handled=True)
        return await self._verify(fields[1], fields[2])

    async def auth_LOGIN(self, _: Any, args: list[str]) -> AuthResult:
        """AUTH LOGIN: user name and password, each base64 after a 334 challenge."""
        if len(args) == 1:
            login = await self.challenge_auth("Username:")
        else:
            try:
                login = b64decode(args[1].encode("ascii"), validate=True)
            except (binascii.Error, UnicodeEncodeError):
                await self.push("501 5.5.2 Error: cannot decode base64")
                return AuthResult(success=False, handled=True)
        if not isinstance(login, bytes):
            return AuthResult(success=False, handled=True)
        password = await self.challenge_auth("Password:")
        if not isinstance(password, bytes):
            return AuthResult(success=False, handled=True)
        return await self._verify(login, password)

    async def _verify(self, login_b: bytes, password_b: bytes) -> AuthResult:
        """Check the credentials under the client address's penalty (RFC 4954 §6: 535 5.7.8
        on failure); after ``max_auth_failures`` in the session, 421 4.7.0 and close."""
        penalty = self.ctx.auth_penalty
        address = session_ip(self.session) if self.session is not None else "unknown"
        wait = penalty.before_attempt(address)
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            login, password = login_b.decode("utf-8"), password_b.decode("utf-8")
        except UnicodeDecodeError:
            login, password = "", ""
        ok = bool(login) and await self.loop.run_in_executor(
            None, self.ctx.users.verify, login, password
        )
        if ok:
            log.info("%s authenticated as %s", self._peer_text(), login.lower())
            return AuthResult(success=True, auth_data=login.lower(), message=Reply.AUTH_OK)
        self._auth_failures += 1
        self.ctx.stats.reject("auth_failed")
        log.info("%s authentication failed for %r", self._peer_text(), login[:64])
        await asyncio.sleep(penalty.failed(address))
        if self._auth_failures >= self.limits.max_auth_failures:
            self.ctx.stats.reject("too_many_auth_failures")
            self.say_and_close(Reply.TOO_MANY_AUTH_FAILURES.format(host=self.hostname))
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False, message=Reply.AUTH_FAILED)

    # endregion
