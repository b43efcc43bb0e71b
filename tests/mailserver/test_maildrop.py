"""The Maildir side of POP3: names, UIDLs, sizes, scanning, the session lock, encoding."""

from __future__ import annotations

import io
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.mailserver.maildrop import (
    LOCK_FILE,
    SIZE_CACHE_FILE,
    MaildropIndex,
    MaildropLocked,
    Pop3Encoder,
    SessionLock,
    apply_deletions,
    crlf_size,
    encode_message,
    iter_top,
    maildir_path,
    parse_maildir_name,
    scan_maildrop,
    uidl_for,
)
from tests.mailserver.pop3_support import crlf_bytes, deliver, unstuff

pytestmark = pytest.mark.timeout(60)


class TestNames:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            (
                "1700000000.M12P34Q5.mx.example.test,S=10,W=12:2,",
                ("1700000000.M12P34Q5.mx.example.test", 12),
            ),
            (
                "1700000000.M12P34Q5.mx.example.test,S=10,W=12",
                ("1700000000.M12P34Q5.mx.example.test", 12),
            ),
            ("1700000001.V801I1a2bM345.host", ("1700000001.V801I1a2bM345.host", None)),
            ("1700000002.M1P2.host,S=99:2,RS", ("1700000002.M1P2.host", None)),
        ],
        ids=["mailplan-cur", "mailplan-new", "postfix", "dovecot-no-w"],
    )
    def test_uidl_and_size_from_name(self, name: str, expected: tuple[str, int | None]) -> None:
        """The UIDL is the unique name up to the first comma; W= gives the CRLF size."""
        unique, _, size = parse_maildir_name(name)

        assert (uidl_for(unique), size) == expected

    @pytest.mark.parametrize(
        "unique",
        ["1700000000." + "x" * 80 + ".host", "1700000000.M1.h\u00e9st", "1700000000.M1.h st"],
        ids=["too-long", "non-ascii", "space"],
    )
    def test_uidl_digest_for_unusable_names(self, unique: str) -> None:
        """Names no UIDL can be made of get a stable digest in the RFC 1939 character range."""
        uid = uidl_for(unique)

        assert uid == uidl_for(unique)
        assert len(uid) <= 70
        assert all(0x21 <= ord(c) <= 0x7E for c in uid)

    def test_maildir_path(self, tmp_path: Path) -> None:
        """The Maildir of an address is mailboxes/<domain>/<local-part>, lower-cased."""
        assert maildir_path(tmp_path, "Alice@Example.TEST") == (
            tmp_path / "mailboxes" / "example.test" / "alice"
        )

    @pytest.mark.parametrize("address", ["../x@example.test", "a@..", "no-at-sign", "a/b@c.test"])
    def test_maildir_path_refuses_traversal(self, tmp_path: Path, address: str) -> None:
        """Addresses that are not plain user@domain are refused, never turned into paths."""
        with pytest.raises(ValueError, match="address"):
            maildir_path(tmp_path, address)


