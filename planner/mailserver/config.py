"""The reference server's settings: listeners, domains, limits, relay retry policy.

Built by ``mailplan serve`` from its options; plain data that every server process
receives. The limits of each protocol are one model each: :class:`Limits` (SMTP, in
:mod:`~planner.mailserver.policy`, beside the routing rules), :class:`Pop3Limits` and
:class:`ImapLimits`; each
field is one ``mailplan serve`` option.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from planner.mailserver.policy import Limits, Network
from planner.net import format_hostport, parse_hostport

__all__ = ["ImapLimits", "Limits", "Listen", "Pop3Limits", "RelaySettings", "ServerConfig"]


class Listen(BaseModel):
    """A ``HOST:PORT`` to listen on or talk to (port 0: pick a free one)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    port: int = Field(ge=0, le=65535)

    def __str__(self) -> str:
        return format_hostport(self.host, self.port)

    @classmethod
    def parse(cls, text: str, option: str) -> Listen:
        """``HOST:PORT`` (:func:`planner.net.parse_hostport`'s rules) whose HOST is an IP
        address or ``localhost`` (something to bind, or a DNS server to ask); ValueError
        whose one-line message starts with ``option``."""
        try:
            host, port = parse_hostport(text)
        except ValueError as exc:
            raise ValueError(f"{option}: {exc}") from None
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if host != "localhost":
                raise ValueError(
                    f"{option}: HOST must be an IP address or localhost: {text!r}"
                ) from None
        return cls(host=host, port=port)


class Pop3Limits(BaseModel):
    """Per-listener and per-session bounds of the POP3 server; times in seconds.

    Fixed protocol bounds (a 255-octet command line, RFC 2449 §4; 20 bad commands and 3
    failed logins per session) are constants of :mod:`~planner.mailserver.pop3_protocol`.
    The failed-login delays are SMTP's (:class:`Limits`): one penalty per client address
    for both protocols.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    idle_timeout_s: float = Field(600.0, gt=0)
    """Inactivity autologout (RFC 1939 §3: at least 10 minutes if there is one); then
    ``-ERR Disconnected for inactivity.``"""
    tls_handshake_timeout_s: float = Field(60.0, gt=0)
    """Time a POP3S or STLS client has to finish the TLS handshake; then closed, logged."""
    login_delay_s: float = Field(0.0, ge=0)
    """Least time between two logins of one user (RFC 2449 LOGIN-DELAY, announced in
    CAPA); a login sooner gets ``-ERR [LOGIN-DELAY]``. 0: none."""
    max_connections: int = Field(1000, ge=1)
    """Open POP3 connections per listener and server process; beyond: ``-ERR [SYS/TEMP]``
    at connect."""
    max_connections_per_ip: int = Field(100, ge=1)
    """Open POP3 connections from one client address, per listener and server process."""


class ImapLimits(BaseModel):
    """Per-listener and per-session bounds of the IMAP server; times in seconds.

    Fixed protocol bounds (a 64 KiB command line, 20 bad commands and 3 failed logins per
    session) are constants of :mod:`~planner.mailserver.imap_protocol`; an APPEND literal
    may be as large as SMTP's ``--max-message-size``. The failed-login delays are SMTP's
    (:class:`Limits`): one penalty per client address for SMTP, POP3 and IMAP.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    idle_timeout_s: float = Field(1800.0, gt=0)
    """Inactivity autologout, IDLE included (RFC 3501 §5.4: at least 30 minutes if there is
    one; RFC 2177 clients re-issue IDLE every 29); then ``* BYE``."""
    tls_handshake_timeout_s: float = Field(60.0, gt=0)
    """Time an IMAPS or STARTTLS client has to finish the TLS handshake."""
    max_connections: int = Field(1000, ge=1)
    """Open IMAP connections per listener and server process; beyond: ``* BYE``."""
    max_connections_per_ip: int = Field(100, ge=1)
    """Open IMAP connections from one client address, per listener and server process."""


