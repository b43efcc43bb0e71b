"""The POP3 server over real sockets on 127.0.0.1, against a real Maildir on disk."""

from __future__ import annotations

import asyncio
import base64
import os
import poplib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from planner.cli import run
from planner.mailserver import pop3_protocol as P
from planner.mailserver.config import Listen, Pop3Limits, ServerConfig
from planner.mailserver.maildrop import LOCK_FILE, maildir_path
from planner.mailserver.pop3 import POP3
from planner.mailserver.pop3_server import start_pop3_server
from planner.net import is_loopback, run_loop
from tests.mailserver.pop3_support import (
    Pop3Mailbox,
    Pop3Process,
    Wire,
    add_user,
    client_tls_context,
    crlf_bytes,
    deliver,
    make_tls_files,
    unstuff,
)

pytestmark = pytest.mark.timeout(60)

Connect = Callable[..., Wire]
Start = Callable[..., Pop3Process]

MSG_LF = b"From: a@example.test\nSubject: one\n\nHello\n.\n..two dots\n.leading dot\nend\n"
MSG_CRLF = b"From: b@example.test\r\nSubject: two\r\n\r\nLine 1\r\n.\r\nLine 3\r\n"
SIZE_LF = 79  # 71 octets and 8 line ends, each counted as CRLF
SIZE_CRLF = 57


def b64(*parts: str) -> str:
    """``parts`` joined with NULs, base64-encoded (an AUTH PLAIN response)."""
    return base64.b64encode("\0".join(parts).encode()).decode()


def logged_in(connect: Connect, box: Pop3Mailbox) -> Wire:
    """A connection logged in to ``box``."""
    wire = connect()
    assert wire.login(box.address, box.password) == P.OK_LOGGED_IN
    return wire


class TestGreetingAndCapa:
    def test_greeting(self, pop3_connect: Connect) -> None:
        """The server greets with its ready line."""
        assert pop3_connect().greeting == P.GREETING

    def test_capa_plaintext_allowed(self, pop3_connect: Connect) -> None:
        """CAPA lists the RFC 2449 capabilities, USER and SASL PLAIN when logins are allowed,
        and STLS (mailplan serve always has a certificate, self-signed when not given one)."""
        first, body = pop3_connect().multi("CAPA")

        assert (first, body.decode().split("\r\n")[:-1]) == (
            P.OK_CAPA,
            [
                *("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"),
                *("USER", "SASL PLAIN", "STLS", "EXPIRE NEVER", "IMPLEMENTATION mailplan"),
            ],
        )

    def test_capa_in_transaction(self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox) -> None:
        """After login CAPA no longer lists login mechanisms."""
        _, body = logged_in(pop3_connect, pop3_mailbox).multi("CAPA")

        assert (b"USER" in body, b"SASL" in body, b"TOP\r\n" in body) == (False, False, True)

    def test_every_command_has_a_state_entry(self) -> None:
        """Each pop3_* method is in COMMAND_STATES and each entry has a method."""
        methods = {name[5:] for name in dir(POP3) if name.startswith("pop3_")}

        assert methods == set(P.COMMAND_STATES)

    def test_default_idle_timeout_is_ten_minutes(self) -> None:
        """The idle timeout defaults to at least 10 minutes (RFC 1939 §3)."""
        assert Pop3Limits().idle_timeout_s >= 600


