"""A hypothesis state machine against a real ``mailplan serve --imap``: APPEND, STORE,
COPY, MOVE, EXPUNGE and reconnects, checked against a model of UIDs and flags."""

from __future__ import annotations

import contextlib
import imaplib
import itertools
import re
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.mailserver.conftest import ImapProcess
from tests.mailserver.pop3_support import add_user

FOLDERS = ("INBOX", "Archive")
FLAGS = ("\\Seen", "\\Flagged", "\\Deleted", "\\Answered", "\\Draft")
_users = itertools.count(1)
pytestmark = pytest.mark.timeout(240)
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")
_COPYUID = re.compile(rb"\[COPYUID (\d+) ([\d,:]+) ([\d,:]+)\]")


class ImapModel(RuleBasedStateMachine):
    """Folders as ``{uid: (subject, flags)}``; every step then compares the server."""

    server: ClassVar[ImapProcess]

    def __init__(self) -> None:
        super().__init__()
        n = next(_users)
        self.address, self.password = f"model{n}@example.test", "pw"
        add_user(self.server.data_dir, self.address, self.password)
        self.model: dict[str, dict[int, tuple[str, frozenset[str]]]] = {f: {} for f in FOLDERS}
        self.highest: dict[str, int] = dict.fromkeys(FOLDERS, 0)
        self.subjects = itertools.count(1)
        self.client = self._connect()

    def _connect(self) -> imaplib.IMAP4:
        c = imaplib.IMAP4("127.0.0.1", self.server.port, timeout=15)
        c.login(self.address, self.password)
        return c

    def _select(self, folder: str) -> None:
        typ, _ = self.client.select(folder)
        assert typ == "OK"

    def teardown(self) -> None:
        """Log out."""
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            self.client.logout()

    def _new_uid(self, folder: str, uid: int) -> None:
        assert uid > self.highest[folder], f"UID {uid} reused in {folder}"
        self.highest[folder] = uid

    @rule(folder=st.sampled_from(FOLDERS), flags=st.sets(st.sampled_from(FLAGS), max_size=2))
    def append(self, folder: str, flags: set[str]) -> None:
        """APPEND answers a new, higher UID."""
        subject = f"s{next(self.subjects)}"
        body = f"Subject: {subject}\r\nFrom: a@example.test\r\n\r\nbody\r\n".encode()
        flag_text = "(" + " ".join(sorted(flags)) + ")" if flags else None
        typ, data = self.client.append(folder, flag_text, None, body)
        assert typ == "OK"
        match = _APPENDUID.search(data[0])  # type: ignore[arg-type]
        assert match is not None
        uid = int(match.group(2))
        self._new_uid(folder, uid)
        self.model[folder][uid] = (subject, frozenset(flags))

    def _some(self, folder: str, data: st.DataObject) -> int:
        return data.draw(st.sampled_from(sorted(self.model[folder])))

    @precondition(lambda self: any(self.model.values()))
    @rule(
        data=st.data(),
        op=st.sampled_from(["+FLAGS", "-FLAGS", "FLAGS"]),
        flags=st.sets(st.sampled_from(FLAGS), max_size=3),
    )
    def store(self, data: st.DataObject, op: str, flags: set[str]) -> None:
        """UID STORE changes exactly the flags asked for."""
        folder = data.draw(st.sampled_from([f for f in FOLDERS if self.model[f]]))
        uid = self._some(folder, data)
        self._select(folder)
        typ, _ = self.client.uid("STORE", str(uid), op + ".SILENT", "(" + " ".join(flags) + ")")
        assert typ == "OK"
        subject, old = self.model[folder][uid]
        new = old | flags if op == "+FLAGS" else old - flags if op == "-FLAGS" else flags
        self.model[folder][uid] = (subject, frozenset(new))

    @precondition(lambda self: any(self.model.values()))
    @rule(data=st.data(), move=st.booleans())
    def copy_or_move(self, data: st.DataObject, move: bool) -> None:
        """UID COPY/MOVE answers COPYUID; the copy keeps subject and flags."""
        src = data.draw(st.sampled_from([f for f in FOLDERS if self.model[f]]))
        dst = data.draw(st.sampled_from(FOLDERS))
        uid = self._some(src, data)
        self._select(src)
        typ, answer = self.client.uid("MOVE" if move else "COPY", str(uid), dst)
        assert typ == "OK"
        codes = self.client.untagged_responses.pop("COPYUID", [])
        self.client.untagged_responses.clear()
        assert codes, answer
        match = _COPYUID.search(b"[COPYUID " + codes[-1] + b"]")  # imaplib keeps the code's text
        assert match is not None, codes
        new_uid = int(match.group(3))
        self._new_uid(dst, new_uid)
        entry = self.model[src][uid]
        if move:
            del self.model[src][uid]
        self.model[dst][new_uid] = entry

    @rule(folder=st.sampled_from(FOLDERS))
    def expunge(self, folder: str) -> None:
        """EXPUNGE removes exactly the \\Deleted messages."""
        self._select(folder)
        typ, _ = self.client.expunge()
        assert typ == "OK"
        self.model[folder] = {
            u: e for u, e in self.model[folder].items() if "\\Deleted" not in e[1]
        }

    @rule()
    def reconnect(self) -> None:
        """A new session sees the same UIDs and flags."""
        self.client.logout()
        self.client = self._connect()

    @invariant()
    def server_matches_model(self) -> None:
        """Every folder's UIDs, subjects and flags are the model's."""
        for folder in FOLDERS:
            typ, _ = self.client.select(folder, readonly=True)
            assert typ == "OK"
            typ, data = self.client.uid(
                "FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])"
            )
            assert typ == "OK"
            seen: dict[int, tuple[str, frozenset[str]]] = {}
            for item in data:
                if not isinstance(item, tuple):
                    continue
                head, body = item
                uid = int(re.search(rb"UID (\d+)", head).group(1))  # type: ignore[union-attr]
                flags_m = re.search(rb"FLAGS \(([^)]*)\)", head)
                flags = set(flags_m.group(1).decode().split()) if flags_m else set()
                subject = body.decode().split(":", 1)[1].strip()
                seen[uid] = (subject, frozenset(flags - {"\\Recent"}))
            assert seen == self.model[folder], folder


def test_imap_state_machine(imap_server: ImapProcess) -> None:
    """Random APPEND/STORE/COPY/MOVE/EXPUNGE/reconnect sequences keep UIDs and flags
    consistent with the model (UIDs never reused, flags exactly as stored)."""
    ImapModel.server = imap_server
    run_state_machine_as_test(
        ImapModel,
        settings=settings(
            max_examples=15,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
