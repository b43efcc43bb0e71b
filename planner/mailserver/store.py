"""The mail store on disk: Maildir delivery and the relay queue, both durable before a 250.

Layout under ``DATA_DIR``::

    mailboxes/<domain>/<local-part>/{tmp,new,cur}/   one Maildir per local user (lower-cased)
    queue/tmp/                                        queue files being written
    queue/entries/<qid>                               complete queue files (one per message)

Every write follows the same discipline (cr.yp.to/proto/maildir.html, RFC 5321 §6.1):
write to ``tmp/`` with ``O_EXCL``, ``fsync`` the file, ``rename`` it into place, ``fsync``
the directory. Only then may the server answer 250. If any file of a message fails,
the copies of it already renamed into place are removed again before the error is
reported, so a 4yz reply leaves no delivered copy (the client keeps responsibility and
retries: RFC 5321 §4.2.5, §6.1). Commits are grouped: a batch of
messages is written first and fsynced after (:meth:`Store.commit_batch`), so one journal
commit covers many files, and each directory is fsynced once per batch; between threads,
:class:`DirSyncer` lets one directory fsync cover every rename made before it started,
while each caller still waits for a sync that started after its own rename.

Maildir file names are ``<sec>.M<usec>P<pid>Q<n>.<host>,S=<bytes on disk>,W=<bytes with
CRLF>``; files hold LF line ends and start with ``Return-Path:`` and ``Received:``. The
part before the first comma (at most 70 characters) is the POP3 UIDL.

A queue file is one JSON line (the envelope and delivery state, see :class:`QueueEntry`)
followed by the message with CRLF line ends. Its presence in ``entries/`` means it is
complete; state changes replace it by rename. A delivery worker holds ``flock`` on the
file while it works on it, so several server processes can share one queue.

All functions here block: call them from a thread, never from the event loop.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import itertools
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict

__all__ = [
    "DirSyncer",
    "LockedEntry",
    "MaildirFile",
    "QueueEntry",
    "QueueRecipient",
    "Store",
    "StoreError",
    "in_folder",
    "maildir_content",
    "new_queue_id",
    "unsafe_local_part",
]

log = logging.getLogger("mailplan.store")

UIDL_MAX = 70
TMP_MAX_AGE_S = 36 * 3600  # qmail's rule for stale files in Maildir tmp/
QUEUE_MAGIC = b"MAILPLAN-QUEUE-1 "
_counter = itertools.count(1)
_id_counter = itertools.count(1)


class StoreError(OSError):
    """A store operation failed; ``errno`` is kept so the server can pick 451 or 452."""

    @classmethod
    def from_os(cls, exc: OSError) -> StoreError:
        """The same errno, text and file name (``[Errno N] text: 'file'`` once, not nested)."""
        if isinstance(exc, StoreError):
            return exc
        code = exc.errno or errno.EIO
        text = exc.strerror or str(exc) or os.strerror(code)
        if exc.filename is None:
            return cls(code, text)
        return cls(code, text, exc.filename)


def _host_for_names() -> str:
    host = socket.gethostname() or "localhost"
    return host.replace("/", "\\057").replace(":", "\\072").replace(",", "\\054")


def new_queue_id() -> str:
    """A queue id unique across processes and time: hex seconds, microseconds, pid, counter."""
    now = time.time()
    sec, usec = int(now), int((now % 1) * 1_000_000)
    return f"{sec:08X}{usec:05X}{os.getpid():X}{next(_id_counter):X}"


JUNK = ".Junk"
"""The Maildir++ folder for mail a DMARC ``p=quarantine`` sends there."""
_FOLDER_RE = re.compile(r"\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")


def in_folder(address: str, folder: str) -> str:
    """A local delivery target for :meth:`Store.plan`: ``address``'s Maildir++ ``folder``
    (``.Junk``), made on first use with its ``maildirfolder`` marker."""
    return f"{folder}/{address}"


def unsafe_local_part(local: str) -> bool:
    """True when a local part cannot be a directory name (``/``, NUL, ``.``, ``..``, empty)."""
    return not local or local in (".", "..") or "/" in local or "\0" in local


def maildir_content(header_lines: Iterable[bytes], message_crlf: bytes) -> tuple[bytes, int]:
    """The file body for Maildir and its size with CRLF line ends (the name's ``W=``).

    ``header_lines`` are prepended (each without final line end, folded with CRLF); the
    message must use CRLF only (the SMTP side has rejected bare CR and LF), so every LF
    on disk stands for one CRLF on the wire.
    """
    head = b"\n".join(header_lines).replace(b"\r\n", b"\n")
    text = head + b"\n" + message_crlf.replace(b"\r\n", b"\n")
    return text, len(text) + text.count(b"\n")


def _fsync_dir(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _load_sync_file_range() -> Callable[[int], None] | None:
    """``sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)`` from libc, or None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int

    def start_writeback(fd: int) -> None:
        fn(fd, 0, 0, 2)  # SYNC_FILE_RANGE_WRITE: start write-back, do not wait

    return start_writeback