class TestLogin:
    def test_user_pass(self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox) -> None:
        """USER and PASS with the right password log in."""
        assert pop3_connect().login(pop3_mailbox.address, pop3_mailbox.password) == P.OK_LOGGED_IN

    def test_address_case_does_not_matter(
        self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox
    ) -> None:
        """The address is matched without regard to case."""
        reply = pop3_connect().login(pop3_mailbox.address.upper(), pop3_mailbox.password)

        assert reply == P.OK_LOGGED_IN

    @pytest.mark.parametrize(
        ("address", "password"),
        [("{addr}", "wrong"), ("nobody@example.test", "{pw}"), ("{addr}", "")],
        ids=["wrong-password", "unknown-user", "empty-password"],
    )
    def test_bad_credentials(
        self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox, address: str, password: str
    ) -> None:
        """Wrong credentials get -ERR [AUTH] and the session stays in AUTHORIZATION."""
        wire = pop3_connect()
        addr = address.format(addr=pop3_mailbox.address)
        reply = wire.login(addr, password.format(pw=pop3_mailbox.password))

        assert (reply, wire.cmd("STAT")) == (P.ERR_AUTH_FAILED, P.ERR_WRONG_STATE)

    def test_pass_without_user(self, pop3_connect: Connect) -> None:
        """PASS before USER is refused."""
        assert pop3_connect().cmd("PASS x") == P.ERR_NO_USER

    def test_third_failure_disconnects(
        self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox
    ) -> None:
        """After three failed logins in one session the server says so and hangs up."""
        wire = pop3_connect()
        replies = [wire.login(pop3_mailbox.address, "wrong") for _ in range(3)]

        assert replies == [P.ERR_AUTH_FAILED] * 2 + [P.ERR_AUTH_FAILED_BYE]
        assert wire.closed_by_server()

    def test_failure_delay_grows(
        self, pop3_connect: Connect, pop3_start: Start, tmp_path: Path
    ) -> None:
        """Each failed login from an address is answered later than the one before."""
        add_user(tmp_path, "a@example.test", "right")
        server = pop3_start("--insecure-auth", "--auth-failure-delay", "0.3")
        wire = pop3_connect(server.port)
        waits = []
        for _ in range(2):
            t0 = time.monotonic()
            assert wire.login("a@example.test", "wrong") == P.ERR_AUTH_FAILED
            waits.append(time.monotonic() - t0)

        assert waits[0] >= 0.3
        assert waits[1] >= 0.6

    def test_auth_plain_initial_response(
        self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox
    ) -> None:
        """AUTH PLAIN with an initial response logs in (RFC 5034)."""
        token = base64.b64encode(f"\0{pop3_mailbox.address}\0{pop3_mailbox.password}".encode())

        assert pop3_connect().cmd(f"AUTH PLAIN {token.decode()}") == P.OK_LOGGED_IN

    def test_auth_plain_continuation(
        self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox
    ) -> None:
        """AUTH PLAIN without an initial response sends '+ ' and reads the response line."""
        wire = pop3_connect()
        token = base64.b64encode(
            f"{pop3_mailbox.address}\0{pop3_mailbox.address}\0{pop3_mailbox.password}".encode()
        )

        assert wire.cmd("AUTH PLAIN") == "+ "
        assert wire.cmd(token.decode()) == P.OK_LOGGED_IN

    @pytest.mark.parametrize(
        ("lines", "reply"),
        [
            (["AUTH PLAIN", "*"], P.ERR_AUTH_CANCELLED),
            (["AUTH PLAIN !!!notbase64"], P.ERR_AUTH_BASE64),
            (["AUTH CRAM-MD5"], P.ERR_AUTH_MECH),
            ([f"AUTH PLAIN {b64('other@x.test', 'u', 'p')}"], P.ERR_AUTH_FAILED),
            ([f"AUTH PLAIN {b64('no-nuls')}"], P.ERR_AUTH_FAILED),
        ],
        ids=["cancel", "bad-base64", "unknown-mechanism", "proxy-authzid", "malformed"],
    )
    def test_auth_refusals(self, pop3_connect: Connect, lines: list[str], reply: str) -> None:
        """Bad AUTH exchanges get their own -ERR and the session goes on."""
        wire = pop3_connect()
        answers = [wire.cmd(line) for line in lines]

        assert answers[-1] == reply
        assert wire.multi("CAPA")[0] == P.OK_CAPA

    def test_auth_lists_mechanisms(self, pop3_connect: Connect) -> None:
        """AUTH without a mechanism lists the mechanisms on offer."""
        assert pop3_connect().multi("AUTH") == (P.OK_AUTH_MECHS, b"PLAIN\r\n")


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pop3Process]:
    """One server for the module without --insecure-auth (no certificate either)."""
    server = Pop3Process(tmp_path_factory.mktemp("pop3-strict")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pop3Process]:
    """A server with a certificate and no plain-text logins, for the module (no test
    changes its one mailbox)."""
    data_dir = tmp_path_factory.mktemp("pop3-tls")
    cert, key = make_tls_files(data_dir)
    add_user(data_dir, "t@example.test", "tls pw")
    deliver(maildir_path(data_dir, "t@example.test"), MSG_LF)
    server = Pop3Process(data_dir, "--tls-cert", str(cert), "--tls-key", str(key)).start()
    yield server
    server.stop()


class TestCleartextRefused:
    @pytest.mark.parametrize("command", ["USER a@example.test", "PASS x", "AUTH PLAIN AGFAYg=="])
    def test_login_refused_without_tls(
        self, pop3_connect: Connect, strict_server: Pop3Process, command: str
    ) -> None:
        """Without TLS and without --insecure-auth every login command is refused."""
        wire = pop3_connect(strict_server.port)

        assert wire.cmd(command) == P.ERR_PLAINTEXT_DISALLOWED

    @pytest.mark.parametrize(
        ("peer", "loopback"),
        [
            ("127.0.0.1", True),
            ("127.8.9.10", True),
            ("::1", True),
            ("::ffff:127.0.0.1", True),
            ("192.0.2.7", False),
            ("::ffff:192.0.2.7", False),
            ("fe80::1%eth0", False),
            ("unknown", False),
        ],
    )
    def test_insecure_auth_is_for_loopback_peers(self, peer: str, loopback: bool) -> None:
        """--insecure-auth allows clear-text logins from loopback addresses only."""
        assert is_loopback(peer) is loopback

    def test_capa_hides_login_without_tls(
        self, pop3_connect: Connect, strict_server: Pop3Process
    ) -> None:
        """CAPA does not offer USER or SASL when they would be refused."""
        _, body = pop3_connect(strict_server.port).multi("CAPA")

        assert (b"USER" in body, b"SASL" in body) == (False, False)


