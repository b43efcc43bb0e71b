"""What the SMTP server allows: session limits, recipient routing rules and allow/deny lists.

Pure decisions, no sockets: the SMTP handler asks, this module answers.

- :class:`Limits`: every per-session bound (RFC 5321 §4.5.3), with Postfix-like defaults.
- :func:`routing_trick`: sender-specified routing (``%``, ``!``, quoted ``@``, IP literals)
  that is never relayed (Postfix ``allow_untrusted_routing = no``).
- :class:`AccessList`: the ``DATA_DIR/access`` file of allow/deny rules on the sender
  address, the sender domain and the client address, re-read when it changes on disk.
- :func:`parse_trusted_network` and :class:`TrustedNetworks`: client networks that may
  relay without AUTH (Postfix ``mynetworks``), none by default.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AccessError",
    "AccessList",
    "AccessRule",
    "Limits",
    "RouteKind",
    "TrustedNetworks",
    "parse_trusted_network",
    "routing_trick",
    "split_address",
]

log = logging.getLogger("mailplan.policy")


class Limits(BaseModel):
    """Per-session and per-message bounds; each one answers with the RFC reply code."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_message_size_bytes: int = Field(10_240_000, ge=1024)
    """Message size (RFC 1870 SIZE, advertised in EHLO); over it: 552 5.3.4."""
    max_recipients: int = Field(100, ge=100)
    """Recipients per message; RFC 5321 §4.5.3.1.8 requires at least 100; beyond: 452 4.5.3."""
    recipient_overshoot_limit: int = Field(1000, ge=0)
    """RCPTs over ``max_recipients`` in one transaction whose 452 does not count toward
    ``max_errors`` (Postfix ``smtpd_recipient_overshoot_limit``): the client carries on."""
    max_command_line_bytes: int = Field(512, ge=512, le=65536)
    """Command line including CRLF (RFC 5321 §4.5.3.1.4); over it: 500 5.5.2."""
    max_line_length_bytes: int = Field(1000, ge=1000, le=1_000_000)
    """Text line in DATA including CRLF (RFC 5321 §4.5.3.1.6); over it: 500 5.5.2 after the dot."""
    idle_timeout_s: float = Field(300.0, gt=0)
    """Time allowed without a byte from the client (RFC 5321 §4.5.3.2.7); then 421 4.4.2."""
    session_timeout_s: float = Field(1800.0, gt=0)
    """Total time one connection may last; then 421 4.4.2."""
    max_connections: int = Field(500, ge=1)
    """Open SMTP connections over all server processes; beyond: 421 4.7.0 at connect."""
    max_errors: int = Field(20, ge=1)
    """Error replies (4yz/5yz) in one session; then 421 4.7.0 and disconnect."""
    max_auth_failures: int = Field(3, ge=1)
    """Failed AUTH attempts in one session; each waits longer, the last one gets 421 4.7.0."""
    auth_failure_delay_s: float = Field(1.0, ge=0)
    """Delay before answering a failed login; doubled for each further failure from the
    same client address, in any session, SMTP or POP3 (:mod:`~planner.mailserver.auth_penalty`)."""
    auth_failure_max_delay_s: float = Field(15.0, ge=0)
    """The longest of those delays."""
    max_hops: int = Field(50, ge=1)
    """Received: headers a message may carry (RFC 5321 §6.3); at this many: 554 5.4.6."""


class RouteKind(StrEnum):
    """Where a recipient goes."""

    LOCAL = "local"
    RELAY = "relay"


def split_address(address: str) -> tuple[str, str]:
    """``(local part, domain)`` of an address, the domain lower-cased, one trailing dot dropped."""
    local, at, domain = address.rpartition("@")
    if not at:
        return address, ""
    return local, domain.lower().removesuffix(".")


def routing_trick(address: str) -> str | None:
    """Why ``address`` is sender-specified routing, or None when it is a plain address.

    ``user%host@relay``, ``host!user@relay``, ``"user@host"@relay`` and ``user@[1.2.3.4]``
    ask the receiving server to route the mail on; they are refused, never relayed.
    """
    local, domain = split_address(address)
    if not domain:
        return "no domain"
    if domain.startswith("["):
        return "address literal"
    if local.startswith('"'):
        inner = local[1:-1] if local.endswith('"') and len(local) > 1 else local[1:]
        if any(c in inner for c in "@%!"):
            return "quoted local part with routing characters"
    if "%" in local or "!" in local:
        return "routing characters in local part"
    return None


# region #### trusted networks ####

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MIN_PREFIX = {4: 8, 6: 16}
"""Shortest prefix a public trusted network may have, even with ``allow_public``: anything
wider (``0.0.0.0/0`` above all) is no one organisation's network but an open relay."""


