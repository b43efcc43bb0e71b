"""Inbound sender authentication: SPF (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489), and
the ``Authentication-Results:`` header (RFC 8601) that records them.

:class:`AuthChecker` runs the three checks on a message from outside with the server's
resolver (``--dns``; the system's otherwise), every look-up bounded by a timeout:

- SPF through pyspf, whose module-level DNS function is replaced once by one that asks
  the resolver of the calling thread's check (other callers keep pyspf's own);
- DKIM through dkimpy, every signature (at most :data:`MAX_SIGNATURES`), ``dkim=pass``
  for each one that verifies;
- DMARC through authheaders' policy evaluation (``dmarc_per_from``: record discovery,
  organisational domain from its public suffix list, relaxed/strict alignment), and
  the record's ``pct=`` sampling (RFC 7489 §6.6.4), which authheaders leaves out: a
  failing message not in the sample gets the next lower policy (reject → quarantine,
  quarantine → none).

A DNS failure that is not an answer (SERVFAIL, timeout) gives ``temperror`` and never a
rejection; a DMARC ``fail`` that a temporary error may have caused is ``temperror`` too.
:func:`strip_forged` removes ``Authentication-Results:`` fields that claim this server's
authserv-id (RFC 8601 §5) before the checks. Everything here blocks (DNS): call it from a
thread.
"""

from __future__ import annotations

import logging
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dkim
import dns.exception
import dns.resolver
import spf
from authheaders import dmarc_per_from
from authheaders.dmarc_lookup import DMARCException, get_org_domain
from authres import DKIMAuthenticationResult, SPFAuthenticationResult

from planner.mailserver.config import Listen
from planner.mailserver.dkim import from_domain, split_message

__all__ = ["AuthChecker", "AuthResult", "TempDnsError", "record_pct", "strip_forged"]

log = logging.getLogger("mailplan.authcheck")
_dkimpy_log = logging.getLogger("mailplan.authcheck.dkimpy")
_dkimpy_log.setLevel(logging.CRITICAL)  # dkimpy logs every failed signature as an error

MAX_SIGNATURES = 5
"""DKIM signatures checked per message (the rest are ignored, RFC 6376 §6.1)."""
_AR_RE = re.compile(rb"^authentication-results[ \t]*:", re.IGNORECASE | re.MULTILINE)
_COMMENT_RE = re.compile(r"\([^()]*\)")
_SAFE_VALUE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~@-]+")


class TempDnsError(Exception):
    """A look-up that got no answer (SERVFAIL, timeout, no server): try again later."""


@dataclass(frozen=True)
class AuthResult:
    """The outcome for one message: each method's result and the DMARC policy."""

    spf: str
    dkim: tuple[tuple[str, str, str], ...]
    """``(result, d=, s=)`` per signature; empty: ``dkim=none``."""
    dmarc: str
    policy: str
    """The DMARC ``p=`` (or ``sp=``) that applies: ``none``, ``quarantine``, ``reject``
    or ``""`` (no record)."""
    header_from: str
    mail_from: str
    helo: str
    authserv_id: str
    pct: int = 100
    """The record's ``pct=`` (RFC 7489 §6.3; 100 when absent or invalid)."""
    sampled: bool = True
    """Whether the message fell in the ``pct`` sample (the policy applies in full)."""

    @property
    def action(self) -> str:
        """What the policy asks for: ``reject``, ``quarantine`` or ``none`` (only a
        DMARC ``fail`` asks for anything); outside the ``pct`` sample the next lower
        one (RFC 7489 §6.6.4)."""
        if self.dmarc == "fail" and self.policy in ("reject", "quarantine"):
            if self.sampled:
                return self.policy
            return "quarantine" if self.policy == "reject" else "none"
        return "none"

    def header(self) -> bytes:
        """The ``Authentication-Results:`` field, folded, without its final CRLF."""
        parts = [f"spf={self.spf} " + _prop("smtp.mailfrom", self.mail_from or self.helo)]
        for result, d, s in self.dkim or (("none", "", ""),):
            text = f"dkim={result}"
            if d:
                text += " " + _prop("header.d", d)
            if s:
                text += " " + _prop("header.s", s)
            parts.append(text)
        dmarc = f"dmarc={self.dmarc}"
        if self.policy and self.pct < 100:
            dis = f" dis={self.action}" if self.dmarc == "fail" else ""
            dmarc += f" (p={self.policy} pct={self.pct}{dis})"
        elif self.policy:
            dmarc += f" (p={self.policy})"
        if self.header_from:
            dmarc += " " + _prop("header.from", self.header_from)
        parts.append(dmarc)
        text = f"Authentication-Results: {self.authserv_id};\r\n\t" + ";\r\n\t".join(parts)
        return text.encode("utf-8", "replace")


