"""The mail store on real files: Maildir names and content, durable commits, the queue."""

from __future__ import annotations

import errno
import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from planner.mailserver import store as store_module
from planner.mailserver.store import (
    DirSyncer,
    QueueEntry,
    QueueRecipient,
    Store,
    StoreError,
    maildir_content,
    unsafe_local_part,
)

NAME_RE = re.compile(r"^\d+\.M\d+P\d+Q\d+\.[^,]+,S=(\d+),W=(\d+)$")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "data")
    s.prepare()
    return s


def entry(qid: str = "Q1", **kw: object) -> QueueEntry:
    data: dict[str, object] = {
        "qid": qid,
        "sender": "bob@example.test",
        "recipients": (QueueRecipient(address="x@remote.test"),),
        "created_at_s": time.time(),
    }
    data.update(kw)
    return QueueEntry.model_validate(data)


class TestMaildirContent:
    def test_lf_on_disk_and_crlf_size(self):
        """CRLF becomes LF on disk; W= counts each LF back as CRLF (hand-computed)."""
        data, w = maildir_content((b"Return-Path: <a@b>",), b"S: x\r\n\r\nhi\r\n")
        assert data == b"Return-Path: <a@b>\nS: x\n\nhi\n"
        assert (len(data), w) == (28, 32)

    def test_folded_header_lines_are_lf_too(self):
        """A header folded with CRLF is stored with LF."""
        data, _ = maildir_content((b"Received: a\r\n\tb",), b"")
        assert data == b"Received: a\n\tb\n"

    @pytest.mark.parametrize("local", ["", ".", "..", "a/b", "a\0b"])
    def test_unsafe_local_parts(self, local):
        """Names that are not a single directory entry are refused."""
        assert unsafe_local_part(local)


class TestCommit:
    def test_delivers_into_new_with_convention_name(self, store):
        """A local commit leaves one file in new/, named <sec>.M<usec>P<pid>Q<n>.<host>,S=,W=."""
        data, w = maildir_content((b"Return-Path: <>",), b"Subject: t\r\n\r\nbody\r\n")
        (f,), _ = store.commit([("Bob@Example.Test", data, w)], [])
        assert f.path.parent == store.mailboxes / "example.test" / "bob" / "new"
        m = NAME_RE.match(f.path.name)
        assert m is not None
        assert (int(m.group(1)), int(m.group(2))) == (len(data), w)
        assert f.path.read_bytes() == data
        assert f.uidl == f.path.name.split(",")[0]
        assert f"P{os.getpid()}Q" in f.uidl
        assert os.listdir(f.path.parent.parent / "tmp") == []

    def test_names_are_unique(self, store):
        """Many deliveries in one second get distinct names."""
        files, _ = store.commit([("a@d.test", b"x\n", 4)] * 50, [])
        assert len({f.path.name for f in files}) == 50

    def test_uidl_is_at_most_70_characters(self, store):
        """A long host name is cut so the UIDL fits RFC 1939's 70 characters."""
        store.host = "h" * 200
        (f,), _ = store.commit([("a@d.test", b"x\n", 4)], [])
        assert len(f.uidl) == 70

    def test_failure_raises_store_error_and_leaves_no_tmp_file(self, store):
        """If new/ cannot take the file, StoreError is raised and tmp/ is cleaned."""
        md = store.maildir("c@d.test")
        store.ensure_maildir(md)
        os.rmdir(md / "new")
        (md / "new").write_text("in the way")
        with pytest.raises(StoreError):
            store.commit([("c@d.test", b"x\n", 4)], [])
        assert os.listdir(md / "tmp") == []

    def test_unsafe_address_is_refused(self, store):
        """An address whose local part is '..' cannot name a mailbox."""
        with pytest.raises(StoreError):
            store.commit([("..@d.test", b"x\n", 4)], [])


RECIPIENTS = ("a@d.test", "b@d.test", "c@d.test")


@pytest.fixture
def inject_eio(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], list[Path]]:
    """``inject_eio(op, suffix)``: the first ``rename`` into, or directory fsync of, a
    folder whose path ends with ``suffix`` fails with EIO; returns the paths it hit."""

    def inject(op: str, suffix: str) -> list[Path]:
        hit: list[Path] = []

        def eio(path: Path) -> None:
            hit.append(path)
            raise OSError(errno.EIO, os.strerror(errno.EIO))

        if op == "rename":
            real_rename = os.rename

            def rename(src: Path, dst: Path) -> None:
                if not hit and str(Path(dst).parent).endswith(suffix):
                    eio(Path(dst))
                real_rename(src, dst)

            monkeypatch.setattr(os, "rename", rename)
        else:
            real_fsync_dir = store_module._fsync_dir

            def fsync_dir(path: Path) -> None:
                if not hit and str(path).endswith(suffix):
                    eio(Path(path))
                real_fsync_dir(path)

            monkeypatch.setattr(store_module, "_fsync_dir", fsync_dir)
        return hit

    return inject


def copies(store: Store) -> dict[str, int]:
    """Files in each recipient's new/ and tmp/, and in the queue (entries and tmp)."""
    out = {}
    for address in RECIPIENTS:
        md = store.maildir(address)
        out[address] = len(os.listdir(md / "new")) + len(os.listdir(md / "tmp"))
    out["queue"] = len(os.listdir(store.queue_entries)) + len(os.listdir(store.queue_tmp))
    return out