class TestSizes:
    @pytest.mark.parametrize(
        ("body", "size"),
        [
            (b"a\nb\n", 6),
            (b"a\r\nb\r\n", 6),
            (b"a\r\nb\n", 6),
            (b"a\rb", 3),
            (b"", 0),
            (b"\n\n", 4),
        ],
        ids=["lf", "crlf", "mixed", "bare-cr", "empty", "blank-lines"],
    )
    def test_crlf_size(self, tmp_path: Path, body: bytes, size: int) -> None:
        """The size counts every line end as CRLF, whatever is stored."""
        path = tmp_path / "m"
        path.write_bytes(body)

        assert crlf_size(path) == size

    def test_crlf_pair_split_across_blocks(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A CRLF that straddles two read blocks is still one line end."""
        monkeypatch.setattr("planner.mailserver.maildrop.READ_BLOCK", 4)
        path = tmp_path / "m"
        path.write_bytes(b"abc\r\ndef\n")

        assert crlf_size(path) == 10


class TestScan:
    def test_sizes_come_from_names(self, tmp_path: Path) -> None:
        """With W= in every name the scan reads no body: the name's size is what counts."""
        (tmp_path / "cur").mkdir(parents=True)
        (tmp_path / "cur" / "1700000000.M1P1Q1.h,S=1,W=999:2,").write_bytes(b"")

        assert [m.size_octets for m in scan_maildrop(tmp_path)] == [999]

    def test_new_moves_to_cur(self, tmp_path: Path) -> None:
        """Scanning moves new/ messages to cur/ with an empty info part; UIDLs do not change."""
        name = deliver(tmp_path, b"x\n")
        msgs = scan_maildrop(tmp_path)

        assert os.listdir(tmp_path / "new") == []
        assert os.listdir(tmp_path / "cur") == [name + ":2,"]
        assert [m.uid for m in msgs] == [name.split(",")[0]]

    def test_delivery_order(self, tmp_path: Path) -> None:
        """Messages are numbered in delivery order (the seconds field), not name order."""
        for sec in (1700000100, 999999999, 1700000000):
            (tmp_path / "cur").mkdir(parents=True, exist_ok=True)
            (tmp_path / "cur" / f"{sec}.M1P1Q1.h,S=1,W=1:2,").write_bytes(b"x")

        uids = [m.uid for m in scan_maildrop(tmp_path)]
        assert uids == ["999999999.M1P1Q1.h", "1700000000.M1P1Q1.h", "1700000100.M1P1Q1.h"]

    def test_delivery_order_within_a_second(self, tmp_path: Path) -> None:
        """Within one second, the microseconds of the delivery id decide the order."""
        (tmp_path / "cur").mkdir(parents=True)
        for usec in (248400, 52708):
            (tmp_path / "cur" / f"1700000000.M{usec}P1Q1.h,S=1,W=1:2,").write_bytes(b"x")

        uids = [m.uid for m in scan_maildrop(tmp_path)]
        assert uids == ["1700000000.M52708P1Q1.h", "1700000000.M248400P1Q1.h"]

    def test_size_cache_for_foreign_files(self, tmp_path: Path) -> None:
        """Files without W= are measured once; later scans take the size from the cache."""
        name = deliver(tmp_path, b"a\nb\n", sub="cur", plain_name=True)
        first = scan_maildrop(tmp_path)
        cache = tmp_path / SIZE_CACHE_FILE
        unique = name.split(":")[0]
        assert cache.read_text() == f"{unique} 4 6\n"
        cache.write_text(f"{unique} 4 1234\n")  # a cached figure the body could not give

        assert [m.size_octets for m in first] == [6]
        assert [m.size_octets for m in scan_maildrop(tmp_path)] == [1234]

    def test_size_cache_ignores_changed_file(self, tmp_path: Path) -> None:
        """A cache entry whose on-disk size no longer matches is measured again."""
        name = deliver(tmp_path, b"a\nb\n", sub="cur", plain_name=True)
        (tmp_path / SIZE_CACHE_FILE).write_text(f"{name.split(':')[0]} 99 1234\n")

        assert [m.size_octets for m in scan_maildrop(tmp_path)] == [6]

    def test_duplicate_in_new_and_cur(self, tmp_path: Path) -> None:
        """A message in both new/ and cur/ (an interrupted move) is listed once."""
        name = deliver(tmp_path, b"x\n", sub="cur")
        (tmp_path / "new" / name.split(":")[0]).write_bytes(b"x\n")

        assert len(scan_maildrop(tmp_path)) == 1

    def test_uidls_unique_when_names_agree_to_the_comma(self, tmp_path: Path) -> None:
        """Two names equal up to the first comma still get different UIDLs."""
        (tmp_path / "cur").mkdir(parents=True)
        for tail in ("S=1,W=1", "S=2,W=2"):
            (tmp_path / "cur" / f"1700000000.M1P1.h,{tail}:2,").write_bytes(b"x")

        uids = [m.uid for m in scan_maildrop(tmp_path)]
        assert len(set(uids)) == 2

    def test_skips_dot_files_and_tmp(self, tmp_path: Path) -> None:
        """Dot files and tmp/ are not messages."""
        deliver(tmp_path, b"x\n")
        (tmp_path / "cur" / ".hidden").write_bytes(b"x")
        (tmp_path / "tmp" / "1.M1.h").write_bytes(b"x")

        assert len(scan_maildrop(tmp_path)) == 1

    @pytest.mark.timeout(120)
    def test_fifty_thousand_messages(self, tmp_path: Path) -> None:
        """50,000 empty files with W= sizes are listed with those sizes, bodies unread."""
        cur = tmp_path / "cur"
        cur.mkdir(parents=True)
        for i in range(50_000):
            os.close(os.open(cur / f"1700000000.M{i}P1Q1.h,S=1,W={i % 97 + 1}:2,", os.O_CREAT))
        msgs = scan_maildrop(tmp_path)

        assert len(msgs) == 50_000
        assert sum(m.size_octets for m in msgs) == sum(i % 97 + 1 for i in range(50_000))
        assert not (tmp_path / SIZE_CACHE_FILE).exists()


def _age(root: Path, seconds: float) -> None:
    """Set the mtime of new/ and cur/ ``seconds`` into the past."""
    then = time.time() - seconds
    for sub in ("new", "cur"):
        os.utime(root / sub, (then, then))


class TestIndex:
    def test_unchanged_maildrop_is_not_scanned_again(self, tmp_path: Path) -> None:
        """A settled, unchanged maildrop's listing is reused (no directory read)."""
        deliver(tmp_path, b"x\n", sub="cur")
        _age(tmp_path, 10)
        index = MaildropIndex()
        first = index.scan(tmp_path)

        assert index.lookup(tmp_path) is first

    def test_delivery_invalidates(self, tmp_path: Path) -> None:
        """A new delivery changes new/ and the listing is read again."""
        deliver(tmp_path, b"x\n", sub="cur")
        _age(tmp_path, 10)
        index = MaildropIndex()
        index.scan(tmp_path)
        deliver(tmp_path, b"y\n")

        assert index.lookup(tmp_path) is None
        assert len(index.scan(tmp_path).messages) == 2

    def test_recent_change_not_trusted(self, tmp_path: Path) -> None:
        """A listing read right after a change is not kept (a second change may share the mtime)."""
        deliver(tmp_path, b"x\n", sub="cur")
        index = MaildropIndex(settle_s=60)
        index.scan(tmp_path)

        assert index.lookup(tmp_path) is None

    def test_budget_drops_least_recent(self, tmp_path: Path) -> None:
        """Past the message budget the least recently used maildrop is forgotten."""
        roots = [tmp_path / "a", tmp_path / "b"]
        for root in roots:
            deliver(root, b"x\n", sub="cur")
            _age(root, 10)
        index = MaildropIndex(budget_messages=1)
        for root in roots:
            index.scan(root)

        assert (index.lookup(roots[0]), index.lookup(roots[1]) is not None) == (None, True)

    def test_listing_total(self, tmp_path: Path) -> None:
        """A listing carries the total of its sizes."""
        deliver(tmp_path, b"ab\n", sub="cur")
        deliver(tmp_path, b"c\n", sub="cur")

        assert MaildropIndex().scan(tmp_path).octets == 4 + 3


class TestLock:
    def test_second_lock_refused(self, tmp_path: Path) -> None:
        """While one session holds the lock, a second cannot take it."""
        first = SessionLock(tmp_path)
        first.acquire()

        with pytest.raises(MaildropLocked):
            SessionLock(tmp_path).acquire()
        first.release()

    def test_lock_free_after_release(self, tmp_path: Path) -> None:
        """A released lock can be taken again; the lock file stays."""
        first = SessionLock(tmp_path)
        first.acquire()
        first.release()
        second = SessionLock(tmp_path)
        second.acquire()

        assert (second.held, (tmp_path / LOCK_FILE).exists()) == (True, True)
        second.release()

    def test_lock_of_killed_process_is_free(self, tmp_path: Path) -> None:
        """The stale-lock rule: a lock whose holder was killed is free at once."""
        code = (
            "import sys, time; from planner.mailserver.maildrop import SessionLock;"
            "SessionLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(60)"
        )
        holder = subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE
        )
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        with pytest.raises(MaildropLocked):
            SessionLock(tmp_path).acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        holder.stdout.close()
        lock = SessionLock(tmp_path)
        lock.acquire()

        assert lock.held
        lock.release()

    def test_leftover_lock_file_is_no_lock(self, tmp_path: Path) -> None:
        """A lock file naming a dead process does not lock anyone out."""
        (tmp_path / LOCK_FILE).write_text("999999 1700000000\n")
        lock = SessionLock(tmp_path)
        lock.acquire()

        assert lock.held
        lock.release()


