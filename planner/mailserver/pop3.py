"""The POP3 server of the reference mail server: one session's commands.

RFC 1939 (USER, PASS, STAT, LIST, RETR, DELE, NOOP, RSET, QUIT, TOP, UIDL), RFC 2449 CAPA
and response codes, RFC 3206 ``[SYS/TEMP]`` and ``[AUTH]``, RFC 2595 STLS, RFC 5034 AUTH
PLAIN (RFC 4616). No APOP: it needs the clear-text secret; passwords are scrypt hashes.

Read it like aiosmtpd's ``smtp.py``: :class:`POP3` is the protocol object of one
connection; :meth:`POP3._handle_client` reads a line and enforces the limits,
:meth:`POP3._command` checks the verb against ``COMMAND_STATES`` (the only place the
state is checked) and calls ``pop3_<VERB>``, which returns its one-line reply (or sends a
multi-line one itself). Anything unexpected answers ``-ERR [SYS/TEMP]``; the session goes
on. Around it: ``pop3_protocol`` (states, replies, bounds), ``pop3_stream`` (line input,
flow-controlled output, idle timer, TLS), ``maildrop`` (the locked maildrop, its snapshot
and DELE marks) and ``pop3_server`` (the listener, :func:`start_pop3_server`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
import ssl
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import ClassVar

from planner.mailserver import pop3_protocol as R
from planner.mailserver.auth_penalty import AuthPenalty
from planner.mailserver.config import Pop3Limits, ServerConfig
from planner.mailserver.maildrop import (
    MaildropIndex,
    MaildropLocked,
    MaildropSession,
    Message,
    maildir_path,
    open_maildrop,
    retr_chunks,
    top_chunks,
)
from planner.mailserver.pop3_protocol import COMMAND_STATES, State
from planner.mailserver.pop3_stream import (
    CRLF,
    Closed,
    ConnectionCounter,
    IdleTimeout,
    LineProtocol,
    LineTooLong,
    StreamBroken,
)
from planner.mailserver.users import UserDB
from planner.net import is_loopback

__all__ = ["COMMAND_STATES", "POP3", "ListenerState", "State"]

log = logging.getLogger("mailplan.pop3")


@dataclass
class ListenerState:
    """What every connection of one POP3 listener (in one server process) shares."""

    config: ServerConfig
    users: UserDB
    penalty: AuthPenalty
    """Failed logins per client address (shared with SMTP AUTH under ``mailplan serve``)."""
    ssl_context: ssl.SSLContext | None = None
    """Enables STLS; with ``implicit_tls``, TLS from the first byte."""
    implicit_tls: bool = False
    connections: ConnectionCounter = field(init=False)
    last_login: dict[str, float] = field(default_factory=dict)  # address -> monotonic time
    index: MaildropIndex = field(default_factory=MaildropIndex)

    def __post_init__(self) -> None:
        limits = self.config.pop3_limits
        self.connections = ConnectionCounter(limits.max_connections, limits.max_connections_per_ip)

    @property
    def limits(self) -> Pop3Limits:
        """The POP3 limits of the server's configuration."""
        return self.config.pop3_limits


