"""Network helpers with one meaning each, shared by the server, the harness, tests and scripts.

A leaf module: it imports nothing from ``planner`` (and nothing outside the standard
library), so any part of mailplan may use it.

- :func:`parse_hostport`: ``HOST:PORT`` text -> ``(host, port)``; :func:`format_hostport`
  the other way.
- :func:`is_loopback`: whether a host is this machine's loopback interface.
- :func:`free_port`: a TCP port that is free on a host right now.
- :func:`run_loop`: run a coroutine on uvloop when installed, else on asyncio's loop.

The rules, once:

``HOST:PORT``
    HOST is an IPv4 address, an IPv6 address in brackets (``[::1]:25``; a bare IPv6
    address is refused, since ``::1:25`` is itself an address), or a DNS host name
    (letters, digits, hyphens and dots, labels of 1-63 characters, 253 at most, the last
    label not all digits). PORT is
    0-65535 in decimal (0: "any free port" where something listens). Surrounding blanks
    are ignored. Callers add what their use needs (a listener wants an IP address or
    ``localhost``, a client may want port 0 refused).

loopback
    An IP address is loopback when :mod:`ipaddress` says so (127.0.0.0/8, ``::1``), an
    IPv4-mapped IPv6 address (``::ffff:127.0.0.1``, what a dual-stack listener reports)
    when its IPv4 address is, an IPv6 zone (``%eth0``) ignored. ``localhost`` and names
    under ``.localhost`` (RFC 6761 §6.3) are loopback without a look-up. Any other name
    is resolved only when the caller asks (``resolve=True``: loopback when every address
    it resolves to is); by default it is not loopback. A text that is neither (a peer
    shown as ``unknown``) is not loopback. So ``127.example.com`` is not loopback unless
    DNS says it is.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = [
    "format_hostport",
    "free_port",
    "is_loopback",
    "parse_hostport",
    "run_loop",
    "uvloop_available",
]

T = TypeVar("T")

_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z")


def _is_hostname(host: str) -> bool:
    """RFC 1123 host name syntax; an all-digit last label is refused (RFC 3696 §2), so a
    mistyped IPv4 address such as ``999.1.1.1`` is not taken for a name."""
    name = host.removesuffix(".")
    labels = name.split(".")
    return (
        0 < len(name) <= 253
        and all(_LABEL.match(label) for label in labels)
        and not labels[-1].isdigit()
    )


def parse_hostport(text: str) -> tuple[str, int]:
    """``(host, port)`` from ``HOST:PORT`` or ``[IPv6]:PORT`` (rules in the module docstring).

    ValueError with a one-line message quoting ``text`` when it does not follow them; the
    host comes back without brackets.
    """
    raw = text.strip()
    bad = ValueError(f"expected HOST:PORT (port 0-65535, IPv6 in brackets), got {text!r}")
    if raw.startswith("["):
        host, sep, port = raw[1:].partition("]:")
        try:
            ok = isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address)
        except ValueError:
            ok = False
    else:
        host, sep, port = raw.rpartition(":")
        ok = ":" not in host and (_is_ipv4(host) or _is_hostname(host))
    if not (ok and sep and port.isascii() and port.isdigit() and int(port) <= 65535):
        raise bad
    return host, int(port)


def format_hostport(host: str, port: int) -> str:
    """``HOST:PORT``, an IPv6 address in brackets: what :func:`parse_hostport` reads back."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _is_ipv4(host: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(host), ipaddress.IPv4Address)
    except ValueError:
        return False


def is_loopback(host: str, *, resolve: bool = False) -> bool:
    """True when ``host`` (an address, or a name) is the loopback interface.

    Addresses by :mod:`ipaddress`, ``localhost`` by name; other names are looked up only
    with ``resolve=True`` (see the module docstring).
    """
    text = host.strip().strip("[]")
    address = _loopback_address(text)
    if address is not None:
        return address
    name = text.lower().removesuffix(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    if not resolve or not _is_hostname(name):
        return False
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(_loopback_address(str(info[4][0])) for info in infos)


def _loopback_address(text: str) -> bool | None:
    """Whether the IP address ``text`` is loopback; None when it is not an IP address."""
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` (an IP address) right now.

    The port is released before returning, so another program may take it first: where
    possible, listen on port 0 and read the port back instead.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def uvloop_available() -> bool:
    """True when uvloop imports (it comes with the ``server`` extra, not on Windows)."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def run_loop(main: Coroutine[Any, Any, T], *, use_uvloop: bool | None = None) -> T:
    """Run ``main`` to completion on a new event loop and return its result.

    ``use_uvloop``: None (the default) picks uvloop when it is installed and asyncio's
    loop otherwise; True insists on uvloop (ImportError without it); False takes
    asyncio's loop.
    """
    if use_uvloop is None:
        use_uvloop = uvloop_available()
    if not use_uvloop:
        return asyncio.run(main)
    import uvloop

    result: T = uvloop.run(main)
    return result
