"""The IMAP server of the reference mail server: one session's commands.

IMAP4rev1 (RFC 3501) with what current clients rely on from later RFCs: LITERAL+ (RFC
7888), SASL-IR (RFC 4959), ID (RFC 2971), IDLE (RFC 2177), NAMESPACE (RFC 2342), UIDPLUS
(RFC 4315: UID EXPUNGE, APPENDUID, COPYUID), MOVE (RFC 6851), UNSELECT (RFC 3691),
SPECIAL-USE (RFC 6154), ENABLE (RFC 5161), CHILDREN (RFC 3348), ESEARCH (RFC 4731),
LIST-STATUS (RFC 5819), STATUS=SIZE (RFC 8438), keywords kept as Dovecot keeps them
(``imap_mailbox``) and RFC 5530's response codes. STARTTLS (RFC 2595); LOGIN and
AUTHENTICATE PLAIN only under TLS, or from loopback under ``--insecure-auth``.

Read it like :mod:`~planner.mailserver.pop3`: :class:`IMAP` is the protocol object of one
connection; :meth:`IMAP._handle_client` reads a command (its line and literals) and
enforces the limits, :meth:`IMAP._command` checks the verb against ``COMMAND_STATES``
(the only place the state is checked) and calls ``imap_<VERB>`` (``imap_UID_FETCH``...),
which returns its tagged status (and sends untagged data itself). Anything unexpected
answers ``NO [SERVERBUG]``; the session goes on. Around it: ``imap_protocol`` (states,
replies, bounds), ``imap_parse`` (the grammar, mailbox names), ``imap_fetch`` (FETCH
items, ENVELOPE, BODYSTRUCTURE), ``imap_mailbox`` (folders, UIDs and flags on the
Maildir), ``pop3_stream`` (line input, flow-controlled output, idle timer, TLS) and
``imap_server`` (the listener, :func:`~planner.mailserver.imap_server.start_imap_server`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import calendar
import contextlib
import email.header
import email.parser
import email.utils
import logging
import os
import re
import ssl
import time
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from planner.mailserver import imap_protocol as R
from planner.mailserver.auth_penalty import AuthPenalty
from planner.mailserver.config import ImapLimits, ServerConfig
from planner.mailserver.imap_fetch import (
    FetchItem,
    body_section,
    bodystructure,
    crlf,
    envelope,
    internaldate,
    parse_fetch_items,
    parse_message,
)
from planner.mailserver.imap_mailbox import (
    SPECIAL_USE,
    Keywords,
    MessageInfo,
    Store,
    TooManyKeywords,
    add_keywords,
    add_message,
    canonical_flag,
    copy_message,
    is_keyword,
    read_keywords,
    remove_messages,
    resolve,
    set_letters,
    size_of,
    stamp,
    sync_folder,
    translate_letters,
)
from planner.mailserver.imap_notify import watcher_for
from planner.mailserver.imap_parse import (
    LITERAL_RE,
    SEPARATOR,
    MailboxNameError,
    ParseError,
    SequenceSet,
    Tokens,
    astring_out,
    check_mailbox_name,
    list_pattern,
    printable,
)
from planner.mailserver.imap_protocol import COMMAND_STATES, State
from planner.mailserver.maildrop import maildir_path
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

__all__ = ["COMMAND_STATES", "IMAP", "ImapListenerState", "State"]

log = logging.getLogger("mailplan.imap")


@dataclass
class ImapListenerState:
    """What every connection of one IMAP listener (in one server process) shares."""

    config: ServerConfig
    users: UserDB
    penalty: AuthPenalty
    """Failed logins per client address (shared with SMTP and POP3 under ``mailplan serve``)."""
    ssl_context: ssl.SSLContext | None = None
    implicit_tls: bool = False
    connections: ConnectionCounter = field(init=False)
    prepared: set[Path] = field(default_factory=set)
    """Maildirs whose special-use folders exist (checked once per process)."""

    def __post_init__(self) -> None:
        limits = self.config.imap_limits
        self.connections = ConnectionCounter(limits.max_connections, limits.max_connections_per_ip)

    @property
    def limits(self) -> ImapLimits:
        """The IMAP limits of the server's configuration."""
        return self.config.imap_limits


class LiteralTooBig(Exception):
    """A synchronising literal over the limit was refused (the client sends nothing more)."""

    def __init__(self, tag: str) -> None:
        super().__init__(tag)
        self.tag = tag


@dataclass
class Selected:
    """The selected folder of a session: its messages in sequence order."""

    name: str
    path: Path
    readonly: bool
    uidvalidity: int
    uidnext: int
    messages: list[MessageInfo]
    uids: list[int]
    recent: set[str]
    keywords: Keywords
    """The folder's keyword letters, as last announced (FLAGS)."""
    stamp: tuple[int, int] = (0, 0)

    def seq_of_uid(self, uid: int) -> int | None:
        """The sequence number (1-based) of a UID, or None."""
        i = bisect.bisect_left(self.uids, uid)
        return i + 1 if i < len(self.uids) and self.uids[i] == uid else None


def _flag_list(msg: MessageInfo, recent: bool, keywords: Keywords) -> bytes:
    flags = keywords.flags(msg.letters) + (["\\Recent"] if recent else [])
    return ("(" + " ".join(flags) + ")").encode()


def _flag_names(keywords: Keywords) -> str:
    """The folder's flags for FLAGS: the system flags, $Forwarded, its keywords."""
    names = keywords.defined()
    return " ".join([R.FLAGS, *(n for n in names if n != "$Forwarded")])


def _flags_lines(keywords: Keywords, readonly: bool) -> list[str]:
    """The untagged FLAGS and PERMANENTFLAGS of a folder (``\\*`` while a keyword
    letter is free)."""
    permanent = "" if readonly else _flag_names(keywords) + ("" if keywords.full else " \\*")
    return [
        f"* FLAGS ({_flag_names(keywords)})",
        f"* OK [PERMANENTFLAGS ({permanent})] Flags permitted.",
    ]


def _flag_arguments(raw_flags: list[bytes]) -> list[str]:
    """Flags of STORE or APPEND, checked: system flags (``\\Recent`` is dropped) and
    keywords (atoms); anything else is a ParseError."""
    out = []
    for raw in raw_flags:
        name = raw.decode("ascii", "replace")
        if name.startswith("\\"):
            if name.upper() == "\\RECENT":
                continue
            if canonical_flag(name) is None:
                raise ParseError(f"Invalid system flag: {printable(name)}")
        elif not is_keyword(name):
            raise ParseError(f"Invalid keyword: {printable(name)}")
        out.append(name)
    return out


_MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}


def _parse_date(text: bytes) -> float:
    """An IMAP date (``1-Feb-1994``) as the Unix time of its midnight UTC."""
    match = re.fullmatch(rb"(\d{1,2})-([A-Za-z]{3})-(\d{4})", text)
    if match is None or match.group(2).decode().title() not in _MONTHS:
        raise ParseError(f"Invalid date: {printable(text)}")
    day, month, year = (
        int(match.group(1)),
        _MONTHS[match.group(2).decode().title()],
        int(match.group(3)),
    )
    try:
        return calendar.timegm((year, month, day, 0, 0, 0))
    except (ValueError, OverflowError):
        raise ParseError(f"Invalid date: {printable(text)}") from None


