"""planner.mailserver.provision: seeding, locating and counting mailboxes for outside tools."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.mailserver.maildrop import scan_maildrop
from planner.mailserver.provision import (
    count_messages,
    link_mailbox,
    mailbox_path,
    pool_messages,
    seed_mailbox,
)
from planner.mailserver.store import Store, StoreError

MESSAGE = b"Subject: hello\r\n\r\nbody line\r\n"


class TestSeed:
    def test_pop3_reads_what_was_seeded(self, tmp_path: Path) -> None:
        """Seeded messages are listed by the POP3 side with the size a client receives
        (CRLF line ends, the Return-Path line included)."""
        written = seed_mailbox(tmp_path, "Ann@Example.test", [MESSAGE] * 3, sender="s@x.test")

        listing = scan_maildrop(mailbox_path(tmp_path, "ann@example.test"))
        assert written == 3
        size = len(b"Return-Path: <s@x.test>\r\n" + MESSAGE)
        assert [m.size_octets for m in listing] == [size] * 3
        assert len({m.uid for m in listing}) == 3

    def test_no_messages_writes_nothing(self, tmp_path: Path) -> None:
        """An empty seed returns 0 and creates no mailbox."""
        assert seed_mailbox(tmp_path, "ann@example.test", []) == 0
        assert not mailbox_path(tmp_path, "ann@example.test").exists()


class TestLayout:
    def test_mailbox_path_is_the_stores(self, tmp_path: Path) -> None:
        """mailbox_path is where the store delivers (lower-cased domain and local part)."""
        assert mailbox_path(tmp_path, "Ann@Example.TEST") == Store(tmp_path).maildir(
            "ann@example.test"
        )

    def test_mailbox_path_refuses_a_path(self, tmp_path: Path) -> None:
        """An address that would name a folder outside the mailboxes is refused."""
        with pytest.raises(StoreError):
            mailbox_path(tmp_path, "../x@example.test")

    def test_count_messages(self, tmp_path: Path) -> None:
        """count_messages counts new/ and cur/ of every mailbox, not tmp/ or dot files."""
        seed_mailbox(tmp_path, "ann@example.test", [MESSAGE] * 2)
        seed_mailbox(tmp_path, "bob@other.test", [MESSAGE] * 3)
        scan_maildrop(mailbox_path(tmp_path, "bob@other.test"))  # bob's new/ moves to cur/
        ann = mailbox_path(tmp_path, "ann@example.test")
        (ann / "tmp" / "half-written").write_bytes(b"x")
        (ann / "cur" / ".hidden").write_bytes(b"x")

        assert count_messages(tmp_path) == 5

    def test_count_messages_without_mailboxes(self, tmp_path: Path) -> None:
        """A data folder with no mailboxes yet holds no messages."""
        assert count_messages(tmp_path) == 0


class TestPool:
    def test_pooled_files_read_as_delivered_mail(self, tmp_path: Path) -> None:
        """A pool linked into two mailboxes is read by the POP3 side as delivered mail:
        the bytes as given, sized as a client receives them (LF counted as CRLF), in pool
        order, one inode shared by both mailboxes."""
        bodies = [b"Subject: a\n\nline one\n", b"Subject: b\n\n" + b"x" * 100 + b"\n"]
        names = pool_messages(tmp_path / "pool", bodies)
        for user in ("ann", "bob"):
            link_mailbox(tmp_path / "pool", names, mailbox_path(tmp_path, f"{user}@example.test"))

        ann = mailbox_path(tmp_path, "ann@example.test") / "new" / names[0]
        bob = mailbox_path(tmp_path, "bob@example.test") / "new" / names[0]
        assert ann.read_bytes() == bodies[0]
        assert ann.stat().st_ino == bob.stat().st_ino
        assert count_messages(tmp_path) == 4
        listing = scan_maildrop(mailbox_path(tmp_path, "ann@example.test"))
        assert [m.size_octets for m in listing] == [len(b) + b.count(b"\n") for b in bodies]