class TestDeletions:
    def test_removes_and_reports(self, tmp_path: Path) -> None:
        """Marked messages are unlinked; one already gone counts as removed."""
        deliver(tmp_path, b"a\n", sub="cur")
        deliver(tmp_path, b"b\n", sub="cur")
        msgs = scan_maildrop(tmp_path)
        os.unlink(msgs[1].path)
        result = apply_deletions(tmp_path, msgs)

        assert (len(result.removed), result.failed, os.listdir(tmp_path / "cur")) == (2, (), [])

    def test_failure_leaves_message(self, tmp_path: Path) -> None:
        """A message that cannot be unlinked stays and is reported as failed."""
        name = deliver(tmp_path, b"a\n", sub="cur")
        (msg,) = scan_maildrop(tmp_path)
        os.unlink(msg.path)
        os.mkdir(msg.path)

        assert apply_deletions(tmp_path, [msg]).failed == (msg.uid,)
        assert os.listdir(tmp_path / "cur") == [name]

    def test_follows_flag_rename(self, tmp_path: Path) -> None:
        """A message renamed by another reader (new flags) is still found and removed."""
        name = deliver(tmp_path, b"a\n", sub="cur")
        (msg,) = scan_maildrop(tmp_path)
        os.rename(msg.path, tmp_path / "cur" / (name.split(":")[0] + ":2,S"))
        result = apply_deletions(tmp_path, [msg])

        assert (result.removed, os.listdir(tmp_path / "cur")) == ((msg.uid,), [])


