"""Outbound mail: find the remote server (MX) and deliver queued messages, with retries.

- :class:`MxResolver` (dnspython): MX records in preference order, random among equal
  preferences; no MX → the domain's own A/AAAA (implicit MX); null MX (RFC 7505) and
  NXDOMAIN → permanent failure; SERVFAIL or timeout → temporary (RFC 5321 §5.1).
- :func:`send_message`: a small SMTP client: EHLO (HELO fallback), STARTTLS when offered
  (opportunistic, no certificate check, like Postfix ``smtp_tls_security_level = may``),
  MAIL, one RCPT per recipient, DATA with CRLF and dot-stuffing, timeouts of §4.5.3.2.
- :class:`RelayWorker`: takes a queue file under lock, delivers per domain, trying MX hosts
  in order; relayed and 5xx recipients leave the entry, 4xx ones stay with an exponential
  back-off; on 5xx or expiry a bounce goes to the sender (never to ``<>``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from planner.mailserver.config import RelaySettings
from planner.mailserver.context import ServerContext
from planner.mailserver.dsn import build_bounce
from planner.mailserver.policy import split_address
from planner.mailserver.store import (
    LockedEntry,
    QueueEntry,
    QueueRecipient,
    StoreError,
    maildir_content,
    new_queue_id,
)

__all__ = [
    "ConnectionCache",
    "DeliveryFailure",
    "MxResolver",
    "RelayWorker",
    "SendResult",
    "dot_stuff",
    "next_delay_s",
    "send_message",
]

log = logging.getLogger("mailplan.relay")
DNS_CACHE_SIZE = 10_000
"""DNS answers kept per server process (each for its TTL)."""
LOCK_INLINE_MAX = 256 * 1024
"""Queue files up to this size, just written, are locked and read on the event loop."""
_T = TypeVar("_T")


class DeliveryFailure(Exception):
    """A failure for every recipient of one attempt; ``code`` 4yz (retry) or 5yz (bounce)."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text

    @property
    def permanent(self) -> bool:
        """True for 5yz: the recipient bounces."""
        return self.code >= 500


def next_delay_s(attempts: int, settings: RelaySettings) -> float:
    """Seconds to wait after ``attempts`` failed attempts: initial × 2^(n−1), capped."""
    return float(min(settings.retry_max_s, settings.retry_initial_s * 2 ** max(0, attempts - 1)))


def dot_stuff(content: bytes) -> bytes:
    """``content`` (CRLF lines) made transparent for DATA, with the final ``.`` line."""
    if not content.endswith(b"\r\n"):
        content += b"\r\n"
    if content[:1] == b"." or b"\r\n." in content:
        content = (b"\r\n" + content).replace(b"\r\n.", b"\r\n..")[2:]
    return content + b".\r\n"


# region #### DNS ####