def _prop(name: str, value: str) -> str:
    """``name=value``, the value quoted unless it is a plain token or address."""
    if _SAFE_VALUE.fullmatch(value):
        return f"{name}={value}"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "")
    return f'{name}="{escaped}"'


def strip_forged(content: bytes, authserv_id: str) -> tuple[bytes, int]:
    """``content`` without ``Authentication-Results:`` fields whose authserv-id is
    ``authserv_id`` (case-insensitive, comments ignored), and how many were removed."""
    end = content.find(b"\r\n\r\n")
    head_len = len(content) if end < 0 else end + 2
    if not _AR_RE.search(content, 0, head_len):
        return content, 0
    fields, _ = split_message(content)
    ours = authserv_id.lower()
    kept: list[bytes] = []
    removed = 0
    for name, raw in fields:
        if name == b"authentication-results":
            value = raw.partition(b":")[2].decode("utf-8", "replace")
            value = _COMMENT_RE.sub(" ", " ".join(value.split()))
            if value.split(";", 1)[0].strip().lower() == ours:
                removed += 1
                continue
        kept.append(raw)
    if not removed:
        return content, 0
    return b"".join(kept) + content[head_len:], removed


def record_pct(record: str) -> int:
    """The ``pct=`` of a DMARC record: 0-100, or 100 when absent or not an integer in
    that range (RFC 7489 §6.3: the default; a bad value is no reason to apply less)."""
    for item in record.split(";"):
        tag, eq, value = item.partition("=")
        if eq and tag.strip().lower() == "pct":
            value = value.strip()
            return int(value) if value.isdigit() and int(value) <= 100 else 100
    return 100


def _tag_values(raw: bytes, *tags: str) -> tuple[str, ...]:
    """The values of ``tags`` in a ``DKIM-Signature:`` field (``""`` when missing)."""
    text = raw.partition(b":")[2].decode("ascii", "replace")
    found: dict[str, str] = {}
    for item in text.split(";"):
        tag, eq, value = item.partition("=")
        if eq:
            found.setdefault(tag.strip(), "".join(value.split()))
    return tuple(found.get(t, "")[:255] for t in tags)


# region #### DNS ####

_active = threading.local()
_pyspf_lookup: Callable[..., Any] = spf.DNSLookup


def _spf_lookup(name: str, qtype: str, strict: Any = True, timeout: float = 30) -> list[Any]:
    """pyspf's DNS function: the calling check's resolver, else pyspf's own."""
    checker: AuthChecker | None = getattr(_active, "checker", None)
    if checker is None:
        return list(_pyspf_lookup(name, qtype, strict, timeout))
    try:
        answer = checker.resolve(name, qtype)
    except TempDnsError as exc:
        raise spf.TempError(f"DNS {exc}") from None
    out: list[Any] = []
    for rdata in answer:
        if qtype in ("A", "AAAA"):
            out.append(((name, qtype), rdata.address))
        elif qtype == "MX":
            out.append(((name, qtype), (rdata.preference, rdata.exchange)))
        elif qtype == "PTR":
            out.append(((name, qtype), rdata.target.to_text(True)))
        elif qtype in ("TXT", "SPF"):
            out.append(((name, qtype), rdata.strings))
    return out


spf.DNSLookup = _spf_lookup

# endregion