def _parse_datetime(text: bytes) -> float:
    """APPEND's date-time (``17-Jul-1996 02:44:25 -0700``) as a Unix time."""
    try:
        dt = datetime.strptime(text.decode("ascii").strip(), "%d-%b-%Y %H:%M:%S %z")
    except (UnicodeDecodeError, ValueError):
        raise ParseError(f"Invalid date-time: {printable(text)}") from None
    return dt.timestamp()


class IMAP(LineProtocol):
    """One IMAP connection: the session state and the ``imap_*`` commands."""

    _methods: ClassVar[dict[str, Callable[[IMAP, str, Tokens], Awaitable[str]]]] = {}

    @classmethod
    def _build_methods(cls) -> None:
        cls._methods = {
            name[5:].replace("_", " "): getattr(cls, name)
            for name in dir(cls)
            if name.startswith("imap_")
        }

    def __init__(self, server: ImapListenerState) -> None:
        super().__init__(server.limits.idle_timeout_s)
        self.server = server
        self.limits = server.limits
        self.state = State.NOT_AUTHENTICATED
        self.tls_active = server.implicit_tls
        self.auth_failures = 0
        self.address: str | None = None
        self.store: Store | None = None
        self.selected: Selected | None = None
        self._task: asyncio.Task[None] | None = None
        self._held = b""
        """Untagged data waiting to go out with the tagged reply (FETCH's answers)."""

    # region #### connection and session loop ####

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Count the connection in (or refuse it over the limits), start the session."""
        super().connection_made(transport)
        if self.admit(self.server.connections, R.BYE_TOO_MANY_CONNECTIONS):
            self.start_idle_timer()
            self._task = self.loop.create_task(self._handle_client())

    def _capabilities(self) -> str:
        caps = R.BASE_CAPABILITIES
        if self.state is State.NOT_AUTHENTICATED:
            if self.server.ssl_context is not None and not self.tls_active:
                caps += " STARTTLS"
            caps += " AUTH=PLAIN" if self._plaintext_allowed() else " LOGINDISABLED"
        return caps

    async def _handle_client(self) -> None:
        """Greet, then run commands until LOGOUT, end of input, a limit or the idle timeout."""
        bad_commands = 0
        try:
            self.push(R.GREETING.format(caps=self._capabilities()))
            while self.state is not State.LOGOUT:
                try:
                    command = await self._read_command()
                except LineTooLong:
                    self.push(R.BAD_LINE_TOO_LONG)
                    ok = False
                except LiteralTooBig as exc:
                    self.push(f"{exc.tag} {R.BAD_LITERAL_TOO_BIG}")
                    ok = False
                else:
                    if command is None:
                        break
                    ok = await self._command(*command)
                bad_commands = 0 if ok else bad_commands + 1
                if bad_commands >= R.BAD_COMMAND_LIMIT:
                    self.push(R.BYE_TOO_MANY_BAD)
                    break
                if self.write_paused:
                    await self.drain()
        except IdleTimeout:
            with contextlib.suppress(Closed):
                self.push(R.BYE_IDLE)
        except Closed:
            pass
        except Exception:  # a bug outside a command: log it, close cleanly
            log.exception("imap session failed")
        finally:
            self.close()

    async def _read_exact(self, n: int) -> bytes:
        """``n`` octets of a literal (the idle timer and end of input apply)."""
        out = bytearray()
        buf = self._buffer
        while len(out) < n:
            if self._timed_out:
                raise IdleTimeout
            if buf:
                take = min(n - len(out), len(buf))
                out += buf[:take]
                del buf[:take]
                self._resume_reading()
                self._last_activity = self.loop.time()
                continue
            if self._eof:
                raise Closed
            self._read_waiter = self.loop.create_future()
            try:
                await self._read_waiter
            finally:
                self._read_waiter = None
        return bytes(out)

    async def _read_command(self) -> tuple[list[bytes], list[bytes]] | None:
        """A command's lines and literals; None at end of input."""
        line = await self.readline(R.COMMAND_LINE_LIMIT)
        if line is None:
            return None
        lines, literals = [line], []
        total = len(line)
        while (match := LITERAL_RE.search(line)) is not None:
            size, plus = int(match.group(1)), bool(match.group(2))
            head = lines[0].split(b" ", 3)
            verb = head[1].upper() if len(head) > 1 else b""
            limit = (
                self.server.config.limits.max_message_size_bytes
                if verb == b"APPEND"
                else R.COMMAND_LITERAL_LIMIT
            )
            if size > limit:
                if plus:  # the octets are on their way: RFC 7888 §4, close
                    self.push(R.BYE_LITERAL_TOO_BIG)
                    raise Closed
                tag = head[0].decode("ascii", "replace")
                raise LiteralTooBig(printable(tag, 64) or "*")
            if not plus:
                self.push(R.CONTINUE_LITERAL)
            literals.append(await self._read_exact(size))
            line = await self.readline(R.COMMAND_LINE_LIMIT)
            if line is None:
                raise Closed
            total += len(line)
            if total > R.COMMAND_LINE_LIMIT:
                raise LineTooLong
            lines.append(line)
        return lines, literals

    async def _command(self, lines: list[bytes], literals: list[bytes]) -> bool:
        """Parse the tag and verb, check the verb against the state, run it; True unless BAD."""
        tok = Tokens(lines, literals)
        try:
            tag = tok.atom().decode("ascii")
            if "+" in tag:
                raise ParseError("Invalid tag")
            tok.space()
            verb = tok.atom().decode("ascii").upper()
            if verb == "UID":
                tok.space()
                verb += " " + tok.atom().decode("ascii").upper()
        except (ParseError, UnicodeDecodeError):
            self.push("* BAD Error in IMAP command: missing tag or command.")
            return False
        states = COMMAND_STATES.get(verb)
        if states is None:
            self.push(f"{tag} {R.BAD_UNKNOWN}")
            return False
        if self.state not in states:
            self.push(f"{tag} {R.BAD_STATE}")
            return False
        try:
            reply = await self._methods[verb](self, tag, tok)
        except (Closed, IdleTimeout):
            raise
        except StreamBroken:
            raise Closed from None
        except _Answered:
            return True
        except ParseError as exc:
            reply = R.BAD_SYNTAX.format(text=exc)
        except MailboxNameError as exc:
            reply = R.NO_BAD_NAME.format(reason=exc)
        except Exception:
            log.exception("imap %s failed", verb)
            reply = R.NO_SERVERBUG
        held, self._held = self._held, b""
        self.send(held + f"{tag} {reply}\r\n".encode("utf-8", "replace"))
        return not reply.startswith("BAD")

    def _plaintext_allowed(self) -> bool:
        if self.tls_active:
            return True
        return self.server.config.insecure_auth and is_loopback(self.peer_ip)

    # endregion

    # region #### any state ####

    async def imap_CAPABILITY(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.1.1."""
        tok.rest_empty()
        self.push(f"* CAPABILITY {self._capabilities()}")
        return R.OK_CAPABILITY

    async def imap_NOOP(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.1.2: and the selected folder's news (new mail, expunges, flags)."""
        tok.rest_empty()
        await self._refresh()
        return R.OK_NOOP

    async def imap_LOGOUT(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.1.3."""
        self.push(R.BYE_LOGOUT)
        self.state = State.LOGOUT
        return R.OK_LOGOUT

    async def imap_ID(self, tag: str, tok: Tokens) -> str:
        """RFC 2971: the client's identity is logged; ours is sent."""
        tok.space()
        if tok.open_paren():
            items: list[bytes] = []
            while not tok.close_paren():
                if items:
                    tok.space()
                items.append(tok.astring() if tok.peek() != 0x4E else tok.atom())
            log.debug("imap %s: client id %s", self.peer_ip, printable(b" ".join(items), 200))
        else:
            tok.atom()
        self.push('* ID ("name" "mailplan" "vendor" "mailplan")')
        return R.OK_ID

    # endregion

    # region #### not authenticated ####

    async def imap_STARTTLS(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.2.1; input sent before the handshake is discarded (CVE-2011-0411)."""
        tok.rest_empty()
        if self.tls_active:
            return R.BAD_ALREADY_TLS
        context = self.server.ssl_context
        if context is None:
            return R.NO_TLS
        self.push(f"{tag} {R.OK_STARTTLS}")
        await self.drain()
        self.discard_input()
        await self.start_tls(context, self.limits.tls_handshake_timeout_s)
        self.tls_active = True
        raise _Answered

    async def imap_LOGIN(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.2.3."""
        if not self._plaintext_allowed():
            return R.NO_PRIVACY
        tok.space()
        user = tok.astring()
        tok.space()
        password = tok.astring()
        tok.rest_empty()
        return await self._login(
            user.decode("utf-8", "surrogateescape"), password.decode("utf-8", "surrogateescape")
        )

    async def imap_AUTHENTICATE(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.2.2 with SASL PLAIN (RFC 4616), SASL-IR (RFC 4959)."""
        tok.space()
        mech = tok.atom().upper()
        if mech != b"PLAIN":
            return R.NO_AUTH_MECH
        if not self._plaintext_allowed():
            return R.NO_PRIVACY
        if tok.maybe_space():
            initial = tok.atom(b"=").decode("ascii", "replace")
            tok.rest_empty()
        else:
            self.push(R.CONTINUE_AUTH)
            try:
                line = await self.readline(R.AUTH_LINE_LIMIT)
            except LineTooLong:
                return R.NO_AUTH_BASE64
            if line is None:
                raise Closed
            initial = line.decode("ascii", "replace").strip()
        if initial == "*":
            return R.NO_AUTH_CANCELLED
        try:
            raw = b"" if initial == "=" else base64.b64decode(initial, validate=True)
        except (binascii.Error, ValueError):
            return R.NO_AUTH_BASE64
        parts = raw.split(b"\0")
        if len(parts) != 3:
            return await self._fail_login()
        authzid, authcid, password = (p.decode("utf-8", "surrogateescape") for p in parts)
        if authzid and authzid.lower() != authcid.lower():
            return await self._fail_login()
        return await self._login(authcid, password)

    async def _login(self, address: str, password: str) -> str:
        """Verify (penalty first), prepare the Maildir's folders, enter AUTHENTICATED."""
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
        try:
            root = maildir_path(self.server.config.data_dir, addr)
            store = Store(root)
            if root not in self.server.prepared:
                await asyncio.to_thread(store.prepare)
                self.server.prepared.add(root)
        except (OSError, ValueError):
            log.exception("imap cannot open the Maildir of %s", addr)
            return R.NO_UNAVAILABLE
        if self.closed:
            raise Closed
        self.address, self.store = addr, store
        self.state = State.AUTHENTICATED
        log.info("imap login %s from %s", addr, self.peer_ip)
        return R.OK_LOGGED_IN.format(caps=self._capabilities())

    async def _fail_login(self) -> str:
        """The source address's penalty delay, then NO; hang up after the limit."""
        self.auth_failures += 1
        await asyncio.sleep(self.server.penalty.failed(self.peer_ip))
        if self.auth_failures >= R.AUTH_FAILURE_LIMIT:
            self.push(R.BYE_AUTH_FAILURES)
            raise Closed
        return R.NO_AUTH_FAILED

    # endregion

    # region #### authenticated: folders ####

    def _mailbox(self, tok: Tokens) -> str:
        """A mailbox-name argument, checked (MailboxNameError otherwise)."""
        return check_mailbox_name(tok.astring())

    async def imap_ENABLE(self, tag: str, tok: Tokens) -> str:
        """RFC 5161: no extension here needs enabling, so none is."""
        tok.space()
        tok.atom()
        self.push("* ENABLED")
        return R.OK_ENABLE

    async def imap_NAMESPACE(self, tag: str, tok: Tokens) -> str:
        """RFC 2342: one personal namespace, no prefix, ``.`` as separator."""
        tok.rest_empty()
        self.push(f'* NAMESPACE (("" "{SEPARATOR}")) NIL NIL')
        return R.OK_NAMESPACE

    async def imap_SELECT(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.3.1."""
        return await self._select(tok, readonly=False)

    async def imap_EXAMINE(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.3.2: SELECT read-only."""
        return await self._select(tok, readonly=True)

    async def _select(self, tok: Tokens, readonly: bool) -> str:
        tok.space()
        name = self._mailbox(tok)
        if tok.maybe_space():  # (CONDSTORE) and the like: no such parameter is supported
            raise ParseError("Unsupported SELECT parameters")
        tok.rest_empty()
        self.selected = None
        self.state = State.AUTHENTICATED
        assert self.store is not None
        path = self.store.folder_path(name)
        try:
            snap = await asyncio.to_thread(sync_folder, path, move_new=not readonly)
        except FileNotFoundError:
            return R.NO_NONEXISTENT.format(name=printable(name))
        sel = Selected(
            name,
            path,
            readonly,
            snap.uidvalidity,
            snap.uidnext,
            snap.messages,
            [m.uid for m in snap.messages],
            snap.recent,
            snap.keywords,
        )
        self.selected = sel
        self.state = State.SELECTED
        unseen = next((i + 1 for i, m in enumerate(sel.messages) if "S" not in m.letters), None)
        out = [
            *_flags_lines(sel.keywords, readonly),
            f"* {len(sel.messages)} EXISTS",
            f"* {len(sel.recent)} RECENT",
        ]
        if unseen is not None:
            out.append(f"* OK [UNSEEN {unseen}] First unseen.")
        out += [
            f"* OK [UIDVALIDITY {sel.uidvalidity}] UIDs valid.",
            f"* OK [UIDNEXT {sel.uidnext}] Predicted next UID.",
        ]
        self.send(("\r\n".join(out) + "\r\n").encode())
        return R.OK_SELECT.format(mode="READ-ONLY" if readonly else "READ-WRITE")

    async def imap_CREATE(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.3.3 (a trailing separator is dropped)."""
        tok.space()
        raw = tok.astring()
        tok.rest_empty()
        name = check_mailbox_name(raw[:-1] if raw.endswith(SEPARATOR.encode()) else raw)
        if name == "INBOX":
            return R.NO_ALREADYEXISTS
        assert self.store is not None
        try:
            await asyncio.to_thread(self.store.create, name)
        except FileExistsError:
            return R.NO_ALREADYEXISTS
        return R.OK_CREATE

    async def imap_DELETE(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.3.4."""
        tok.space()
        name = self._mailbox(tok)
        tok.rest_empty()
        if name == "INBOX":
            return R.NO_INBOX.format(action="deleted")
        assert self.store is not None
        if self.selected is not None and self.selected.name == name:
            self.selected, self.state = None, State.AUTHENTICATED
        try:
            await asyncio.to_thread(self.store.delete, name)
        except FileNotFoundError:
            return R.NO_NONEXISTENT.format(name=printable(name))
        subs = self.store.subscriptions()
        if name in subs:
            await asyncio.to_thread(self.store.set_subscriptions, subs - {name})
        return R.OK_DELETE

    async def imap_RENAME(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.3.5 (sub-folders follow). Renaming INBOX moves its messages to a
        new folder and leaves INBOX empty (its sub-folders stay)."""
        tok.space()
        old = self._mailbox(tok)
        tok.space()
        new = self._mailbox(tok)
        tok.rest_empty()
        if new == "INBOX":
            return R.NO_ALREADYEXISTS
        assert self.store is not None
        if old == "INBOX":
            try:
                await asyncio.to_thread(self.store.rename_inbox, new)
            except FileExistsError:
                return R.NO_ALREADYEXISTS
            if self.selected is not None and self.selected.name == "INBOX":
                await self._refresh()
            return R.OK_RENAME
        try:
            await asyncio.to_thread(self.store.rename, old, new)
        except FileNotFoundError:
            return R.NO_NONEXISTENT.format(name=printable(old))
        except FileExistsError:
            return R.NO_ALREADYEXISTS
        return R.OK_RENAME

    async def imap_SUBSCRIBE(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.3.6."""
        tok.space()
        name = self._mailbox(tok)
        tok.rest_empty()
        assert self.store is not None
        subs = self.store.subscriptions()
        if name not in subs:
            await asyncio.to_thread(self.store.set_subscriptions, subs | {name})
        return R.OK_SUBSCRIBE

    async def imap_UNSUBSCRIBE(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.3.7."""
        tok.space()
        name = self._mailbox(tok)
        tok.rest_empty()
        assert self.store is not None
        subs = self.store.subscriptions()
        if name in subs:
            await asyncio.to_thread(self.store.set_subscriptions, subs - {name})
        return R.OK_UNSUBSCRIBE

    def _list_lines(
        self,
        verb: str,
        reference: bytes,
        pattern: bytes,
        only: set[str] | None,
        special: bool,
        mark: set[str] | None = None,
    ) -> list[tuple[str | None, str]]:
        """(folder name, or None for a \\Noselect one; its LIST or LSUB line) of the
        folders that match; ``only``: of these names (\\Subscribed for LIST), ``mark``:
        \\Subscribed on these (RETURN (SUBSCRIBED))."""
        assert self.store is not None
        if not pattern:
            return [(None, f'* {verb} (\\Noselect) "{SEPARATOR}" ""')]
        regex = list_pattern(
            reference.decode("ascii", "replace"), pattern.decode("ascii", "replace")
        )
        names = self.store.folders()
        existing = set(names)
        implied = (
            {  # "a" of "a.b" when "a" does not exist: listed \Noselect (RFC 3501 §6.3.8)
                SEPARATOR.join(n.split(SEPARATOR)[:i])
                for n in names
                for i in range(1, n.count(SEPARATOR) + 1)
            }
            - existing
        )
        out = []
        for name in sorted(existing | implied, key=lambda n: (n != "INBOX", n)):
            if only is not None and name not in only:
                continue
            if not regex.match(name):
                continue
            attrs = ["\\Noselect"] if name in implied else []
            has_children = any(n.startswith(name + SEPARATOR) for n in existing)
            attrs.append("\\HasChildren" if has_children else "\\HasNoChildren")
            use = SPECIAL_USE.get(name)
            if use:
                attrs.append(use)
            elif special:
                continue
            if (only is not None and verb == "LIST") or (mark is not None and name in mark):
                attrs.append("\\Subscribed")
            line = f'* {verb} ({" ".join(attrs)}) "{SEPARATOR}" {astring_out(name)}'
            out.append((None if name in implied else name, line))
        return out

    async def imap_LIST(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.3.8 with RFC 6154 attributes, LIST-EXTENDED's SUBSCRIBED and
        SPECIAL-USE selection (RFC 5258 §3.1), and its RETURN options SUBSCRIBED, CHILDREN
        and SPECIAL-USE, and STATUS (LIST-STATUS, RFC 5819): a STATUS line after each
        selectable folder listed."""
        tok.space()
        options: list[bytes] = []
        if tok.peek() == 0x28:
            options = [o.upper() for o in tok.paren_list(b"-")]
            tok.space()
        reference = tok.astring()
        tok.space()
        pattern = tok.list_mailbox()
        returns: set[str] = set()
        status: list[str] = []
        if tok.maybe_space():
            if tok.atom().upper() != b"RETURN":
                raise ParseError("Expected RETURN")
            tok.space()
            if not tok.open_paren():
                raise ParseError("Expected ( after RETURN")
            while not tok.close_paren():
                if returns:
                    tok.space()
                option = tok.atom().upper().decode("ascii", "replace")
                if option == "STATUS":
                    tok.space()
                    status = self._status_items(tok)
                elif option not in ("SUBSCRIBED", "CHILDREN", "SPECIAL-USE"):
                    raise ParseError(f"Unknown LIST RETURN option: {printable(option)}")
                returns.add(option)
        tok.rest_empty()
        assert self.store is not None
        only = self.store.subscriptions() if b"SUBSCRIBED" in options else None
        mark = self.store.subscriptions() if "SUBSCRIBED" in returns else None
        lines = await asyncio.to_thread(
            self._list_lines, "LIST", reference, pattern, only, b"SPECIAL-USE" in options, mark
        )
        out = []
        for name, line in lines:
            out.append(line)
            if status and name is not None:
                found = await self._status_line(name, status)
                if found is not None:
                    out.append(found)
        if out:
            self.send(("\r\n".join(out) + "\r\n").encode())
        return R.OK_LIST

    async def imap_LSUB(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.3.9: the subscribed folders that exist."""
        tok.space()
        reference = tok.astring()
        tok.space()
        pattern = tok.list_mailbox()
        tok.rest_empty()
        assert self.store is not None
        only = self.store.subscriptions()
        lines = await asyncio.to_thread(self._list_lines, "LSUB", reference, pattern, only, False)
        if lines:
            self.send(("\r\n".join(line for _, line in lines) + "\r\n").encode())
        return R.OK_LSUB

    _STATUS_ITEMS: ClassVar[frozenset[str]] = frozenset(
        {"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "SIZE", "DELETED"}
    )

    def _status_items(self, tok: Tokens) -> list[str]:
        """STATUS's ``(item ...)``, checked."""
        items = [i.upper().decode("ascii", "replace") for i in tok.paren_list(b"")]
        if not items or any(i not in self._STATUS_ITEMS for i in items):
            raise ParseError("Invalid STATUS item")
        return items

    async def _status_line(self, name: str, items: list[str]) -> str | None:
        """``* STATUS name (...)`` of a folder, or None when it does not exist."""
        assert self.store is not None
        try:
            snap = await asyncio.to_thread(
                sync_folder, self.store.folder_path(name), move_new=False
            )
        except FileNotFoundError:
            return None
        msgs = snap.messages
        values = {
            "MESSAGES": len(msgs),
            "RECENT": sum(1 for m in msgs if "/new/" in m.path),
            "UIDNEXT": snap.uidnext,
            "UIDVALIDITY": snap.uidvalidity,
            "UNSEEN": sum(1 for m in msgs if "S" not in m.letters),
            "DELETED": sum(1 for m in msgs if "T" in m.letters),
        }
        if "SIZE" in items:
            values["SIZE"] = await asyncio.to_thread(lambda: sum(size_of(m) for m in msgs))
        body = " ".join(f"{i} {values[i]}" for i in items)
        return f"* STATUS {astring_out(name)} ({body})"

    async def imap_STATUS(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.3.10, with RFC 9051's DELETED and SIZE (STATUS=SIZE, RFC 8438)."""
        tok.space()
        name = self._mailbox(tok)
        tok.space()
        items = self._status_items(tok)
        tok.rest_empty()
        line = await self._status_line(name, items)
        if line is None:
            return R.NO_NONEXISTENT.format(name=printable(name))
        self.push(line)
        return R.OK_STATUS

    async def imap_APPEND(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.3.11 with LITERAL+ and UIDPLUS's APPENDUID."""
        tok.space()
        name = self._mailbox(tok)
        tok.space()
        flags: list[bytes] = []
        if tok.peek() == 0x28:
            flags = tok.paren_list()
            tok.space()
        when: float | None = None
        if tok.peek() == 0x22:
            when = _parse_datetime(tok.string())
            tok.space()
        if tok.peek() != 0x7B:
            raise ParseError("APPEND needs a literal")
        message = tok.string()
        tok.rest_empty()
        assert self.store is not None
        path = self.store.folder_path(name)
        if not self.store.exists(name):
            return R.NO_TRYCREATE.format(name=printable(name))
        names = _flag_arguments(flags)

        def append() -> tuple[int, int]:
            letters = add_keywords(path, names).letters(names)
            unique = add_message(path, message, letters, when)
            snap = sync_folder(path, move_new=False)
            uid = next(m.uid for m in snap.messages if m.unique == unique)
            return snap.uidvalidity, uid

        try:
            validity, uid = await asyncio.to_thread(append)
        except TooManyKeywords:
            return R.NO_TOO_MANY_KEYWORDS
        if self.selected is not None and self.selected.path == path:
            await self._refresh()
        return R.OK_APPEND.format(validity=validity, uid=uid)

    async def imap_IDLE(self, tag: str, tok: Tokens) -> str:
        """RFC 2177: new mail, expunges and flag changes at once, until ``DONE``. The
        session sleeps on an inotify notice of its folder (:mod:`imap_notify`); without
        one it looks at the folder's mtimes every ``IDLE_POLL_S``."""
        tok.rest_empty()
        self.push(R.CONTINUE_IDLE)
        reader = self.loop.create_task(self.readline(R.COMMAND_LINE_LIMIT))
        watcher = watcher_for(self.loop)
        watched = self.selected
        watch = watcher.watch(watched.path) if watched is not None else None
        try:
            if watched is not None and watch is not None:
                await self._refresh()  # what changed before the watch began
            while True:
                if watch is not None and watcher.alive(watch):
                    wake = self.loop.create_task(watch.changed.wait())
                    done, _ = await asyncio.wait(
                        {reader, wake}, timeout=R.IDLE_RECHECK_S, return_when=FIRST_COMPLETED
                    )
                    if not wake.done():
                        wake.cancel()
                    watch.changed.clear()
                else:
                    done, _ = await asyncio.wait({reader}, timeout=R.IDLE_POLL_S)
                if reader in done:
                    break
                sel = self.selected
                if sel is not None:
                    try:
                        now = stamp(sel.path)
                    except OSError:
                        continue
                    if now != sel.stamp:
                        await self._refresh()
                        if self.write_paused:
                            await self.drain()
        finally:
            if watch is not None:
                watcher.unwatch(watch)
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader
        try:
            line = reader.result()
        except LineTooLong:
            return R.BAD_IDLE
        if line is None:
            raise Closed
        return R.OK_IDLE if line.strip().upper() == b"DONE" else R.BAD_IDLE

    # endregion

    # region #### selected: the folder's news ####

    async def _refresh(self) -> None:
        """Send what changed in the selected folder since it was last looked at:
        ``EXPUNGE`` for messages gone, ``FETCH (FLAGS)`` for flags changed by others,
        ``EXISTS``/``RECENT`` for new messages."""
        sel = self.selected
        if sel is None:
            return
        try:
            before = stamp(sel.path)
            snap = await asyncio.to_thread(sync_folder, sel.path, move_new=not sel.readonly)
        except FileNotFoundError:  # the folder was deleted: say every message is gone
            snap = None
        if self.selected is not sel:
            return
        out: list[str] = []
        now = {m.uid: m for m in snap.messages} if snap is not None else {}
        for i in range(len(sel.messages) - 1, -1, -1):
            if sel.messages[i].uid not in now:
                out.append(f"* {i + 1} EXPUNGE")
                sel.recent.discard(sel.messages[i].unique)
                del sel.messages[i]
        last = sel.uids[-1] if sel.uids else 0
        if snap is not None and snap.keywords != sel.keywords:
            out += self._new_keywords(snap.keywords)
        for i, msg in enumerate(sel.messages):
            fresh = now[msg.uid]
            if fresh.letters != msg.letters:
                recent = msg.unique in sel.recent
                flags = _flag_list(fresh, recent, sel.keywords).decode()
                out.append(f"* {i + 1} FETCH (UID {msg.uid} FLAGS {flags})")
            msg.letters, msg.path = fresh.letters, fresh.path
        added = [m for m in (snap.messages if snap is not None else []) if m.uid > last]
        sel.messages.extend(added)
        sel.uids = [m.uid for m in sel.messages]
        if snap is not None:
            sel.recent |= snap.recent
            sel.uidnext = snap.uidnext
            sel.stamp = before
        if added:
            out += [f"* {len(sel.messages)} EXISTS", f"* {len(sel.recent)} RECENT"]
        if out:
            self.send(("\r\n".join(out) + "\r\n").encode())

    def _new_keywords(self, keywords: Keywords) -> list[str]:
        """Take the folder's keywords; the FLAGS lines to announce when they changed
        (RFC 3501 §7.2.6)."""
        sel = self.selected
        assert sel is not None
        if keywords == sel.keywords:
            return []
        sel.keywords = keywords
        return _flags_lines(keywords, sel.readonly)

    def _messages(self, text: bytes, uid: bool) -> list[tuple[int, MessageInfo]]:
        """(sequence number, message) of a sequence set or UID set, ascending."""
        sel = self.selected
        assert sel is not None
        seqset = SequenceSet.parse(text)
        if uid:
            if not sel.uids:
                return []
            out = []
            top = sel.uids[-1]
            for i, u in enumerate(sel.uids):
                if seqset.contains(u, top):
                    out.append((i + 1, sel.messages[i]))
            return out
        count = len(sel.messages)
        if count == 0:  # "1:*" of an empty folder: nothing, not an error (as Dovecot)
            return []
        if any(
            (a is not None and a > count) or (b is not None and b > count) for a, b in seqset.ranges
        ):
            raise ParseError("Invalid messageset")
        return [(n, sel.messages[n - 1]) for n in seqset.numbers(count, count)]

    async def imap_CHECK(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.4.1: every change is on disk already; the news, as NOOP."""
        tok.rest_empty()
        await self._refresh()
        return R.OK_CHECK

    async def imap_CLOSE(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.4.2: expunge silently (read-write), leave the folder."""
        tok.rest_empty()
        sel = self.selected
        assert sel is not None
        if not sel.readonly:
            doomed = [m for m in sel.messages if "T" in m.letters]
            if doomed:
                await asyncio.to_thread(remove_messages, sel.path, doomed)
        self.selected, self.state = None, State.AUTHENTICATED
        return R.OK_CLOSE

    async def imap_UNSELECT(self, tag: str, tok: Tokens) -> str:
        """RFC 3691: leave the folder, expunging nothing."""
        tok.rest_empty()
        self.selected, self.state = None, State.AUTHENTICATED
        return R.OK_UNSELECT

    async def _expunge(self, only: set[int] | None) -> str:
        sel = self.selected
        assert sel is not None
        if sel.readonly:
            return R.NO_READ_ONLY
        doomed = [m for m in sel.messages if "T" in m.letters and (only is None or m.uid in only)]
        if doomed:
            await asyncio.to_thread(remove_messages, sel.path, doomed)
        await self._refresh()
        return R.OK_EXPUNGE

    async def imap_EXPUNGE(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.4.3: remove the messages flagged \\Deleted."""
        tok.rest_empty()
        return await self._expunge(None)

    async def imap_UID_EXPUNGE(self, tag: str, tok: Tokens) -> str:
        """RFC 4315 §2.1: EXPUNGE limited to a UID set."""
        tok.space()
        found = self._messages(tok.atom(b"*:,"), uid=True)
        tok.rest_empty()
        return await self._expunge({m.uid for _, m in found})

    # endregion

    # region #### selected: FETCH ####

    async def imap_FETCH(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.4.5."""
        return await self._fetch(tok, uid=False)

    async def imap_UID_FETCH(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.4.8 FETCH by UID (UID always in the answer)."""
        return await self._fetch(tok, uid=True)

    async def _fetch(self, tok: Tokens, uid: bool) -> str:
        tok.space()
        seqtext = tok.atom(b"*:,")
        tok.space()
        items = parse_fetch_items(tok)
        if tok.maybe_space():  # (CHANGEDSINCE ...) and the like
            raise ParseError("Unsupported FETCH modifiers")
        tok.rest_empty()
        if uid and not any(i.name == "UID" for i in items):
            items.insert(0, FetchItem("UID"))
        found = self._messages(seqtext, uid)
        sel = self.selected
        assert sel is not None
        sets_seen = not sel.readonly and any(
            (i.name == "BODY[]" and not i.peek) or i.name in ("RFC822", "RFC822.TEXT")
            for i in items
        )
        needs_file = any(
            i.name
            in ("BODY[]", "RFC822", "RFC822.HEADER", "RFC822.TEXT", "ENVELOPE", "BODYSTRUCTURE")
            or i.name == "BODY"
            or i.name == "INTERNALDATE"
            for i in items
        )
        gone = False
        out: list[bytes] = []
        pending = 0
        for seq, msg in found:
            if sets_seen and "S" not in msg.letters:
                if not set_letters(sel.path, msg, msg.letters + "S"):
                    gone = True
                    continue
                if not any(i.name == "FLAGS" for i in items):
                    items = [*items, FetchItem("FLAGS")]
            raw: bytes | None = None
            mtime = 0.0
            if needs_file:
                loaded = await self._load(sel.path, msg)
                if loaded is None:
                    gone = True
                    continue
                raw, mtime = loaded
            out.append(self._fetch_response(seq, msg, items, raw, mtime))
            pending += len(out[-1])
            if pending >= R.OUTPUT_BATCH:  # one write per batch, not one per message
                self.send(b"".join(out))
                out.clear()
                pending = 0
                if self.write_paused:
                    await self.drain()
        self._held = b"".join(out)  # goes out with the tagged reply: one write
        return R.NO_EXPUNGEISSUED if gone else R.OK_FETCH

    async def _load(self, folder: Path, msg: MessageInfo) -> tuple[bytes, float] | None:
        """The message with CRLF line ends and its INTERNALDATE (mtime); None when gone."""

        def read() -> tuple[bytes, float] | None:
            for _ in range(3):
                try:
                    fd = os.open(msg.path, os.O_RDONLY | os.O_CLOEXEC)
                except FileNotFoundError:
                    if resolve(folder, msg) is None:
                        return None
                    continue
                try:
                    st = os.fstat(fd)
                    want = st.st_size + 1
                    data = os.read(fd, want)
                    if len(data) == want:  # grew since fstat: read the rest
                        chunks = [data]
                        while block := os.read(fd, 1 << 20):
                            chunks.append(block)
                        data = b"".join(chunks)
                    return crlf(data), st.st_mtime
                finally:
                    os.close(fd)
            return None

        if size_of(msg) <= 262144:  # the name's W=: one read on the event loop
            return read()
        return await asyncio.to_thread(read)

    def _fetch_response(
        self, seq: int, msg: MessageInfo, items: list[FetchItem], raw: bytes | None, mtime: float
    ) -> bytes:
        sel = self.selected
        assert sel is not None
        parts: list[bytes] = []
        parsed = None
        for item in items:
            name = item.name
            if name == "UID":
                parts.append(b"UID %d" % msg.uid)
            elif name == "FLAGS":
                parts.append(b"FLAGS " + _flag_list(msg, msg.unique in sel.recent, sel.keywords))
            elif name == "RFC822.SIZE":
                parts.append(b"RFC822.SIZE %d" % (len(raw) if raw is not None else size_of(msg)))
            elif name == "INTERNALDATE":
                parts.append(b"INTERNALDATE " + internaldate(mtime))
            else:
                assert raw is not None
                needs_tree = name in ("ENVELOPE", "BODYSTRUCTURE", "BODY") or (
                    name == "BODY[]" and item.section[:1].isdigit()
                )
                if needs_tree and parsed is None:
                    parsed = parse_message(raw)
                if name == "ENVELOPE":
                    assert parsed is not None
                    parts.append(b"ENVELOPE " + envelope(parsed))
                elif name in ("BODYSTRUCTURE", "BODY"):
                    assert parsed is not None
                    parts.append(name.encode() + b" " + bodystructure(parsed, name != "BODY"))
                elif name == "RFC822":
                    parts.append(b"RFC822 {%d}\r\n" % len(raw) + raw)
                elif name in ("RFC822.HEADER", "RFC822.TEXT"):
                    section = "HEADER" if name == "RFC822.HEADER" else "TEXT"
                    data = body_section(raw, FetchItem("BODY[]", section), None)
                    parts.append(name.encode() + b" {%d}\r\n" % len(data) + data)
                else:
                    data = body_section(raw, item, parsed)
                    parts.append(item.label() + b" {%d}\r\n" % len(data) + data)
        return b"* %d FETCH (" % seq + b" ".join(parts) + b")" + CRLF

    # endregion

    # region #### selected: STORE, COPY, MOVE ####

    async def imap_STORE(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.4.6."""
        return await self._store(tok, uid=False)

    async def imap_UID_STORE(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.4.8 STORE by UID."""
        return await self._store(tok, uid=True)

    async def _store(self, tok: Tokens, uid: bool) -> str:
        tok.space()
        seqtext = tok.atom(b"*:,")
        tok.space()
        what = tok.atom(b".").upper().decode("ascii", "replace")
        match = re.fullmatch(r"([+-]?)FLAGS(\.SILENT)?", what)
        if match is None:
            raise ParseError(f"Invalid STORE item: {printable(what)}")
        tok.space()
        if tok.peek() == 0x28:
            raw_flags = tok.paren_list()
        else:
            raw_flags = [tok.atom(b"\\")]
            while tok.maybe_space():
                raw_flags.append(tok.atom(b"\\"))
        tok.rest_empty()
        sel = self.selected
        assert sel is not None
        if sel.readonly:
            return R.NO_READ_ONLY
        names = _flag_arguments(raw_flags)
        op, silent = match.group(1), bool(match.group(2))
        found = self._messages(seqtext, uid)
        keywords = sel.keywords
        if keywords.missing(names):  # new here, or named by another session since
            try:
                if op == "-":
                    keywords = await asyncio.to_thread(read_keywords, sel.path)
                else:
                    keywords = await asyncio.to_thread(add_keywords, sel.path, names)
            except TooManyKeywords:
                return R.NO_TOO_MANY_KEYWORDS
            announce = self._new_keywords(keywords)
            if announce:
                self.push("\r\n".join(announce))
        letters = keywords.letters(names, clearing=op == "-")

        def apply() -> list[tuple[int, MessageInfo]]:
            changed = []
            for seq, msg in found:
                # the flags now on disk (another session may have renamed the file),
                # so +FLAGS and -FLAGS never undo a change they did not ask for
                if resolve(sel.path, msg) is None:
                    continue
                if op == "+":
                    want = "".join(sorted(set(msg.letters) | set(letters)))
                elif op == "-":
                    want = "".join(sorted(set(msg.letters) - set(letters)))
                else:
                    want = letters
                if set_letters(sel.path, msg, want):
                    changed.append((seq, msg))
            return changed

        changed = await asyncio.to_thread(apply) if len(found) > 50 else apply()
        if not silent:
            lines = [
                f"* {seq} FETCH ("
                + (f"UID {msg.uid} " if uid else "")
                + f"FLAGS {_flag_list(msg, msg.unique in sel.recent, sel.keywords).decode()})"
                for seq, msg in changed
            ]
            if lines:
                self.send(("\r\n".join(lines) + "\r\n").encode())
        return R.NO_EXPUNGEISSUED if len(changed) < len(found) else R.OK_STORE

    async def _copy(self, tok: Tokens, uid: bool, move: bool) -> str:
        tok.space()
        seqtext = tok.atom(b"*:,")
        tok.space()
        name = self._mailbox(tok)
        tok.rest_empty()
        sel, store = self.selected, self.store
        assert sel is not None
        assert store is not None
        if move and sel.readonly:
            return R.NO_READ_ONLY
        if not store.exists(name):
            return R.NO_TRYCREATE.format(name=printable(name))
        found = self._messages(seqtext, uid)
        target = store.folder_path(name)

        def copy() -> tuple[int, list[tuple[int, int]], list[MessageInfo]]:
            used = {c for _, m in found for c in m.letters if "a" <= c <= "z"}
            names = [n for n in (sel.keywords.names[ord(c) - 97] for c in sorted(used)) if n]
            there = add_keywords(target, names) if target != sel.path else sel.keywords
            made: list[tuple[MessageInfo, str]] = []
            for _, msg in found:
                letters = translate_letters(msg.letters, sel.keywords, there)
                unique = copy_message(msg, sel.path, target, letters)
                if unique is not None:
                    made.append((msg, unique))
            snap = sync_folder(target, move_new=False)
            by_unique = {m.unique: m.uid for m in snap.messages}
            pairs = [(m.uid, by_unique[u]) for m, u in made if u in by_unique]
            if move:
                remove_messages(sel.path, [m for m, _ in made])
            return snap.uidvalidity, pairs, [m for m, _ in made]

        try:
            validity, pairs, done = await asyncio.to_thread(copy)
        except TooManyKeywords:
            return R.NO_TOO_MANY_KEYWORDS
        code = ""
        if pairs:
            src = ",".join(str(a) for a, _ in pairs)
            dst = ",".join(str(b) for _, b in pairs)
            code = R.OK_COPY.format(validity=validity, src=src, dst=dst)
        if move:
            if code:
                self.push("* " + code.replace("Copy completed.", "Moved."))
            await self._refresh()
            reply = R.OK_MOVE
        else:
            reply = code or R.OK_COPY_NONE
            if sel.path == target:
                await self._refresh()
        return R.NO_EXPUNGEISSUED if len(done) < len(found) else reply

    async def imap_COPY(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.4.7 with COPYUID."""
        return await self._copy(tok, uid=False, move=False)

    async def imap_UID_COPY(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.4.8 COPY by UID."""
        return await self._copy(tok, uid=True, move=False)

    async def imap_MOVE(self, tag: str, tok: Tokens) -> str:
        """RFC 6851: COPY, then expunge the originals (COPYUID untagged, then EXPUNGEs)."""
        return await self._copy(tok, uid=False, move=True)

    async def imap_UID_MOVE(self, tag: str, tok: Tokens) -> str:
        """RFC 6851 MOVE by UID."""
        return await self._copy(tok, uid=True, move=True)

    # endregion

    # region #### selected: SEARCH ####

    async def imap_SEARCH(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.4.4 with the common keys, and ESEARCH's RETURN (RFC 4731)."""
        return await self._search(tag, tok, uid=False)

    async def imap_UID_SEARCH(self, tag: str, tok: Tokens) -> str:
        """RFC 3501 §6.4.8 SEARCH answering UIDs."""
        return await self._search(tag, tok, uid=True)

    _RETURN_OPTIONS: ClassVar[frozenset[str]] = frozenset({"MIN", "MAX", "COUNT", "ALL"})

    async def _search(self, tag: str, tok: Tokens, uid: bool) -> str:
        tok.space()
        returns: list[str] | None = None
        if tok.lines[tok.piece][tok.pos : tok.pos + 7].upper() == b"RETURN ":
            tok.atom()
            tok.space()
            returns = [o.upper().decode("ascii", "replace") for o in tok.paren_list(b"")]
            if any(o not in self._RETURN_OPTIONS for o in returns):
                raise ParseError("Unknown SEARCH RETURN option")
            returns = returns or ["ALL"]  # RETURN () is RETURN (ALL): RFC 4731 §3.1
            tok.space()
        if tok.peek() is not None and tok.lines[tok.piece][tok.pos : tok.pos + 8].upper() == (
            b"CHARSET "
        ):
            tok.atom()
            tok.space()
            charset = tok.astring().upper()
            if charset not in (b"UTF-8", b"US-ASCII"):
                return R.BAD_CHARSET
            tok.space()
        keys = _SearchParser(tok).keys()
        tok.rest_empty()
        sel = self.selected
        assert sel is not None

        def run() -> list[int]:
            hits = []
            count = len(sel.messages)
            top_uid = sel.uids[-1] if sel.uids else 0
            for i, msg in enumerate(sel.messages):
                ctx = _SearchContext(sel, msg, i + 1, count, top_uid)
                if all(k(ctx) for k in keys):
                    hits.append(msg.uid if uid else i + 1)
            return hits

        hits = await asyncio.to_thread(run)
        if returns is None:
            self.push("* SEARCH" + "".join(f" {n}" for n in hits))
        else:
            self.push(_esearch(tag, uid, returns, hits))
        return R.OK_SEARCH

    # endregion


def _esearch(tag: str, uid: bool, returns: list[str], hits: list[int]) -> str:
    """RFC 4731 §3.1's ``* ESEARCH (TAG "t") [UID] MIN n MAX n COUNT n ALL set``: MIN,
    MAX and ALL only when something matched; ALL as ranges (``1:3,7``)."""
    out = [f'* ESEARCH (TAG "{tag}")'] + (["UID"] if uid else [])
    if "MIN" in returns and hits:
        out.append(f"MIN {hits[0]}")
    if "MAX" in returns and hits:
        out.append(f"MAX {hits[-1]}")
    if "COUNT" in returns:
        out.append(f"COUNT {len(hits)}")
    if "ALL" in returns and hits:
        out.append("ALL " + _compact(hits))
    return " ".join(out)


def _compact(numbers: list[int]) -> str:
    """Ascending numbers as a sequence set of ranges (``1:3,7``)."""
    parts = []
    start = prev = numbers[0]
    for n in numbers[1:]:
        if n != prev + 1:
            parts.append(f"{start}:{prev}" if prev != start else str(start))
            start = n
        prev = n
    parts.append(f"{start}:{prev}" if prev != start else str(start))
    return ",".join(parts)


class _Answered(Exception):
    """Raised by STARTTLS after it answered itself (the tagged OK precedes the handshake)."""


# region #### SEARCH ####


@dataclass
class _SearchContext:
    sel: Selected
    msg: MessageInfo
    seq: int
    count: int
    top_uid: int
    _header: object = None
    _raw: bytes | None = None
    _mtime: float | None = None

    def raw(self) -> bytes:
        if self._raw is None:
            path = resolve(self.sel.path, self.msg)
            try:
                with open(path or self.msg.path, "rb") as fh:
                    self._raw = crlf(fh.read())
                    self._mtime = os.fstat(fh.fileno()).st_mtime
            except OSError:
                self._raw, self._mtime = b"", 0.0
        return self._raw

    def mtime(self) -> float:
        if self._mtime is None:
            try:
                self._mtime = os.stat(resolve(self.sel.path, self.msg) or self.msg.path).st_mtime
            except OSError:
                self._mtime = 0.0
        return self._mtime

    def header(self, name: str) -> str:
        if self._header is None:
            self._header = email.parser.BytesHeaderParser().parsebytes(self.raw())
        values = self._header.get_all(name) or []  # type: ignore[attr-defined]
        out = []
        for v in values:
            try:
                out.append(str(email.header.make_header(email.header.decode_header(str(v)))))
            except (ValueError, LookupError, UnicodeError):
                out.append(str(v))
        return "\n".join(out)

    def sent_date(self) -> float | None:
        value = self.header("Date")
        if not value:
            return None
        try:
            dt = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        return calendar.timegm((dt.year, dt.month, dt.day, 0, 0, 0))


Key = Callable[[_SearchContext], bool]


def _day(t: float) -> float:
    tm = time.localtime(t)
    return calendar.timegm((tm.tm_year, tm.tm_mon, tm.tm_mday, 0, 0, 0))


class _SearchParser:
    """RFC 3501 §6.4.4 search keys as predicates over a :class:`_SearchContext`."""

    _FLAG_KEYS: ClassVar[dict[str, tuple[str, bool]]] = {
        "ANSWERED": ("R", True),
        "DELETED": ("T", True),
        "DRAFT": ("D", True),
        "FLAGGED": ("F", True),
        "SEEN": ("S", True),
        "UNANSWERED": ("R", False),
        "UNDELETED": ("T", False),
        "UNDRAFT": ("D", False),
        "UNFLAGGED": ("F", False),
        "UNSEEN": ("S", False),
    }
    _HEADER_KEYS: ClassVar[dict[str, str]] = {
        "FROM": "From",
        "TO": "To",
        "CC": "Cc",
        "BCC": "Bcc",
        "SUBJECT": "Subject",
    }

    MAX_DEPTH: ClassVar[int] = 32
    """Nesting of NOT, OR and parentheses (deeper: BAD, not a deep recursion)."""

    def __init__(self, tok: Tokens) -> None:
        self.tok = tok
        self.depth = 0

    def keys(self) -> list[Key]:
        out = [self.key()]
        while self.tok.maybe_space():
            out.append(self.key())
        return out

    def key(self) -> Key:
        self.depth += 1
        if self.depth > self.MAX_DEPTH:
            raise ParseError("SEARCH nested too deeply")
        try:
            return self._key()
        finally:
            self.depth -= 1

    def _key(self) -> Key:
        tok = self.tok
        if tok.open_paren():
            group = self.keys()
            if not tok.close_paren():
                raise ParseError("Missing ) in SEARCH")
            return lambda c: all(k(c) for k in group)
        word = tok.atom(b"*:,").upper().decode("ascii", "replace")
        if word[:1].isdigit() or word[:1] == "*":
            seqset = SequenceSet.parse(word.encode())
            return lambda c: seqset.contains(c.seq, c.count)
        if word == "ALL":
            return lambda c: True
        if word in self._FLAG_KEYS:
            letter, want = self._FLAG_KEYS[word]
            return lambda c: (letter in c.msg.letters) == want
        if word in ("NEW", "RECENT", "OLD"):

            def recent(c: _SearchContext) -> bool:
                return c.msg.unique in c.sel.recent

            if word == "RECENT":
                return recent
            if word == "OLD":
                return lambda c: not recent(c)
            return lambda c: recent(c) and "S" not in c.msg.letters
        if word in ("KEYWORD", "UNKEYWORD"):
            tok.space()
            flag = tok.atom(b"\\").decode("ascii", "replace")
            want = word == "KEYWORD"

            def keyword(c: _SearchContext) -> bool:
                letters = c.sel.keywords.letters([flag], clearing=True)
                return any(x in c.msg.letters for x in letters) == want

            return keyword
        if word == "NOT":
            tok.space()
            inner = self.key()
            return lambda c: not inner(c)
        if word == "OR":
            tok.space()
            a = self.key()
            tok.space()
            b = self.key()
            return lambda c: a(c) or b(c)
        if word == "UID":
            tok.space()
            seqset = SequenceSet.parse(tok.atom(b"*:,"))
            return lambda c: seqset.contains(c.msg.uid, c.top_uid)
        if word in ("LARGER", "SMALLER"):
            tok.space()
            n = tok.number()
            if word == "LARGER":
                return lambda c: size_of(c.msg) > n
            return lambda c: size_of(c.msg) < n
        if word in self._HEADER_KEYS or word == "HEADER":
            tok.space()
            if word == "HEADER":
                name = tok.astring().decode("ascii", "replace")
                tok.space()
            else:
                name = self._HEADER_KEYS[word]
            needle = tok.astring().decode("utf-8", "replace").casefold()
            if word == "HEADER" and not needle:
                return lambda c: (
                    bool(c.header(name))
                    or name.lower() + ":" in c.raw().decode("ascii", "replace").lower()
                )
            return lambda c: needle in c.header(name).casefold()
        if word in ("BODY", "TEXT"):
            tok.space()
            needle_b = tok.astring().decode("utf-8", "replace").casefold()

            def contains(c: _SearchContext) -> bool:
                raw = c.raw()
                if word == "BODY":
                    cut = raw.find(b"\r\n\r\n")
                    raw = raw[cut + 4 :] if cut >= 0 else b""
                return needle_b in raw.decode("utf-8", "replace").casefold()

            return contains
        if word in ("BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"):
            tok.space()
            day = _parse_date(tok.astring())
            sent = word.startswith("SENT")
            op = word[4:] if sent else word

            def when(c: _SearchContext) -> bool:
                t = c.sent_date() if sent else _day(c.mtime())
                if t is None:
                    return False
                if op == "BEFORE":
                    return t < day
                if op == "ON":
                    return t == day
                return t >= day

            return when
        raise ParseError(f"Unknown SEARCH key: {printable(word)}")


# endregion


IMAP._build_methods()