class TestTLS:
    def test_stls_then_login(self, tls_server: Pop3Process) -> None:
        """STLS upgrades the session, then CAPA offers USER and the login works."""
        client = poplib.POP3("127.0.0.1", tls_server.port, timeout=10)
        assert "STLS" in client.capa()
        client.stls(client_tls_context())
        caps = client.capa()
        client.user("t@example.test")
        client.pass_("tls pw")

        assert ("STLS" not in caps, "USER" in caps, client.stat()) == (True, True, (1, SIZE_LF))
        client.quit()

    def test_stls_injection_discarded(self, pop3_connect: Connect, tls_server: Pop3Process) -> None:
        """Commands sent in the same packet as STLS are discarded (CVE-2011-0411)."""
        wire = pop3_connect(tls_server.port)
        wire.send(b"STLS\r\nUSER t@example.test\r\nCAPA\r\n")
        assert wire.line() == P.OK_STLS
        wire.start_tls(client_tls_context())

        assert wire.cmd("PASS tls pw") == P.ERR_NO_USER
        assert wire.cmd("NOOP") == P.ERR_WRONG_STATE

    def test_second_stls_refused(self, pop3_connect: Connect, tls_server: Pop3Process) -> None:
        """STLS under TLS is refused."""
        wire = pop3_connect(tls_server.port)
        assert wire.cmd("STLS") == P.OK_STLS
        wire.start_tls(client_tls_context())

        assert wire.cmd("STLS") == P.ERR_ALREADY_TLS

    def test_stls_without_certificate(self, tmp_path: Path) -> None:
        """STLS on a listener without a certificate is refused, and CAPA does not offer it."""

        def talk(port: int) -> tuple[str, bytes]:
            wire = Wire.connect(port)
            try:
                return wire.cmd("STLS"), wire.multi("CAPA")[1]
            finally:
                wire.close()

        async def run() -> tuple[str, bytes]:
            async with await start_pop3_server(in_process_config(tmp_path)) as server:
                return await asyncio.to_thread(talk, server.sockets[0].getsockname()[1])

        reply, capa = asyncio.run(run())
        assert (reply, b"STLS" in capa) == (P.ERR_NO_TLS, False)

    def test_implicit_tls(self, pop3_start: Start, tmp_path: Path) -> None:
        """A --pop3s listener speaks TLS from the first byte (POP3S)."""
        cert, key = make_tls_files(tmp_path)
        add_user(tmp_path, "s@example.test", "pw")
        server = pop3_start(
            "--tls-cert", str(cert), "--tls-key", str(key), "--pop3s", "127.0.0.1:0"
        )
        client = poplib.POP3_SSL("127.0.0.1", server.port, context=client_tls_context())

        assert client.user("s@example.test").startswith(b"+OK")
        assert client.pass_("pw") == P.OK_LOGGED_IN.encode()
        client.quit()


class TestSizesAndContent:
    def test_stat_and_list_count_crlf(
        self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox
    ) -> None:
        """STAT and LIST count every line end as CRLF and no stuffing dots (RFC 1939 §5)."""
        pop3_mailbox.deliver(MSG_LF)
        pop3_mailbox.deliver(MSG_CRLF, plain_name=True)
        wire = logged_in(pop3_connect, pop3_mailbox)
        sizes = [len(crlf_bytes(MSG_LF)), len(MSG_CRLF)]

        assert sizes == [SIZE_LF, SIZE_CRLF]
        assert wire.cmd("STAT") == P.OK_STAT.format(count=2, octets=SIZE_LF + SIZE_CRLF)
        assert wire.multi("LIST") == (
            P.OK_LIST_ALL.format(count=2, octets=SIZE_LF + SIZE_CRLF),
            f"1 {SIZE_LF}\r\n2 {SIZE_CRLF}\r\n".encode(),
        )
        assert wire.cmd("LIST 2") == P.OK_LIST_ONE.format(number=2, octets=SIZE_CRLF)

    @pytest.mark.parametrize(
        ("body", "plain_name"),
        [
            (MSG_LF, False),
            (MSG_CRLF, True),
            (b"Subject: x\n\nno final newline", False),
            (b".starts with a dot\n\nbody\n", True),
            (b"Subject: mixed\r\n\nbare LF and CRLF\r\nend\n", True),
            (b"", False),
        ],
        ids=["lf", "crlf-other-mta", "no-final-newline", "dot-first-line", "mixed-eol", "empty"],
    )
    def test_retr_bytes(
        self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox, body: bytes, plain_name: bool
    ) -> None:
        """RETR sends CRLF lines, stuffs leading dots, and the octet count matches LIST."""
        pop3_mailbox.deliver(body, plain_name=plain_name)
        wire = logged_in(pop3_connect, pop3_mailbox)
        listed = int(wire.cmd("LIST 1").split()[2])
        first, raw = wire.multi("RETR 1")
        expected = crlf_bytes(body)
        if expected and not expected.endswith(b"\r\n"):
            expected += b"\r\n"  # the line end the terminator needs; not part of the size

        assert first == P.OK_RETR.format(octets=listed)
        assert unstuff(raw) == expected
        assert listed == len(crlf_bytes(body))
        assert all(line[:2] == b".." for line in raw.split(b"\r\n") if line[:1] == b".")

    def test_retr_stuffing_exact(self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox) -> None:
        """The stuffed body of a message with dot lines, byte for byte."""
        pop3_mailbox.deliver(MSG_LF)
        _, raw = logged_in(pop3_connect, pop3_mailbox).multi("RETR 1")

        assert raw == (
            b"From: a@example.test\r\nSubject: one\r\n\r\nHello\r\n..\r\n"
            b"...two dots\r\n..leading dot\r\nend\r\n"
        )

    def test_retr_large_message_streams(
        self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox
    ) -> None:
        """A 3 MB message with dot lines at block edges comes out whole and exact."""
        line = b"." + b"x" * 99 + b"\n"
        body = b"Subject: big\n\n" + line * 30_000 + b"tail"
        pop3_mailbox.deliver(body, plain_name=True)
        first, raw = logged_in(pop3_connect, pop3_mailbox).multi("RETR 1")

        assert first == P.OK_RETR.format(octets=len(crlf_bytes(body)))
        assert unstuff(raw) == crlf_bytes(body) + b"\r\n"

    @pytest.mark.parametrize(
        ("lines", "expected"),
        [
            (0, b"From: a@example.test\r\nSubject: one\r\n\r\n"),
            (2, b"From: a@example.test\r\nSubject: one\r\n\r\nHello\r\n..\r\n"),
            (99, crlf_bytes(MSG_LF).replace(b"\n.", b"\n..")),
        ],
        ids=["headers", "two-lines", "more-than-body"],
    )
    def test_top(
        self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox, lines: int, expected: bytes
    ) -> None:
        """TOP n k sends the header, the blank line and k body lines, stuffed."""
        pop3_mailbox.deliver(MSG_LF)
        first, raw = logged_in(pop3_connect, pop3_mailbox).multi(f"TOP 1 {lines}")

        assert (first, raw) == (P.OK_TOP, expected)


