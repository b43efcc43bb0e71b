"""planner.net: HOST:PORT, loopback, free ports and the event loop, each with one meaning."""

from __future__ import annotations

import ast
import asyncio
import socket
from pathlib import Path

import pytest

from planner import net

ROOT = Path(__file__).resolve().parent.parent


class TestParseHostport:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("127.0.0.1:2525", ("127.0.0.1", 2525)),
            ("  127.0.0.1:0 ", ("127.0.0.1", 0)),
            ("[::1]:25", ("::1", 25)),
            ("[fe80::1]:65535", ("fe80::1", 65535)),
            ("localhost:110", ("localhost", 110)),
            ("mail.example.test:587", ("mail.example.test", 587)),
            ("mx-1.example.test.:25", ("mx-1.example.test.", 25)),
        ],
        ids=["ipv4", "blanks-port-0", "ipv6", "ipv6-top-port", "localhost", "name", "fqdn-dot"],
    )
    def test_accepted(self, text: str, expected: tuple[str, int]) -> None:
        """IPv4, bracketed IPv6 and host names with a port 0-65535 parse to (host, port)."""
        assert net.parse_hostport(text) == expected

    @pytest.mark.parametrize(
        "text",
        [
            "nonsense",
            "127.0.0.1",
            ":25",
            "127.0.0.1:",
            "127.0.0.1:65536",
            "127.0.0.1:-1",
            "127.0.0.1:２５",
            "::1:25",
            "[::1:25",
            "[127.0.0.1]:25",
            "[mail.example.test]:25",
            "999.1.1.1:25",
            "-bad.example.test:25",
            "a_b.example.test:25",
            "host name:25",
        ],
        ids=[
            "no-colon",
            "no-port",
            "no-host",
            "empty-port",
            "port-too-big",
            "negative-port",
            "non-ascii-digits",
            "bare-ipv6",
            "open-bracket",
            "bracketed-ipv4",
            "bracketed-name",
            "bad-ipv4",
            "label-hyphen",
            "underscore",
            "space",
        ],
    )
    def test_refused(self, text: str) -> None:
        """Anything else is a ValueError quoting the text."""
        with pytest.raises(ValueError, match="expected HOST:PORT") as info:
            net.parse_hostport(text)

        assert repr(text) in str(info.value)

    @pytest.mark.parametrize("pair", [("127.0.0.1", 25), ("::1", 2525), ("mx.example.test", 0)])
    def test_format_round_trips(self, pair: tuple[str, int]) -> None:
        """format_hostport writes what parse_hostport reads back (IPv6 in brackets)."""
        assert net.parse_hostport(net.format_hostport(*pair)) == pair


class TestIsLoopback:
    @pytest.mark.parametrize(
        ("host", "loopback"),
        [
            ("127.0.0.1", True),
            ("127.8.9.10", True),
            ("::1", True),
            ("[::1]", True),
            ("::ffff:127.0.0.1", True),
            ("localhost", True),
            ("LocalHost.", True),
            ("mx.localhost", True),
            ("192.0.2.7", False),
            ("::ffff:192.0.2.7", False),
            ("fe80::1%eth0", False),
            ("0.0.0.0", False),
            ("unknown", False),
            ("", False),
            ("127.example.com", False),
            ("localhost.example.com", False),
        ],
    )
    def test_without_lookups(self, host: str, loopback: bool) -> None:
        """Addresses by ipaddress, localhost by name, other names are not loopback unresolved
        (a string prefix would call 127.example.com loopback)."""
        assert net.is_loopback(host) is loopback

    def test_names_resolved_only_when_asked(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A name is looked up only with resolve=True, and is loopback when every address is."""
        answers = {
            "lab.example.test": ["127.0.0.1", "::1"],
            "mixed.example.test": ["127.0.0.1", "192.0.2.1"],
        }
        asked: list[str] = []

        def getaddrinfo(name: str, *_args: object, **_kw: object) -> list[tuple[object, ...]]:
            asked.append(name)
            if name not in answers:
                raise socket.gaierror("no such name")
            return [(None, None, None, "", (ip, 0)) for ip in answers[name]]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

        assert net.is_loopback("lab.example.test") is False
        assert asked == []
        assert [
            net.is_loopback(name, resolve=True)
            for name in ("lab.example.test", "mixed.example.test", "gone.example.test")
        ] == [True, False, False]
        assert net.is_loopback("127.0.0.1", resolve=True) is True
        assert asked == ["lab.example.test", "mixed.example.test", "gone.example.test"]


class TestFreePort:
    @pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
    def test_port_can_be_bound(self, host: str) -> None:
        """The port returned is free: a listener can bind it at once."""
        port = net.free_port(host)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind((host, port))

            assert 1024 <= sock.getsockname()[1] == port <= 65535


class TestRunLoop:
    async def _loop_name(self) -> str:
        return type(asyncio.get_running_loop()).__module__.split(".")[0]

    @pytest.mark.parametrize(
        ("use_uvloop", "module"),
        [(None, "uvloop"), (True, "uvloop"), (False, "asyncio")],
        ids=["auto", "uvloop", "asyncio"],
    )
    def test_picks_the_loop(self, use_uvloop: bool | None, module: str) -> None:
        """uvloop when installed (it is, with the server extra), asyncio's loop on request."""
        assert net.run_loop(self._loop_name(), use_uvloop=use_uvloop) == module

    def test_without_uvloop_auto_is_asyncio(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Where uvloop is missing, the default falls back to asyncio's loop."""
        monkeypatch.setattr(net, "uvloop_available", lambda: False)

        assert net.run_loop(self._loop_name()) == "asyncio"


def test_leaf_module() -> None:
    """planner/net.py imports only the standard library (nothing from planner)."""
    tree = ast.parse((ROOT / "planner" / "net.py").read_text())
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }

    assert imported <= {
        "__future__",
        "asyncio",
        "ipaddress",
        "re",
        "socket",
        "collections",
        "typing",
        "uvloop",
    }