class MxResolver:
    """MX and address look-ups with the RFC 5321 §5.1 rules."""

    def __init__(self, settings: RelaySettings) -> None:
        if settings.dns is None:
            try:
                resolver = dns.asyncresolver.Resolver(configure=True)
            except dns.resolver.NoResolverConfiguration:
                resolver = dns.asyncresolver.Resolver(configure=False)
                resolver.nameservers = ["127.0.0.1"]
        else:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [settings.dns.host]
            resolver.port = settings.dns.port
        resolver.lifetime = settings.dns_timeout_s
        resolver.timeout = min(settings.dns_timeout_s, 2.0)
        # Answers are kept for their TTL (as a caching resolver would): three look-ups
        # (MX, A, AAAA) cost about 1-3 ms of this process's CPU through dnspython, more
        # than the rest of a relay, and most mail goes to a few domains.
        resolver.cache = dns.resolver.LRUCache(DNS_CACHE_SIZE)
        self.resolver = resolver
        # In front of it, the records themselves by (name, type) until the answer's TTL
        # runs out: even from its cache a dnspython look-up costs ~0.1 ms of CPU (name
        # parsing, a _Resolution, a coroutine), a sixth of the relay's CPU per message
        # in py-spy (MX, A, AAAA each time). Positive answers and NoAnswer with an SOA
        # (RFC 2308 negative TTL) only; errors always go to dnspython.
        self._answers: dict[tuple[str, str], tuple[float, list[dns.rdata.Rdata] | None]] = {}

    def _remember(
        self, key: tuple[str, str], ttl: float, records: list[dns.rdata.Rdata] | None
    ) -> None:
        if ttl <= 0:
            return
        if len(self._answers) >= DNS_CACHE_SIZE:
            self._answers.pop(next(iter(self._answers)))
        self._answers[key] = (time.monotonic() + ttl, records)

    async def _query(self, name: str, rdtype: str) -> list[dns.rdata.Rdata] | None:
        """Records, or None for "exists but has none"; DeliveryFailure for the rest."""
        key = (name.lower(), rdtype)
        hit = self._answers.get(key)
        if hit is not None:
            if hit[0] > time.monotonic():
                return hit[1]
            del self._answers[key]
        try:
            answer = await self.resolver.resolve(name, rdtype, search=False)
        except dns.resolver.NoAnswer as exc:
            response = exc.kwargs.get("response")
            for rrset in getattr(response, "authority", ()):
                if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
                    self._remember(key, min(rrset.ttl, rrset[0].minimum), None)
                    break
            return None
        except dns.resolver.NXDOMAIN:
            raise DeliveryFailure(550, f"5.1.2 Host or domain name not found: {name}") from None
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            raise DeliveryFailure(
                451, f"4.4.3 Host or domain name lookup failed: {name} {rdtype}: {exc}"
            ) from None
        except dns.exception.DNSException as exc:
            raise DeliveryFailure(451, f"4.4.3 DNS error for {name} {rdtype}: {exc}") from None
        records = list(answer)
        self._remember(key, answer.expiration - time.time(), records)
        return records

    async def mx_hosts(self, domain: str) -> list[str]:
        """Hosts to try, best first; the domain itself when it has no MX (implicit MX)."""
        records = await self._query(domain, "MX")
        if not records:
            return [domain]
        pairs = [(int(r.preference), r.exchange.to_text(omit_final_dot=True)) for r in records]  # type: ignore[attr-defined]
        if any(host in ("", ".") for _, host in pairs):
            raise DeliveryFailure(550, f"5.1.10 Domain {domain} does not accept mail (null MX)")
        by_pref: dict[int, list[str]] = defaultdict(list)
        for pref, host in pairs:
            by_pref[pref].append(host)
        hosts: list[str] = []
        for pref in sorted(by_pref):
            group = by_pref[pref]
            random.shuffle(group)
            hosts += group
        return hosts

    async def addresses(self, host: str) -> list[str]:
        """IPv4 then IPv6 addresses of ``host``; DeliveryFailure when it has none."""
        found: list[str] = []
        errors: list[DeliveryFailure] = []
        for rdtype in ("A", "AAAA"):
            try:
                records = await self._query(host, rdtype)
            except DeliveryFailure as exc:
                errors.append(exc)
                continue
            found += [r.to_text() for r in records or ()]
        if found:
            return found
        if errors and all(e.permanent for e in errors):
            raise errors[0]
        if errors:
            raise next(e for e in errors if not e.permanent)
        raise DeliveryFailure(550, f"5.1.2 Host {host} has no address")


# endregion

# region #### SMTP client ####


@dataclass(frozen=True)
class SendResult:
    """What one remote server said: per recipient ``(code, text)``, and where."""

    per_recipient: dict[str, tuple[int, str]]
    where: str


class _Client:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, where: str
    ) -> None:
        self.reader, self.writer, self.where = reader, writer, where

    async def reply(self, timeout_s: float) -> tuple[int, str]:
        lines: list[str] = []
        async with asyncio.timeout(timeout_s):
            while True:
                raw = await self.reader.readline()
                if not raw.endswith(b"\n"):
                    raise ConnectionError("connection closed by remote server")
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if len(line) < 3 or not line[:3].isdigit():
                    raise ConnectionError(f"bad reply line {line[:60]!r}")
                lines.append(line[4:])
                if line[3:4] != "-":
                    return int(line[:3]), " ".join(lines)

    async def command(self, line: str, timeout_s: float) -> tuple[int, str]:
        self.writer.write(line.encode("utf-8") + b"\r\n")
        await self.writer.drain()
        return await self.reply(timeout_s)

    async def pipeline(self, lines: list[str], timeout_s: float) -> list[tuple[int, str]]:
        """Send ``lines`` in one write and read one reply each, in order (RFC 2920)."""
        self.writer.write("".join(f"{line}\r\n" for line in lines).encode("utf-8"))
        await self.writer.drain()
        return [await self.reply(timeout_s) for _ in lines]