class TestLargeMaildrop:
    @pytest.mark.timeout(120)
    def test_fifty_thousand_messages(
        self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox
    ) -> None:
        """STAT, LIST and UIDL list 50,000 messages with sizes from their names (bodies unread)."""
        cur = pop3_mailbox.root / "cur"
        for i in range(50_000):  # empty files: only the W= field can give these sizes
            os.close(os.open(cur / f"1700000000.M{i}P9Q1.h,S=1,W={i % 89 + 1}:2,", os.O_CREAT))
        total = sum(i % 89 + 1 for i in range(50_000))
        wire = logged_in(pop3_connect, pop3_mailbox)
        _, listing = wire.multi("LIST")
        _, uidls = wire.multi("UIDL")

        assert wire.cmd("STAT") == P.OK_STAT.format(count=50_000, octets=total)
        assert sum(int(line.split()[1]) for line in listing.splitlines()) == total
        assert len(set(uidls.splitlines())) == 50_000


class TestDeletion:
    def test_dele_hides_message(self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox) -> None:
        """A message marked deleted vanishes from STAT, LIST and UIDL."""
        pop3_mailbox.deliver(MSG_LF)
        pop3_mailbox.deliver(MSG_CRLF)
        wire = logged_in(pop3_connect, pop3_mailbox)

        assert wire.cmd("DELE 1") == P.OK_DELE
        assert wire.cmd("STAT") == P.OK_STAT.format(count=1, octets=SIZE_CRLF)
        assert wire.multi("LIST")[1] == f"2 {SIZE_CRLF}\r\n".encode()
        assert wire.multi("UIDL")[1].startswith(b"2 ")

    @pytest.mark.parametrize("command", ["RETR 1", "LIST 1", "UIDL 1", "TOP 1 0", "DELE 1"])
    def test_deleted_message_references(
        self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox, command: str
    ) -> None:
        """Any reference to a message marked deleted is -ERR (RFC 1939 §5)."""
        pop3_mailbox.deliver(MSG_LF)
        wire = logged_in(pop3_connect, pop3_mailbox)
        wire.cmd("DELE 1")

        assert wire.cmd(command) == P.ERR_DELETED

    def test_rset_unmarks(self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox) -> None:
        """RSET unmarks every deleted message."""
        pop3_mailbox.deliver(MSG_LF)
        wire = logged_in(pop3_connect, pop3_mailbox)
        wire.cmd("DELE 1")

        assert wire.cmd("RSET") == P.OK_RSET.format(count=1, octets=SIZE_LF)
        assert wire.cmd("QUIT") == P.OK_QUIT
        assert len(os.listdir(pop3_mailbox.root / "cur")) == 1

    def test_quit_applies_deletions(self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox) -> None:
        """QUIT from TRANSACTION removes the marked messages and keeps the others."""
        pop3_mailbox.deliver(MSG_LF)
        keep = pop3_mailbox.deliver(MSG_CRLF)
        wire = logged_in(pop3_connect, pop3_mailbox)
        wire.cmd("DELE 1")

        assert wire.cmd("QUIT") == P.OK_QUIT_DELETED
        assert os.listdir(pop3_mailbox.root / "cur") == [keep + ":2,"]
        assert wire.closed_by_server()

    def test_drop_after_dele_deletes_nothing(
        self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox
    ) -> None:
        """A connection dropped without QUIT deletes nothing (RFC 1939 §6)."""
        pop3_mailbox.deliver(MSG_LF)
        wire = logged_in(pop3_connect, pop3_mailbox)
        wire.cmd("DELE 1")
        wire.close()

        again = _login_retrying(pop3_connect, pop3_mailbox)
        assert again.cmd("STAT") == P.OK_STAT.format(count=1, octets=SIZE_LF)

    def test_failed_removal_reported(
        self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox
    ) -> None:
        """A message that cannot be removed at QUIT stays, the others go, and QUIT says so."""
        root = pop3_mailbox.root
        pop3_mailbox.deliver(MSG_LF, sub="cur")
        stuck = pop3_mailbox.deliver(MSG_CRLF, sub="cur")
        wire = logged_in(pop3_connect, pop3_mailbox)
        (root / "cur" / stuck).unlink()
        (root / "cur" / stuck).mkdir()  # unlink() of a directory fails: an I/O error stand-in
        (root / "cur" / stuck / "x").write_text("x")
        wire.cmd("DELE 1")
        wire.cmd("DELE 2")

        assert wire.cmd("QUIT") == P.ERR_QUIT_NOT_REMOVED.format(count=1)
        assert os.listdir(root / "cur") == [stuck]