class TestEncoding:
    @pytest.mark.parametrize(
        ("stored", "sent"),
        [
            (b"a\nb\n", b"a\r\nb\r\n.\r\n"),
            (b"a\r\nb\r\n", b"a\r\nb\r\n.\r\n"),
            (b".a\n..b\n.\n", b"..a\r\n...b\r\n..\r\n.\r\n"),
            (b"no end", b"no end\r\n.\r\n"),
            (b"", b".\r\n"),
            (b"x\r\n.\r\n", b"x\r\n..\r\n.\r\n"),
            (b"a\rb\n", b"a\rb\r\n.\r\n"),
        ],
        ids=["lf", "crlf", "dots", "no-final-eol", "empty", "crlf-dot-line", "bare-cr-kept"],
    )
    def test_encode_message(self, stored: bytes, sent: bytes) -> None:
        """CRLF line ends, stuffed dots and the terminator, byte for byte."""
        assert encode_message(stored) == sent

    @settings(max_examples=300, deadline=None)
    @given(
        st.lists(st.sampled_from([b"\n", b"\r", b".", b"a", b"\r\n", b"\n."]), max_size=60).map(
            b"".join
        ),
        st.lists(st.integers(0, 200), max_size=8),
    )
    def test_chunking_does_not_matter(self, stored: bytes, cuts: list[int]) -> None:
        """Feeding a message in any pieces gives the same bytes, and they unstuff to the message."""
        enc = Pop3Encoder()
        edges = sorted({0, len(stored), *(c % (len(stored) + 1) for c in cuts)})
        out = b"".join(enc.feed(stored[a:b]) for a, b in itertools.pairwise(edges))
        out += enc.finish()
        body = out[: -len(b".\r\n")]
        expected = crlf_bytes(stored)

        assert out == encode_message(stored)
        assert unstuff(body) == (
            expected + b"\r\n" if stored and not stored.endswith(b"\n") else expected
        )

    @pytest.mark.parametrize(
        ("lines", "expected"),
        [
            (0, b"H: 1\nH: 2\n\n"),
            (1, b"H: 1\nH: 2\n\nb1\n"),
            (5, b"H: 1\nH: 2\n\nb1\nb2\n"),
        ],
        ids=["headers-only", "one-line", "past-the-end"],
    )
    def test_iter_top(self, lines: int, expected: bytes) -> None:
        """TOP selects the header, the blank line and k body lines."""
        assert b"".join(iter_top(io.BytesIO(b"H: 1\nH: 2\n\nb1\nb2\n"), lines)) == expected

    def test_iter_top_without_body(self) -> None:
        """A message without a blank line is all header."""
        assert b"".join(iter_top(io.BytesIO(b"H: 1\nH: 2"), 3)) == b"H: 1\nH: 2"