def parse_trusted_network(text: str, *, allow_public: bool = False) -> Network:
    """A ``--trusted-network`` value: an IP address or ``ADDRESS/PREFIX``.

    Refused (ValueError, one line starting with the option): not an address or network,
    host bits set (``10.0.0.1/8``: a typo more often than not), public and wider than
    :data:`MIN_PREFIX`, or not private (RFC 1918, loopback, IPv6 ULA and the like:
    ``ipaddress``'s ``is_private``) unless ``allow_public``: a public network trusted
    by mistake lets anyone there send mail as the server's domains, signed.
    """
    option = "--trusted-network"
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{option}: not an IP address or CIDR network: {text!r}") from None
    address = text.strip().split("/", 1)[0]
    if "/" in text and ipaddress.ip_address(address) != network.network_address:
        raise ValueError(f"{option}: host bits set in {text.strip()!r} (the network is {network})")
    if not network.is_private and network.prefixlen < MIN_PREFIX[network.version]:
        raise ValueError(
            f"{option}: {network} is wider than /{MIN_PREFIX[network.version]}: "
            "that would make an open relay"
        )
    if not network.is_private and not allow_public:
        raise ValueError(
            f"{option}: {network} is not a private network; "
            "add --allow-public-trusted-network if it really is yours"
        )
    return network


class TrustedNetworks:
    """Client networks whose hosts may relay without AUTH, like Postfix's ``mynetworks``
    (``permit_mynetworks``); empty by default, so only authenticated clients relay."""

    def __init__(self, networks: tuple[Network, ...] = ()) -> None:
        self.networks = networks

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, client_ip: object) -> bool:
        """Whether the client address (text; an IPv4-mapped IPv6 address counts as its
        IPv4 address) is in one of the networks; False for anything unparsable."""
        if not self.networks or not isinstance(client_ip, str):
            return False
        try:
            ip = ipaddress.ip_address(client_ip)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.networks)


# endregion

# region #### allow/deny lists ####


class AccessError(ValueError):
    """A bad line in the access file; the message names the file, line and reason."""


RuleKind = Literal["sender", "domain", "client"]
Action = Literal["allow", "deny"]


@dataclass(frozen=True)
class AccessRule:
    """One line of the access file: ``allow|deny sender|domain|client VALUE``."""

    action: Action
    kind: RuleKind
    value: str
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None

    def matches(self, client_ip: str | None, sender: str | None) -> bool:
        """True when the rule applies to this client address and sender address."""
        if self.kind == "client":
            if client_ip is None or self.network is None:
                return False
            try:
                return ipaddress.ip_address(client_ip) in self.network
            except ValueError:
                return False
        if sender is None:
            return False
        if self.kind == "sender":
            return sender.lower() == self.value
        _, domain = split_address(sender)
        return domain == self.value or domain.endswith("." + self.value)


def parse_access(text: str, source: str) -> tuple[AccessRule, ...]:
    """The rules of an access file; AccessError names the first bad line."""
    rules: list[AccessRule] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 3:
            raise AccessError(f"{source}:{n}: expected 'allow|deny sender|domain|client VALUE'")
        action, kind, value = parts[0].lower(), parts[1].lower(), parts[2].lower()
        if action not in ("allow", "deny"):
            raise AccessError(f"{source}:{n}: action must be allow or deny, not {parts[0]!r}")
        if kind == "client":
            try:
                net = ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise AccessError(
                    f"{source}:{n}: not an IP address or network: {value!r}"
                ) from None
            rules.append(AccessRule(action, "client", value, net))  # type: ignore[arg-type]
        elif kind == "sender":
            if "@" not in value:
                raise AccessError(f"{source}:{n}: sender rule needs a full address: {value!r}")
            rules.append(AccessRule(action, "sender", value))  # type: ignore[arg-type]
        elif kind == "domain":
            rules.append(AccessRule(action, "domain", value.lstrip(".").removesuffix(".")))  # type: ignore[arg-type]
        else:
            raise AccessError(
                f"{source}:{n}: kind must be sender, domain or client, not {parts[1]!r}"
            )
    return tuple(rules)


class AccessList:
    """Allow/deny rules from a file, re-read (at most once a second) when it changes.

    A deny rule that matches rejects the client or sender unless an allow rule matches
    too: ``allow`` is the whitelist that exempts from the blacklist. A file that becomes
    unreadable or invalid keeps the previous rules and logs why.
    """

    RECHECK_S = 1.0

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._rules: tuple[AccessRule, ...] = ()
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        if path is not None:
            self._reload(strict=True)

    @property
    def rules(self) -> tuple[AccessRule, ...]:
        """The rules in force now (re-read if the file changed)."""
        self._maybe_reload()
        return self._rules

    def _reload(self, *, strict: bool) -> None:
        assert self.path is not None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._rules, self._stamp = (), None
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        try:
            rules = parse_access(self.path.read_text(encoding="utf-8"), str(self.path))
        except (AccessError, OSError, UnicodeDecodeError) as exc:
            if strict:
                raise AccessError(str(exc)) from None
            log.warning("access list not reloaded, keeping %d rules: %s", len(self._rules), exc)
            self._stamp = stamp
            return
        self._rules, self._stamp = rules, stamp
        log.info("access list loaded: %d rules from %s", len(rules), self.path)

    def _maybe_reload(self) -> None:
        if self.path is None:
            return
        now = time.monotonic()
        if now - self._checked < self.RECHECK_S:
            return
        with self._lock:
            self._checked = now
            self._reload(strict=False)

    def decide(self, client_ip: str | None, sender: str | None) -> RuleKind | None:
        """The kind of the deny rule that rejects (client first), or None when allowed."""
        rules = self.rules
        if not rules:
            return None
        denied: RuleKind | None = None
        for rule in rules:
            if rule.matches(client_ip, sender):
                if rule.action == "allow":
                    return None
                if denied is None or rule.kind == "client":
                    denied = rule.kind
        return denied


# endregion