def _login_retrying(connect: Connect, box: Pop3Mailbox) -> Wire:
    """Log in, retrying while the previous (dropped) session still holds the lock."""
    deadline = time.monotonic() + 5
    while True:
        wire = connect()
        reply = wire.login(box.address, box.password)
        if reply == P.OK_LOGGED_IN:
            return wire
        assert reply == P.ERR_IN_USE, reply
        assert time.monotonic() < deadline
        wire.cmd("QUIT")
        time.sleep(0.05)


class TestLocking:
    def test_second_session_in_use(self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox) -> None:
        """A second login to a locked maildrop gets [IN-USE]; the first session carries on."""
        first = logged_in(pop3_connect, pop3_mailbox)
        second = pop3_connect()

        assert second.login(pop3_mailbox.address, pop3_mailbox.password) == P.ERR_IN_USE
        assert first.cmd("NOOP") == P.OK_NOOP

    def test_lock_released_at_quit(self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox) -> None:
        """After QUIT the next session logs in at once."""
        logged_in(pop3_connect, pop3_mailbox).cmd("QUIT")

        assert pop3_connect().login(pop3_mailbox.address, pop3_mailbox.password) == P.OK_LOGGED_IN

    def test_stale_lock_after_crash(
        self, pop3_connect: Connect, pop3_start: Start, tmp_path: Path
    ) -> None:
        """A server killed while holding a session leaves no lock that shuts the user out."""
        root = add_user(tmp_path, "c@example.test", "pw")
        deliver(root, MSG_LF)
        crashed = pop3_start("--insecure-auth")
        holder = pop3_connect(crashed.port)
        assert holder.login("c@example.test", "pw") == P.OK_LOGGED_IN
        assert holder.cmd("DELE 1") == P.OK_DELE
        crashed.kill()
        restarted = pop3_start("--insecure-auth")

        assert (root / LOCK_FILE).exists()
        wire = pop3_connect(restarted.port)
        assert wire.login("c@example.test", "pw") == P.OK_LOGGED_IN
        assert wire.cmd("STAT") == P.OK_STAT.format(count=1, octets=SIZE_LF)


class TestUIDL:
    def test_uidl_from_maildir_name(self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox) -> None:
        """The UIDL is the Maildir unique name up to the first comma."""
        name = pop3_mailbox.deliver(MSG_LF)

        assert logged_in(pop3_connect, pop3_mailbox).cmd("UIDL 1") == P.OK_UIDL_ONE.format(
            number=1, uid=name.split(",")[0]
        )

    def test_uidl_stable_across_restart(
        self, pop3_connect: Connect, pop3_start: Start, tmp_path: Path
    ) -> None:
        """UIDLs are the same after new/ -> cur/, a dropped session and a server restart."""
        root = add_user(tmp_path, "u@example.test", "pw")
        for body in (MSG_LF, MSG_CRLF):
            deliver(root, body)
        deliver(root, MSG_LF, plain_name=True)
        server = pop3_start("--insecure-auth")
        wire = pop3_connect(server.port)
        wire.login("u@example.test", "pw")
        before = wire.multi("UIDL")[1]
        wire.close()
        server.stop()
        wire = pop3_connect(pop3_start("--insecure-auth").port)
        wire.login("u@example.test", "pw")

        assert wire.multi("UIDL")[1] == before
        assert len(set(before.split())) == 6
        assert os.listdir(root / "new") == []


