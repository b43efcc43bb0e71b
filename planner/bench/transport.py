"""The byte stream the protocol clients speak over, and how failures are named.

The SMTP, POP3 and IMAP sessions are ``async`` code written against :class:`Connection`
only: they never touch an event loop, a clock other than ``time.perf_counter`` or a
socket. So the same session code runs

- on asyncio streams (:class:`StreamConnection`, uvloop when installed) in the runner, and
- on a blocking (gevent-patched) socket under Locust (:class:`SocketConnection`), where
  :func:`run_sync` drives the coroutine to the end without any event loop, because no
  read ever suspends.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

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


class StreamConnection:
    """:class:`Connection` over an asyncio StreamReader/StreamWriter pair.

    The reader's and writer's methods are bound directly as attributes, so the hot path
    has no wrapper call; end of stream surfaces as ``asyncio.IncompleteReadError``,
    which :func:`error_key` names ``connection_closed``.
    """

    readline: Callable[[], Coroutine[Any, Any, bytes]]
    readuntil: Callable[[bytes], Coroutine[Any, Any, bytes]]
    readexactly: Callable[[int], Coroutine[Any, Any, bytes]]
    write: Callable[[bytes], None]

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.readline = reader.readline
        self.readuntil = reader.readuntil
        self.readexactly = reader.readexactly
        self.write = writer.write

    async def starttls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        """Upgrade with ``StreamWriter.start_tls`` (Python 3.11)."""
        await self.writer.start_tls(context, server_hostname=server_hostname)

    def close(self) -> None:
        """Close without waiting (the peer's FIN is not awaited)."""
        self.writer.close()

    def abort(self) -> None:
        """Drop the connection now; a pending read fails."""
        self.writer.transport.abort()


class SocketConnection:
    """:class:`Connection` over a blocking socket (used under Locust with gevent)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._file = sock.makefile("rb")

    async def readline(self) -> bytes:
        """One line, blocking."""
        return self._file.readline(1 << 20)

    async def readuntil(self, separator: bytes) -> bytes:
        """Lines until the data ends with ``separator`` (which must end with LF)."""
        buf = bytearray()
        while not buf.endswith(separator):
            line = self._file.readline(1 << 20)
            if not line:
                raise ConnectionClosed("closed while reading")
            buf += line
        return bytes(buf)

    async def readexactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes, blocking."""
        data = self._file.read(n)
        if len(data) != n:
            raise ConnectionClosed("closed while reading")
        return data

    def write(self, data: bytes) -> None:
        """Send everything now."""
        self.sock.sendall(data)

    async def starttls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        """Wrap the socket in TLS."""
        self._file.close()
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        self._file = self.sock.makefile("rb")

    def close(self) -> None:
        """Close the socket."""
        self._file.close()
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