class RelaySettings(BaseModel):
    """How queued mail goes out: DNS, ports, retry back-off (RFC 5321 §4.5.4.1, Postfix-like)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dns: Listen | None = None
    """Resolver to ask for MX/A/AAAA; None: the system's (/etc/resolv.conf)."""
    relay_port: int = Field(25, ge=1, le=65535)
    """Port of remote MX hosts (tests point it at loopback listeners)."""
    retry_initial_s: float = Field(300.0, gt=0)
    """Wait after the first failed attempt; doubled after each further one."""
    retry_max_s: float = Field(4000.0, gt=0)
    """Longest wait between attempts."""
    queue_lifetime_s: float = Field(5 * 86400.0, gt=0)
    """Age after which a message still undelivered is bounced."""
    queue_scan_s: float = Field(60.0, gt=0)
    """How often the queue is scanned for entries due for another attempt."""
    connect_timeout_s: float = Field(30.0, gt=0)
    command_timeout_s: float = Field(300.0, gt=0)
    """Per reply (RFC 5321 §4.5.3.2: 5 min for MAIL/RCPT)."""
    data_timeout_s: float = Field(600.0, gt=0)
    """For the reply after the final dot (RFC 5321 §4.5.3.2.6: 10 min)."""
    dns_timeout_s: float = Field(10.0, gt=0)
    max_concurrent: int = Field(20, ge=1)
    """Outbound deliveries at once per server process (also the most idle connections
    kept per destination)."""
    connection_idle_s: float = Field(5.0, ge=0)
    """How long an outbound connection is kept open for the next message to the same
    host (Postfix ``smtp_connection_cache_time_limit``); 0: a new connection each time."""
    connection_max_messages: int = Field(100, ge=1)
    """Messages over one outbound connection before it is closed (QUIT)."""


class ServerConfig(BaseModel):
    """Everything one ``mailplan serve`` needs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path
    domains: tuple[str, ...]
    hostname: str
    smtp: Listen | None
    submission: Listen | None
    pop3: Listen | None = None
    pop3s: Listen | None = None
    imap: Listen | None = None
    imaps: Listen | None = None
    workers: int = Field(2, ge=1, le=64)
    io_threads: int = Field(16, ge=1, le=256)
    """Threads per process that write and fsync (parallel fsyncs share journal commits)."""
    insecure_auth: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    access_file: Path | None = None
    log_file: Path | None = None
    log_level: str = "info"
    dmarc_policy: Literal["off", "record", "enforce"] = "record"
    """Inbound SPF/DKIM/DMARC checks (:mod:`~planner.mailserver.authcheck`) on mail from
    outside to local users: ``record`` adds ``Authentication-Results:``, ``enforce`` also
    rejects a DMARC fail under ``p=reject`` and files one under ``p=quarantine`` in
    ``.Junk``; ``off``: no checks."""
    auth_check_loopback: bool = False
    """Check clients on loopback too (trusted, like OpenDMARC's IgnoreHosts, otherwise)."""
    trusted_networks: tuple[Network, ...] = ()
    """Client networks that may relay without AUTH on the ``--smtp`` listener (Postfix
    ``mynetworks``; ``--trusted-network``, checked by
    :func:`~planner.mailserver.policy.parse_trusted_network`). Their mail is handled like
    an authenticated client's: relayed mail whose From: is a local domain is DKIM-signed,
    and no inbound SPF/DKIM/DMARC check is made. None by default: only authenticated
    clients relay (no open relay). Submission still requires AUTH."""
    shutdown_grace_s: float = Field(10.0, ge=0)
    credential_cache_ttl_s: float = Field(60.0, ge=0)
    """How long a verified password is remembered after its last use, SMTP AUTH and POP3
    alike (:class:`~planner.mailserver.users.UserDB`); 0: every login hashes."""
    limits: Limits = Limits()
    pop3_limits: Pop3Limits = Pop3Limits()
    imap_limits: ImapLimits = ImapLimits()
    relay: RelaySettings = RelaySettings()