BAD_COMMANDS = [
    ("RETR", P.ERR_NUMBER_MISSING),
    ("RETR 0", P.ERR_NO_SUCH_MESSAGE.format(number=0)),
    ("RETR 3", P.ERR_NO_SUCH_MESSAGE.format(number=3)),
    ("RETR -1", P.ERR_NUMBER_INVALID.format(text="-1")),
    ("RETR abc", P.ERR_NUMBER_INVALID.format(text="abc")),
    ("RETR 1 2", P.ERR_NUMBER_NOISE.format(text="2")),
    ("RETR 99999999999999", P.ERR_NUMBER_INVALID.format(text="99999999999999")),
    ("LIST x", P.ERR_NUMBER_INVALID.format(text="x")),
    ("DELE 7", P.ERR_NO_SUCH_MESSAGE.format(number=7)),
    ("UIDL 1 x", P.ERR_NUMBER_NOISE.format(text="x")),
    ("TOP 1", P.ERR_LINES_INVALID.format(text="")),
    ("TOP 1 -2", P.ERR_LINES_INVALID.format(text="-2")),
    ("TOP 5 1", P.ERR_NO_SUCH_MESSAGE.format(number=5)),
    ("STAT 1", P.ERR_NOISE),
    ("LAST", P.ERR_UNKNOWN_COMMAND),
    ("XYZZY", P.ERR_UNKNOWN_COMMAND),
    ("USER again@example.test", P.ERR_WRONG_STATE),
    ("STLS", P.ERR_WRONG_STATE),
]


