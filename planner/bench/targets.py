"""Where the load goes: a protocol, a host and port, and the logins to use.

Parsing the user's ``HOST:PORT`` and users file lives here so that every bad input gets
one line naming the flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from planner.bench.workload import Protocol, check_address
from planner.errors import BenchmarkError
from planner.net import is_loopback, parse_hostport

__all__ = ["Target", "hostport_option", "logins", "named_target", "read_users_file"]

_MAX_USERS_FILE = 10 * 1024 * 1024


@dataclass(frozen=True)
class Target:
    """A server to load. ``users`` are logins: POP3/IMAP sessions use them in turn, SMTP
    uses the first for AUTH PLAIN when ``smtp_auth`` is set."""

    protocol: Protocol
    host: str
    port: int
    users: tuple[tuple[str, str], ...] = ()
    smtp_auth: bool = False
    server_label: str | None = None
    server_version: str | None = None
    embedded: bool = False
    flag: str = field(default="", compare=False)

    @property
    def address(self) -> str:
        """``host:port`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def name(self) -> str:
        """How results name the target."""
        return f"embedded mailplan serve ({self.address})" if self.embedded else self.address

    @property
    def where(self) -> str:
        """The flag and address, for error messages: ``--smtp 127.0.0.1:2525``."""
        return f"{self.flag or '--' + self.protocol} {self.address}"

    @property
    def shares_machine(self) -> bool:
        """True when the server runs on this machine (loopback or embedded)."""
        return self.embedded or is_loopback(self.host)


def hostport_option(text: str, flag: str) -> tuple[str, int]:
    """``(host, port)`` from the ``HOST:PORT`` given to ``flag``, by
    :func:`planner.net.parse_hostport`'s rules; a server to connect to also needs a port
    other than 0. BenchmarkError naming ``flag`` otherwise."""
    try:
        host, port = parse_hostport(text)
    except ValueError as exc:
        head, _, digits = text.strip().rpartition(":")
        if digits.isascii() and digits.isdigit() and _host_ok(head):
            raise BenchmarkError(f"{flag}: port {int(digits)} is out of range (1-65535)") from None
        raise BenchmarkError(
            f"{flag}: '{text}' is not HOST:PORT (for example 127.0.0.1:2525)"
        ) from exc
    if port == 0:
        raise BenchmarkError(f"{flag}: port 0 is out of range (1-65535)")
    return host, port


def _host_ok(head: str) -> bool:
    """True when ``head`` is a HOST that :func:`planner.net.parse_hostport` accepts."""
    try:
        parse_hostport(f"{head}:0")
    except ValueError:
        return False
    return True


def read_users_file(path: str | Path) -> list[tuple[str, str]]:
    """Logins from a file of ``address:password`` lines (``#`` comments, blank lines ok)."""
    p = Path(path)
    try:
        if p.stat().st_size > _MAX_USERS_FILE:
            raise BenchmarkError(f"--users-file {p}: larger than 10 MB")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchmarkError(f"--users-file {p}: no such file") from None
    except UnicodeDecodeError:
        raise BenchmarkError(f"--users-file {p}: not UTF-8 text") from None
    except OSError as exc:
        raise BenchmarkError(f"--users-file {p}: cannot read ({exc.strerror})") from None
    users = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        address, sep, password = line.partition(":")
        if not sep or not password:
            raise BenchmarkError(f"--users-file {p}: line {n}: expected address:password")
        users.append((check_address(address.strip(), f"--users-file {p}: line {n}"), password))
    if not users:
        raise BenchmarkError(f"--users-file {p}: no address:password lines")
    return users


def logins(
    user: str | None, password: str | None, users_file: str | Path | None = None
) -> tuple[tuple[str, str], ...]:
    """The logins from ``--user``/``--password`` or ``--users-file`` (none when neither is
    given); BenchmarkError naming the flag when only half a login is given."""
    if users_file is not None:
        return tuple(read_users_file(users_file))
    if user is None and password is None:
        return ()
    if user is None or password is None:
        raise BenchmarkError("--user and --password: give both (or --users-file)")
    return ((check_address(user, "--user"), password),)


def named_target(
    protocol: Protocol,
    hostport: str | None,
    flag: str,
    users: tuple[tuple[str, str], ...],
    label: str | None,
) -> Target:
    """The server named by ``flag HOST:PORT`` (SMTP logs in with AUTH PLAIN when given a
    login; POP3 and IMAP need one); BenchmarkError naming the flag otherwise."""
    if not hostport:
        raise BenchmarkError(f"{flag} HOST:PORT or --embedded: name the server to load")
    host, port = hostport_option(hostport, flag)
    if protocol != "smtp" and not users:
        raise BenchmarkError(f"{flag}: give --user and --password, or --users-file")
    return Target(
        protocol=protocol,
        host=host,
        port=port,
        users=users,
        smtp_auth=protocol == "smtp" and bool(users),
        server_label=label,
        flag=flag,
    )
