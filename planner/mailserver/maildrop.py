"""A user's Maildir as a POP3 maildrop: lock it, list it, stream messages, apply deletions.

What a POP3 session needs from the Maildir store, and nothing else:

- :class:`SessionLock` — one POP3 session per maildrop (RFC 1939 §8, "exclusive-access
  lock"). An ``flock`` on ``<maildir>/mailplan-pop3.lock``: the kernel drops it when the
  holder exits for any reason, so a crashed server never locks a user out (the stale-lock
  rule); the file itself may stay and means nothing without the lock.
- :func:`scan_maildrop` — moves ``new/`` to ``cur/`` (as Maildir readers do) and lists the
  messages *without reading bodies*: the size with CRLF line ends comes from the ``W=``
  field of the file name, or from a size cache (``mailplan-pop3.sizes``) for files delivered
  by other programs; the UIDL is derived from the Maildir unique name, so it is stable across
  sessions, restarts and the new/ -> cur/ rename.
- :class:`MaildropIndex` — listings of unchanged maildrops kept in memory (Dovecot keeps an
  index for the same reason), trusted only while ``new/`` and ``cur/`` keep their mtimes.
- :func:`open_maildrop` — lock and list a maildrop at login.
- :class:`MaildropSession` — one session's locked maildrop: the snapshot and DELE marks, and
  the UPDATE state (RFC 1939 §6) through :func:`apply_deletions`: unlink the marked
  messages, fsync the directories; whatever cannot be removed stays and is reported.
- :class:`Pop3Encoder` and :func:`iter_top` — stored bytes (LF or CRLF line ends) to RFC 1939
  §3 multi-line data: CRLF line ends, byte-stuffed leading dots, ``.`` terminator; chunked,
  so RETR streams a file rather than loading it whole (:func:`retr_chunks`,
  :func:`top_chunks`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hashlib
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "LOCK_FILE",
    "SIZE_CACHE_FILE",
    "DeletionResult",
    "Listing",
    "MaildropIndex",
    "MaildropLocked",
    "MaildropSession",
    "Message",
    "Pop3Encoder",
    "SessionLock",
    "apply_deletions",
    "crlf_size",
    "encode_message",
    "ensure_maildir",
    "iter_top",
    "maildir_path",
    "open_maildrop",
    "parse_maildir_name",
    "retr_chunks",
    "scan_maildrop",
    "top_chunks",
    "uidl_for",
]

LOCK_FILE = "mailplan-pop3.lock"
SIZE_CACHE_FILE = "mailplan-pop3.sizes"
UIDL_MAX_CHARS = 70  # RFC 1939 §7: "1 to 70 characters in the range 0x21 to 0x7E"
_UIDL_RE = re.compile(r"^[\x21-\x7e]{1,70}$")
_W_RE = re.compile(r",W=(\d+)")
READ_BLOCK = 256 * 1024  # bytes read from a message file at a time
WHOLE_READ_LIMIT = 256 * 1024
"""Messages up to this size are read in one go; larger ones are streamed in blocks."""
_MAX_CARRY = 1024 * 1024  # a stored line longer than this is sent in pieces


class MaildropLocked(Exception):
    """Another POP3 session holds the maildrop (RFC 2449 ``[IN-USE]``)."""


# region #### paths and names ####


def maildir_path(data_dir: Path, address: str) -> Path:
    """``DATA_DIR/mailboxes/<domain>/<local-part>`` for a full address (lower-cased)."""
    local, _, domain = address.strip().lower().rpartition("@")
    if not local or not domain or "/" in address or local in {".", ".."} or domain in {".", ".."}:
        raise ValueError(f"address: not a plain user@domain address: {address!r}")
    return Path(data_dir) / "mailboxes" / domain / local


def ensure_maildir(root: Path) -> None:
    """Create ``root/{tmp,new,cur}`` (mode 0700) when missing."""
    for sub in ("tmp", "new", "cur"):
        os.makedirs(root / sub, mode=0o700, exist_ok=True)


def parse_maildir_name(name: str) -> tuple[str, str, int | None]:
    """Split a Maildir file name into (unique name, info, ``W=`` size or None).

    The unique name is everything before ``:`` (``:2,<flags>`` is the info part, Maildir
    spec); ``W=`` is the size with CRLF line ends that Dovecot and mailplan put in the name.
    """
    unique, _, info = name.partition(":")
    match = _W_RE.search(unique)
    return unique, info, int(match.group(1)) if match else None


def uidl_for(unique: str) -> str:
    """The UIDL of a message: its unique name up to the first comma (RFC 1939 §7).

    Names that are too long or hold characters outside 0x21-0x7E (written by other
    programs) get a digest of the whole unique name instead: still derived from the name,
    so still stable.
    """
    base = unique.split(",", 1)[0]
    if _UIDL_RE.match(base):
        return base
    return "H" + hashlib.sha256(unique.encode("utf-8", "surrogateescape")).hexdigest()[:40]


_ORDER_RE = re.compile(r"^(\d+)\.(?:[^.]*?M(\d+))?")


def _delivery_order(name: str) -> tuple[int, int, str]:
    """Seconds, then microseconds (the ``M<usec>`` of the delivery id), then the name."""
    match = _ORDER_RE.match(name)
    if match is None:
        return (0, 0, name)
    return (int(match.group(1)), int(match.group(2) or 0), name)


# endregion

# region #### the session lock ####


class SessionLock:
    """An exclusive, non-blocking ``flock`` on ``<maildir>/mailplan-pop3.lock``.

    Stale-lock rule: the lock lives exactly as long as the process (or the open file) that
    took it, because the kernel releases ``flock`` locks when the holder's file is closed,
    including on a crash or ``SIGKILL``. A lock file left behind by a dead process is
    therefore never an obstacle. Two sessions in one process conflict too (separate opens).
    The file records the holder's pid and start time for a person looking at it.
    """

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock; :class:`MaildropLocked` when another session has it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise MaildropLocked(str(self.path)) from None
            raise
        with contextlib.suppress(OSError):  # fixed width: no truncate (a journal write)
            os.pwrite(fd, f"{os.getpid():>10} {int(time.time()):>12}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (idempotent). The file stays: unlinking it would race a new holder."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor releases the flock

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None


# endregion

# region #### scanning ####


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a maildrop snapshot. ``size_octets`` counts CRLF line ends."""

    uid: str
    path: str
    size_octets: int
    unique: str


