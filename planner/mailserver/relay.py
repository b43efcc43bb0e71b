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

    async def _query(self, name: str, rdtype: str) -> list[dns.rdata.Rdata] | None:
        """Records, or None for "exists but has none"; DeliveryFailure for the rest."""
        try:
            answer = await self.resolver.resolve(name, rdtype, search=False)
        except dns.resolver.NoAnswer:
            return None
        except dns.resolver.NXDOMAIN:
            raise DeliveryFailure(550, f"5.1.2 Host or domain name not found: {name}") from None
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            raise DeliveryFailure(
                451, f"4.4.3 Host or domain name lookup failed: {name} {rdtype}: {exc}"
            ) from None
        except dns.exception.DNSException as exc:
            raise DeliveryFailure(451, f"4.4.3 DNS error for {name} {rdtype}: {exc}") from None
        return list(answer)

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


def _client_tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


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
) -> SendResult:
    """Deliver one message over one SMTP connection.

    Raises :class:`DeliveryFailure` when the server as a whole refuses (greeting, EHLO,
    MAIL: try the next MX for 4yz) and :class:`OSError`/``TimeoutError`` when the
    connection fails; otherwise returns each recipient's reply (the RCPT reply if it was
    refused, else the reply to the final dot).
    """
    where = f"{host or ip}[{ip}]:{port}"
    cmd_t, data_t = settings.command_timeout_s, settings.data_timeout_s
    async with asyncio.timeout(settings.connect_timeout_s):
        reader, writer = await asyncio.open_connection(ip, port)
    c = _Client(reader, writer, where)
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
                code, text = await c.command(f"EHLO {helo}", cmd_t)
                if code != 250:
                    raise DeliveryFailure(code if code >= 400 else 451, f"EHLO after TLS: {text}")
        size = f" SIZE={len(content)}" if "SIZE" in keywords else ""
        code, text = await c.command(f"MAIL FROM:<{sender}>{size}", cmd_t)
        if code != 250:
            raise DeliveryFailure(code if code >= 400 else 451, f"MAIL FROM: {text}")
        results: dict[str, tuple[int, str]] = {}
        accepted: list[str] = []
        for rcpt in recipients:
            code, text = await c.command(f"RCPT TO:<{rcpt}>", cmd_t)
            results[rcpt] = (code, text)
            if code in (250, 251):
                accepted.append(rcpt)
        if accepted:
            code, text = await c.command("DATA", cmd_t)
            if code == 354:
                writer.write(dot_stuff(content))
                await writer.drain()
                code, text = await c.reply(data_t)
            for rcpt in accepted:
                results[rcpt] = (code if code >= 200 else 451, text)
        try:
            writer.write(b"QUIT\r\n")
            await writer.drain()
            await c.reply(5.0)
        except (OSError, TimeoutError, ConnectionError):
            pass
        return SendResult(results, where)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


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

    def kick(self, path: Path) -> None:
        """Try to deliver a queue file now (in the background)."""
        if path in self._busy or self.ctx.stopping:
            return
        self._busy.add(path)
        task = self.ctx.loop.create_task(self._attempt(path))
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

    async def _io(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await self.ctx.loop.run_in_executor(self.ctx.executor, fn, *args)

    async def _attempt(self, path: Path) -> None:
        try:
            async with self._sem:
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
            log.info("%s: removed from queue", qid)

    async def _deliver_domain(
        self, qid: str, domain: str, sender: str, rcpts: list[str], locked: LockedEntry
    ) -> dict[str, tuple[int, str]]:
        try:
            hosts = await self.resolver.mx_hosts(domain)
        except DeliveryFailure as exc:
            log.info("%s: mx domain=%s failed: %s", qid, domain, exc)
            return {r: (exc.code, exc.text) for r in rcpts}
        log.info("%s: mx domain=%s hosts=%s", qid, domain, ",".join(hosts))
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