def _client_tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class _Session:
    """One open SMTP connection past EHLO (and STARTTLS when offered), between messages."""

    def __init__(self, client: _Client, keywords: set[str], key: tuple[str, str, int]) -> None:
        self.client = client
        self.keywords = keywords
        self.key = key
        self.messages = 0
        self.tls = False
        self.payload_sent = False
        self.idle_timer: asyncio.TimerHandle | None = None

    @property
    def usable(self) -> bool:
        return not (self.client.writer.is_closing() or self.client.reader.at_eof())

    async def close(self, *, quit_: bool) -> None:
        """QUIT (when the session is in a clean state) and close, ignoring errors."""
        writer = self.client.writer
        if quit_ and self.usable:
            with contextlib.suppress(OSError, TimeoutError, ConnectionError, ssl.SSLError):
                writer.write(b"QUIT\r\n")
                await writer.drain()
                await self.client.reply(5.0)
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
            async with asyncio.timeout(5.0):
                await writer.wait_closed()


async def _open_session(
    ip: str, port: int, host: str, helo: str, settings: RelaySettings
) -> _Session:
    """Connect, read the greeting, EHLO (HELO fallback), STARTTLS when offered."""
    where = f"{host or ip}[{ip}]:{port}"
    cmd_t = settings.command_timeout_s
    async with asyncio.timeout(settings.connect_timeout_s):
        reader, writer = await asyncio.open_connection(ip, port)
    c = _Client(reader, writer, where)
    session = _Session(c, set(), (host, ip, port))
    try:
        code, text = await c.reply(cmd_t)
        if code != 220:
            raise DeliveryFailure(code if code >= 400 else 451, f"greeting: {text}")
        code, text = await c.command(f"EHLO {helo}", cmd_t)
        esmtp = code == 250
        if not esmtp:
            code, text = await c.command(f"HELO {helo}", cmd_t)
            if code != 250:
                raise DeliveryFailure(code if code >= 400 else 451, f"HELO: {text}")
        keywords = {w.upper() for w in text.split()} if esmtp else set()
        if "STARTTLS" in keywords:
            code, text = await c.command("STARTTLS", cmd_t)
            if code == 220:
                async with asyncio.timeout(cmd_t):
                    await writer.start_tls(_client_tls())
                session.tls = True
                code, text = await c.command(f"EHLO {helo}", cmd_t)
                if code != 250:
                    raise DeliveryFailure(code if code >= 400 else 451, f"EHLO after TLS: {text}")
                keywords = {w.upper() for w in text.split()}
        session.keywords = keywords
        return session
    except BaseException:
        await session.close(quit_=False)
        raise


