"""The byte stream the protocol clients speak over, and how failures are named.

The SMTP, POP3 and IMAP sessions are ``async`` code written against :class:`Connection`
only: they never touch an event loop, a clock other than ``time.perf_counter`` or a
socket. So the same session code runs

- on an asyncio connection (:class:`StreamConnection`, uvloop when installed) in the
  runner, and
- on a blocking (gevent-patched) socket under Locust (:class:`SocketConnection`), where
  :func:`run_sync` drives the coroutine to the end without any event loop, because no
  read ever suspends.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar, cast

__all__ = [
    "Connection",
    "ConnectionClosed",
    "ProtocolError",
    "ReplyError",
    "SocketConnection",
    "StreamConnection",
    "client_tls_context",
    "error_key",
    "run_sync",
]

T = TypeVar("T")


class ConnectionClosed(Exception):
    """The server closed the connection in the middle of a reply."""


class ProtocolError(Exception):
    """A reply that does not follow the protocol (no code, bad literal, too long)."""


class ReplyError(Exception):
    """The server refused something the whole session depends on (greeting, login)."""

    def __init__(self, code: str, text: str = "") -> None:
        super().__init__(f"{code} {text}".strip())
        self.code = code
        self.text = text


class Connection(Protocol):
    """What a client session needs from a connection."""

    async def readline(self) -> bytes:
        """One line with its LF, or what is left (maybe b"") at end of stream."""
        ...

    async def readuntil(self, separator: bytes) -> bytes:
        """Bytes up to and including ``separator``; ConnectionClosed at end of stream."""
        ...

    async def readexactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes; ConnectionClosed at end of stream."""
        ...

    def write(self, data: bytes) -> None:
        """Queue ``data`` for sending (sent before the next read returns)."""
        ...

    async def starttls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        """Upgrade the connection to TLS in place (RFC 3207, RFC 2595)."""
        ...


def client_tls_context() -> ssl.SSLContext:
    """A TLS client context that does not verify the server: a benchmark measures lab
    servers with self-signed certificates; it sends no secrets worth protecting."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class _Buffered:
    """The read side both connections share: lines, separators and counts taken out of
    one buffer. A read that finds what it needs already buffered returns without waiting;
    otherwise it asks the subclass for more (:meth:`_more`)."""

    limit: int
    _buf: bytearray
    _eof: bool

    async def _more(self, *, bounded: bool = True) -> None:
        """Wait until more bytes are buffered; ConnectionClosed at end of stream,
        ProtocolError when ``bounded`` and the buffer already exceeds ``limit``."""
        raise NotImplementedError

    async def readline(self) -> bytes:
        """One line with its LF, or what is left (maybe b"") at end of stream."""
        buf = self._buf
        while True:
            i = buf.find(b"\n")
            if i >= 0:
                line = bytes(buf[: i + 1])
                del buf[: i + 1]
                return line
            if self._eof:
                line = bytes(buf)
                buf.clear()
                return line
            await self._more()

    async def readuntil(self, separator: bytes) -> bytes:
        """Bytes up to and including ``separator``; ConnectionClosed at end of stream."""
        buf = self._buf
        start = 0
        while True:
            i = buf.find(separator, start)
            if i >= 0:
                end = i + len(separator)
                data = bytes(buf[:end])
                del buf[:end]
                return data
            start = max(0, len(buf) - len(separator) + 1)
            await self._more()

    async def readexactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes (a literal may exceed ``limit``); ConnectionClosed at end."""
        buf = self._buf
        while len(buf) < n:
            await self._more(bounded=False)
        data = bytes(buf[:n])
        del buf[:n]
        return data