_start_writeback = _load_sync_file_range()


def _write_started(path: Path, data: bytes) -> int:
    """Create ``path`` (must not exist), write ``data``, start its write-back; the open fd.

    The caller fsyncs and closes the fd; on failure here the file is removed.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        if _start_writeback is not None:
            _start_writeback(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return fd


class DirSyncer:
    """Group commit of directory fsyncs, shared by every thread of one process.

    :meth:`sync` returns once an fsync of the directory that *started after the call*
    has finished: the first waiter runs it for everyone queued so far (leader/follower),
    waiters that arrive meanwhile get the next round. A failed fsync raises in its leader;
    the others try again in the next round, so nobody is told "durable" by mistake.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cond = threading.Condition()
        self._requested = 0
        self._done = 0
        self._running = False
        self.fsyncs = 0

    def sync(self) -> None:
        """Block until this directory's entries up to now are durable."""
        with self._cond:
            self._requested += 1
            mine = self._requested
            while self._done < mine:
                if self._running:
                    self._cond.wait()
                    continue
                self._running = True
                target = self._requested
                self._cond.release()
                ok = False
                try:
                    _fsync_dir(self.path)
                    ok = True
                finally:
                    self._cond.acquire()
                    self._running = False
                    if ok:
                        self._done = max(self._done, target)
                        self.fsyncs += 1
                    self._cond.notify_all()


class _SyncerRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._syncers: dict[Path, DirSyncer] = {}

    def get(self, path: Path) -> DirSyncer:
        syncer = self._syncers.get(path)
        if syncer is None:
            with self._lock:
                syncer = self._syncers.setdefault(path, DirSyncer(path))
        return syncer


@dataclass(frozen=True)
class MaildirFile:
    """A message written into a Maildir's ``new/``."""

    path: Path
    size_on_disk: int
    size_crlf: int

    @property
    def uidl(self) -> str:
        """The POP3 UIDL: the file name up to the first comma."""
        return self.path.name.split(",", 1)[0]


# region #### queue entries ####