class ConnectionCache:
    """Open SMTP sessions kept between messages, per (MX host, address, port), as
    Postfix's ``smtp_connection_cache_on_demand`` keeps them.

    A session goes back only after a transaction that ended with a 2yz reply to the final
    dot; any other reply or error closes it. A session taken again gets ``RSET`` first
    (its 250 shows it is alive); one idle for ``idle_s`` is closed, one that carried
    ``max_messages`` gets QUIT, and at most ``per_destination`` wait per destination.
    The TLS state is the one negotiated when it was opened (STARTTLS whenever offered), so
    a reused session keeps the policy of a new one.
    """

    def __init__(self, idle_s: float, max_messages: int, per_destination: int) -> None:
        self.idle_s = idle_s
        self.max_messages = max_messages
        self.per_destination = per_destination
        self._idle: dict[tuple[str, str, int], list[_Session]] = defaultdict(list)
        self._closing: set[asyncio.Task[None]] = set()
        self.opened = 0
        self.reused = 0

    @property
    def enabled(self) -> bool:
        return self.idle_s > 0 and self.max_messages > 1

    def idle_count(self) -> int:
        """Sessions waiting in the cache."""
        return sum(len(v) for v in self._idle.values())

    def take(self, key: tuple[str, str, int]) -> _Session | None:
        """An idle session to ``key`` that still looks open, or None."""
        idle = self._idle.get(key)
        while idle:
            session = idle.pop()
            if session.idle_timer is not None:
                session.idle_timer.cancel()
                session.idle_timer = None
            if session.usable:
                return session
            self._close_later(session, quit_=False)
        return None

    def give_back(self, session: _Session) -> None:
        """Keep a session whose last transaction ended cleanly (or QUIT it)."""
        idle = self._idle[session.key]
        if (
            not self.enabled
            or session.messages >= self.max_messages
            or len(idle) >= self.per_destination
            or not session.usable
        ):
            self._close_later(session, quit_=True)
            return
        idle.append(session)
        loop = asyncio.get_running_loop()
        session.idle_timer = loop.call_later(self.idle_s, self._expire, session)

    def _expire(self, session: _Session) -> None:
        session.idle_timer = None
        idle = self._idle.get(session.key)
        if idle and session in idle:
            idle.remove(session)
            self._close_later(session, quit_=True)

    def _close_later(self, session: _Session, *, quit_: bool) -> None:
        task = asyncio.get_running_loop().create_task(session.close(quit_=quit_))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close_all(self) -> None:
        """QUIT every idle session (server shutdown)."""
        for idle in self._idle.values():
            for session in idle:
                if session.idle_timer is not None:
                    session.idle_timer.cancel()
                self._close_later(session, quit_=True)
        self._idle.clear()
        if self._closing:
            await asyncio.wait(list(self._closing), timeout=6)


async def _transaction(
    session: _Session,
    sender: str,
    recipients: list[str],
    content: bytes,
    settings: RelaySettings,
    *,
    rset: bool,
) -> tuple[dict[str, tuple[int, str]], bool]:
    """[RSET,] MAIL, RCPT…, DATA on an open session: per-recipient replies, and whether
    the transaction ended with a 2yz reply to the final dot (the session is clean).

    With ``rset`` (a cached session) RSET comes first (RFC 5321 §4.1.1.5); a reply other
    than 250 to it, or a failure before any of the message went out, raises
    :class:`_StaleSession`. When the server advertised PIPELINING the commands go as one
    group, DATA last, and every reply is read in order (RFC 2920 §3.1): one round trip
    instead of one a command."""
    c = session.client
    session.payload_sent = False
    cmd_t, data_t = settings.command_timeout_s, settings.data_timeout_s
    size = f" SIZE={len(content)}" if "SIZE" in session.keywords else ""
    mail = f"MAIL FROM:<{sender}>{size}"
    rcpts = [f"RCPT TO:<{r}>" for r in recipients]
    rset_reply: tuple[int, str] | None = None
    data_reply: tuple[int, str] | None = None
    rcpt_replies: list[tuple[int, str]] = []
    if "PIPELINING" in session.keywords:
        group = (["RSET"] if rset else []) + [mail, *rcpts, "DATA"]
        replies = await c.pipeline(group, cmd_t)
        if rset:
            rset_reply = replies.pop(0)
        mail_reply, rcpt_replies, data_reply = replies[0], replies[1:-1], replies[-1]
    else:
        if rset:
            rset_reply = await c.command("RSET", cmd_t)
            if rset_reply[0] != 250:
                raise _StaleSession()
        mail_reply = await c.command(mail, cmd_t)
        if mail_reply[0] == 250:
            rcpt_replies = [await c.command(line, cmd_t) for line in rcpts]
            if any(code in (250, 251) for code, _ in rcpt_replies):
                data_reply = await c.command("DATA", cmd_t)
    results = dict(zip(recipients, rcpt_replies, strict=False))
    accepted = [r for r, (code, _) in results.items() if code in (250, 251)]
    go = mail_reply[0] == 250 and bool(accepted)
    if data_reply is not None and data_reply[0] == 354 and not go:
        # DATA was pipelined and accepted though no transaction is open: an empty
        # message ends it (no recipient was accepted, nothing is delivered); the
        # session is not reused.
        await c.command(".", data_t)
        data_reply = (503, "5.5.1 no valid recipients")
        session.payload_sent = True
    if mail_reply[0] != 250:
        if rset_reply is not None and rset_reply[0] != 250 and not session.payload_sent:
            raise _StaleSession()
        code, text = mail_reply
        raise DeliveryFailure(code if code >= 400 else 451, f"MAIL FROM: {text}")
    clean = False
    if accepted:
        assert data_reply is not None
        code, text = data_reply
        if code == 354:
            session.payload_sent = True
            c.writer.write(dot_stuff(content))
            await c.writer.drain()
            code, text = await c.reply(data_t)
            clean = 200 <= code < 300
        for rcpt in accepted:
            results[rcpt] = (code if code >= 200 else 451, text)
    return results, clean


