"""The POP3 server of the reference mail server, over the shared Maildir store.

RFC 1939 (USER, PASS, STAT, LIST, RETR, DELE, NOOP, RSET, QUIT, TOP, UIDL), RFC 2449 CAPA
and response codes, RFC 3206 ``[SYS/TEMP]`` and ``[AUTH]``, RFC 2595 STLS, RFC 5034 AUTH
PLAIN (RFC 4616). APOP is not offered: it needs the clear-text secret and passwords are
stored as scrypt hashes.

Read it like aiosmtpd's ``smtp.py``: :class:`POP3` is the protocol object of one
connection; :meth:`POP3._handle_client` reads a line and enforces the limits,
:meth:`POP3._command` checks the verb against :data:`COMMAND_STATES` (the only place the
state is checked) and calls ``pop3_<VERB>``, which returns its one-line reply (or sends
a multi-line one itself). Reply texts are the module constants below. Anything
unexpected answers ``-ERR [SYS/TEMP]`` and the session goes on. The locked maildrop, its
snapshot and the DELE marks live in a :class:`MaildropSession` (``maildrop.py``).

Run a server on its own (tests, benchmarks)::

    python -m planner.mailserver.pop3 --data-dir DIR --listen 127.0.0.1:0 [--insecure-auth]

prints ``listening pop3 127.0.0.1:PORT`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import enum
import ipaddress
import logging
import os
import signal
import socket
import ssl
import sys
import time
from asyncio import sslproto
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, cast

from planner.mailserver.auth_penalty import AuthPenalty
from planner.mailserver.maildrop import (
    READ_BLOCK,
    MaildropIndex,
    MaildropLocked,
    MaildropSession,
    Message,
    Pop3Encoder,
    SessionLock,
    encode_message,
    ensure_maildir,
    iter_top,
    maildir_path,
)
from planner.mailserver.users import UserDB

__all__ = [
    "COMMAND_STATES",
    "POP3",
    "Pop3Config",
    "State",
    "is_loopback",
    "main",
    "start_pop3_server",
]

log = logging.getLogger("mailplan.pop3")

# region #### limits ####

COMMAND_LINE_LIMIT = 255
"""Octets in a command line, CRLF included (RFC 2449 §4)."""
AUTH_LINE_LIMIT = 2048
"""Octets in an AUTH continuation line (a base64 PLAIN response of a long password)."""
BAD_COMMAND_LIMIT = 20
"""Consecutive bad commands before the server hangs up (Dovecot's figure)."""
AUTH_FAILURE_LIMIT = 3
"""Failed logins in one session before the server hangs up."""
INPUT_BUFFER_LIMIT = 64 * 1024
"""Buffered unread input (pipelined commands) before reading from the socket pauses."""
WHOLE_READ_LIMIT = 256 * 1024
"""Messages up to this size are read in one go; larger ones are streamed in blocks."""

# endregion

# region #### replies ####

GREETING = "+OK mailplan POP3 server ready."
OK = "+OK"
OK_CAPA = "+OK Capability list follows."
OK_USER = "+OK Send your password."
OK_LOGGED_IN = "+OK Logged in."
OK_STAT = "+OK {count} {octets}"
OK_LIST_ALL = "+OK {count} messages ({octets} octets)."
OK_LIST_ONE = "+OK {number} {octets}"
OK_UIDL_ALL = "+OK Unique-ID listing follows."
OK_UIDL_ONE = "+OK {number} {uid}"
OK_RETR = "+OK {octets} octets."
OK_TOP = "+OK Top of message follows."
OK_DELE = "+OK Marked to be deleted."
OK_RSET = "+OK Maildrop has {count} messages ({octets} octets)."
OK_NOOP = "+OK"
OK_QUIT = "+OK Logging out."
OK_QUIT_DELETED = "+OK Logging out, messages deleted."
OK_STLS = "+OK Begin TLS negotiation now."
OK_AUTH_MECHS = "+OK Supported mechanisms follow."
AUTH_CONTINUE = "+ "

ERR_UNKNOWN_COMMAND = "-ERR Unknown command."
ERR_WRONG_STATE = "-ERR Command not valid in this state."
ERR_LINE_TOO_LONG = "-ERR Command line too long."
ERR_TOO_MANY_BAD_COMMANDS = "-ERR Too many bad commands, disconnecting."
ERR_IDLE = "-ERR Disconnected for inactivity."
ERR_TOO_MANY_CONNECTIONS = "-ERR [SYS/TEMP] Too many connections, try again later."
ERR_SYS_TEMP = "-ERR [SYS/TEMP] Internal error, try again later."
ERR_MAILDROP_UNAVAILABLE = "-ERR [SYS/TEMP] Cannot open the maildrop, try again later."
ERR_QUIT_NOT_REMOVED = (
    "-ERR [SYS/TEMP] Some deleted messages were not removed ({count}); they stay in the maildrop."
)
ERR_PLAINTEXT_DISALLOWED = (
    "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."
)
ERR_AUTH_FAILED = "-ERR [AUTH] Authentication failed."
ERR_AUTH_FAILED_BYE = "-ERR [AUTH] Authentication failed, too many failures, disconnecting."
ERR_IN_USE = "-ERR [IN-USE] Mailbox is locked by another POP3 session."
ERR_LOGIN_DELAY = "-ERR [LOGIN-DELAY] Logged in less than {seconds} seconds ago, try again later."
ERR_NO_USER = "-ERR No username given."
ERR_USER_SYNTAX = "-ERR USER needs one argument: the full address."
ERR_ALREADY_TLS = "-ERR TLS is already active."
ERR_NO_TLS = "-ERR TLS is not available."
ERR_NOISE = "-ERR Noise after the command."
ERR_AUTH_MECH = "-ERR Unsupported authentication mechanism."
ERR_AUTH_CANCELLED = "-ERR Authentication cancelled."
ERR_AUTH_BASE64 = "-ERR Invalid base64 data in the AUTH response."
ERR_NUMBER_MISSING = "-ERR A message number is required."
ERR_NUMBER_INVALID = "-ERR Invalid message number: {text}"
ERR_NUMBER_NOISE = "-ERR Noise after message number: {text}"
ERR_NO_SUCH_MESSAGE = "-ERR There's no message {number}."
ERR_DELETED = "-ERR Message is deleted."
ERR_LINES_INVALID = "-ERR Invalid number of lines: {text}"
ERR_MESSAGE_GONE = "-ERR Message {number} was removed by another program."

# endregion

CRLF = b"\r\n"


class State(enum.Enum):
    """The session states of RFC 1939 §3."""

    AUTHORIZATION = "AUTHORIZATION"
    TRANSACTION = "TRANSACTION"
    UPDATE = "UPDATE"


_AUTHZ = frozenset({State.AUTHORIZATION})
_TRANS = frozenset({State.TRANSACTION})
_BOTH = _AUTHZ | _TRANS

COMMAND_STATES: dict[str, frozenset[State]] = {
    "CAPA": _BOTH,
    "QUIT": _BOTH,
    "USER": _AUTHZ,
    "PASS": _AUTHZ,
    "AUTH": _AUTHZ,
    "STLS": _AUTHZ,
    "STAT": _TRANS,
    "LIST": _TRANS,
    "RETR": _TRANS,
    "DELE": _TRANS,
    "NOOP": _TRANS,
    "RSET": _TRANS,
    "TOP": _TRANS,
    "UIDL": _TRANS,
}
"""Every command and the states it is valid in: the one place the state is checked."""


@dataclass(frozen=True)
class Pop3Config:
    """What a POP3 listener needs; times in seconds."""

    data_dir: Path
    users: UserDB
    ssl_context: ssl.SSLContext | None = None
    implicit_tls: bool = False
    insecure_auth: bool = False
    idle_timeout_s: float = 600.0
    tls_handshake_timeout_s: float = 60.0
    login_delay_s: float = 0.0
    max_connections: int = 1000
    max_connections_per_ip: int = 100


@dataclass
class _Shared:
    """State shared by every connection of one listener."""

    penalty: AuthPenalty
    """Failed logins per client address (shared with SMTP AUTH under ``mailplan serve``)."""
    connections: int = 0
    per_ip: dict[str, int] = field(default_factory=dict)
    last_login: dict[str, float] = field(default_factory=dict)  # address -> monotonic time
    index: MaildropIndex = field(default_factory=MaildropIndex)


class _Closed(Exception):
    """The connection is gone."""


class _IdleTimeout(Exception):
    """No command for ``idle_timeout_s``."""


class _StreamBroken(Exception):
    """A multi-line answer could not be finished: the connection must end."""


class _LineTooLong(Exception):
    """A line longer than the limit arrived (and was discarded)."""


def _printable(text: str, limit: int = 40) -> str:
    clean = "".join(c if " " <= c <= "~" else "?" for c in text)
    return clean[:limit]


def is_loopback(peer_ip: str) -> bool:
    """True for a loopback peer address, IPv4-mapped IPv6 (a dual-stack listener) included."""
    try:
        ip = ipaddress.ip_address(peer_ip.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def _parse_number(text: str) -> int | None:
    if not text or len(text) > 10 or not text.isascii() or not text.isdigit():
        return None
    return int(text)


class POP3(asyncio.Protocol):
    """One POP3 connection: buffered line input, flow-controlled output, ``pop3_*`` commands."""

    _methods: ClassVar[dict[str, Callable[[POP3, str], Awaitable[str | None]]]] = {}

    @classmethod
    def _build_methods(cls) -> None:
        cls._methods = {
            name[5:]: getattr(cls, name) for name in dir(cls) if name.startswith("pop3_")
        }

    def __init__(self, config: Pop3Config, shared: _Shared) -> None:
        self.config = config
        self.shared = shared
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.state = State.AUTHORIZATION
        self.peer_ip = ""
        self.tls_active = config.implicit_tls
        # authorization
        self.user: str | None = None
        self.auth_failures = 0
        # transaction: the locked maildrop, its snapshot and the DELE marks
        self.address: str | None = None
        self.maildrop: MaildropSession | None = None
        # plumbing
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
        self._counted = False
        self._task: asyncio.Task[None] | None = None

    # region #### transport plumbing ####

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport but implement it
        self.transport = transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer_ip = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        shared, cfg = self.shared, self.config
        if (
            shared.connections >= cfg.max_connections
            or shared.per_ip.get(self.peer_ip, 0) >= cfg.max_connections_per_ip
        ):
            transport.write(ERR_TOO_MANY_CONNECTIONS.encode() + CRLF)
            transport.close()
            return
        shared.connections += 1
        shared.per_ip[self.peer_ip] = shared.per_ip.get(self.peer_ip, 0) + 1
        self._counted = True
        self._idle_handle = self.loop.call_later(cfg.idle_timeout_s, self._check_idle)
        self._task = self.loop.create_task(self._handle_client())

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
            waiter.set_exception(_Closed())
        if self._idle_handle is not None:
            self._idle_handle.cancel()
        if self._counted:
            self._counted = False
            self.shared.connections -= 1
            left = self.shared.per_ip.get(self.peer_ip, 1) - 1
            if left > 0:
                self.shared.per_ip[self.peer_ip] = left
            else:
                self.shared.per_ip.pop(self.peer_ip, None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._last_activity = self.loop.time()  # a client reading a long RETR is not idle
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_reader(self) -> None:
        waiter = self._read_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _check_idle(self) -> None:
        idle = self.loop.time() - self._last_activity
        if idle < self.config.idle_timeout_s:
            self._idle_handle = self.loop.call_later(
                self.config.idle_timeout_s - idle, self._check_idle
            )
            return
        self._timed_out = True
        if self._read_waiter is not None:
            self._wake_reader()
        elif self.transport is not None:
            self.transport.abort()  # stuck writing to a client that does not read

    async def _readline(self, limit: int) -> bytes | None:
        """The next line without its line end; None at end of input.

        Raises :class:`_LineTooLong` (after discarding the line) when the line, line end
        included, is longer than ``limit`` octets, and :class:`_IdleTimeout`.
        """
        discarding = False
        while True:
            if self._timed_out:
                raise _IdleTimeout
            buf = self._buffer
            idx = buf.find(b"\n")
            if idx >= 0:
                line = bytes(buf[:idx])
                del buf[: idx + 1]
                self._resume_reading()
                if discarding or idx + 1 > limit:
                    raise _LineTooLong
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

    def _resume_reading(self) -> None:
        if self._read_paused and len(self._buffer) <= INPUT_BUFFER_LIMIT // 2 and self.transport:
            self._read_paused = False
            self.transport.resume_reading()

    def _send(self, data: bytes) -> None:
        if self._closed or self.transport is None or self.transport.is_closing():
            raise _Closed
        self.transport.write(data)

    def push(self, reply: str) -> None:
        """Send one reply line (CRLF added)."""
        self._send(reply.encode("utf-8", "replace") + CRLF)

    def push_multiline(self, first: str, lines: Iterable[str]) -> None:
        """Send a multi-line reply of short text lines (none starts with '.'), then '.'."""
        self._send("\r\n".join([first, *lines, "."]).encode() + CRLF)

    async def _drain(self) -> None:
        if self._closed:
            raise _Closed
        if self._write_paused:
            self._drain_waiter = self.loop.create_future()
            await self._drain_waiter

    # endregion

    # region #### session loop ####

    async def _handle_client(self) -> None:
        """Greet, then run commands until QUIT, end of input, a limit or the idle timeout."""
        bad_commands = 0
        try:
            self.push(GREETING)
            while self.state is not State.UPDATE:
                try:
                    line = await self._readline(COMMAND_LINE_LIMIT)
                except _LineTooLong:
                    self.push(ERR_LINE_TOO_LONG)
                    ok = False
                else:
                    if line is None:
                        break
                    ok = await self._command(line)
                bad_commands = 0 if ok else bad_commands + 1
                if bad_commands >= BAD_COMMAND_LIMIT:
                    self.push(ERR_TOO_MANY_BAD_COMMANDS)
                    break
                if self._write_paused:
                    await self._drain()
        except _IdleTimeout:
            with contextlib.suppress(_Closed):
                self.push(ERR_IDLE)
        except _Closed:
            pass
        except Exception:  # a bug outside a command: log it, never leave the lock behind
            log.exception("pop3 session failed")
        finally:
            self._release_maildrop()  # without QUIT nothing was deleted (RFC 1939 §6)
            if self.transport is not None and not self.transport.is_closing():
                self.transport.close()

    async def _command(self, line: bytes) -> bool:
        """Split a command line, check the verb against the state, run it; True on +OK."""
        verb, _, arg = line.decode("utf-8", "surrogateescape").partition(" ")
        verb = verb.upper()
        states = COMMAND_STATES.get(verb)
        if states is None:
            self.push(ERR_UNKNOWN_COMMAND)
            return False
        if self.state not in states:
            self.push(ERR_WRONG_STATE)
            return False
        return await self._dispatch(verb, arg)

    async def _dispatch(self, verb: str, arg: str) -> bool:
        """Run ``pop3_<verb>``; True when it answered +OK. Unexpected errors -> [SYS/TEMP]."""
        try:
            reply = await self._methods[verb](self, arg)
        except (_Closed, _IdleTimeout):
            raise
        except _StreamBroken:
            raise _Closed from None
        except Exception:
            log.exception("pop3 %s failed", verb)
            self.push(ERR_SYS_TEMP)
            return True  # not the client's fault: does not count as a bad command
        if reply is None:  # the command sent a multi-line answer itself
            return True
        self.push(reply)
        return reply.startswith("+")

    def _release_maildrop(self) -> None:
        if self.maildrop is not None:
            self.maildrop.release()

    # endregion

    # region #### AUTHORIZATION ####

    def _plaintext_allowed(self) -> bool:
        if self.tls_active:
            return True
        return self.config.insecure_auth and is_loopback(self.peer_ip)

    async def pop3_CAPA(self, arg: str) -> str | None:
        """RFC 2449 §5: the capability list (STLS, USER and SASL only when usable now)."""
        caps = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        if self.state is State.AUTHORIZATION:
            if self._plaintext_allowed():
                caps += ["USER", "SASL PLAIN"]
            if self.config.ssl_context is not None and not self.tls_active:
                caps.append("STLS")
        if self.config.login_delay_s > 0:
            caps.append(f"LOGIN-DELAY {int(self.config.login_delay_s + 0.999)}")
        caps.append("EXPIRE NEVER")
        caps.append("IMPLEMENTATION mailplan")
        self.push_multiline(OK_CAPA, caps)
        return None

    async def pop3_STLS(self, arg: str) -> str | None:
        """RFC 2595 §4: start TLS; input sent before the handshake is discarded (CVE-2011-0411)."""
        if arg:
            return ERR_NOISE
        if self.tls_active:
            return ERR_ALREADY_TLS
        if self.config.ssl_context is None:
            return ERR_NO_TLS
        self.push(OK_STLS)
        await self._drain()
        self._buffer.clear()  # commands injected in the clear before the handshake
        self.user = None  # RFC 2595 §4: forget what was said in the clear
        await self._start_tls()
        return None

    async def _start_tls(self) -> None:
        """The server side of the STLS handshake, bounded by ``tls_handshake_timeout_s``
        (a timeout is logged); :class:`_Closed` when it fails."""
        assert self.transport is not None
        assert self.config.ssl_context is not None
        timeout = self.config.tls_handshake_timeout_s
        started = self.loop.time()
        try:
            new_transport = await self.loop.start_tls(
                self.transport,
                self,
                self.config.ssl_context,
                server_side=True,
                ssl_handshake_timeout=timeout,
            )
        except (TimeoutError, OSError, ssl.SSLError, ConnectionError) as exc:
            _log_handshake_failure(self.peer_ip, exc, self.loop.time() - started, timeout)
            self._closed = True
            raise _Closed from None
        if new_transport is None:
            raise _Closed
        self.transport = new_transport
        self._read_paused = False
        self.tls_active = True

    async def pop3_USER(self, arg: str) -> str | None:
        """RFC 1939 §7 USER: remember the address (any address gets +OK: no user oracle)."""
        if not self._plaintext_allowed():
            return ERR_PLAINTEXT_DISALLOWED
        name = arg.strip()
        if not name or " " in name:
            return ERR_USER_SYNTAX
        self.user = name
        return OK_USER

    async def pop3_PASS(self, arg: str) -> str | None:
        """RFC 1939 §7 PASS: the rest of the line is the password (spaces included)."""
        if not self._plaintext_allowed():
            return ERR_PLAINTEXT_DISALLOWED
        if self.user is None:
            return ERR_NO_USER
        user, self.user = self.user, None
        return await self._login(user, arg)

    async def pop3_AUTH(self, arg: str) -> str | None:
        """RFC 5034 AUTH PLAIN (RFC 4616), with or without an initial response."""
        mech, _, initial = arg.strip().partition(" ")
        if not mech:
            mechs = ["PLAIN"] if self._plaintext_allowed() else []
            self.push_multiline(OK_AUTH_MECHS, mechs)
            return None
        if mech.upper() != "PLAIN":
            return ERR_AUTH_MECH
        if not self._plaintext_allowed():
            return ERR_PLAINTEXT_DISALLOWED
        if not initial:
            self.push(AUTH_CONTINUE)
            try:
                line = await self._readline(AUTH_LINE_LIMIT)
            except _LineTooLong:
                return ERR_AUTH_BASE64
            if line is None:
                raise _Closed
            initial = line.decode("ascii", "replace").strip()
        if initial == "*":
            return ERR_AUTH_CANCELLED
        try:
            raw = b"" if initial == "=" else base64.b64decode(initial, validate=True)
        except (binascii.Error, ValueError):
            return ERR_AUTH_BASE64
        parts = raw.split(b"\0")
        if len(parts) != 3:
            return await self._fail_login()
        authzid, authcid, password = (p.decode("utf-8", "surrogateescape") for p in parts)
        if authzid and authzid.lower() != authcid.lower():
            return await self._fail_login()  # no proxy authorisation
        return await self._login(authcid, password)

    async def _login(self, address: str, password: str) -> str:
        """Verify, apply the login delay, lock and list the maildrop, enter TRANSACTION.

        An address with a failed login still being answered waits first (the per-address
        penalty, :mod:`~planner.mailserver.auth_penalty`). The common case (credentials
        verified a moment ago, an unchanged maildrop) stays on the event loop: a dictionary
        lookup, two ``stat`` calls and an ``flock``. Hashing a password and scanning a
        Maildir run in a thread.
        """
        wait = self.shared.penalty.before_attempt(self.peer_ip)
        if wait > 0:
            await asyncio.sleep(wait)
        users = self.config.users
        ok = users.verify_cached(address, password)
        if not ok:
            ok = await asyncio.to_thread(users.verify, address, password)
        if not ok:
            return await self._fail_login()
        addr = address.strip().lower()
        delay = self.config.login_delay_s
        if delay > 0:
            last = self.shared.last_login.get(addr)
            if last is not None and time.monotonic() - last < delay:
                return ERR_LOGIN_DELAY.format(seconds=int(delay + 0.999))
        try:
            root = maildir_path(self.config.data_dir, addr)
            lock = SessionLock(root)
            try:
                lock.acquire()
            except FileNotFoundError:  # a user who never got mail: no Maildir yet
                await asyncio.to_thread(ensure_maildir, root)
                lock.acquire()
        except MaildropLocked:
            return ERR_IN_USE
        except (OSError, ValueError):
            log.exception("pop3 cannot lock the maildrop of %s", addr)
            return ERR_MAILDROP_UNAVAILABLE
        try:
            listing = self.shared.index.lookup(root)
            if listing is None:
                listing = await asyncio.to_thread(self.shared.index.scan, root)
        except OSError:
            lock.release()
            log.exception("pop3 cannot list the maildrop of %s", addr)
            return ERR_MAILDROP_UNAVAILABLE
        except BaseException:  # never keep the lock
            lock.release()
            raise
        self.maildrop = MaildropSession(root, lock, listing)  # released in _handle_client
        if self._closed:  # the client left while we scanned
            raise _Closed
        self.address = addr
        self.state = State.TRANSACTION
        log.info("pop3 login %s from %s, %d messages", addr, self.peer_ip, len(listing.messages))
        if delay > 0:
            self.shared.last_login[addr] = time.monotonic()
        return OK_LOGGED_IN

    async def _fail_login(self) -> str:
        """The source address's penalty delay, then -ERR [AUTH]; hang up after the limit."""
        self.auth_failures += 1
        await asyncio.sleep(self.shared.penalty.failed(self.peer_ip))
        if self.auth_failures >= AUTH_FAILURE_LIMIT:
            self.push(ERR_AUTH_FAILED_BYE)
            raise _Closed
        return ERR_AUTH_FAILED

    # endregion

    # region #### TRANSACTION ####

    def _message(self, text: str) -> tuple[int, Message] | str:
        """The (index, message) a message-number argument names, or the -ERR reply."""
        assert self.maildrop is not None
        if not text:
            return ERR_NUMBER_MISSING
        number = _parse_number(text)
        if number is None:
            return ERR_NUMBER_INVALID.format(text=_printable(text))
        if not 1 <= number <= len(self.maildrop.messages):
            return ERR_NO_SUCH_MESSAGE.format(number=number)
        if number - 1 in self.maildrop.marked:
            return ERR_DELETED
        return number - 1, self.maildrop.messages[number - 1]

    def _one_message(self, arg: str) -> tuple[int, Message] | str:
        first, _, rest = arg.strip(" ").partition(" ")
        if rest.strip():
            return ERR_NUMBER_NOISE.format(text=_printable(rest))
        return self._message(first)

    async def pop3_STAT(self, arg: str) -> str | None:
        """RFC 1939 §5 STAT: count and octets of the messages not marked deleted."""
        if arg.strip():
            return ERR_NOISE
        assert self.maildrop is not None
        return OK_STAT.format(count=self.maildrop.count, octets=self.maildrop.octets)

    async def pop3_LIST(self, arg: str) -> str | None:
        """RFC 1939 §5 LIST [n]: sizes in octets with CRLF line ends, no stuffing dots."""
        if arg.strip():
            found = self._one_message(arg)
            if isinstance(found, str):
                return found
            index, msg = found
            return OK_LIST_ONE.format(number=index + 1, octets=msg.size_octets)
        drop = self.maildrop
        assert drop is not None
        first = OK_LIST_ALL.format(count=drop.count, octets=drop.octets)
        self.push_multiline(first, (f"{n} {m.size_octets}" for n, m in drop.visible()))
        return None

    async def pop3_UIDL(self, arg: str) -> str | None:
        """RFC 1939 §7 UIDL [n]: unique ids, stable across sessions (Maildir unique names)."""
        if arg.strip():
            found = self._one_message(arg)
            if isinstance(found, str):
                return found
            index, msg = found
            return OK_UIDL_ONE.format(number=index + 1, uid=msg.uid)
        assert self.maildrop is not None
        self.push_multiline(OK_UIDL_ALL, (f"{n} {m.uid}" for n, m in self.maildrop.visible()))
        return None

    async def pop3_DELE(self, arg: str) -> str | None:
        """RFC 1939 §5 DELE n: mark only; the message goes at QUIT (UPDATE state)."""
        found = self._one_message(arg)
        if isinstance(found, str):
            return found
        assert self.maildrop is not None
        self.maildrop.mark(found[0])
        return OK_DELE

    async def pop3_RSET(self, arg: str) -> str | None:
        """RFC 1939 §5 RSET: unmark every message marked deleted."""
        if arg.strip():
            return ERR_NOISE
        drop = self.maildrop
        assert drop is not None
        drop.unmark_all()
        return OK_RSET.format(count=drop.count, octets=drop.octets)

    async def pop3_NOOP(self, arg: str) -> str | None:
        """RFC 1939 §5 NOOP."""
        if arg.strip():
            return ERR_NOISE
        return OK_NOOP

    async def pop3_RETR(self, arg: str) -> str | None:
        """RFC 1939 §5 RETR n: the message with CRLF line ends and stuffed dots, streamed."""
        found = self._one_message(arg)
        if isinstance(found, str):
            return found
        index, msg = found
        assert self.maildrop is not None
        fd = self.maildrop.open_message(index)
        if fd is None:
            return ERR_MESSAGE_GONE.format(number=index + 1)
        try:
            head = OK_RETR.format(octets=msg.size_octets).encode() + CRLF
            # W= is at least the stored size; a read of a regular file returns all it asked
            # for unless it hit the end, so a short read means the whole message is here
            want = min(msg.size_octets, WHOLE_READ_LIMIT) + 1
            data = os.read(fd, want)
            if len(data) < want:
                self._send(head + encode_message(data))
                return None
            self._send(head)
            try:  # a large message: stream it, reading blocks off the event loop
                encoder = Pop3Encoder()
                self._send(encoder.feed(data))
                while block := await self.loop.run_in_executor(None, os.read, fd, READ_BLOCK):
                    self._send(encoder.feed(block))
                    await self._drain()
                self._send(encoder.finish())
            except (_Closed, OSError) as exc:
                raise _StreamBroken from exc
        finally:
            os.close(fd)
        return None

    async def pop3_TOP(self, arg: str) -> str | None:
        """RFC 1939 §7 TOP n k: the header, the blank line and k body lines."""
        parts = arg.strip(" ").split(" ")
        if len(parts) < 2 or not parts[1]:
            found = self._message(parts[0] if parts else "")
            return found if isinstance(found, str) else ERR_LINES_INVALID.format(text="")
        if len(parts) > 2:
            return ERR_NUMBER_NOISE.format(text=_printable(" ".join(parts[2:])))
        found = self._message(parts[0])
        if isinstance(found, str):
            return found
        lines = _parse_number(parts[1])
        if lines is None:
            return ERR_LINES_INVALID.format(text=_printable(parts[1]))
        index = found[0]
        assert self.maildrop is not None
        fd = self.maildrop.open_message(index)
        if fd is None:
            return ERR_MESSAGE_GONE.format(number=index + 1)
        self._send(OK_TOP.encode() + CRLF)
        try:
            with open(fd, "rb") as fh:
                encoder = Pop3Encoder()
                pending = bytearray()
                for piece in iter_top(fh, lines):
                    pending += piece
                    if len(pending) >= READ_BLOCK:
                        self._send(encoder.feed(bytes(pending)))
                        pending.clear()
                        await self._drain()
                self._send(encoder.feed(bytes(pending)) + encoder.finish())
        except (_Closed, OSError) as exc:
            raise _StreamBroken from exc
        return None

    async def pop3_QUIT(self, arg: str) -> str | None:
        """RFC 1939 §6: from TRANSACTION enter UPDATE and remove the marked messages."""
        drop, self.state = self.maildrop, State.UPDATE
        if drop is None or not drop.marked:
            self._release_maildrop()
            return OK_QUIT
        try:
            failed = len((await asyncio.to_thread(drop.update)).failed)
        except Exception:
            log.exception("pop3 deleting messages of %s failed", self.address)
            failed = len(drop.marked)
        self._release_maildrop()  # before the answer, so the client may log in again at once
        if failed:
            log.error("pop3 %s: %d deleted messages not removed", self.address, failed)
            return ERR_QUIT_NOT_REMOVED.format(count=failed)
        return OK_QUIT_DELETED

    # endregion


POP3._build_methods()


# region #### listener ####


def _log_handshake_failure(ip: str, exc: BaseException, elapsed: float, timeout: float) -> None:
    if elapsed >= timeout * 0.99:
        log.info("pop3 %s: TLS handshake timeout (%g s), closing", ip, timeout)
    else:
        log.debug("pop3 %s: TLS handshake failed: %s", ip, exc)


class _ImplicitTLS(asyncio.Protocol):
    """A POP3S connection until its TLS handshake is done; the :class:`POP3` protocol then
    gets the TLS transport (and its ``connection_made``), as with ``create_server(ssl=...)``.

    Unlike ``create_server(ssl=...)``, a handshake not done within
    ``tls_handshake_timeout_s`` is logged (with the client's address) when it is cut off.
    The TLS layer (asyncio's, as aiosmtpd uses for STARTTLS) goes in here, synchronously:
    ``loop.start_tls`` would run a step later, and uvloop may hand the client's first bytes
    to the plain protocol in between.
    """

    def __init__(self, app: POP3) -> None:
        self.app = app

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        app, loop = self.app, self.app.loop
        context, timeout = app.config.ssl_context, app.config.tls_handshake_timeout_s
        assert context is not None
        peer = transport.get_extra_info("peername")
        ip = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        waiter: asyncio.Future[None] = loop.create_future()
        tls = sslproto.SSLProtocol(
            loop,
            app,
            context,
            waiter,
            server_side=True,
            ssl_handshake_timeout=timeout,  # type: ignore[arg-type]  # typeshed says int
        )
        started = loop.time()

        def handshake_done(fut: asyncio.Future[None]) -> None:
            exc = None if fut.cancelled() else fut.exception()
            if exc is not None:
                _log_handshake_failure(ip, exc, loop.time() - started, timeout)

        waiter.add_done_callback(handshake_done)
        transport.set_protocol(tls)
        tls.connection_made(transport)


async def start_pop3_server(
    *,
    host: str,
    port: int,
    data_dir: Path,
    users: UserDB,
    ssl_context: ssl.SSLContext | None,
    insecure_auth: bool,
    idle_timeout_s: float = 600.0,
    tls_handshake_timeout_s: float = 60.0,
    implicit_tls: bool = False,
    login_delay_s: float = 0.0,
    auth_failure_delay_s: float = 2.0,
    auth_failure_max_delay_s: float = 15.0,
    auth_penalty: AuthPenalty | None = None,
    max_connections: int = 1000,
    max_connections_per_ip: int = 100,
    sock: socket.socket | None = None,
) -> asyncio.Server:
    """Listen for POP3 on ``host:port`` (or on an already bound ``sock``) and serve ``data_dir``.

    ``ssl_context`` enables STLS (RFC 2595), or TLS from the first byte with
    ``implicit_tls`` (port 995 style); a handshake not done in ``tls_handshake_timeout_s``
    is logged and the connection closed. Without TLS, USER/PASS/AUTH are refused unless
    ``insecure_auth`` (then only from loopback peers, with a warning at start-up).
    ``auth_penalty`` shares failed-login delays with other listeners (else one is made
    from the two delay arguments). Works on any asyncio event loop, uvloop included.
    """
    if implicit_tls and ssl_context is None:
        raise ValueError("implicit_tls needs an ssl_context")
    if idle_timeout_s <= 0 or tls_handshake_timeout_s <= 0:
        raise ValueError("idle_timeout_s and tls_handshake_timeout_s must be positive")
    config = Pop3Config(
        data_dir=Path(data_dir),
        users=users,
        ssl_context=ssl_context,
        implicit_tls=implicit_tls,
        insecure_auth=insecure_auth,
        idle_timeout_s=idle_timeout_s,
        tls_handshake_timeout_s=tls_handshake_timeout_s,
        login_delay_s=login_delay_s,
        max_connections=max_connections,
        max_connections_per_ip=max_connections_per_ip,
    )
    if auth_penalty is None:
        auth_penalty = AuthPenalty(auth_failure_delay_s, auth_failure_max_delay_s)
    shared = _Shared(auth_penalty)
    loop = asyncio.get_running_loop()

    def factory() -> asyncio.Protocol:
        pop3 = POP3(config, shared)
        return _ImplicitTLS(pop3) if implicit_tls else pop3

    if sock is not None:
        server = await loop.create_server(factory, sock=sock)
    else:
        server = await loop.create_server(factory, host, port)
    where = ", ".join(_sockname(s) for s in server.sockets)
    if insecure_auth:
        log.warning(
            "POP3 on %s: --insecure-auth: passwords accepted without TLS from loopback clients",
            where,
        )
    elif ssl_context is None:
        log.warning("POP3 on %s: no TLS certificate, so no one can log in", where)
    return server


def _sockname(sock: socket.socket) -> str:
    name = sock.getsockname()
    return f"{name[0]}:{name[1]}"


# endregion

# region #### command line (tests and benchmarks; `mailplan serve --pop3` is the product) ####


def _parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"--listen: expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m planner.mailserver.pop3",
        description="Serve POP3 from DATA_DIR/mailboxes (users in DATA_DIR/users).",
    )
    p.add_argument("--data-dir", required=True, type=Path, help="the server's data folder")
    p.add_argument("--listen", default="127.0.0.1:1110", help="HOST:PORT (port 0: any free)")
    p.add_argument(
        "--insecure-auth", action="store_true", help="allow logins without TLS from loopback"
    )
    p.add_argument("--tls-cert", type=Path, help="PEM certificate chain (enables STLS)")
    p.add_argument("--tls-key", type=Path, help="PEM private key")
    p.add_argument("--implicit-tls", action="store_true", help="TLS from the first byte (POP3S)")
    p.add_argument("--idle-timeout", type=float, default=600.0, metavar="SECONDS")
    p.add_argument("--tls-handshake-timeout", type=float, default=60.0, metavar="SECONDS")
    p.add_argument("--login-delay", type=float, default=0.0, metavar="SECONDS")
    p.add_argument(
        "--auth-failure-delay",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="delay before answering a failed login; doubles per failure from the same address",
    )
    p.add_argument("--auth-failure-max-delay", type=float, default=15.0, metavar="SECONDS")
    p.add_argument("--max-connections", type=int, default=1000)
    p.add_argument(
        "--credential-cache-ttl",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long a verified password is remembered after its last use (0: never)",
    )
    p.add_argument("--workers", type=int, default=1, help="processes sharing the listener")
    p.add_argument("--no-uvloop", action="store_true", help="use the standard asyncio loop")
    return p


def _ssl_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if cert is None and key is None:
        return None
    if cert is None:
        raise ValueError("--tls-key needs --tls-cert")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"--tls-cert/--tls-key: cannot load: {exc}") from None
    return ctx


async def _serve(args: argparse.Namespace, sock: socket.socket, announce: bool) -> None:
    ssl_context = _ssl_context(args.tls_cert, args.tls_key)
    server = await start_pop3_server(
        host="",
        port=0,
        data_dir=args.data_dir,
        users=UserDB(args.data_dir / "users", cache_ttl_s=args.credential_cache_ttl),
        ssl_context=ssl_context,
        insecure_auth=args.insecure_auth,
        idle_timeout_s=args.idle_timeout,
        tls_handshake_timeout_s=args.tls_handshake_timeout,
        implicit_tls=args.implicit_tls,
        login_delay_s=args.login_delay,
        auth_failure_delay_s=args.auth_failure_delay,
        auth_failure_max_delay_s=args.auth_failure_max_delay,
        max_connections=args.max_connections,
        sock=sock,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if announce:
        print(f"listening pop3 {_sockname(sock)}", flush=True)
    parent = os.getppid()
    async with server:
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            if not announce and os.getppid() != parent:
                break  # a worker whose parent died
        server.close()


def main(argv: list[str] | None = None) -> int:
    """Run a standalone POP3 server until SIGTERM/SIGINT; 2 on bad arguments."""
    args = _build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="pop3: %(levelname)s: %(message)s")
    try:
        host, port = _parse_listen(args.listen)
        _ssl_context(args.tls_cert, args.tls_key)
        if args.implicit_tls and args.tls_cert is None:
            raise ValueError("--implicit-tls needs --tls-cert and --tls-key")
        if not args.data_dir.is_dir():
            raise ValueError(f"--data-dir: not a directory: {args.data_dir}")
        if args.workers < 1:
            raise ValueError("--workers: must be at least 1")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except (ValueError, OSError) as exc:
        print(f"pop3: {exc}", file=sys.stderr)
        return 2
    sock.listen(1024)
    sock.setblocking(False)
    children: list[int] = []
    for _ in range(args.workers - 1):
        pid = os.fork()
        if pid == 0:
            _run(args, sock, announce=False)
            os._exit(0)
        children.append(pid)
    try:
        _run(args, sock, announce=True)
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    return 0


def _run(args: argparse.Namespace, sock: socket.socket, *, announce: bool) -> None:
    if args.no_uvloop:
        asyncio.run(_serve(args, sock, announce))
        return
    import uvloop

    uvloop.run(_serve(args, sock, announce))


if __name__ == "__main__":
    sys.exit(main())

# endregion