class QueueRecipient(BaseModel):
    """A recipient still to be relayed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    address: str
    last_error: str = ""


class QueueEntry(BaseModel):
    """The envelope and delivery state of one queued message (the queue file's first line)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    qid: str
    sender: str
    """Envelope sender; empty for the null sender ``<>`` (bounces)."""
    recipients: tuple[QueueRecipient, ...]
    created_at_s: float
    """Unix time the message was accepted."""
    attempts: int = 0
    next_attempt_at_s: float = 0.0
    """Unix time of the next delivery attempt."""
    size_bytes: int = 0
    """Message size with CRLF line ends."""
    client: str = ""


@dataclass
class LockedEntry:
    """A queue file held under ``flock`` by this process; release with :meth:`Store.release`."""

    path: Path
    fd: int
    entry: QueueEntry
    content: bytes = field(repr=False)


def encode_queue_file(entry: QueueEntry, content: bytes) -> bytes:
    """The bytes of a queue file: magic, JSON envelope line, message with CRLF."""
    return QUEUE_MAGIC + entry.model_dump_json().encode("utf-8") + b"\n" + content


def decode_queue_head(head: bytes) -> QueueEntry:
    """The entry from a queue file's first line; ValueError when it is not one."""
    if not head.startswith(QUEUE_MAGIC):
        raise ValueError("not a mailplan queue file")
    return QueueEntry.model_validate(json.loads(head[len(QUEUE_MAGIC) :]))


# endregion


@dataclass(frozen=True)
class _Pending:
    tmp: Path
    final: Path
    data: bytes
    new: bool = True
    """A new name (a delivery): taken back if its group fails. False for a file replaced
    in place (queue state), which must never be removed."""


class Store:
    """Maildirs and queue under one data folder; every method blocks (run it in a thread)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.mailboxes = self.data_dir / "mailboxes"
        self.queue_dir = self.data_dir / "queue"
        self.queue_tmp = self.queue_dir / "tmp"
        self.queue_entries = self.queue_dir / "entries"
        self.host = _host_for_names()
        self._known_maildirs: set[Path] = set()
        self._known_lock = threading.Lock()
        self._syncers = _SyncerRegistry()

    # region #### layout ####

    def prepare(self) -> None:
        """Create the top folders (durably) if they are missing."""
        for path in (self.mailboxes, self.queue_tmp, self.queue_entries):
            self._makedirs_durable(path)

    def _makedirs_durable(self, path: Path) -> None:
        """mkdir -p, fsyncing each parent in which a folder was created."""
        missing: list[Path] = []
        p = path
        while not p.exists():
            missing.append(p)
            p = p.parent
        for d in reversed(missing):
            try:
                os.mkdir(d, 0o700)
            except FileExistsError:
                continue
            _fsync_dir(d.parent)

    def maildir(self, address: str) -> Path:
        """The Maildir of a local address: ``mailboxes/<domain>/<local-part>`` (lower-cased);
        for ``.Folder/address`` (:func:`in_folder`) that Maildir++ folder of it."""
        folder, _, address = address.rpartition("/")
        if folder and not _FOLDER_RE.fullmatch(folder):
            raise StoreError(errno.EINVAL, f"not a Maildir++ folder: {folder!r}")
        local, _, domain = address.lower().rpartition("@")
        if unsafe_local_part(local) or unsafe_local_part(domain):
            raise StoreError(errno.EINVAL, f"address cannot name a mailbox: {address!r}")
        maildir = self.mailboxes / domain / local
        return maildir / folder if folder else maildir

    def ensure_maildir(self, maildir: Path) -> None:
        """Create ``tmp``, ``new`` and ``cur`` (durably) the first time a mailbox is used."""
        if maildir in self._known_maildirs:
            return
        for sub in ("tmp", "new", "cur"):
            self._makedirs_durable(maildir / sub)
        if maildir.parent.parent.parent == self.mailboxes:  # a Maildir++ folder
            marker = maildir / "maildirfolder"
            if not marker.exists():
                marker.touch(0o600)
                _fsync_dir(maildir)
        with self._known_lock:
            self._known_maildirs.add(maildir)

    def _unique(self) -> str:
        now = time.time()
        sec, usec = int(now), int((now % 1) * 1_000_000)
        base = f"{sec}.M{usec}P{os.getpid()}Q{next(_counter)}."
        return base + self.host[: max(1, UIDL_MAX - len(base))]

    # endregion

    # region #### durable commit ####

    def _commit(self, pending: list[_Pending]) -> None:
        """Write, fsync, rename and dir-fsync every file; all or raise (tmp files removed)."""
        (error,) = self.commit_batch([pending])
        if error is not None:
            raise error

    def commit_batch(
        self, groups: list[list[_Pending]], fsync_pool: Executor | None = None
    ) -> list[StoreError | None]:
        """Make several independent groups of files durable at once; one result per group.

        Group commit: every file is written and its write-back started
        (``sync_file_range``) before any is fsynced; the fsyncs then run at the same
        time on ``fsync_pool`` so the file system merges them into few journal commits
        (one after the other, each would wait for a commit of its own); each directory
        that got a rename is fsynced once. A failure fails only the groups it touches
        (their tmp files are removed); the others are durable when this returns.
        """
        errors: list[StoreError | None] = [None] * len(groups)
        fds: list[list[int]] = [[] for _ in groups]
        renamed = [0] * len(groups)

        def fail(i: int, exc: OSError) -> None:
            if errors[i] is None:
                errors[i] = StoreError.from_os(exc)

        try:
            for i, group in enumerate(groups):
                for p in group:
                    try:
                        fds[i].append(_write_started(p.tmp, p.data))
                    except OSError as exc:
                        fail(i, exc)
                        break
            jobs = [(i, fd) for i in range(len(groups)) if errors[i] is None for fd in fds[i]]
            if fsync_pool is not None and len(jobs) > 1:
                futures = [(i, fsync_pool.submit(os.fsync, fd)) for i, fd in jobs]
                for i, fut in futures:
                    err = fut.exception()
                    if isinstance(err, OSError):
                        fail(i, err)
                    elif err is not None:
                        raise err
            else:
                for i, fd in jobs:
                    try:
                        os.fsync(fd)
                    except OSError as exc:
                        fail(i, exc)
            for i in range(len(groups)):
                for fd in fds[i]:
                    with contextlib.suppress(OSError):
                        os.close(fd)
                fds[i] = []
            dirs: dict[Path, list[int]] = {}
            for i, group in enumerate(groups):
                if errors[i] is not None:
                    continue
                try:
                    for p in group:
                        os.rename(p.tmp, p.final)
                        renamed[i] += 1
                        dirs.setdefault(p.final.parent, []).append(i)
                except OSError as exc:
                    fail(i, exc)
            for d, users in dirs.items():
                try:
                    self._syncers.get(d).sync()
                except OSError as exc:
                    for i in users:
                        fail(i, exc)
        finally:
            for i, group in enumerate(groups):
                for fd in fds[i]:
                    with contextlib.suppress(OSError):
                        os.close(fd)
                if errors[i] is not None:
                    self._take_back(group[: renamed[i]])
                    for p in group[renamed[i] :]:
                        with contextlib.suppress(OSError):
                            os.unlink(p.tmp)
        return errors

    def _take_back(self, placed: list[_Pending]) -> None:
        """Remove the new files of a failed group that were already renamed into place.

        A copy that cannot be removed (a reader moved it to ``cur/`` meanwhile, say) is
        logged: the client's retry will duplicate it, which RFC 5321 §6.1 prefers to loss.
        """
        dirs: set[Path] = set()
        for p in placed:
            if not p.new:
                continue
            try:
                os.unlink(p.final)
                dirs.add(p.final.parent)
            except OSError as exc:
                log.error("copy left after a failed delivery: %s: %s", p.final, exc)
        for d in dirs:
            try:
                _fsync_dir(d)
            except OSError as exc:
                log.error("removal of a failed delivery's copy not synced: %s: %s", d, exc)

    def plan(
        self, local: list[tuple[str, bytes, int]], queued: list[tuple[str, bytes]]
    ) -> tuple[list[_Pending], list[MaildirFile], list[Path]]:
        """The files a delivery writes: Maildir copies and queue files ``(qid, file bytes)``."""
        pending: list[_Pending] = []
        delivered: list[MaildirFile] = []
        try:
            for address, data, size_crlf in local:
                md = self.maildir(address)
                self.ensure_maildir(md)
                name = f"{self._unique()},S={len(data)},W={size_crlf}"
                pending.append(_Pending(md / "tmp" / name, md / "new" / name, data))
                delivered.append(MaildirFile(md / "new" / name, len(data), size_crlf))
        except OSError as exc:
            raise StoreError.from_os(exc) from exc
        paths: list[Path] = []
        for qid, data in queued:
            if unsafe_local_part(qid):
                raise StoreError(errno.EINVAL, f"bad queue id {qid!r}")
            final = self.queue_entries / qid
            pending.append(_Pending(self.queue_tmp / qid, final, data))
            paths.append(final)
        return pending, delivered, paths

    def commit(
        self, local: list[tuple[str, bytes, int]], queued: list[tuple[QueueEntry, bytes]]
    ) -> tuple[list[MaildirFile], list[Path]]:
        """Deliver ``(address, maildir bytes, CRLF size)`` to Maildirs and write queue entries.

        Returns once every file is durable (file fsync, rename, directory fsync). Raises
        :class:`StoreError` on any failure, after removing the copies already in place.
        """
        raw = [(entry.qid, encode_queue_file(entry, content)) for entry, content in queued]
        pending, delivered, paths = self.plan(local, raw)
        self._commit(pending)
        return delivered, paths

    # endregion

    # region #### queue ####

    def queue_paths(self) -> list[Path]:
        """Every complete queue file, oldest name first."""
        try:
            names = sorted(os.listdir(self.queue_entries))
        except FileNotFoundError:
            return []
        return [self.queue_entries / n for n in names if not n.startswith(".")]

    def read_entry(self, path: Path) -> QueueEntry | None:
        """The envelope of a queue file without its content; None if it is gone or invalid."""
        try:
            with open(path, "rb") as f:
                head = f.readline(1 << 20)
            return decode_queue_head(head)
        except (OSError, ValueError):
            return None

    def entries(self) -> Iterator[QueueEntry]:
        """Every readable queue entry."""
        for path in self.queue_paths():
            entry = self.read_entry(path)
            if entry is not None:
                yield entry

    def lock(self, path: Path) -> LockedEntry | None:
        """Take the queue file for delivery; None if it is gone or another process has it."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            st = os.fstat(fd)
            if st.st_nlink == 0 or os.stat(path).st_ino != st.st_ino:
                os.close(fd)
                return None
            with os.fdopen(os.dup(fd), "rb") as f:
                head = f.readline(1 << 20)
                content = f.read()
            entry = decode_queue_head(head)
        except (OSError, ValueError):
            os.close(fd)
            return None
        return LockedEntry(path, fd, entry, content)

    def update(self, locked: LockedEntry, entry: QueueEntry) -> None:
        """Replace the queue file's state durably (tmp, fsync, rename, dir fsync)."""
        tmp = self.queue_tmp / f"{entry.qid}.{os.getpid()}.{next(_counter)}"
        data = encode_queue_file(entry, locked.content)
        self._commit([_Pending(tmp, locked.path, data, new=False)])
        locked.entry = entry

    def remove(self, locked: LockedEntry) -> None:
        """Delete a queue file that needs no more delivery (durably), and release it
        (one call, so one thread hop, for both)."""
        try:
            os.unlink(locked.path)
        except FileNotFoundError:
            return
        finally:
            self.release(locked)
        self._syncers.get(locked.path.parent).sync()

    @staticmethod
    def release(locked: LockedEntry) -> None:
        """Drop the lock taken by :meth:`lock` (once: the fd is then -1)."""
        fd, locked.fd = locked.fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)

    # endregion

    def recover(self, *, now: float | None = None) -> dict[str, int]:
        """Start-up clean-up (no server process may be running): returns what was removed.

        Deletes queue files left half-written in ``queue/tmp`` (never acknowledged) and
        Maildir ``tmp/`` files older than 36 hours (qmail's rule); complete queue files
        stay and are delivered again.
        """
        now = time.time() if now is None else now
        removed = {"queue_tmp": 0, "maildir_tmp": 0}
        if self.queue_tmp.is_dir():
            for name in os.listdir(self.queue_tmp):
                try:
                    os.unlink(self.queue_tmp / name)
                    removed["queue_tmp"] += 1
                except OSError:
                    pass
        if self.mailboxes.is_dir():
            for tmp in self.mailboxes.glob("*/*/tmp"):
                for name in os.listdir(tmp):
                    path = tmp / name
                    try:
                        if now - path.stat().st_mtime > TMP_MAX_AGE_S:
                            path.unlink()
                            removed["maildir_tmp"] += 1
                    except OSError:
                        pass
        return removed