class _StaleSession(Exception):
    """A cached session failed before any of the message was sent: open a new one."""


async def send_message(
    ip: str,
    port: int,
    *,
    helo: str,
    sender: str,
    recipients: list[str],
    content: bytes,
    settings: RelaySettings,
    host: str = "",
    cache: ConnectionCache | None = None,
) -> SendResult:
    """Deliver one message over one SMTP connection (a cached one when ``cache`` has it).

    Raises :class:`DeliveryFailure` when the server as a whole refuses (greeting, EHLO,
    MAIL: try the next MX for 4yz) and :class:`OSError`/``TimeoutError`` when the
    connection fails; otherwise returns each recipient's reply (the RCPT reply if it was
    refused, else the reply to the final dot).
    """
    key = (host, ip, port)
    if cache is not None and cache.enabled:
        session = cache.take(key)
        if session is not None:
            try:
                return await _send_on(session, sender, recipients, content, settings, cache,
                                      reused=True)  # fmt: skip
            except _StaleSession:
                pass
    session = await _open_session(ip, port, host, helo, settings)
    if cache is not None:
        cache.opened += 1
    return await _send_on(session, sender, recipients, content, settings, cache, reused=False)


async def _send_on(
    session: _Session,
    sender: str,
    recipients: list[str],
    content: bytes,
    settings: RelaySettings,
    cache: ConnectionCache | None,
    *,
    reused: bool,
) -> SendResult:
    clean = False
    quit_ = False
    try:
        try:
            # A cached session gets RSET first: its 250 shows it is alive; if not,
            # nothing of this message went out yet.
            results, clean = await _transaction(
                session, sender, recipients, content, settings, rset=reused
            )
        except (OSError, TimeoutError, ConnectionError, ssl.SSLError):
            if reused and not session.payload_sent:
                # the remote closed the cached session before the message: a new one
                raise _StaleSession() from None
            raise
        if reused and cache is not None:
            cache.reused += 1
        session.messages += 1
        quit_ = True
        return SendResult(results, session.client.where)
    except DeliveryFailure:
        quit_ = True
        raise
    finally:
        if clean and cache is not None and cache.enabled:
            cache.give_back(session)
        else:
            # never reused after anything but a 2yz to the final dot; QUIT only when
            # the dialogue is between commands (not after an error mid-DATA)
            await session.close(quit_=quit_)


# endregion


