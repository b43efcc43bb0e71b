"""The byte plumbing under a POP3 session: buffered line input, flow-controlled output,
the idle timer, the switch to TLS and the listener's connection counts
(:class:`ConnectionCounter`, :meth:`LineProtocol.admit`).

:class:`LineProtocol` is an :class:`asyncio.Protocol` (so it runs on asyncio's loop and on
uvloop alike) that the session (:class:`~planner.mailserver.pop3.POP3`) subclasses: it
reads with :meth:`~LineProtocol.readline`, answers with :meth:`~LineProtocol.push` and
:meth:`~LineProtocol.push_multiline`, and waits with :meth:`~LineProtocol.drain` while the
client is slow to read. It knows nothing of POP3 commands.

Input beyond :data:`INPUT_BUFFER_LIMIT` (pipelined commands) pauses reading from the
socket; a client reading a long answer slowly is not idle; a client that neither sends nor
reads for ``idle_timeout_s`` ends the session (:class:`IdleTimeout`, or an abort when the
server is stuck writing).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from asyncio import sslproto
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

__all__ = [
    "CRLF",
    "INPUT_BUFFER_LIMIT",
    "Closed",
    "ConnectionCounter",
    "IdleTimeout",
    "ImplicitTLS",
    "LineProtocol",
    "LineTooLong",
    "StreamBroken",
    "log_handshake_failure",
]

log = logging.getLogger("mailplan.pop3")

CRLF = b"\r\n"
INPUT_BUFFER_LIMIT = 64 * 1024
"""Buffered unread input (pipelined commands) before reading from the socket pauses."""


class Closed(Exception):
    """The connection is gone."""


class IdleTimeout(Exception):
    """No command for ``idle_timeout_s``."""


class StreamBroken(Exception):
    """A multi-line answer could not be finished: the connection must end."""


class LineTooLong(Exception):
    """A line longer than the limit arrived (and was discarded)."""


@dataclass
class ConnectionCounter:
    """The open connections of one listener, in all and per client address."""

    max_total: int
    max_per_ip: int
    total: int = 0
    per_ip: dict[str, int] = field(default_factory=dict)

    def admit(self, ip: str) -> bool:
        """Count a new connection from ``ip`` in; False (not counted) over either limit."""
        if self.total >= self.max_total or self.per_ip.get(ip, 0) >= self.max_per_ip:
            return False
        self.total += 1
        self.per_ip[ip] = self.per_ip.get(ip, 0) + 1
        return True

    def leave(self, ip: str) -> None:
        """Count a connection admitted from ``ip`` out."""
        self.total -= 1
        left = self.per_ip.get(ip, 1) - 1
        if left > 0:
            self.per_ip[ip] = left
        else:
            self.per_ip.pop(ip, None)


def log_handshake_failure(ip: str, exc: BaseException, elapsed: float, timeout: float) -> None:
    """Log a failed server-side TLS handshake: a timeout at info level, anything else at debug."""
    if elapsed >= timeout * 0.99:
        log.info("pop3 %s: TLS handshake timeout (%g s), closing", ip, timeout)
    else:
        log.debug("pop3 %s: TLS handshake failed: %s", ip, exc)


class ImplicitTLS(asyncio.Protocol):
    """A connection on a TLS-from-the-first-byte port (POP3S, IMAPS) until its handshake is
    done; the session protocol ``app`` then gets the TLS transport (and its
    ``connection_made``), as with ``create_server(ssl=...)``.

    Unlike ``create_server(ssl=...)``, a handshake not done within ``handshake_timeout_s``
    is logged (with the client's address) when it is cut off. The TLS layer (asyncio's, as
    aiosmtpd uses for STARTTLS) goes in here, synchronously: ``loop.start_tls`` would run a
    step later, and uvloop may hand the client's first bytes to the plain protocol in
    between.
    """

    def __init__(
        self, app: LineProtocol, context: ssl.SSLContext, handshake_timeout_s: float
    ) -> None:
        self.app = app
        self.context = context
        self.timeout = handshake_timeout_s

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        loop, timeout = self.app.loop, self.timeout
        peer = transport.get_extra_info("peername")
        ip = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        waiter: asyncio.Future[None] = loop.create_future()
        tls = sslproto.SSLProtocol(
            loop,
            self.app,
            self.context,
            waiter,
            server_side=True,
            ssl_handshake_timeout=timeout,  # type: ignore[arg-type]  # typeshed says int
        )
        started = loop.time()

        def handshake_done(fut: asyncio.Future[None]) -> None:
            exc = None if fut.cancelled() else fut.exception()
            if exc is not None:
                log_handshake_failure(ip, exc, loop.time() - started, timeout)

        waiter.add_done_callback(handshake_done)
        transport.set_protocol(tls)
        tls.connection_made(transport)


class LineProtocol(asyncio.Protocol):
    """One connection's input buffer, output flow control and idle timer."""

    def __init__(self, idle_timeout_s: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.idle_timeout_s = idle_timeout_s
        self.transport: asyncio.Transport | None = None
        self.peer_ip = ""
        self._buffer = bytearray()
        self._eof = False
        self._closed = False
        self._read_waiter: asyncio.Future[None] | None = None
        self._read_paused = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._last_activity = self.loop.time()
        self._idle_handle: asyncio.TimerHandle | None = None
        self._timed_out = False
        self._counter: ConnectionCounter | None = None

    # region #### asyncio.Protocol ####

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport but implement it
        self.transport = transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer_ip = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > INPUT_BUFFER_LIMIT and not self._read_paused and self.transport:
            self._read_paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool | None:
        self._eof = True
        self._wake_reader()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = self._eof = True
        self._wake_reader()
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(Closed())
        if self._idle_handle is not None:
            self._idle_handle.cancel()
        counter, self._counter = self._counter, None
        if counter is not None:
            counter.leave(self.peer_ip)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._last_activity = self.loop.time()  # a client reading a long RETR is not idle
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # endregion

    def admit(self, counter: ConnectionCounter, refusal: str) -> bool:
        """Count this connection in ``counter`` (out again when it is lost); over the
        limits, send the one line ``refusal``, close and return False."""
        if counter.admit(self.peer_ip):
            self._counter = counter
            return True
        self.push(refusal)
        self.close()
        return False

    # region #### idle timer ####

    def start_idle_timer(self) -> None:
        """Start watching for an idle client (from ``connection_made``)."""
        self._idle_handle = self.loop.call_later(self.idle_timeout_s, self._check_idle)

    def _check_idle(self) -> None:
        idle = self.loop.time() - self._last_activity
        if idle < self.idle_timeout_s:
            self._idle_handle = self.loop.call_later(self.idle_timeout_s - idle, self._check_idle)
            return
        self._timed_out = True
        if self._read_waiter is not None:
            self._wake_reader()
        elif self.transport is not None:
            self.transport.abort()  # stuck writing to a client that does not read

    # endregion

    # region #### input ####

    def _wake_reader(self) -> None:
        waiter = self._read_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def readline(self, limit: int) -> bytes | None:
        """The next line without its line end; None at end of input.

        Raises :class:`LineTooLong` (after discarding the line) when the line, line end
        included, is longer than ``limit`` octets, and :class:`IdleTimeout`.
        """
        discarding = False
        while True:
            if self._timed_out:
                raise IdleTimeout
            buf = self._buffer
            idx = buf.find(b"\n")
            if idx >= 0:
                line = bytes(buf[:idx])
                del buf[: idx + 1]
                self._resume_reading()
                if discarding or idx + 1 > limit:
                    raise LineTooLong
                self._last_activity = self.loop.time()
                return line[:-1] if line.endswith(b"\r") else line
            if len(buf) >= limit:
                discarding = True
                buf.clear()
                self._resume_reading()
            if self._eof:
                return None
            self._read_waiter = self.loop.create_future()
            try:
                await self._read_waiter
            finally:
                self._read_waiter = None

    def discard_input(self) -> None:
        """Forget input not read yet (what a client sent in clear before a TLS handshake)."""
        self._buffer.clear()

    def _resume_reading(self) -> None:
        if self._read_paused and len(self._buffer) <= INPUT_BUFFER_LIMIT // 2 and self.transport:
            self._read_paused = False
            self.transport.resume_reading()

    # endregion

    # region #### output ####

    @property
    def write_paused(self) -> bool:
        """True while the transport's buffer is full (the client reads slowly)."""
        return self._write_paused

    @property
    def closed(self) -> bool:
        """True once the connection is lost."""
        return self._closed

    def send(self, data: bytes) -> None:
        """Write bytes; :class:`Closed` when the connection is gone."""
        if self._closed or self.transport is None or self.transport.is_closing():
            raise Closed
        self.transport.write(data)

    def push(self, reply: str) -> None:
        """Send one reply line (CRLF added)."""
        self.send(reply.encode("utf-8", "replace") + CRLF)

    def push_multiline(self, first: str, lines: Iterable[str]) -> None:
        """Send a multi-line reply of short text lines (none starts with '.'), then '.'."""
        self.send("\r\n".join([first, *lines, "."]).encode() + CRLF)

    async def drain(self) -> None:
        """Wait until the transport takes more output; :class:`Closed` when it is gone."""
        if self._closed:
            raise Closed
        if self._write_paused:
            self._drain_waiter = self.loop.create_future()
            await self._drain_waiter

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    # endregion

    async def start_tls(self, context: ssl.SSLContext, handshake_timeout_s: float) -> None:
        """The server side of a TLS handshake on this connection, bounded by
        ``handshake_timeout_s`` (a failure is logged); :class:`Closed` when it fails."""
        assert self.transport is not None
        started = self.loop.time()
        try:
            new_transport = await self.loop.start_tls(
                self.transport,
                self,
                context,
                server_side=True,
                ssl_handshake_timeout=handshake_timeout_s,
            )
        except (TimeoutError, OSError, ssl.SSLError, ConnectionError) as exc:
            elapsed = self.loop.time() - started
            log_handshake_failure(self.peer_ip, exc, elapsed, handshake_timeout_s)
            self._closed = True
            raise Closed from None
        if new_transport is None:
            raise Closed
        self.transport = new_transport
        self._read_paused = False