class TestBadInput:
    @pytest.mark.parametrize(
        ("command", "reply"), BAD_COMMANDS, ids=[command for command, _ in BAD_COMMANDS]
    )
    def test_bad_commands_keep_session(
        self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox, command: str, reply: str
    ) -> None:
        """Bad numbers, noise, unknown and wrong-state commands get -ERR; the session lives."""
        pop3_mailbox.deliver(MSG_LF)
        pop3_mailbox.deliver(MSG_CRLF)
        wire = logged_in(pop3_connect, pop3_mailbox)

        assert wire.cmd(command) == reply
        assert wire.cmd("NOOP") == P.OK_NOOP

    @pytest.mark.parametrize("command", ["STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "RSET"])
    def test_transaction_commands_before_login(self, pop3_connect: Connect, command: str) -> None:
        """TRANSACTION commands in AUTHORIZATION get -ERR and the session lives."""
        wire = pop3_connect()

        assert wire.cmd(command) == P.ERR_WRONG_STATE
        assert wire.multi("CAPA")[0] == P.OK_CAPA

    def test_command_line_limit(self, pop3_connect: Connect) -> None:
        """A 255-octet command line is read; a 256-octet one gets -ERR and is discarded whole."""
        wire = pop3_connect()
        ok_line = "USER " + "a" * (255 - 7)
        long_line = "USER " + "a" * (256 - 7) + "\r\nNOOP"

        assert wire.cmd(ok_line) == P.OK_USER
        assert wire.cmd(long_line) == P.ERR_LINE_TOO_LONG
        assert wire.line() == P.ERR_WRONG_STATE  # the NOOP after it, in AUTHORIZATION

    def test_huge_line_discarded(self, pop3_connect: Connect) -> None:
        """A 1 MB line without CRLF is dropped, answered once, and the session goes on."""
        wire = pop3_connect()
        wire.send(b"X" * 1_000_000 + b"\r\n")

        assert wire.line() == P.ERR_LINE_TOO_LONG
        assert wire.multi("CAPA")[0] == P.OK_CAPA

    def test_too_many_bad_commands(self, pop3_connect: Connect) -> None:
        """Twenty bad commands in a row end the session."""
        wire = pop3_connect()
        wire.send(b"BOGUS\r\n" * 20)
        replies = [wire.line() for _ in range(21)]

        assert replies == [P.ERR_UNKNOWN_COMMAND] * 20 + [P.ERR_TOO_MANY_BAD_COMMANDS]
        assert wire.closed_by_server()

    def test_lowercase_commands(self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox) -> None:
        """Command keywords are case-insensitive (RFC 1939 §3)."""
        wire = pop3_connect()

        assert wire.login(pop3_mailbox.address, pop3_mailbox.password) == P.OK_LOGGED_IN
        assert wire.cmd("stat") == P.OK_STAT.format(count=0, octets=0)

    def test_pipelined_commands(self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox) -> None:
        """Commands sent in one packet are answered in order (RFC 2449 PIPELINING)."""
        pop3_mailbox.deliver(MSG_CRLF)
        wire = pop3_connect()
        wire.send(
            f"USER {pop3_mailbox.address}\r\nPASS {pop3_mailbox.password}\r\n"
            "STAT\r\nRETR 1\r\nNOOP\r\n".encode()
        )

        assert [wire.line() for _ in range(4)] == [
            P.OK_USER,
            P.OK_LOGGED_IN,
            P.OK_STAT.format(count=1, octets=SIZE_CRLF),
            P.OK_RETR.format(octets=SIZE_CRLF),
        ]
        assert wire.multiline_raw() == MSG_CRLF.replace(b"\n.", b"\n..")
        assert wire.line() == P.OK_NOOP

    def test_quit_from_authorization(self, pop3_connect: Connect) -> None:
        """QUIT before login says goodbye and closes."""
        wire = pop3_connect()

        assert wire.cmd("QUIT") == P.OK_QUIT
        assert wire.closed_by_server()


class TestFaults:
    def test_unreadable_message_is_sys_temp(
        self, pop3_connect: Connect, pop3_start: Start, tmp_path: Path
    ) -> None:
        """An unexpected error answers -ERR [SYS/TEMP] and the session goes on."""
        root = add_user(tmp_path, "f@example.test", "pw")
        name = deliver(root, MSG_LF, sub="cur")
        server = pop3_start("--insecure-auth")
        wire = pop3_connect(server.port)
        wire.login("f@example.test", "pw")
        (root / "cur" / name).unlink()
        (root / "cur" / name).mkdir()  # open() now fails with IsADirectoryError

        assert wire.cmd("RETR 1") == P.ERR_SYS_TEMP
        assert wire.cmd("NOOP") == P.OK_NOOP
        assert "IsADirectoryError" in server.wait_logged("IsADirectoryError")

    def test_broken_maildir_is_sys_temp(
        self, pop3_connect: Connect, pop3_start: Start, tmp_path: Path
    ) -> None:
        """A maildrop that cannot be opened answers -ERR [SYS/TEMP] and keeps AUTHORIZATION."""
        root = add_user(tmp_path, "g@example.test", "pw")
        (root / "cur").rmdir()
        (root / "cur").write_text("not a directory")
        wire = pop3_connect(pop3_start("--insecure-auth").port)

        assert wire.login("g@example.test", "pw") == P.ERR_MAILDROP_UNAVAILABLE
        assert wire.multi("CAPA")[0] == P.OK_CAPA

    def test_message_removed_by_another_program(
        self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox
    ) -> None:
        """A message deleted behind the session's back is -ERR, the others are served."""
        gone = pop3_mailbox.deliver(MSG_LF, sub="cur")
        pop3_mailbox.deliver(MSG_CRLF, sub="cur")
        wire = logged_in(pop3_connect, pop3_mailbox)
        (pop3_mailbox.root / "cur" / gone).unlink()

        assert wire.cmd("RETR 1") == P.ERR_MESSAGE_GONE.format(number=1)
        assert wire.multi("RETR 2")[0] == P.OK_RETR.format(octets=SIZE_CRLF)

    def test_flags_renamed_by_another_reader(
        self, pop3_connect: Connect, pop3_mailbox: Pop3Mailbox
    ) -> None:
        """A message whose flags another Maildir reader changed is still served."""
        name = pop3_mailbox.deliver(MSG_CRLF, sub="cur")
        wire = logged_in(pop3_connect, pop3_mailbox)
        cur = pop3_mailbox.root / "cur"
        (cur / name).rename(cur / (name.split(":")[0] + ":2,S"))

        assert wire.multi("RETR 1") == (
            P.OK_RETR.format(octets=SIZE_CRLF),
            MSG_CRLF.replace(b"\n.", b"\n.."),
        )


class TestLimitsAndOptions:
    def test_idle_timeout(self, pop3_connect: Connect, pop3_start: Start) -> None:
        """An idle session is told and disconnected after --pop3-idle-timeout seconds."""
        wire = pop3_connect(pop3_start("--pop3-idle-timeout", "0.5").port)

        assert wire.line() == P.ERR_IDLE
        assert wire.closed_by_server()

    def test_login_delay(self, pop3_connect: Connect, pop3_start: Start, tmp_path: Path) -> None:
        """With --pop3-login-delay, CAPA announces it and a too-early login gets [LOGIN-DELAY]."""
        add_user(tmp_path, "l@example.test", "pw")
        server = pop3_start("--insecure-auth", "--pop3-login-delay", "30")
        first = pop3_connect(server.port)
        assert b"LOGIN-DELAY 30\r\n" in first.multi("CAPA")[1]
        assert first.login("l@example.test", "pw") == P.OK_LOGGED_IN
        first.cmd("QUIT")

        reply = pop3_connect(server.port).login("l@example.test", "pw")
        assert reply == P.ERR_LOGIN_DELAY.format(seconds=30)

    def test_connection_limit(self, pop3_connect: Connect, pop3_start: Start) -> None:
        """Connections over --pop3-max-connections are refused with [SYS/TEMP]."""
        server = pop3_start("--pop3-max-connections", "2")
        held = [pop3_connect(server.port) for _ in range(2)]
        extra = pop3_connect(server.port)

        assert [w.greeting for w in held] == [P.GREETING] * 2
        assert extra.greeting == P.ERR_TOO_MANY_CONNECTIONS
        assert extra.closed_by_server()

    def test_connection_limit_per_address(self, pop3_connect: Connect, pop3_start: Start) -> None:
        """Connections from one address over --pop3-max-connections-per-ip are refused."""
        server = pop3_start("--pop3-max-connections-per-ip", "1")
        held = pop3_connect(server.port)
        extra = pop3_connect(server.port)

        assert (held.greeting, extra.greeting) == (P.GREETING, P.ERR_TOO_MANY_CONNECTIONS)
        assert extra.closed_by_server()

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--pop3", "nonsense"], "mailplan: --pop3: expected HOST:PORT"),
            (["--pop3", "[::1:110"], "mailplan: --pop3: expected HOST:PORT"),
            (["--pop3", "mail.example.test:110"], "mailplan: --pop3: HOST must be an IP address"),
            (
                ["--pop3-idle-timeout", "0"],
                "mailplan: --pop3-idle-timeout: Input should be greater",
            ),
            (["--pop3-max-connections", "0"], "mailplan: --pop3-max-connections: Input should be"),
            (["--pop3-login-delay", "-1"], "mailplan: --pop3-login-delay: Input should be greater"),
            (
                ["--pop3", "off"],
                "mailplan: --smtp/--submission/--pop3/--pop3s/--imap/--imaps: at least one",
            ),
        ],
        ids=["not-hostport", "open-bracket", "host-name", "idle", "connections", "delay", "none"],
    )
    def test_bad_options(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
    ) -> None:
        """A bad POP3 option of mailplan serve is one line on stderr and exit status 2."""
        argv = ["serve", "--data-dir", str(tmp_path), "--smtp", "off", "--submission", "off"]
        argv += ["--pop3", "127.0.0.1:0", *args]

        assert run(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(message), err
        assert len(err.splitlines()) == 1

    def test_bad_option_from_the_command(self, tmp_path: Path) -> None:
        """The ``mailplan serve`` process itself exits 2 with the one line, no traceback."""
        cmd = [sys.executable, "-m", "planner", "serve", "--data-dir", str(tmp_path)]
        cmd += ["--smtp", "off", "--submission", "off", "--pop3", "nonsense"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)

        assert proc.returncode == 2
        assert proc.stderr.startswith("mailplan: --pop3: expected HOST:PORT"), proc.stderr
        assert len(proc.stderr.splitlines()) == 1

    def test_two_workers(self, pop3_start: Start, tmp_path: Path) -> None:
        """A whole session works with two worker processes sharing the listener."""
        root = add_user(tmp_path, "w@example.test", "pw")
        deliver(root, MSG_LF)
        client = poplib.POP3("127.0.0.1", pop3_start("--insecure-auth", "--workers", "2").port)
        client.user("w@example.test")
        client.pass_("pw")
        _, lines, _ = client.retr(1)
        client.dele(1)

        assert b"\n".join(lines) + b"\n" == MSG_LF
        assert client.quit() == P.OK_QUIT_DELETED.encode()
        assert os.listdir(root / "cur") == []

    def test_sigterm_stops_workers(self, pop3_start: Start) -> None:
        """SIGTERM stops the server and its worker processes."""
        server = pop3_start("--workers", "2")
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)

        assert server.proc.wait(10) == 0
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=2)