def crlf_size(path: str | Path) -> int:
    """The message size with every line end counted as CRLF (RFC 1939 §5 LIST), by reading."""
    total = lf = crlf = 0
    last_cr = False
    with open(path, "rb") as fh:
        while block := fh.read(READ_BLOCK):
            total += len(block)
            lf += block.count(b"\n")
            crlf += block.count(b"\r\n") + (1 if last_cr and block[:1] == b"\n" else 0)
            last_cr = block[-1:] == b"\r"
    return total + lf - crlf


@dataclass
class _SizeCache:
    """``unique disk_size crlf_size`` lines for files whose name has no ``W=``."""

    path: Path
    entries: dict[str, tuple[int, int]] = field(default_factory=dict)
    dirty: bool = False

    @classmethod
    def load(cls, path: Path) -> _SizeCache:
        cache = cls(path)
        try:
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
        except FileNotFoundError:
            return cache
        for line in text.splitlines():
            parts = line.rsplit(" ", 2)
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                cache.entries[parts[0]] = (int(parts[1]), int(parts[2]))
        return cache

    def size(self, unique: str, path: str, disk_size: int) -> int:
        hit = self.entries.get(unique)
        if hit is not None and hit[0] == disk_size:
            return hit[1]
        size = crlf_size(path)
        self.entries[unique] = (disk_size, size)
        self.dirty = True
        return size

    def save(self, keep: Iterable[str]) -> None:
        wanted = set(keep)
        if not self.dirty and wanted >= self.entries.keys():
            return
        lines = [f"{u} {d} {s}\n" for u, (d, s) in self.entries.items() if u in wanted]
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text("".join(lines), encoding="utf-8", errors="surrogateescape")
        os.replace(tmp, self.path)


def _move_new_to_cur(root: Path) -> list[tuple[str, str]]:
    """Rename ``new/X`` to ``cur/X:2,``; returns (name, path) of files that could not move."""
    stuck: list[tuple[str, str]] = []
    new, cur = str(root / "new"), str(root / "cur")
    for name in os.listdir(new):
        if name.startswith("."):
            continue
        target = name if ":" in name else name + ":2,"
        try:
            os.rename(f"{new}/{name}", f"{cur}/{target}")
        except FileNotFoundError:
            continue  # another reader moved it: the cur/ listing will show it
        except OSError:
            stuck.append((name, f"{new}/{name}"))
    return stuck


Stamp = tuple[int, int, int, int]
"""(new/ mtime ns, new/ inode, cur/ mtime ns, cur/ inode): a Maildir listing's version."""


def _stamp(root: Path) -> Stamp:
    new, cur = os.stat(root / "new"), os.stat(root / "cur")
    return (new.st_mtime_ns, new.st_ino, cur.st_mtime_ns, cur.st_ino)