class StreamConnection(_Buffered, asyncio.Protocol):
    """:class:`Connection` as an asyncio protocol with its own read buffer.

    A minimal stream reader: ``data_received`` appends to one buffer and wakes the one
    waiting read, and a read that finds its line already buffered returns without
    suspending. Against asyncio's StreamReader/StreamWriter pair this saves two objects
    per connection and a future per read, which is most of a load client's CPU at 1 KB
    messages. End of stream surfaces as :class:`ConnectionClosed`.
    """

    def __init__(self, limit: int = 1 << 16) -> None:
        self.limit = limit
        self.transport: asyncio.Transport | None = None
        self._plain: asyncio.Transport | None = None  # the TCP transport under TLS
        self._buf = bytearray()
        self._waiter: asyncio.Future[None] | None = None
        self._eof = False

    @classmethod
    async def open(cls, host: str, port: int, limit: int = 1 << 16) -> StreamConnection:
        """Connect to ``host:port``."""
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(lambda: cls(limit), host, port)
        return conn

    # region #### asyncio.Protocol ####

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        """Buffer ``data`` and wake the waiting read."""
        self._buf += data
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def eof_received(self) -> bool:
        """The server half-closed: wake the waiting read; close our side too."""
        self._wake_eof()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone: wake the waiting read."""
        self._wake_eof()

    def _wake_eof(self) -> None:
        self._eof = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # endregion

    async def _more(self, *, bounded: bool = True) -> None:
        if self._eof:
            raise ConnectionClosed("closed by the server")
        if bounded and len(self._buf) > self.limit:
            raise ProtocolError(f"more than {self.limit} bytes without the expected end")
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def write(self, data: bytes) -> None:
        """Hand ``data`` to the transport (it sends what it can at once)."""
        assert self.transport is not None
        self.transport.write(data)

    async def starttls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        """Upgrade in place with ``loop.start_tls`` (buffered plaintext is discarded)."""
        assert self.transport is not None
        self._buf.clear()
        loop = asyncio.get_running_loop()
        tls = await loop.start_tls(self.transport, self, context, server_hostname=server_hostname)
        self._plain, self.transport = self.transport, cast(asyncio.Transport, tls)

    def close(self) -> None:
        """Close without waiting (the peer's FIN is not awaited). Under TLS the TCP
        connection is dropped at once rather than after a close_notify exchange that
        nobody waits for (the session has already said QUIT)."""
        if self.transport is not None:
            self.transport.close()
        if self._plain is not None:
            self._plain.abort()

    def abort(self) -> None:
        """Drop the connection now; a pending read fails."""
        if self.transport is not None:
            self.transport.abort()
        if self._plain is not None:
            self._plain.abort()


class SocketConnection(_Buffered):
    """:class:`Connection` over a blocking socket (used under Locust with gevent), with
    the same buffering as :class:`StreamConnection`."""

    def __init__(self, sock: socket.socket, limit: int = 1 << 27) -> None:
        self.sock = sock
        self.limit = limit
        self._buf = bytearray()
        self._eof = False

    async def _more(self, *, bounded: bool = True) -> None:
        if self._eof:
            raise ConnectionClosed("closed by the server")
        if bounded and len(self._buf) > self.limit:
            raise ProtocolError(f"more than {self.limit} bytes without the expected end")
        data = self.sock.recv(1 << 16)  # blocks (a gevent socket yields): no suspension
        if data:
            self._buf += data
        else:
            self._eof = True

    def write(self, data: bytes) -> None:
        """Send everything now."""
        self.sock.sendall(data)

    async def starttls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        """Wrap the socket in TLS (buffered plaintext is discarded)."""
        self._buf.clear()
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (all its reads block) and return its value."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("run_sync: the coroutine suspended; it needs an event loop")


def error_key(exc: BaseException) -> str:
    """A short stable name for a client-side failure, used as a key of ``errors``."""
    if isinstance(exc, ReplyError):
        return exc.code
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connect_refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "connection_reset"
    if isinstance(exc, ConnectionClosed | asyncio.IncompleteReadError | EOFError):
        return "connection_closed"
    if isinstance(exc, ssl.SSLError):
        return "tls_error"
    if isinstance(exc, ProtocolError | asyncio.LimitOverrunError | ValueError):
        return "protocol_error"
    if isinstance(exc, OSError):
        return "network_error"
    return "client_error"