class RelayWorker:
    """Delivers queue entries of this process; with ``scan``, also retries due ones."""

    def __init__(self, ctx: ServerContext, settings: RelaySettings, *, scan: bool) -> None:
        self.ctx = ctx
        self.settings = settings
        self.scan = scan
        self.resolver = MxResolver(settings)
        self._sem = asyncio.Semaphore(settings.max_concurrent)
        self._busy: set[Path] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = ConnectionCache(
            settings.connection_idle_s,
            settings.connection_max_messages,
            per_destination=settings.max_concurrent,
        )

    def kick(self, path: Path, *, fresh: bool = False) -> None:
        """Try to deliver a queue file now (in the background). ``fresh``: the file was
        just written and is at most :data:`LOCK_INLINE_MAX` bytes, so it is locked and
        read on the event loop (from the page cache) instead of in a thread."""
        if path in self._busy or self.ctx.stopping:
            return
        self._busy.add(path)
        task = self.ctx.loop.create_task(self._attempt(path, fresh))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self) -> None:
        """Scan the queue every ``queue_scan_s`` and kick the entries that are due."""
        if not self.scan:
            return
        while not self.ctx.stopping:
            try:
                due = await self.ctx.loop.run_in_executor(self.ctx.executor, self._due_paths)
                for path in due:
                    self.kick(path)
            except Exception:
                log.exception("queue scan failed")
            await asyncio.sleep(self.settings.queue_scan_s)

    def _due_paths(self) -> list[Path]:
        now = time.time()
        store = self.ctx.store
        out: list[Path] = []
        for path in store.queue_paths():
            entry = store.read_entry(path)
            if entry is not None and entry.next_attempt_at_s <= now:
                out.append(path)
        return out

    async def stop(self) -> None:
        """Cancel attempts in progress (their entries stay queued for the next start)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        await self.connections.close_all()

    async def _io(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await self.ctx.loop.run_in_executor(self.ctx.executor, fn, *args)

    async def _attempt(self, path: Path, fresh: bool = False) -> None:
        try:
            async with self._sem:
                # A thread hop costs more CPU than reading a small file just written
                # (py-spy, relaying at 50 sessions): such a file is locked here.
                if fresh:
                    locked = self.ctx.store.lock(path)
                else:
                    locked = await self._io(self.ctx.store.lock, path)
                if locked is None:
                    return
                try:
                    if locked.entry.next_attempt_at_s <= time.time() + 0.001:
                        await self._deliver(locked)
                finally:
                    # In a thread: the last close of a queue file just unlinked frees its
                    # inode, which blocked the event loop for a sixth of its time when
                    # relaying (py-spy); shielded, so a cancelled attempt still closes it.
                    # Store.remove has closed it already when the entry is done.
                    if locked.fd >= 0:
                        await asyncio.shield(self._io(self.ctx.store.release, locked))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delivery attempt for %s failed", path.name)
        finally:
            self._busy.discard(path)

    async def _deliver(self, locked: LockedEntry) -> None:
        entry = locked.entry
        qid = entry.qid
        by_domain: dict[str, list[str]] = defaultdict(list)
        for r in entry.recipients:
            by_domain[split_address(r.address)[1]].append(r.address)
        results: dict[str, tuple[int, str]] = {}
        for domain, rcpts in by_domain.items():
            results.update(await self._deliver_domain(qid, domain, entry.sender, rcpts, locked))
        now = time.time()
        expired = now - entry.created_at_s >= self.settings.queue_lifetime_s
        failed: list[tuple[str, int, str]] = []
        deferred: list[QueueRecipient] = []
        stats = self.ctx.stats
        for r in entry.recipients:
            code, text = results[r.address]
            if 200 <= code < 300:
                stats.incr("relayed")
            elif code >= 500:
                failed.append((r.address, code, text))
                log.info("%s: bounced to=<%s> reply=%r", qid, r.address, f"{code} {text}")
                stats.incr("bounced")
            elif expired:
                # the last reply's 4yz code: the DSN says Status: 4.4.7 with Action: failed
                # (RFC 3463 4.4.7; as Postfix reports expired mail)
                why = f"4.4.7 message expired after {entry.attempts + 1} attempts; last: {text}"
                failed.append((r.address, code, why))
                log.info("%s: bounced to=<%s> expired, last=%r", qid, r.address, f"{code} {text}")
                stats.incr("bounced")
            else:
                deferred.append(QueueRecipient(address=r.address, last_error=f"{code} {text}"))
                stats.incr("deferred")
        if failed:
            await self._bounce(entry, failed, locked.content)
        if deferred:
            attempts = entry.attempts + 1
            delay = next_delay_s(attempts, self.settings)
            new = entry.model_copy(
                update={
                    "recipients": tuple(deferred),
                    "attempts": attempts,
                    "next_attempt_at_s": now + delay,
                }
            )
            await self._io(self.ctx.store.update, locked, new)
            for r in deferred:
                log.info("%s: deferred to=<%s> attempt=%d retry_in=%.0fs reply=%r",
                         qid, r.address, attempts, delay, r.last_error)  # fmt: skip
            self.ctx.loop.call_later(delay, self.kick, locked.path)
        else:
            await self._io(self.ctx.store.remove, locked)
            log.debug("%s: removed from queue", qid)

    async def _deliver_domain(
        self, qid: str, domain: str, sender: str, rcpts: list[str], locked: LockedEntry
    ) -> dict[str, tuple[int, str]]:
        try:
            hosts = await self.resolver.mx_hosts(domain)
        except DeliveryFailure as exc:
            log.info("%s: mx domain=%s failed: %s", qid, domain, exc)
            return {r: (exc.code, exc.text) for r in rcpts}
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: mx domain=%s hosts=%s", qid, domain, ",".join(hosts))
        last: tuple[int, str] = (451, "4.4.1 no MX host could be reached")
        for host in hosts:
            try:
                ips = await self.resolver.addresses(host)
            except DeliveryFailure as exc:
                last = (exc.code, exc.text)
                continue
            for ip in ips:
                try:
                    sent = await send_message(
                        ip,
                        self.settings.relay_port,
                        helo=self.ctx.config.hostname,
                        sender=sender,
                        recipients=rcpts,
                        content=locked.content,
                        settings=self.settings,
                        host=host,
                        cache=self.connections,
                    )
                except DeliveryFailure as exc:
                    log.info("%s: host %s[%s] refused: %s", qid, host, ip, exc)
                    if exc.permanent:
                        return {r: (exc.code, f"{host}[{ip}] said: {exc.text}") for r in rcpts}
                    last = (exc.code, f"{host}[{ip}] said: {exc.text}")
                    continue
                except (OSError, TimeoutError, ssl.SSLError) as exc:
                    why = str(exc) or type(exc).__name__
                    log.info("%s: host %s[%s] failed: %s", qid, host, ip, why)
                    last = (451, f"4.4.2 {host}[{ip}]: {why}")
                    continue
                for rcpt, (code, text) in sent.per_recipient.items():
                    if 200 <= code < 300:
                        log.info("%s: relayed to=<%s> via=%s reply=%r",
                                 qid, rcpt, sent.where, f"{code} {text}")  # fmt: skip
                return {
                    r: (c, t if 200 <= c < 300 else f"{sent.where} said: {t}")
                    for r, (c, t) in sent.per_recipient.items()
                }
        return {r: last for r in rcpts}

    async def _bounce(
        self, entry: QueueEntry, failed: list[tuple[str, int, str]], content: bytes
    ) -> None:
        """Send a bounce to the sender (local Maildir or the queue); none for ``<>``."""
        if not entry.sender:
            log.info("%s: no bounce for the null sender", entry.qid)
            return
        hostname = self.ctx.config.hostname
        body = build_bounce(
            hostname=hostname,
            qid=entry.qid,
            sender=entry.sender,
            failures=failed,
            original=content,
            arrival_s=entry.created_at_s,
        )
        bqid = new_queue_id()
        local, domain = split_address(entry.sender)
        target = f"{local.lower()}@{domain}"
        if domain in {d.lower() for d in self.ctx.config.domains}:
            if not self.ctx.users.exists(target):
                log.info("%s: bounce %s dropped: sender %s is not a local user",
                         entry.qid, bqid, target)  # fmt: skip
                return
            data, size_crlf = maildir_content((b"Return-Path: <>",), body)
            try:
                await self._io(self.ctx.store.commit, [(target, data, size_crlf)], [])
            except StoreError as exc:
                log.error("%s: bounce %s not written: %s", entry.qid, bqid, exc)
                raise
            self.ctx.stats.incr("delivered_local")
            log.info("%s: bounce %s delivered to=<%s>", entry.qid, bqid, target)
            return
        now = time.time()
        bentry = QueueEntry(
            qid=bqid,
            sender="",
            recipients=(QueueRecipient(address=entry.sender),),
            created_at_s=now,
            next_attempt_at_s=now,
            size_bytes=len(body),
        )
        _, paths = await self._io(self.ctx.store.commit, [], [(bentry, body)])
        self.ctx.stats.incr("queued")
        log.info("%s: bounce %s queued to=<%s>", entry.qid, bqid, entry.sender)
        for p in paths:
            self.kick(p)