def _scan(root: Path, move_new: bool) -> tuple[Stamp, list[Message]]:
    """The listing and the stamp taken before reading the directories (see MaildropIndex)."""
    if not (root / "cur").is_dir() or not (root / "new").is_dir():
        ensure_maildir(root)
    stuck = _move_new_to_cur(root) if move_new else []
    stamp = _stamp(root)
    found: dict[str, tuple[str, str]] = {}  # unique -> (name, path)
    cur = str(root / "cur")
    for name in os.listdir(cur):
        if not name.startswith("."):
            found.setdefault(name.partition(":")[0], (name, f"{cur}/{name}"))
    if not move_new:
        new = str(root / "new")
        stuck = [(n, f"{new}/{n}") for n in os.listdir(new) if not n.startswith(".")]
    for name, path in stuck:
        found.setdefault(name.partition(":")[0], (name, path))

    cache: _SizeCache | None = None
    messages: list[Message] = []
    uids: set[str] = set()
    for unique in sorted(found, key=_delivery_order):
        name, path = found[unique]
        _, _, size = parse_maildir_name(name)
        if size is None:
            if cache is None:
                cache = _SizeCache.load(root / SIZE_CACHE_FILE)
            try:
                size = cache.size(unique, path, os.stat(path).st_size)
            except FileNotFoundError:
                continue  # removed by someone else while we looked
        uid = uidl_for(unique)
        if uid in uids:  # two names that agree up to the first comma
            uid = "H" + hashlib.sha256(unique.encode("utf-8", "surrogateescape")).hexdigest()[:40]
        uids.add(uid)
        messages.append(Message(uid, path, size, unique))
    if cache is not None:
        cache.save(found)
    return stamp, messages


def scan_maildrop(root: Path, *, move_new: bool = True) -> list[Message]:
    """The messages of a Maildir in delivery order, new/ first moved to cur/.

    Reads no message body when every name carries ``W=``; other files are measured once
    and remembered in the size cache. Each unique name appears once, with a UIDL unique in
    the maildrop. Blocking file-system work: call it from a thread in async code.
    """
    return _scan(Path(root), move_new)[1]


@dataclass(frozen=True)
class Listing:
    """A maildrop's messages in delivery order and their total size (CRLF octets)."""

    messages: tuple[Message, ...]
    octets: int

    @classmethod
    def of(cls, messages: Iterable[Message]) -> Listing:
        items = tuple(messages)
        return cls(items, sum(m.size_octets for m in items))