def in_process_config(data_dir: Path, **changes: object) -> ServerConfig:
    """A POP3-only configuration on 127.0.0.1 and a free port, logins in clear allowed."""
    fields: dict[str, object] = {
        "data_dir": data_dir,
        "domains": (),
        "hostname": "localhost",
        "smtp": None,
        "submission": None,
        "pop3": Listen(host="127.0.0.1", port=0),
        "insecure_auth": True,
    }
    return ServerConfig.model_validate(fields | changes)


class TestInProcess:
    @pytest.mark.parametrize("use_uvloop", [False, True], ids=["asyncio", "uvloop"])
    def test_start_pop3_server_on_each_loop(self, tmp_path: Path, use_uvloop: bool) -> None:
        """start_pop3_server, as `mailplan serve` calls it, serves from asyncio's loop and
        from uvloop (planner.net.run_loop picks either)."""
        root = add_user(tmp_path, "i@example.test", "pw")
        deliver(root, MSG_CRLF)

        def fetch(port: int) -> tuple[int, int]:
            client = poplib.POP3("127.0.0.1", port, timeout=10)
            client.user("i@example.test")
            client.pass_("pw")
            stat = client.stat()
            client.quit()
            return stat

        async def run() -> tuple[int, int]:
            async with await start_pop3_server(in_process_config(tmp_path)) as server:
                return await asyncio.to_thread(fetch, server.sockets[0].getsockname()[1])

        assert run_loop(run(), use_uvloop=use_uvloop) == (1, SIZE_CRLF)

    def test_implicit_tls_needs_context(self, tmp_path: Path) -> None:
        """Asking for implicit TLS without a certificate is a clear error."""

        async def run() -> None:
            await start_pop3_server(in_process_config(tmp_path), implicit_tls=True)

        with pytest.raises(ValueError, match="implicit_tls needs an ssl_context"):
            asyncio.run(run())

    def test_limits_come_from_the_config(self, tmp_path: Path) -> None:
        """The listener takes its limits from the configuration's Pop3Limits."""
        config = in_process_config(tmp_path, pop3_limits=Pop3Limits(max_connections=1))

        def two(port: int) -> tuple[str, str]:
            first, second = Wire.connect(port), Wire.connect(port)
            first.close()
            second.close()
            return first.greeting, second.greeting

        async def run() -> tuple[str, str]:
            async with await start_pop3_server(config) as server:
                return await asyncio.to_thread(two, server.sockets[0].getsockname()[1])

        assert asyncio.run(run()) == (P.GREETING, P.ERR_TOO_MANY_CONNECTIONS)
