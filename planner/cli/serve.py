"""``mailplan serve`` (the reference mail server) and ``mailplan queue`` (its relay queue)."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from planner.cli.app import app, require_extra
from planner.errors import PlannerError
from planner.net import is_loopback

OFF = "off"

_POP3_OPTION_OF_FIELD = {
    "idle_timeout_s": "--pop3-idle-timeout",
    "tls_handshake_timeout_s": "--tls-handshake-timeout",
    "login_delay_s": "--pop3-login-delay",
    "max_connections": "--pop3-max-connections",
    "max_connections_per_ip": "--pop3-max-connections-per-ip",
}
"""Pop3Limits field -> the ``mailplan serve`` option that sets it."""

_IMAP_OPTION_OF_FIELD = {
    "idle_timeout_s": "--imap-idle-timeout",
    "tls_handshake_timeout_s": "--tls-handshake-timeout",
    "max_connections": "--imap-max-connections",
    "max_connections_per_ip": "--imap-max-connections-per-ip",
}
"""ImapLimits field -> the ``mailplan serve`` option that sets it."""

_OPTION_OF_FIELD = {
    "max_message_size_bytes": "--max-message-size",
    "max_recipients": "--max-recipients",
    "recipient_overshoot_limit": "--recipient-overshoot-limit",
    "max_command_line_bytes": "--max-command-line",
    "max_line_length_bytes": "--max-line-length",
    "idle_timeout_s": "--idle-timeout",
    "session_timeout_s": "--session-timeout",
    "max_connections": "--max-connections",
    "max_errors": "--max-errors",
    "max_auth_failures": "--max-auth-failures",
    "auth_failure_delay_s": "--auth-failure-delay",
    "auth_failure_max_delay_s": "--auth-failure-max-delay",
    "max_hops": "--max-hops",
    "retry_initial_s": "--retry-initial",
    "retry_max_s": "--retry-max",
    "queue_lifetime_s": "--queue-lifetime",
    "queue_scan_s": "--queue-scan",
    "relay_port": "--relay-port",
    "connect_timeout_s": "--relay-timeout",
    "command_timeout_s": "--relay-timeout",
    "connection_idle_s": "--relay-connection-idle",
    "workers": "--workers",
    "io_threads": "--io-threads",
    "shutdown_grace_s": "--shutdown-grace",
    "credential_cache_ttl_s": "--credential-cache-ttl",
}
"""Limits, RelaySettings and ServerConfig field -> the ``mailplan serve`` option."""


def _validation_problems(exc: Any) -> list[str]:
    """One ``--option: problem (got value)`` line per field a model refused."""
    names = {"Pop3Limits": _POP3_OPTION_OF_FIELD, "ImapLimits": _IMAP_OPTION_OF_FIELD}.get(
        exc.title, _OPTION_OF_FIELD
    )
    lines = []
    for err in exc.errors():
        field = str(err["loc"][-1]) if err["loc"] else "value"
        option = names.get(field, f"--{field.replace('_', '-')}")
        lines.append(f"{option}: {err['msg']} (got {err.get('input')!r})")
    return lines


def default_workers() -> int:
    """Half the CPUs, at least one: each worker comes with a store process that does its
    durable writes, so N/2 workers keep N cores busy (measured on 2 cores: one worker
    delivered 2.1-2.4x Postfix, two workers 1.5x, as the pair crowded out the client)."""
    return max(1, (os.cpu_count() or 2) // 2)


@app.command("serve")
def serve(
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir",
            metavar="DIR",
            help="Mail store, queue, users file, stats.json.",
            show_default=False,
        ),
    ],
    domain: Annotated[
        list[str] | None,
        typer.Option(
            "--domain",
            metavar="DOMAIN",
            help="A local mail domain (repeatable; needed with an SMTP listener).",
            show_default=False,
        ),
    ] = None,
    smtp: Annotated[
        str,
        typer.Option(
            "--smtp",
            metavar="HOST:PORT",
            help="Inbound SMTP listener (port 0: any free port; 'off': none).",
        ),
    ] = "127.0.0.1:2525",
    submission: Annotated[
        str,
        typer.Option(
            "--submission",
            metavar="HOST:PORT",
            help="Submission listener, AUTH required ('off': none).",
        ),
    ] = "127.0.0.1:2587",
    pop3: Annotated[
        str | None,
        typer.Option(
            "--pop3",
            metavar="HOST:PORT",
            help="Also serve POP3 (STLS offered); with --smtp off --submission off, only POP3.",
        ),
    ] = None,
    pop3s: Annotated[
        str | None,
        typer.Option(
            "--pop3s", metavar="HOST:PORT", help="Also serve POP3 over TLS from the first byte."
        ),
    ] = None,
    imap: Annotated[
        str | None,
        typer.Option(
            "--imap",
            metavar="HOST:PORT",
            help="Also serve IMAP (STARTTLS offered) on the same Maildirs as POP3.",
        ),
    ] = None,
    imaps: Annotated[
        str | None,
        typer.Option(
            "--imaps", metavar="HOST:PORT", help="Also serve IMAP over TLS from the first byte."
        ),
    ] = None,
    hostname: Annotated[
        str | None,
        typer.Option(
            "--hostname",
            help="Name in the greeting and Received: headers [default: this host's name].",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            help="Server processes, each with one event loop and its own store process "
            "[default: half the CPUs, at least 1].",
        ),
    ] = 0,
    io_threads: Annotated[
        int, typer.Option("--io-threads", help="Write/fsync threads per process.")
    ] = 16,
    dns: Annotated[
        str | None,
        typer.Option(
            "--dns", metavar="HOST:PORT", help="DNS server for MX look-ups [default: the system's]."
        ),
    ] = None,
    relay_port: Annotated[int, typer.Option("--relay-port", help="Port of remote MX hosts.")] = 25,
    insecure_auth: Annotated[
        bool,
        typer.Option(
            "--insecure-auth", help="Allow AUTH without TLS (loopback listeners only; for tests)."
        ),
    ] = False,
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            "--tls-cert",
            metavar="PEM",
            help="Certificate chain [default: self-signed in DATA_DIR/tls].",
        ),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", metavar="PEM", help="Private key for --tls-cert.")
    ] = None,
    access: Annotated[
        Path | None,
        typer.Option(
            "--access", metavar="FILE", help="Allow/deny rules [default: DATA_DIR/access]."
        ),
    ] = None,
    log_file: Annotated[
        Path | None,
        typer.Option(
            "--log-file", metavar="FILE", help="Append the log here [default: standard error]."
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = "info",
    max_message_size: Annotated[
        int, typer.Option("--max-message-size", metavar="BYTES")
    ] = 10_240_000,
    max_recipients: Annotated[int, typer.Option("--max-recipients", metavar="N")] = 100,
    recipient_overshoot_limit: Annotated[
        int,
        typer.Option(
            "--recipient-overshoot-limit",
            metavar="N",
            help="RCPTs over --max-recipients (452) in one message before they count as errors.",
        ),
    ] = 1000,
    max_line_length: Annotated[
        int,
        typer.Option(
            "--max-line-length", metavar="BYTES", help="Longest DATA line, CRLF included."
        ),
    ] = 1000,
    max_command_line: Annotated[int, typer.Option("--max-command-line", metavar="BYTES")] = 512,
    idle_timeout: Annotated[float, typer.Option("--idle-timeout", metavar="SECONDS")] = 300.0,
    session_timeout: Annotated[
        float, typer.Option("--session-timeout", metavar="SECONDS")
    ] = 1800.0,
    max_connections: Annotated[int, typer.Option("--max-connections", metavar="N")] = 500,
    max_errors: Annotated[int, typer.Option("--max-errors", metavar="N")] = 20,
    max_auth_failures: Annotated[int, typer.Option("--max-auth-failures", metavar="N")] = 3,
    auth_failure_delay: Annotated[
        float,
        typer.Option(
            "--auth-failure-delay",
            metavar="SECONDS",
            help="Delay before answering a failed SMTP/POP3 login; doubles per failure "
            "from the same client address.",
        ),
    ] = 1.0,
    auth_failure_max_delay: Annotated[
        float, typer.Option("--auth-failure-max-delay", metavar="SECONDS")
    ] = 15.0,
    max_hops: Annotated[int, typer.Option("--max-hops", metavar="N")] = 50,
    retry_initial: Annotated[float, typer.Option("--retry-initial", metavar="SECONDS")] = 300.0,
    retry_max: Annotated[float, typer.Option("--retry-max", metavar="SECONDS")] = 4000.0,
    queue_lifetime: Annotated[
        float, typer.Option("--queue-lifetime", metavar="SECONDS")
    ] = 432000.0,
    queue_scan: Annotated[float, typer.Option("--queue-scan", metavar="SECONDS")] = 60.0,
    relay_timeout: Annotated[
        float,
        typer.Option(
            "--relay-timeout",
            metavar="SECONDS",
            help="Connect and per-command timeout of outbound SMTP.",
        ),
    ] = 300.0,
    relay_connection_idle: Annotated[
        float,
        typer.Option(
            "--relay-connection-idle",
            metavar="SECONDS",
            help="Keep an outbound connection open this long for the next message to the "
            "same host (0: a new connection for each message).",
        ),
    ] = 5.0,
    shutdown_grace: Annotated[float, typer.Option("--shutdown-grace", metavar="SECONDS")] = 10.0,
    dmarc_policy: Annotated[
        str,
        typer.Option(
            "--dmarc-policy",
            help="Inbound SPF/DKIM/DMARC checks: record (add Authentication-Results), "
            "enforce (also 550 for a DMARC fail under p=reject, .Junk under p=quarantine) "
            "or off.",
        ),
    ] = "record",
    auth_check_loopback: Annotated[
        bool,
        typer.Option(
            "--auth-check-loopback",
            help="Check mail from loopback clients too (trusted otherwise; for tests).",
        ),
    ] = False,
    trusted_network: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-network",
            metavar="CIDR",
            help="Clients here may relay without AUTH, like Postfix's mynetworks "
            "(repeatable; private networks only; default: none).",
            show_default=False,
        ),
    ] = None,
    allow_public_trusted_network: Annotated[
        bool,
        typer.Option(
            "--allow-public-trusted-network",
            help="Accept a public (not RFC 1918/loopback/ULA) --trusted-network.",
        ),
    ] = False,
    pop3_idle_timeout: Annotated[
        float,
        typer.Option("--pop3-idle-timeout", metavar="SECONDS", help="POP3 inactivity autologout."),
    ] = 600.0,
    tls_handshake_timeout: Annotated[
        float,
        typer.Option(
            "--tls-handshake-timeout",
            metavar="SECONDS",
            help="Time a POP3S or STLS client has to finish the TLS handshake.",
        ),
    ] = 60.0,
    pop3_login_delay: Annotated[
        float,
        typer.Option(
            "--pop3-login-delay",
            metavar="SECONDS",
            help="Least time between two POP3 logins of one user (CAPA LOGIN-DELAY; 0: none).",
        ),
    ] = 0.0,
    pop3_max_connections: Annotated[
        int,
        typer.Option(
            "--pop3-max-connections", metavar="N", help="Open POP3 connections per process."
        ),
    ] = 1000,
    pop3_max_connections_per_ip: Annotated[
        int,
        typer.Option(
            "--pop3-max-connections-per-ip",
            metavar="N",
            help="Open POP3 connections from one client address, per process.",
        ),
    ] = 100,
    imap_idle_timeout: Annotated[
        float,
        typer.Option(
            "--imap-idle-timeout",
            metavar="SECONDS",
            help="IMAP inactivity autologout, IDLE included (RFC 3501: at least 1800).",
        ),
    ] = 1800.0,
    imap_max_connections: Annotated[
        int,
        typer.Option(
            "--imap-max-connections", metavar="N", help="Open IMAP connections per process."
        ),
    ] = 1000,
    imap_max_connections_per_ip: Annotated[
        int,
        typer.Option(
            "--imap-max-connections-per-ip",
            metavar="N",
            help="Open IMAP connections from one client address, per process.",
        ),
    ] = 100,
    credential_cache_ttl: Annotated[
        float,
        typer.Option(
            "--credential-cache-ttl",
            metavar="SECONDS",
            help="How long a verified password is remembered after its last use (0: never).",
        ),
    ] = 60.0,
) -> None:
    """Run the reference mail server (SMTP in, Maildir and relay queue out, POP3 and IMAP)
    until SIGTERM."""
    require_extra("server", "aiosmtpd", "dns", "cryptography", "dkim", "spf", "authheaders")
    from pydantic import ValidationError

    from planner.mailserver.config import (
        ImapLimits,
        Limits,
        Listen,
        Pop3Limits,
        RelaySettings,
        ServerConfig,
    )
    from planner.mailserver.policy import parse_trusted_network

    problems: list[str] = []

    def listen(text: str | None, option: str) -> Any:
        if text is None or text.strip().lower() == OFF:
            return None
        try:
            return Listen.parse(text, option)
        except ValueError as exc:
            problems.append(str(exc))
            return None

    smtp_l, sub_l, pop3_l, pop3s_l = (
        listen(smtp, "--smtp"),
        listen(submission, "--submission"),
        listen(pop3, "--pop3"),
        listen(pop3s, "--pop3s"),
    )
    imap_l, imaps_l = listen(imap, "--imap"), listen(imaps, "--imaps")
    dns_l = listen(dns, "--dns")
    domains = tuple(d.strip().lower().removesuffix(".") for d in domain or ())
    for d in domains:
        if not d or "@" in d or "/" in d or d.startswith(".") or ".." in d:
            problems.append(f"--domain: not a domain name: {d!r}")
    smtp_on = smtp_l is not None or sub_l is not None
    readers = (pop3_l, pop3s_l, imap_l, imaps_l)
    if not problems and not smtp_on and all(r is None for r in readers):
        problems.append(
            "--smtp/--submission/--pop3/--pop3s/--imap/--imaps: at least one listener is needed"
        )
    if smtp_on and not domains:
        problems.append(
            "--domain: at least one local mail domain is needed with --smtp/--submission"
        )
    if dmarc_policy not in ("off", "record", "enforce"):
        problems.append(f"--dmarc-policy: one of record, enforce, off, not {dmarc_policy!r}")
    trusted = []
    for text in trusted_network or ():
        try:
            trusted.append(parse_trusted_network(text, allow_public=allow_public_trusted_network))
        except ValueError as exc:
            problems.append(str(exc))
    if (tls_cert is None) != (tls_key is None):
        problems.append("--tls-cert/--tls-key: give both or neither")
    if insecure_auth:
        for name, lst in (
            ("--smtp", smtp_l),
            ("--submission", sub_l),
            ("--pop3", pop3_l),
            ("--imap", imap_l),
        ):
            if lst is not None and not is_loopback(lst.host):
                problems.append(f"--insecure-auth: allowed on loopback only, but {name} is {lst}")
    if problems:
        raise PlannerError(problems)
    try:
        pop3_limits = Pop3Limits(
            idle_timeout_s=pop3_idle_timeout,
            tls_handshake_timeout_s=tls_handshake_timeout,
            login_delay_s=pop3_login_delay,
            max_connections=pop3_max_connections,
            max_connections_per_ip=pop3_max_connections_per_ip,
        )
        imap_limits = ImapLimits(
            idle_timeout_s=imap_idle_timeout,
            tls_handshake_timeout_s=tls_handshake_timeout,
            max_connections=imap_max_connections,
            max_connections_per_ip=imap_max_connections_per_ip,
        )
    except ValidationError as exc:
        raise PlannerError(_validation_problems(exc)) from None
    try:
        config = ServerConfig(
            data_dir=data_dir.resolve(),
            domains=domains,
            hostname=hostname or socket.gethostname() or "localhost",
            smtp=smtp_l,
            submission=sub_l,
            pop3=pop3_l,
            pop3s=pop3s_l,
            imap=imap_l,
            imaps=imaps_l,
            workers=workers or default_workers(),
            io_threads=io_threads,
            insecure_auth=insecure_auth,
            tls_cert=tls_cert,
            tls_key=tls_key,
            access_file=access if access is not None else data_dir.resolve() / "access",
            log_file=log_file,
            log_level=log_level,
            dmarc_policy=dmarc_policy,
            auth_check_loopback=auth_check_loopback,
            trusted_networks=tuple(trusted),
            shutdown_grace_s=shutdown_grace,
            credential_cache_ttl_s=credential_cache_ttl,
            pop3_limits=pop3_limits,
            imap_limits=imap_limits,
            limits=Limits(
                max_message_size_bytes=max_message_size,
                max_recipients=max_recipients,
                recipient_overshoot_limit=recipient_overshoot_limit,
                max_command_line_bytes=max_command_line,
                max_line_length_bytes=max_line_length,
                idle_timeout_s=idle_timeout,
                session_timeout_s=session_timeout,
                max_connections=max_connections,
                max_errors=max_errors,
                max_auth_failures=max_auth_failures,
                auth_failure_delay_s=auth_failure_delay,
                auth_failure_max_delay_s=auth_failure_max_delay,
                max_hops=max_hops,
            ),
            relay=RelaySettings(
                dns=dns_l,
                relay_port=relay_port,
                retry_initial_s=retry_initial,
                retry_max_s=retry_max,
                queue_lifetime_s=queue_lifetime,
                queue_scan_s=queue_scan,
                connect_timeout_s=min(relay_timeout, 30.0),
                command_timeout_s=relay_timeout,
                data_timeout_s=2 * relay_timeout,
                connection_idle_s=relay_connection_idle,
            ),
        )
    except ValidationError as exc:
        raise PlannerError(_validation_problems(exc)) from None
    if log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise PlannerError(f"--log-level: one of debug, info, warning, error, not {log_level!r}")
    if insecure_auth:
        print(
            "mailplan: warning: --insecure-auth: AUTH is accepted without TLS, passwords "
            "cross the connection in clear (for loopback tests only)",
            file=sys.stderr,
            flush=True,
        )
    from planner.mailserver.serve import run_server

    raise typer.Exit(run_server(config))


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


@app.command("queue")
def queue(
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir", metavar="DIR", help="The server's data folder.", show_default=False
        ),
    ],
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """List the relay queue: each message waiting for delivery, its recipients and last error."""
    from planner.mailserver.store import Store

    if output not in ("text", "json"):
        raise PlannerError(f"--format: text or json, not {output!r}")
    if not data_dir.is_dir():
        raise PlannerError(f"--data-dir: no such folder: {data_dir}")
    entries = list(Store(data_dir).entries())
    if output == "json":
        print(json.dumps([e.model_dump(mode="json") for e in entries], indent=1))
        return
    now = time.time()
    if not entries:
        print("queue is empty")
        return
    for e in entries:
        wait = e.next_attempt_at_s - now
        print(
            f"{e.qid}  age={_age(now - e.created_at_s)}  size={e.size_bytes}  "
            f"attempts={e.attempts}  next={'now' if wait <= 0 else 'in ' + _age(wait)}  "
            f"from=<{e.sender}>"
        )
        for r in e.recipients:
            print(f"    to=<{r.address}>" + (f"  last: {r.last_error}" if r.last_error else ""))
    print(f"{len(entries)} message(s) queued")