class TestFailedCommitLeavesNoCopy:
    @pytest.mark.parametrize(
        ("op", "suffix"),
        [
            ("rename", "b/new"),
            ("rename", "c/new"),
            ("rename", "queue/entries"),
            ("fsync", "a/new"),
            ("fsync", "c/new"),
            ("fsync", "queue/entries"),
        ],
        ids=[
            "second-rename",
            "third-rename",
            "queue-rename",
            "first-dir-fsync",
            "last-dir-fsync",
            "queue-dir-fsync",
        ],
    )
    def test_eio_takes_back_every_copy_and_a_retry_delivers_once(
        self, store, inject_eio, op, suffix
    ):
        """EIO at any rename or directory fsync of a 3-recipient message with a queue file:
        StoreError (errno named once), no copy left anywhere; the retry leaves one each."""
        local = [(a, b"Subject: x\n\nbody\n", 20) for a in RECIPIENTS]
        for address in RECIPIENTS:
            store.ensure_maildir(store.maildir(address))
        hit = inject_eio(op, suffix)
        with pytest.raises(StoreError) as info:
            store.commit(local, [(entry(), b"x\r\n")])
        assert hit
        assert (info.value.errno, str(info.value)) == (errno.EIO, "[Errno 5] Input/output error")
        assert copies(store) == dict.fromkeys([*RECIPIENTS, "queue"], 0)
        store.commit(local, [(entry(), b"x\r\n")])
        assert copies(store) == dict.fromkeys([*RECIPIENTS, "queue"], 1)

    def test_failed_queue_update_keeps_the_entry(self, store, inject_eio):
        """A state change whose directory fsync fails raises, but never removes the queue
        file it replaced (only new deliveries are taken back)."""
        _, (path,) = store.commit([], [(entry(), b"x\r\n")])
        locked = store.lock(path)
        assert locked is not None
        inject_eio("fsync", "queue/entries")
        with pytest.raises(StoreError):
            store.update(locked, locked.entry.model_copy(update={"attempts": 1}))
        store.release(locked)
        assert [e.qid for e in store.entries()] == ["Q1"]


class TestQueue:
    def test_entry_round_trip(self, store):
        """A queued entry is listed with its envelope and locked with its content."""
        _, (path,) = store.commit([], [(entry(), b"Subject: q\r\n\r\nbody\r\n")])
        assert [e.qid for e in store.entries()] == ["Q1"]
        locked = store.lock(path)
        assert locked is not None
        assert locked.content == b"Subject: q\r\n\r\nbody\r\n"
        store.release(locked)

    def test_lock_is_exclusive(self, store):
        """A second lock on a held entry fails until the first is released."""
        _, (path,) = store.commit([], [(entry(), b"x\r\n")])
        first = store.lock(path)
        assert first is not None
        assert store.lock(path) is None
        store.release(first)
        second = store.lock(path)
        assert second is not None
        store.release(second)

    def test_update_and_remove(self, store):
        """State changes replace the file; removal deletes it; a stale lock sees it gone."""
        _, (path,) = store.commit([], [(entry(), b"x\r\n")])
        locked = store.lock(path)
        assert locked is not None
        store.update(locked, locked.entry.model_copy(update={"attempts": 3}))
        assert next(store.entries()).attempts == 3
        store.remove(locked)
        store.release(locked)
        assert list(store.entries()) == []
        assert store.lock(path) is None

    def test_recover_removes_half_written_files_only(self, store):
        """Start-up recovery drops queue tmp files and stale Maildir tmp files, keeps the rest."""
        store.commit([("a@d.test", b"x\n", 4)], [(entry(), b"x\r\n")])
        (store.queue_tmp / "half").write_bytes(b"MAILPLAN")
        tmp = store.maildir("a@d.test") / "tmp"
        (tmp / "old").write_bytes(b"x")
        (tmp / "fresh").write_bytes(b"x")
        os.utime(tmp / "old", (time.time() - 40 * 3600,) * 2)
        removed = store.recover()
        assert removed == {"queue_tmp": 1, "maildir_tmp": 1}
        assert sorted(os.listdir(tmp)) == ["fresh"]
        assert len(list(store.entries())) == 1


def test_dir_syncer_groups_concurrent_syncs(tmp_path):
    """Concurrent callers share directory fsyncs: fewer fsyncs than calls, all return."""
    syncer = DirSyncer(tmp_path)
    barrier = threading.Barrier(8)
    done: list[int] = []

    def worker() -> None:
        for _ in range(10):
            barrier.wait()
            syncer.sync()
        done.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(done) == 8
    assert 1 <= syncer.fsyncs < 80


def test_batch_failure_fails_only_its_group(store):
    """In one batch a group that cannot be written fails alone; the others are delivered."""
    md = store.maildir("c@d.test")
    store.ensure_maildir(md)
    os.rmdir(md / "new")
    (md / "new").write_text("in the way")
    good, _, _ = store.plan([("a@d.test", b"x\n", 4)], [])
    bad, _, _ = store.plan([("c@d.test", b"y\n", 4)], [])
    with ThreadPoolExecutor(4) as pool:
        errors = store.commit_batch([good, bad, good[:0]], pool)
    assert errors[0] is None
    assert isinstance(errors[1], StoreError)
    assert errors[2] is None
    assert len(os.listdir(store.maildir("a@d.test") / "new")) == 1
    assert os.listdir(md / "tmp") == []
