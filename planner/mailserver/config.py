"""The reference server's settings: listeners, domains, limits, relay retry policy.

Built by ``mailplan serve`` from its options; plain data that every server process
receives.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from planner.mailserver.policy import Limits

__all__ = ["Listen", "RelaySettings", "ServerConfig", "parse_hostport"]


class Listen(BaseModel):
    """A ``HOST:PORT`` to listen on or talk to (port 0: pick a free one)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    port: int = Field(ge=0, le=65535)

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_hostport(text: str, option: str) -> Listen:
    """``HOST:PORT`` (IPv6 as ``[::1]:25``) → Listen; ValueError naming ``option``."""
    raw = text.strip()
    if raw.startswith("["):
        host, sep, port = raw[1:].partition("]:")
    else:
        host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{option}: expected HOST:PORT (port 0-65535), got {text!r}")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise ValueError(
                f"{option}: HOST must be an IP address or localhost: {text!r}"
            ) from None
    return Listen(host=host, port=int(port))


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
    """Outbound deliveries at once per server process."""


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
    workers: int = Field(2, ge=1, le=64)
    io_threads: int = Field(16, ge=1, le=256)
    """Threads per process that write and fsync (parallel fsyncs share journal commits)."""
    insecure_auth: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    access_file: Path | None = None
    log_file: Path | None = None
    log_level: str = "info"
    shutdown_grace_s: float = Field(10.0, ge=0)
    pop3_idle_timeout_s: float = Field(600.0, gt=0)
    """POP3 inactivity autologout (RFC 1939 §3: at least 10 minutes if any)."""
    tls_handshake_timeout_s: float = Field(60.0, gt=0)
    """Time a POP3S/STLS client has to finish the TLS handshake."""
    limits: Limits = Limits()
    relay: RelaySettings = RelaySettings()
