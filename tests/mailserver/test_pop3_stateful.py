"""Random POP3 command sequences against a model of the maildrop (hypothesis stateful).

Invariants: no message is deleted without QUIT, UIDLs never change, STAT matches the
model, every reply line ends in CRLF (the raw client raises otherwise), and the session
survives every bad command and commands split across TCP sends.
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from planner.mailserver import pop3_protocol as P
from tests.mailserver.pop3_support import Pop3Process, Wire, add_user, crlf_bytes, deliver, unstuff

pytestmark = pytest.mark.timeout(180)

_users = itertools.count(1)
PIECES = [b"Subject: x\n", b"\n", b".", b"..", b"a", b"\r\n", b"line\n", b".\n", b"\r"]
bodies = st.lists(st.sampled_from(PIECES), max_size=12).map(b"".join)
numbers = st.integers(min_value=0, max_value=9)
BAD_COMMANDS = [
    "RETR",
    "RETR x",
    "LIST 1 2",
    "XYZ",
    "USER a@b.test",
    "TOP 1",
    "DELE -1",
    "APOP a b",
]


def retr_body(stored: bytes) -> bytes:
    """What RETR must carry once unstuffed: CRLF lines, a final CRLF if the message lacks one."""
    out = crlf_bytes(stored)
    return out + b"\r\n" if out and not out.endswith(b"\r\n") else out


@dataclass
class Stored:
    """A message in the Maildir as the model knows it."""

    uid: str
    body: bytes


class Pop3Machine(RuleBasedStateMachine):
    """One user's maildrop, a session on it, and what the server must say about them."""

    def __init__(self, server: Pop3Process) -> None:
        super().__init__()
        self.server = server
        n = next(_users)
        self.address, self.password = f"model{n}@example.test", f"model {n}"
        self.root = add_user(server.data_dir, self.address, self.password)
        self.stored: list[Stored] = []  # every message on disk, delivery order
        self.view: list[Stored] = []  # the session's snapshot (message numbers)
        self.marked: set[int] = set()  # 0-based indexes marked by DELE
        self.uid_of_name: dict[str, str] = {}
        self.wire: Wire | None = None

    # region #### helpers ####

    def _connect(self) -> None:
        deadline = time.monotonic() + 5
        while True:
            wire = Wire.connect(self.server.port)
            reply = wire.login(self.address, self.password)
            if reply == P.OK_LOGGED_IN:
                break
            wire.cmd("QUIT")
            wire.close()
            assert reply == P.ERR_IN_USE, reply  # the dropped session not yet noticed
            assert time.monotonic() < deadline
            time.sleep(0.02)
        self.wire = wire
        self.view = list(self.stored)
        self.marked = set()
        _, listing = wire.multi("UIDL")
        uids = [line.split(b" ")[1].decode() for line in listing.splitlines()]
        assert uids == [m.uid for m in self.view]

    @property
    def w(self) -> Wire:
        assert self.wire is not None
        return self.wire

    def _visible(self) -> list[tuple[int, Stored]]:
        return [(i, m) for i, m in enumerate(self.view) if i not in self.marked]

    def _expect_number(self, n: int) -> Stored | None:
        """The message number ``n`` names, or None when the server must answer -ERR."""
        if 1 <= n <= len(self.view) and n - 1 not in self.marked:
            return self.view[n - 1]
        return None

    def _deliver(self, body: bytes, plain: bool) -> None:
        name = deliver(self.root, body, plain_name=plain)
        uid = name.split(",")[0]
        self.stored.append(Stored(uid, body))

    # endregion

    @initialize(messages=st.lists(st.tuples(bodies, st.booleans()), max_size=5))
    def start(self, messages: list[tuple[bytes, bool]]) -> None:
        for body, plain in messages:
            self._deliver(body, plain)
        self._connect()

    @rule(n=numbers)
    def list_one(self, n: int) -> None:
        msg = self._expect_number(n)
        reply = self.w.cmd(f"LIST {n}")
        if msg is None:
            assert reply.startswith("-ERR ")
        else:
            assert reply == P.OK_LIST_ONE.format(number=n, octets=len(crlf_bytes(msg.body)))

    @rule()
    def list_all(self) -> None:
        _, body = self.w.multi("LIST")
        expected = "".join(f"{i + 1} {len(crlf_bytes(m.body))}\r\n" for i, m in self._visible())
        assert body.decode() == expected

    @rule(n=numbers)
    def uidl_one(self, n: int) -> None:
        msg = self._expect_number(n)
        reply = self.w.cmd(f"UIDL {n}")
        if msg is None:
            assert reply.startswith("-ERR ")
        else:
            assert reply == P.OK_UIDL_ONE.format(number=n, uid=msg.uid)

    @rule(n=numbers)
    def retr(self, n: int) -> None:
        msg = self._expect_number(n)
        first, raw = self.w.multi(f"RETR {n}")
        if msg is None:
            assert first.startswith("-ERR ")
        else:
            assert first == P.OK_RETR.format(octets=len(crlf_bytes(msg.body)))
            assert unstuff(raw) == retr_body(msg.body)

    @rule(n=numbers, lines=st.integers(min_value=0, max_value=4))
    def top(self, n: int, lines: int) -> None:
        msg = self._expect_number(n)
        first, raw = self.w.multi(f"TOP {n} {lines}")
        if msg is None:
            assert first.startswith("-ERR ")
        else:
            assert first == P.OK_TOP
            assert retr_body(msg.body).startswith(unstuff(raw))

    @rule(n=numbers)
    def dele(self, n: int) -> None:
        msg = self._expect_number(n)
        reply = self.w.cmd(f"DELE {n}")
        if msg is None:
            assert reply.startswith("-ERR ")
        else:
            assert reply == P.OK_DELE
            self.marked.add(n - 1)

    @rule()
    def rset(self) -> None:
        self.marked.clear()
        octets = sum(len(crlf_bytes(m.body)) for m in self.view)
        assert self.w.cmd("RSET") == P.OK_RSET.format(count=len(self.view), octets=octets)

    @rule(command=st.sampled_from(BAD_COMMANDS))
    def bad_command(self, command: str) -> None:
        assert self.w.cmd(command).startswith("-ERR ")

    @rule(cut=st.integers(min_value=1, max_value=5), bare_lf=st.booleans())
    def noop_in_pieces(self, cut: int, bare_lf: bool) -> None:
        """A command split across two TCP sends (and with a bare LF end) is read whole."""
        data = b"NOOP\n" if bare_lf else b"NOOP\r\n"
        self.w.send(data[:cut])
        time.sleep(0.002)
        self.w.send(data[cut:])
        assert self.w.line() == P.OK_NOOP

    @rule(body=bodies, plain=st.booleans())
    def new_delivery(self, body: bytes, plain: bool) -> None:
        """Mail arriving during a session is not in its snapshot; it shows next session."""
        self._deliver(body, plain)

    @rule()
    def quit_and_reconnect(self) -> None:
        gone = {self.view[i].uid for i in self.marked}
        expected = P.OK_QUIT_DELETED if gone else P.OK_QUIT
        assert self.w.cmd("QUIT") == expected
        assert self.w.closed_by_server()
        self.w.close()
        self.stored = [m for m in self.stored if m.uid not in gone]
        self._connect()

    @rule()
    def drop_and_reconnect(self) -> None:
        """A dropped connection deletes nothing, whatever was marked."""
        self.w.close()
        self._connect()

    @invariant()
    def stat_matches_model(self) -> None:
        if self.wire is None:
            return
        visible = self._visible()
        octets = sum(len(crlf_bytes(m.body)) for _, m in visible)
        assert self.w.cmd("STAT") == P.OK_STAT.format(count=len(visible), octets=octets)

    @invariant()
    def nothing_deleted_without_quit(self) -> None:
        on_disk = len(os.listdir(self.root / "cur")) + len(os.listdir(self.root / "new"))
        assert on_disk == len(self.stored)

    def teardown(self) -> None:
        if self.wire is not None:
            self.wire.close()


def test_random_sessions_match_the_model(pop3_server: Pop3Process) -> None:
    """Random command sequences never break the maildrop rules (see the module docstring)."""
    run_state_machine_as_test(
        lambda: Pop3Machine(pop3_server),
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
