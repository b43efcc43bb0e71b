"""The SMTP handler: who may send, where each recipient goes, and the durable commit.

The four steps of delivery, logged with the queue id (``accepted`` and each delivery at
info, as an MTA does; the steps between at debug):

1. accept: after DATA, the message gets a queue id (``accepted``);
2. route: each recipient is local (a user of a ``--domain``) or relayed (``route``, debug);
3. find the remote server: done by the relay worker (:mod:`planner.mailserver.relay`);
4. deliver: local recipients get a Maildir file, relayed ones one queue file, and only
   when every file is durable is the reply 250 (``delivered``; ``queued``, debug).

aiosmtpd calls ``handle_MAIL`` and ``handle_RCPT``; :class:`~planner.mailserver.smtp.ServerSMTP`
calls ``handle_DATA`` once the data is framed and checked.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import time
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from planner.mailserver.authcheck import AuthChecker, AuthResult, strip_forged
from planner.mailserver.context import ServerContext
from planner.mailserver.dkim import DkimSigner, signed_for_queue
from planner.mailserver.envelope import RoutedEnvelope, session_ip, session_login
from planner.mailserver.policy import RouteKind, TrustedNetworks, routing_trick, split_address
from planner.mailserver.relay import LOCK_INLINE_MAX
from planner.mailserver.smtp_replies import Reply
from planner.mailserver.store import (
    JUNK,
    QueueEntry,
    QueueRecipient,
    StoreError,
    encode_queue_file,
    in_folder,
    maildir_content,
    new_queue_id,
    unsafe_local_part,
)
from planner.net import is_loopback

if TYPE_CHECKING:
    from aiosmtpd.smtp import SMTP, Session

__all__ = ["DeliveryHandler", "received_header"]

log = logging.getLogger("mailplan.delivery")

_RECEIVED_RE = re.compile(rb"^received:", re.IGNORECASE | re.MULTILINE)
_HELO_SAFE = re.compile(r"[^A-Za-z0-9.\-\[\]:_]")
_NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
USERS_RECHECK_S = 1.0
"""How long a "user exists" answer is reused (so RCPT does not stat the users file)."""
_USERS_CACHE_MAX = 10_000
SIGN_INLINE_MAX = 256 * 1024
"""Messages up to this size are DKIM-signed in the store process (or, without one, on the
event loop); larger ones on an I/O thread, so a big message holds up no batch of commits."""
AUTH_DNS_TIMEOUT_S = 5.0
"""Time for each DNS look-up of the inbound SPF/DKIM/DMARC checks."""


_date_cache: tuple[int, str] = (0, "")


def _rfc5322_date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, localtime=False))
    return _date_cache[1]


def received_header(
    *,
    helo: str,
    client_ip: str,
    hostname: str,
    protocol: str,
    qid: str,
    recipient: str | None,
) -> bytes:
    """A ``Received:`` trace header (RFC 5321 §4.4), folded, without the final line end."""
    helo = _HELO_SAFE.sub("?", helo)[:100] or "unknown"
    text = (
        f"Received: from {helo} ([{client_ip}])\r\n\tby {hostname} (mailplan) "
        f"with {protocol} id {qid}"
    )
    if recipient is not None:
        text += f"\r\n\tfor <{recipient}>"
    return (text + f"; {_rfc5322_date()}").encode("ascii", "replace")


def _protocol_name(session: Session) -> str:
    name = "ESMTP" if session.extended_smtp else "SMTP"
    if session.ssl is not None:
        name += "S"
    if session.authenticated:
        name += "A"
    return name


class DeliveryHandler:
    """aiosmtpd handler hooks: MAIL (access lists), RCPT (routing), DATA (commit)."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.domains = frozenset(d.lower() for d in ctx.config.domains)
        self._users_cache: dict[str, tuple[bool, float]] = {}
        self.trusted = TrustedNetworks(ctx.config.trusted_networks)
        if self.trusted:
            nets = ", ".join(str(n) for n in self.trusted.networks)
            log.info("relay without AUTH for clients in the trusted networks %s", nets)
        self.signer = DkimSigner.from_data_dir(ctx.config.data_dir, self.domains)
        for domain, keys in sorted(self.signer.keys.items()):
            names = ", ".join(f"{k.selector} ({k.algorithm})" for k in keys)
            log.info("dkim: signing mail from %s with %s", domain, names)
        self.checker = (
            AuthChecker(ctx.config.hostname, ctx.config.relay.dns, AUTH_DNS_TIMEOUT_S)
            if ctx.config.dmarc_policy != "off"
            else None
        )

    def user_exists(self, address: str) -> bool:
        """Whether a local user exists; answers are reused for USERS_RECHECK_S seconds."""
        now = time.monotonic()
        hit = self._users_cache.get(address)
        if hit is not None and hit[1] > now:
            return hit[0]
        exists = self.ctx.users.exists(address)
        if len(self._users_cache) >= _USERS_CACHE_MAX:
            self._users_cache.clear()
        self._users_cache[address] = (exists, now + USERS_RECHECK_S)
        return exists

    def is_trusted(self, session: Session) -> bool:
        """Whether the client is in a ``--trusted-network`` (relays without AUTH)."""
        return bool(self.trusted) and session_ip(session) in self.trusted

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: RoutedEnvelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        """Refuse senders and clients on the deny list (unless allowed), accept the rest."""
        sender = "" if address == "<>" else address
        denied = self.ctx.access.decide(session_ip(session), sender or None)
        if denied == "client":
            self.ctx.stats.reject("client_denied")
            log.info("reject client=[%s] from=<%s>: client denied", session_ip(session), sender)
            return Reply.CLIENT_DENIED
        if denied is not None:
            self.ctx.stats.reject("sender_denied")
            log.info("reject client=[%s] from=<%s>: sender denied", session_ip(session), sender)
            return Reply.SENDER_DENIED.format(addr=sender)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return Reply.SENDER_OK

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: RoutedEnvelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Route a recipient: a local user, or the relay queue for authenticated clients and
        clients of a trusted network only (the recipient limit is the protocol's,
        :meth:`ServerSMTP.smtp_RCPT`)."""
        stats = self.ctx.stats
        if routing_trick(address) is not None:
            stats.reject("routing")
            log.info("reject client=[%s] to=<%s>: sender-specified routing",
                     session_ip(session), address)  # fmt: skip
            return Reply.RELAY_DENIED.format(addr=address)
        local, domain = split_address(address)
        if domain in self.domains:
            canonical = f"{local.lower()}@{domain}"
            if unsafe_local_part(local.lower()) or not self.user_exists(canonical):
                stats.reject("unknown_user")
                return Reply.UNKNOWN_USER.format(addr=address)
            kind = RouteKind.LOCAL
        elif session.authenticated or self.is_trusted(session):
            canonical = f"{local}@{domain}"
            kind = RouteKind.RELAY
        else:
            stats.reject("relay_denied")
            log.info("reject client=[%s] to=<%s>: relay access denied",
                     session_ip(session), address)  # fmt: skip
            return Reply.RELAY_DENIED.format(addr=address)
        if all(canonical != c for c, _ in envelope.routes):
            envelope.routes.append((canonical, kind))
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return Reply.RCPT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: RoutedEnvelope) -> str:
        """Check the hop count, write every copy durably, then answer 250 (or 451/452)."""
        content = envelope.content
        assert isinstance(content, bytes)
        header_end = content.find(b"\r\n\r\n")
        header = content if header_end < 0 else content[: header_end + 2]
        if len(_RECEIVED_RE.findall(header)) >= self.ctx.config.limits.max_hops:
            self.ctx.stats.reject("too_many_hops")
            return Reply.TOO_MANY_HOPS
        qid = new_queue_id()
        sender = "" if envelope.mail_from in (None, "<>") else str(envelope.mail_from)
        client_ip = session_ip(session)
        routes = envelope.routes
        received = received_header(
            helo=session.host_name or "unknown",
            client_ip=client_ip,
            hostname=self.ctx.config.hostname,
            protocol=_protocol_name(session),
            qid=qid,
            recipient=routes[0][0] if len(routes) == 1 else None,
        )
        log.info(
            "%s: accepted from=<%s> size=%d nrcpt=%d client=[%s] helo=%s proto=%s%s",
            qid, sender, len(content), len(routes), client_ip, session.host_name,
            _protocol_name(session),
            f" auth={session_login(session)}" if session.authenticated
            else " trusted=yes" if self.is_trusted(session) else "",
        )  # fmt: skip
        local = [addr for addr, kind in routes if kind is RouteKind.LOCAL]
        remote = [addr for addr, kind in routes if kind is RouteKind.RELAY]
        if log.isEnabledFor(logging.DEBUG):
            for addr, kind in routes:
                log.debug("%s: route to=<%s> %s", qid, addr, kind.value)
        local_jobs: list[tuple[str, bytes, int]] = []
        if local:
            trace = [received]
            if not session.authenticated:
                content, forged = strip_forged(content, self.ctx.config.hostname)
                if forged:
                    log.info("%s: removed %d forged Authentication-Results", qid, forged)
            auth = await self._check_inbound(session, qid, content, sender, client_ip)
            enforce = self.ctx.config.dmarc_policy == "enforce"
            if auth is not None:
                if enforce and auth.action == "reject":
                    self.ctx.stats.reject("dmarc")
                    log.info("%s: reject: DMARC policy of %s", qid, auth.header_from)
                    return Reply.DMARC_REJECT.format(domain=auth.header_from)
                trace.insert(0, auth.header())
            junk = auth is not None and enforce and auth.action == "quarantine"
            return_path = f"Return-Path: <{sender}>".encode("ascii", "replace")
            data, size_crlf = maildir_content((return_path, *trace), content)
            local_jobs = [
                (in_folder(addr, JUNK) if junk else addr, data, size_crlf) for addr in local
            ]
        queue_jobs: list[tuple[QueueEntry, bytes, bytes]] = []
        if remote:
            now = time.time()
            entry = QueueEntry(
                qid=qid,
                sender=sender,
                recipients=tuple(QueueRecipient(address=a) for a in remote),
                created_at_s=now,
                next_attempt_at_s=now,
                client=client_ip,
            )
            queue_jobs = [(entry, received + b"\r\n", content)]
        try:
            files, paths = await self._commit(local_jobs, queue_jobs)
        except StoreError as exc:
            self.ctx.stats.reject("storage_error")
            log.error("%s: not accepted, store failed: %s", qid, exc)
            return Reply.NO_STORAGE if exc.errno in _NO_SPACE_ERRNOS else Reply.LOCAL_ERROR
        stats = self.ctx.stats
        stats.incr("accepted")
        for addr, f in zip(local, files, strict=True):
            log.info("%s: delivered to=<%s> maildir=%s", qid, addr, f.path.name)
        if files:
            stats.incr("delivered_local", len(files))
        if paths:
            stats.incr("queued")
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s: queued to=%s", qid, ",".join(f"<{a}>" for a in remote))
            if self.ctx.kick_relay is not None:
                fresh = len(queue_jobs[0][2]) <= LOCK_INLINE_MAX
                for path in paths:
                    self.ctx.kick_relay(path, fresh=fresh)
        return Reply.QUEUED.format(qid=qid)

    async def _signed(
        self, entry: QueueEntry, trace: bytes, content: bytes
    ) -> tuple[QueueEntry, bytes]:
        """:func:`~planner.mailserver.dkim.signed_for_queue`, on an I/O thread for a
        message over SIGN_INLINE_MAX."""
        if self.signer and len(content) > SIGN_INLINE_MAX:
            return await self.ctx.loop.run_in_executor(
                self.ctx.executor, signed_for_queue, self.signer, entry, trace, content
            )
        return signed_for_queue(self.signer, entry, trace, content)

    async def _check_inbound(
        self, session: Session, qid: str, content: bytes, sender: str, client_ip: str
    ) -> AuthResult | None:
        """SPF, DKIM and DMARC of a message from outside (not authenticated, not from a
        trusted network, not from loopback unless ``auth_check_loopback``), in a thread;
        None when not checked."""
        config = self.ctx.config
        if self.checker is None or session.authenticated or self.is_trusted(session):
            return None
        if not config.auth_check_loopback and is_loopback(client_ip):
            return None
        helo = session.host_name or ""
        try:
            result = await self.ctx.loop.run_in_executor(
                self.ctx.executor, self.checker.check, content, client_ip, sender, helo
            )
        except Exception as exc:  # a bug in a checker library never costs a message
            log.warning("%s: auth checks failed: %s: %s", qid, type(exc).__name__, exc)
            return None
        dkim_text = ",".join(r for r, _, _ in result.dkim) or "none"
        log.info(
            "%s: auth spf=%s dkim=%s dmarc=%s policy=%s from_domain=%s",
            qid, result.spf, dkim_text, result.dmarc, result.policy or "-",
            result.header_from or "-",
        )  # fmt: skip
        return result

    async def _commit(
        self, local: list[tuple[str, bytes, int]], queued: list[tuple[QueueEntry, bytes, bytes]]
    ) -> Any:
        """Sign the relayed messages and make the files durable: both in the store
        process when there is one (messages up to SIGN_INLINE_MAX), else signing here and
        writing on I/O threads. A dropped connection cannot cancel a commit once started
        (aiosmtpd cancels the handler on EOF)."""
        fut: asyncio.Future[Any]
        committer = self.ctx.committer
        if (
            committer is not None
            and committer.alive
            and all(len(c) <= SIGN_INLINE_MAX for _, _, c in queued)
        ):
            fut = asyncio.ensure_future(committer.commit(local, [], queued))
        else:
            signed = [await self._signed(e, t, c) for e, t, c in queued]
            if committer is not None and committer.alive:
                raw = [(e.qid, encode_queue_file(e, c)) for e, c in signed]
                fut = asyncio.ensure_future(committer.commit(local, raw))
            else:
                fut = self.ctx.loop.run_in_executor(
                    self.ctx.executor, self.ctx.store.commit, local, signed
                )
        fut.add_done_callback(_consume_exception)
        return await asyncio.shield(fut)


def _consume_exception(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()