class AuthChecker:
    """SPF, DKIM and DMARC for messages from outside, with one resolver."""

    def __init__(self, authserv_id: str, dns_server: Listen | None, timeout_s: float) -> None:
        self.authserv_id = authserv_id.lower()
        self.timeout_s = timeout_s
        if dns_server is None:
            try:
                resolver = dns.resolver.Resolver(configure=True)
            except dns.resolver.NoResolverConfiguration:
                resolver = dns.resolver.Resolver(configure=False)
                resolver.nameservers = ["127.0.0.1"]
        else:
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = [dns_server.host]
            resolver.port = dns_server.port
        resolver.lifetime = timeout_s
        resolver.timeout = min(timeout_s, 2.0)
        resolver.retry_servfail = False
        self.resolver = resolver
        self.sample: Callable[[], float] = random.random
        """A number in [0, 1) per checked message: in the DMARC ``pct`` sample when
        ``100 * sample() < pct``."""

    def resolve(self, name: str, rdtype: str) -> list[Any]:
        """Records of ``name`` (empty: no such name or no such record); TempDnsError when
        there is no answer (SERVFAIL, timeout)."""
        try:
            return list(self.resolver.resolve(name, rdtype, search=False))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            raise TempDnsError(f"{name} {rdtype}: {type(exc).__name__}") from None
        except dns.exception.DNSException as exc:
            raise TempDnsError(f"{name} {rdtype}: {exc}") from None

    def _txt(self, name: str) -> list[bytes]:
        return [b"".join(r.strings) for r in self.resolve(name.rstrip("."), "TXT")]

    def _dkim_txt(self, name: bytes, timeout: float = 5) -> bytes | None:
        """dkimpy's DNS function: the first TXT record of ``name``."""
        records = self._txt(name.decode("ascii", "replace"))
        return records[0] if records else None

    def _dmarc_txt(self, name: str) -> str | None:
        """authheaders' DNS function: the ``v=DMARC1`` record's text (None: none, or
        several, RFC 7489 §6.6.3)."""
        records = [r for r in self._txt(name) if r[:8] == b"v=DMARC1"]
        return records[0].decode("ascii", "replace") if len(records) == 1 else None

    def check(self, content: bytes, client_ip: str, mail_from: str, helo: str) -> AuthResult:
        """Every check on ``content`` (CRLF), from ``client_ip`` with ``MAIL FROM``
        ``mail_from`` ("" for ``<>``) after ``helo``."""
        spf_result = self._spf(client_ip, mail_from, helo)
        dkim_results = self._dkim(content)
        fields, _ = split_message(content)
        domain = from_domain(fields)
        pct = 100
        if domain is None:
            n_from = sum(1 for name, _ in fields if name == b"from")
            dmarc, policy = ("none" if n_from == 0 else "permerror"), ""
        else:
            dmarc, policy, pct = self._dmarc(domain, mail_from or f"postmaster@{helo}",
                                             spf_result, dkim_results)  # fmt: skip
        return AuthResult(
            spf=spf_result,
            dkim=tuple(dkim_results),
            dmarc=dmarc,
            policy=policy,
            header_from=domain or "",
            mail_from=mail_from,
            helo=helo,
            authserv_id=self.authserv_id,
            pct=pct,
            sampled=pct >= 100 or self.sample() * 100 < pct,
        )

    def _spf(self, client_ip: str, mail_from: str, helo: str) -> str:
        _active.checker = self
        try:
            query = spf.query(i=client_ip, s=mail_from, h=helo, querytime=self.timeout_s * 2)
            result, _code, _text = query.check()
        except Exception as exc:  # pyspf's own bugs must not lose the message
            log.warning("spf check failed: %s: %s", type(exc).__name__, exc)
            return "temperror"
        finally:
            _active.checker = None
        return str(result)

    def _dkim(self, content: bytes) -> list[tuple[str, str, str]]:
        fields, _ = split_message(content)
        signatures = [raw for name, raw in fields if name == b"dkim-signature"]
        count = len(signatures)
        if not count:
            return []
        verifier = dkim.DKIM(content, logger=_dkimpy_log, timeout=int(self.timeout_s) or 1)
        results: list[tuple[str, str, str]] = []
        for idx in range(min(count, MAX_SIGNATURES)):
            try:
                result = "pass" if verifier.verify(idx=idx, dnsfunc=self._dkim_txt) else "fail"
            except TempDnsError:
                result = "temperror"
            except dkim.MessageFormatError:  # a malformed signature field
                result = "permerror"
            except dkim.DKIMException:  # body hash mismatch, bad key...
                result = "fail"
            except Exception as exc:  # a malformed signature dkimpy trips over
                log.debug("dkim verify: %s: %s", type(exc).__name__, exc)
                result = "permerror"
            d, s = _tag_values(signatures[idx], "d", "s")
            results.append((result, d, s))
        return results

    def _dmarc(
        self, domain: str, mail_from: str, spf_result: str, dkim_results: list[tuple[str, str, str]]
    ) -> tuple[str, str, int]:
        """``(result, policy, pct)`` of the DMARC record that applies to ``domain``."""
        used: list[str] = []

        def dmarc_txt(name: str) -> str | None:
            text = self._dmarc_txt(name)
            if text is not None and name.lower().startswith("_dmarc."):
                used.append(text)  # the last one found is the record authheaders uses
            return text

        spf_ar = SPFAuthenticationResult(result=spf_result, smtp_mailfrom=mail_from)
        passing = [d.lower() for r, d, _ in dkim_results if r == "pass" and d]
        org = get_org_domain(domain)
        aligned = [d for d in passing if d == domain or get_org_domain(d) == org]
        best = (aligned or passing or [""])[0]
        dkim_ar = DKIMAuthenticationResult(result="pass", header_d=best) if best else None
        try:
            result, _comment, _from, policy = dmarc_per_from(
                domain, spf_result=spf_ar, dkim_result=dkim_ar, dnsfunc=dmarc_txt
            )
        except TempDnsError:
            return "temperror", "", 100
        except DMARCException:
            return "permerror", "", 100
        pct = record_pct(used[-1]) if used else 100
        temporary = spf_result == "temperror" or any(r == "temperror" for r, _, _ in dkim_results)
        if result == "fail" and temporary:
            return "temperror", str(policy or ""), pct
        return str(result), str(policy or ""), pct