class POP3(LineProtocol):
    """One POP3 connection: the session state and the ``pop3_*`` commands."""

    _methods: ClassVar[dict[str, Callable[[POP3, str], Awaitable[str | None]]]] = {}

    @classmethod
    def _build_methods(cls) -> None:
        cls._methods = {
            name[5:]: getattr(cls, name) for name in dir(cls) if name.startswith("pop3_")
        }

    def __init__(self, server: ListenerState) -> None:
        super().__init__(server.limits.idle_timeout_s)
        self.server = server
        self.limits = server.limits
        self.state = State.AUTHORIZATION
        self.tls_active = server.implicit_tls
        # authorization
        self.user: str | None = None
        self.auth_failures = 0
        # transaction: the locked maildrop, its snapshot and the DELE marks
        self.address: str | None = None
        self.maildrop: MaildropSession | None = None
        self._task: asyncio.Task[None] | None = None

    # region #### connection ####

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Count the connection in (or refuse it over the limits), start the session."""
        super().connection_made(transport)
        if self.admit(self.server.connections, R.ERR_TOO_MANY_CONNECTIONS):
            self.start_idle_timer()
            self._task = self.loop.create_task(self._handle_client())

    # endregion

    # region #### session loop ####

    async def _handle_client(self) -> None:
        """Greet, then run commands until QUIT, end of input, a limit or the idle timeout."""
        bad_commands = 0
        try:
            self.push(R.GREETING)
            while self.state is not State.UPDATE:
                try:
                    line = await self.readline(R.COMMAND_LINE_LIMIT)
                except LineTooLong:
                    self.push(R.ERR_LINE_TOO_LONG)
                    ok = False
                else:
                    if line is None:
                        break
                    ok = await self._command(line)
                bad_commands = 0 if ok else bad_commands + 1
                if bad_commands >= R.BAD_COMMAND_LIMIT:
                    self.push(R.ERR_TOO_MANY_BAD_COMMANDS)
                    break
                if self.write_paused:
                    await self.drain()
        except IdleTimeout:
            with contextlib.suppress(Closed):
                self.push(R.ERR_IDLE)
        except Closed:
            pass
        except Exception:  # a bug outside a command: log it, never leave the lock behind
            log.exception("pop3 session failed")
        finally:
            self._release_maildrop()  # without QUIT nothing was deleted (RFC 1939 §6)
            self.close()

    async def _command(self, line: bytes) -> bool:
        """Split a command line, check the verb against the state, run it; True on +OK."""
        verb, _, arg = line.decode("utf-8", "surrogateescape").partition(" ")
        verb = verb.upper()
        states = COMMAND_STATES.get(verb)
        if states is None:
            self.push(R.ERR_UNKNOWN_COMMAND)
            return False
        if self.state not in states:
            self.push(R.ERR_WRONG_STATE)
            return False
        return await self._dispatch(verb, arg)

    async def _dispatch(self, verb: str, arg: str) -> bool:
        """Run ``pop3_<verb>``; True when it answered +OK. Unexpected errors -> [SYS/TEMP]."""
        try:
            reply = await self._methods[verb](self, arg)
        except (Closed, IdleTimeout):
            raise
        except StreamBroken:
            raise Closed from None
        except Exception:
            log.exception("pop3 %s failed", verb)
            self.push(R.ERR_SYS_TEMP)
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
        return self.server.config.insecure_auth and is_loopback(self.peer_ip)

    async def pop3_CAPA(self, arg: str) -> str | None:
        """RFC 2449 §5: the capability list (STLS, USER and SASL only when usable now)."""
        caps = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        if self.state is State.AUTHORIZATION:
            if self._plaintext_allowed():
                caps += ["USER", "SASL PLAIN"]
            if self.server.ssl_context is not None and not self.tls_active:
                caps.append("STLS")
        if self.limits.login_delay_s > 0:
            caps.append(f"LOGIN-DELAY {int(self.limits.login_delay_s + 0.999)}")
        caps.append("EXPIRE NEVER")
        caps.append("IMPLEMENTATION mailplan")
        self.push_multiline(R.OK_CAPA, caps)
        return None

    async def pop3_STLS(self, arg: str) -> str | None:
        """RFC 2595 §4: start TLS; input sent before the handshake is discarded (CVE-2011-0411)."""
        if arg:
            return R.ERR_NOISE
        if self.tls_active:
            return R.ERR_ALREADY_TLS
        context = self.server.ssl_context
        if context is None:
            return R.ERR_NO_TLS
        self.push(R.OK_STLS)
        await self.drain()
        self.discard_input()  # commands injected in the clear before the handshake
        self.user = None  # RFC 2595 §4: forget what was said in the clear
        await self.start_tls(context, self.limits.tls_handshake_timeout_s)
        self.tls_active = True
        return None

    async def pop3_USER(self, arg: str) -> str | None:
        """RFC 1939 §7 USER: remember the address (any address gets +OK: no user oracle)."""
        if not self._plaintext_allowed():
            return R.ERR_PLAINTEXT_DISALLOWED
        name = arg.strip()
        if not name or " " in name:
            return R.ERR_USER_SYNTAX
        self.user = name
        return R.OK_USER

    async def pop3_PASS(self, arg: str) -> str | None:
        """RFC 1939 §7 PASS: the rest of the line is the password (spaces included)."""
        if not self._plaintext_allowed():
            return R.ERR_PLAINTEXT_DISALLOWED
        if self.user is None:
            return R.ERR_NO_USER
        user, self.user = self.user, None
        return await self._login(user, arg)

    async def pop3_AUTH(self, arg: str) -> str | None:
        """RFC 5034 AUTH PLAIN (RFC 4616), with or without an initial response."""
        mech, _, initial = arg.strip().partition(" ")
        if not mech:
            mechs = ["PLAIN"] if self._plaintext_allowed() else []
            self.push_multiline(R.OK_AUTH_MECHS, mechs)
            return None
        if mech.upper() != "PLAIN":
            return R.ERR_AUTH_MECH
        if not self._plaintext_allowed():
            return R.ERR_PLAINTEXT_DISALLOWED
        if not initial:
            self.push(R.AUTH_CONTINUE)
            try:
                line = await self.readline(R.AUTH_LINE_LIMIT)
            except LineTooLong:
                return R.ERR_AUTH_BASE64
            if line is None:
                raise Closed
            initial = line.decode("ascii", "replace").strip()
        if initial == "*":
            return R.ERR_AUTH_CANCELLED
        try:
            raw = b"" if initial == "=" else base64.b64decode(initial, validate=True)
        except (binascii.Error, ValueError):
            return R.ERR_AUTH_BASE64
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
        wait = self.server.penalty.before_attempt(self.peer_ip)
        if wait > 0:
            await asyncio.sleep(wait)
        users = self.server.users
        ok = users.verify_cached(address, password)
        if not ok:
            ok = await asyncio.to_thread(users.verify, address, password)
        if not ok:
            return await self._fail_login()
        addr = address.strip().lower()
        delay = self.limits.login_delay_s
        if delay > 0:
            last = self.server.last_login.get(addr)
            if last is not None and time.monotonic() - last < delay:
                return R.ERR_LOGIN_DELAY.format(seconds=int(delay + 0.999))
        try:
            root = maildir_path(self.server.config.data_dir, addr)
            self.maildrop = await open_maildrop(root, self.server.index)  # released at the end
        except MaildropLocked:
            return R.ERR_IN_USE
        except (OSError, ValueError):
            log.exception("pop3 cannot open the maildrop of %s", addr)
            return R.ERR_MAILDROP_UNAVAILABLE
        if self.closed:  # the client left while we scanned
            raise Closed
        self.address = addr
        self.state = State.TRANSACTION
        log.info("pop3 login %s from %s, %d messages", addr, self.peer_ip, self.maildrop.count)
        if delay > 0:
            self.server.last_login[addr] = time.monotonic()
        return R.OK_LOGGED_IN

    async def _fail_login(self) -> str:
        """The source address's penalty delay, then -ERR [AUTH]; hang up after the limit."""
        self.auth_failures += 1
        await asyncio.sleep(self.server.penalty.failed(self.peer_ip))
        if self.auth_failures >= R.AUTH_FAILURE_LIMIT:
            self.push(R.ERR_AUTH_FAILED_BYE)
            raise Closed
        return R.ERR_AUTH_FAILED

    # endregion

    # region #### TRANSACTION ####

    def _message(self, text: str) -> tuple[int, Message] | str:
        """The (index, message) a message-number argument names, or the -ERR reply."""
        assert self.maildrop is not None
        if not text:
            return R.ERR_NUMBER_MISSING
        number = R.parse_number(text)
        if number is None:
            return R.ERR_NUMBER_INVALID.format(text=R.printable(text))
        if not 1 <= number <= len(self.maildrop.messages):
            return R.ERR_NO_SUCH_MESSAGE.format(number=number)
        if number - 1 in self.maildrop.marked:
            return R.ERR_DELETED
        return number - 1, self.maildrop.messages[number - 1]

    def _one_message(self, arg: str) -> tuple[int, Message] | str:
        first, _, rest = arg.strip(" ").partition(" ")
        if rest.strip():
            return R.ERR_NUMBER_NOISE.format(text=R.printable(rest))
        return self._message(first)

    async def pop3_STAT(self, arg: str) -> str | None:
        """RFC 1939 §5 STAT: count and octets of the messages not marked deleted."""
        if arg.strip():
            return R.ERR_NOISE
        assert self.maildrop is not None
        return R.OK_STAT.format(count=self.maildrop.count, octets=self.maildrop.octets)

    async def pop3_LIST(self, arg: str) -> str | None:
        """RFC 1939 §5 LIST [n]: sizes in octets with CRLF line ends, no stuffing dots."""
        if arg.strip():
            found = self._one_message(arg)
            if isinstance(found, str):
                return found
            index, msg = found
            return R.OK_LIST_ONE.format(number=index + 1, octets=msg.size_octets)
        drop = self.maildrop
        assert drop is not None
        first = R.OK_LIST_ALL.format(count=drop.count, octets=drop.octets)
        self.push_multiline(first, (f"{n} {m.size_octets}" for n, m in drop.visible()))
        return None

    async def pop3_UIDL(self, arg: str) -> str | None:
        """RFC 1939 §7 UIDL [n]: unique ids, stable across sessions (Maildir unique names)."""
        if arg.strip():
            found = self._one_message(arg)
            if isinstance(found, str):
                return found
            index, msg = found
            return R.OK_UIDL_ONE.format(number=index + 1, uid=msg.uid)
        assert self.maildrop is not None
        self.push_multiline(R.OK_UIDL_ALL, (f"{n} {m.uid}" for n, m in self.maildrop.visible()))
        return None

    async def pop3_DELE(self, arg: str) -> str | None:
        """RFC 1939 §5 DELE n: mark only; the message goes at QUIT (UPDATE state)."""
        found = self._one_message(arg)
        if isinstance(found, str):
            return found
        assert self.maildrop is not None
        self.maildrop.mark(found[0])
        return R.OK_DELE

    async def pop3_RSET(self, arg: str) -> str | None:
        """RFC 1939 §5 RSET: unmark every message marked deleted."""
        if arg.strip():
            return R.ERR_NOISE
        drop = self.maildrop
        assert drop is not None
        drop.unmark_all()
        return R.OK_RSET.format(count=drop.count, octets=drop.octets)

    async def pop3_NOOP(self, arg: str) -> str | None:
        """RFC 1939 §5 NOOP."""
        if arg.strip():
            return R.ERR_NOISE
        return R.OK_NOOP

    async def pop3_RETR(self, arg: str) -> str | None:
        """RFC 1939 §5 RETR n: the message with CRLF line ends and stuffed dots, streamed."""
        found = self._one_message(arg)
        if isinstance(found, str):
            return found
        index, msg = found
        assert self.maildrop is not None
        fd = self.maildrop.open_message(index)
        if fd is None:
            return R.ERR_MESSAGE_GONE.format(number=index + 1)
        try:
            chunks = retr_chunks(fd, msg.size_octets)
            first = await anext(chunks)  # a read error here is [SYS/TEMP]: nothing sent yet
            await self._stream(R.OK_RETR.format(octets=msg.size_octets), first, chunks)
        finally:
            os.close(fd)
        return None

    async def _stream(self, head: str, first: bytes, rest: AsyncGenerator[bytes, None]) -> None:
        """Send a multi-line answer as its pieces come; :class:`StreamBroken` when the
        connection or the file fails half-way (the answer cannot be finished)."""
        try:
            async with contextlib.aclosing(rest):
                self.send(head.encode() + CRLF + first)
                async for chunk in rest:
                    self.send(chunk)
                    await self.drain()
        except (Closed, OSError) as exc:
            raise StreamBroken from exc

    async def pop3_TOP(self, arg: str) -> str | None:
        """RFC 1939 §7 TOP n k: the header, the blank line and k body lines."""
        parts = arg.strip(" ").split(" ")
        if len(parts) < 2 or not parts[1]:
            found = self._message(parts[0] if parts else "")
            return found if isinstance(found, str) else R.ERR_LINES_INVALID.format(text="")
        if len(parts) > 2:
            return R.ERR_NUMBER_NOISE.format(text=R.printable(" ".join(parts[2:])))
        found = self._message(parts[0])
        if isinstance(found, str):
            return found
        lines = R.parse_number(parts[1])
        if lines is None:
            return R.ERR_LINES_INVALID.format(text=R.printable(parts[1]))
        index = found[0]
        assert self.maildrop is not None
        fd = self.maildrop.open_message(index)
        if fd is None:
            return R.ERR_MESSAGE_GONE.format(number=index + 1)
        try:
            await self._stream(R.OK_TOP, b"", top_chunks(fd, lines))
        finally:
            os.close(fd)
        return None

    async def pop3_QUIT(self, arg: str) -> str | None:
        """RFC 1939 §6: from TRANSACTION enter UPDATE and remove the marked messages."""
        drop, self.state = self.maildrop, State.UPDATE
        if drop is None or not drop.marked:
            self._release_maildrop()
            return R.OK_QUIT
        try:
            failed = len((await asyncio.to_thread(drop.update)).failed)
        except Exception:
            log.exception("pop3 deleting messages of %s failed", self.address)
            failed = len(drop.marked)
        self._release_maildrop()  # before the answer, so the client may log in again at once
        if failed:
            log.error("pop3 %s: %d deleted messages not removed", self.address, failed)
            return R.ERR_QUIT_NOT_REMOVED.format(count=failed)
        return R.OK_QUIT_DELETED

    # endregion


POP3._build_methods()