class MaildropIndex:
    """Listings of maildrops that have not changed since they were read, per process.

    Dovecot keeps an index so that a login does not list the Maildir again; this is the
    same idea, kept in memory. A listing is reused while the ``new/`` and ``cur/``
    directories keep the mtime and inode they had when it was read, and only if they had
    then been unchanged for ``settle_s`` seconds: a directory changed twice within one
    clock tick keeps its mtime, so a listing read right after a change is never trusted
    (the "racy timestamp" rule). Any delivery, move or deletion changes the mtime, so a
    reused listing is exactly what a new scan would give. At most ``budget_messages``
    messages are kept, least recently used maildrops dropped first.
    """

    def __init__(self, *, budget_messages: int = 200_000, settle_s: float = 2.0) -> None:
        self.budget_messages = budget_messages
        self.settle_ns = int(settle_s * 1e9)
        self._entries: OrderedDict[Path, tuple[Stamp, Listing]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def lookup(self, root: Path) -> Listing | None:
        """The listing of an unchanged maildrop (moves no file), or None: scan it."""
        with self._lock:
            entry = self._entries.get(root)
        if entry is None:
            return None
        try:
            if _stamp(root) != entry[0]:
                return None
        except OSError:
            return None
        with self._lock:
            if root in self._entries:
                self._entries.move_to_end(root)
        return entry[1]

    def scan(self, root: Path) -> Listing:
        """Scan (moving new/ to cur/) and remember the listing if it may be reused."""
        stamp, found = _scan(root, True)
        listing = Listing.of(found)
        now = time.time_ns()
        settled = now - max(stamp[0], stamp[2]) >= self.settle_ns
        with self._lock:
            old = self._entries.pop(root, None)
            if old is not None:
                self._size -= len(old[1].messages)
            if settled and len(listing.messages) <= self.budget_messages:
                self._entries[root] = (stamp, listing)
                self._size += len(listing.messages)
                while self._size > self.budget_messages:
                    _, (_, dropped) = self._entries.popitem(last=False)
                    self._size -= len(dropped.messages)
        return listing


def resolve_path(root: Path, message: Message) -> str | None:
    """The current path of ``message`` (its flags may have changed), or None when gone."""
    if os.path.exists(message.path):
        return message.path
    for sub in ("cur", "new"):
        with os.scandir(root / sub) as it:
            for entry in it:
                if entry.name.partition(":")[0] == message.unique:
                    return entry.path
    return None


# endregion

# region #### RFC 1939 multi-line encoding ####


_DOT_AFTER_LF = re.compile(rb"\n\.")
_CRLF = re.compile(rb"\r\n")


def _encode_block(block: bytes, at_line_start: bool) -> bytes:
    """CRLF line ends and byte-stuffed dots for ``block`` (which ends at a line end or not).

    (Compiled patterns: ``re.sub`` finds a two-byte needle about three times faster than
    ``bytes.replace`` does here.)
    """
    if b"\r" in block:
        block = _CRLF.sub(b"\n", block)
    block = _DOT_AFTER_LF.sub(b"\n..", block)
    if at_line_start and block[:1] == b".":
        block = b"." + block
    return block.replace(b"\n", b"\r\n")


class Pop3Encoder:
    """Stored message bytes in, RFC 1939 §3 multi-line data out, chunk by chunk.

    Line ends become CRLF (bare LF and CRLF both), a line starting with ``.`` gets one more
    ``.`` in front, and :meth:`finish` adds the ``.CRLF`` terminator (after a CRLF if the
    message does not end with a line end). Chunks may split lines anywhere.
    """

    __slots__ = ("_at_line_start", "_carry")

    def __init__(self) -> None:
        self._carry = b""
        self._at_line_start = True

    def feed(self, chunk: bytes) -> bytes:
        """Encode what can be encoded so far; keeps an unfinished last line back."""
        data = self._carry + chunk if self._carry else chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            if len(data) <= _MAX_CARRY:
                self._carry = data
                return b""
            # a giant line: send it in pieces, keeping a trailing CR for its LF
            out = _encode_block(data[:-1], self._at_line_start)
            self._carry, self._at_line_start = data[-1:], False
            return out
        out = _encode_block(data[:cut], self._at_line_start)
        self._carry, self._at_line_start = data[cut:], True
        return out

    def finish(self) -> bytes:
        """The rest of the message and the terminating ``.CRLF``."""
        out = b""
        if self._carry:
            out = _encode_block(self._carry, self._at_line_start) + b"\r\n"
            self._carry = b""
        self._at_line_start = True
        return out + b".\r\n"


def encode_message(data: bytes) -> bytes:
    """A whole stored message as RFC 1939 multi-line data, terminator included."""
    enc = Pop3Encoder()
    return enc.feed(data) + enc.finish()


def iter_top(fh: BinaryIO, body_lines: int) -> Iterator[bytes]:
    """The header, the blank line and the first ``body_lines`` body lines (RFC 1939 §7 TOP).

    Yields stored bytes (not yet encoded), reading no further than needed.
    """
    in_headers, remaining, at_start = True, body_lines, True
    while True:
        piece = fh.readline(READ_BLOCK)
        if not piece:
            return
        complete = piece[-1:] == b"\n"
        if in_headers:
            if at_start and piece in (b"\n", b"\r\n"):
                in_headers = False
            yield piece
        else:
            if remaining <= 0:
                return
            yield piece
            if complete:
                remaining -= 1
        at_start = complete


async def retr_chunks(fd: int, size_octets: int) -> AsyncGenerator[bytes, None]:
    """The message open at ``fd`` as RFC 1939 multi-line data (CRLF line ends, stuffed
    dots, the final ``.`` line), in pieces to send as they come; ``fd`` stays open.

    A message up to :data:`WHOLE_READ_LIMIT` is one read on the event loop and one piece;
    a larger one is read in :data:`READ_BLOCK` blocks in a thread. ``size_octets`` (the
    ``W=`` size) is at least the stored size, and a read of a regular file returns all it
    asked for unless it hit the end, so a short first read means the whole message is in.
    """
    want = min(size_octets, WHOLE_READ_LIMIT) + 1
    data = os.read(fd, want)
    if len(data) < want:
        yield encode_message(data)
        return
    encoder = Pop3Encoder()
    yield encoder.feed(data)
    loop = asyncio.get_running_loop()
    while block := await loop.run_in_executor(None, os.read, fd, READ_BLOCK):
        yield encoder.feed(block)
    yield encoder.finish()


async def top_chunks(fd: int, body_lines: int) -> AsyncGenerator[bytes, None]:
    """TOP's answer (:func:`iter_top`: header, blank line, ``body_lines`` lines) as
    multi-line data, in pieces of about :data:`READ_BLOCK`; ``fd`` stays open."""
    with open(fd, "rb", closefd=False) as fh:
        encoder = Pop3Encoder()
        pending = bytearray()
        for piece in iter_top(fh, body_lines):
            pending += piece
            if len(pending) >= READ_BLOCK:
                yield encoder.feed(bytes(pending))
                pending.clear()
        yield encoder.feed(bytes(pending)) + encoder.finish()


# endregion

# region #### UPDATE state ####


@dataclass(frozen=True)
class DeletionResult:
    """What :func:`apply_deletions` did: uids removed (or already gone) and uids left in place."""

    removed: tuple[str, ...]
    failed: tuple[str, ...]


def apply_deletions(root: Path, messages: Iterable[Message]) -> DeletionResult:
    """Unlink each message, then fsync ``cur/`` and ``new/`` (RFC 1939 §6 UPDATE state).

    A message already gone counts as removed; one that cannot be removed (permissions, I/O
    error) stays in the maildrop and is listed in ``failed``. Blocking: call from a thread.
    """
    removed: list[str] = []
    failed: list[str] = []
    for msg in messages:
        try:
            path = resolve_path(root, msg)
            if path is not None:
                os.unlink(path)
        except OSError:
            failed.append(msg.uid)
        else:
            removed.append(msg.uid)
    for sub in ("cur", "new"):
        try:
            fd = os.open(root / sub, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
    return DeletionResult(tuple(removed), tuple(failed))


# endregion


# region #### a POP3 session's hold on a maildrop ####


class MaildropSession:
    """One POP3 session's maildrop: the lock, a fixed snapshot and the DELE marks.

    RFC 1939: message numbers stay fixed for the session; a marked message is hidden but
    stays on disk until :meth:`update` (the UPDATE state, after QUIT); :meth:`release`
    drops the lock, and a session that ends any other way leaves every message in place.
    """

    def __init__(self, root: Path, lock: SessionLock, listing: Listing) -> None:
        self.root = root
        self.lock = lock
        self.messages = list(listing.messages)
        self.marked: set[int] = set()  # 0-based indexes
        self.count = len(self.messages)  # messages not marked
        self.octets = listing.octets  # their size

    def visible(self) -> Iterator[tuple[int, Message]]:
        """(message number, message) of every message not marked deleted."""
        marked = self.marked
        return ((i + 1, m) for i, m in enumerate(self.messages) if i not in marked)

    def mark(self, index: int) -> None:
        """DELE: hide the message; it goes at :meth:`update`."""
        if index not in self.marked:
            self.marked.add(index)
            self.count -= 1
            self.octets -= self.messages[index].size_octets

    def unmark_all(self) -> None:
        """RSET: every message visible again."""
        self.marked.clear()
        self.count = len(self.messages)
        self.octets = sum(m.size_octets for m in self.messages)

    def open_message(self, index: int) -> int | None:
        """A read-only descriptor of a message, following a flag rename by another reader;
        None when the message is gone."""
        msg = self.messages[index]
        try:
            return os.open(msg.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            path = resolve_path(self.root, msg)
            if path is None:
                return None
            self.messages[index] = Message(msg.uid, path, msg.size_octets, msg.unique)
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)

    def update(self) -> DeletionResult:
        """The UPDATE state: remove the marked messages (blocking: call from a thread)."""
        return apply_deletions(self.root, [self.messages[i] for i in sorted(self.marked)])

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        self.lock.release()


async def open_maildrop(root: Path, index: MaildropIndex) -> MaildropSession:
    """Lock the maildrop at ``root`` and take its snapshot: a POP3 login's TRANSACTION state.

    The common case (a known, unchanged maildrop) stays on the event loop: an ``flock``
    and two ``stat`` calls, the listing coming from ``index``. Creating the Maildir of a
    user who never got mail and scanning a changed one run in a thread. Raises
    :class:`MaildropLocked` when another session holds it, OSError when it cannot be
    opened; the lock is never kept when this fails.
    """
    lock = SessionLock(root)
    try:
        lock.acquire()
    except FileNotFoundError:  # a user who never got mail: no Maildir yet
        await asyncio.to_thread(ensure_maildir, root)
        lock.acquire()
    try:
        listing = index.lookup(root)
        if listing is None:
            listing = await asyncio.to_thread(index.scan, root)
    except BaseException:
        lock.release()
        raise
    return MaildropSession(root, lock, listing)


# endregion
