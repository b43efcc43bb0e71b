"""A user's Maildir as IMAP folders: UIDs, flags in file names, Maildir++ folders.

Layout, as Dovecot and Courier keep it (Maildir++)::

    <maildir>/{tmp,new,cur}/                 INBOX
    <maildir>/.Sent/{tmp,new,cur}/           the folder "Sent" (".Archive.2024": "Archive.2024")
    <maildir>/<folder>/mailplan-imap.uids    UIDVALIDITY, next UID, "uid unique-name" lines
    <maildir>/<folder>/mailplan-imap.lock    flock taken while the UID list is read and written
    <maildir>/subscriptions                  subscribed folder names, one a line

- **Flags** live in the file name's info, ``<unique>:2,<letters>`` (Maildir spec):
  ``D`` \\Draft, ``F`` \\Flagged, ``P`` $Forwarded, ``R`` \\Answered, ``S`` \\Seen,
  ``T`` \\Deleted. A flag change is one ``rename`` in ``cur/``.
- **UIDs.** :func:`sync_folder` lists ``new/`` and ``cur/`` (moving ``new/`` to ``cur/``
  unless read-only, as every Maildir reader does), gives each unique name it has not seen
  the next UID, forgets names whose file is gone, and writes the list by temp file and
  ``rename``, under an ``flock`` on the folder's lock file: every session of every worker
  process does the same under the same lock, so all agree on every message's UID. The UID
  list is rewritten only when it changes. UIDVALIDITY is the time the list was made.
- **POP3 beside IMAP.** POP3 holds its own maildrop lock (``mailplan-pop3.lock``), not this
  one; it reads files by unique name and follows flag renames. A message POP3 deletes at
  QUIT is gone from the directory, so IMAP announces it as expunged at its next NOOP or
  IDLE check; a message IMAP expunges while a POP3 session holds its snapshot answers
  that session's RETR with "removed by another program". Neither ever shows the other's
  deleted message again, and neither deletes a message the other did not mark.

Every function here blocks: the session calls them in a thread.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from planner.mailserver.imap_parse import SEPARATOR
from planner.mailserver.maildrop import _delivery_order, crlf_size, parse_maildir_name
from planner.mailserver.store import _fsync_dir, _host_for_names

__all__ = [
    "FLAG_LETTERS",
    "SPECIAL_USE",
    "FolderSnapshot",
    "Keywords",
    "MessageInfo",
    "Store",
    "TooManyKeywords",
    "add_keywords",
    "read_keywords",
    "sync_folder",
]

UID_FILE = "mailplan-imap.uids"
UID_LOCK = "mailplan-imap.lock"
SUBSCRIPTIONS = "subscriptions"
KEYWORDS_FILE = "dovecot-keywords"

FLAG_LETTERS = {
    "\\Draft": "D",
    "\\Flagged": "F",
    "\\Answered": "R",
    "\\Seen": "S",
    "\\Deleted": "T",
}
"""The system flags and their Maildir info letters (as Dovecot, Courier, mutt and isync)."""
_LETTER_FLAGS = {v: k for k, v in FLAG_LETTERS.items()}
_FLAG_BY_UPPER = {k.upper(): k for k in FLAG_LETTERS}
FORWARDED = "$Forwarded"
PASSED = "P"
"""The Maildir spec's "passed" letter (mutt's and isync's ``$Forwarded``): read as
``$Forwarded`` and cleared with it; a new ``$Forwarded`` is a keyword, as Dovecot keeps it."""

KEYWORD_LETTERS = "abcdefghijklmnopqrstuvwxyz"
MAX_KEYWORDS = len(KEYWORD_LETTERS)
"""Keywords one folder can keep (Dovecot's Maildir limit: one lowercase letter each)."""
MAX_KEYWORD_LENGTH = 128
"""Characters in a keyword name."""
_KEYWORD_RE = re.compile(r"[!#$&'+,\-./0-9:;<=>?@A-Z\[^_`a-z|}~]{1,128}")

SPECIAL_USE = {
    "Sent": "\\Sent",
    "Drafts": "\\Drafts",
    "Trash": "\\Trash",
    "Junk": "\\Junk",
    "Archive": "\\Archive",
}
"""Folders made at the first login, and their RFC 6154 attribute."""

_counter = itertools.count(1)
_HOST = _host_for_names()


class TooManyKeywords(Exception):
    """A folder has no keyword letter left (:data:`MAX_KEYWORDS`)."""


def is_keyword(flag: str) -> bool:
    """True when ``flag`` is a valid keyword name (an atom, no backslash, not too long)."""
    return _KEYWORD_RE.fullmatch(flag) is not None


def canonical_flag(flag: str) -> str | None:
    """The system flag's spelling (``\\seen``: ``\\Seen``), else None."""
    return _FLAG_BY_UPPER.get(flag.upper())


@dataclass(frozen=True)
class Keywords:
    """A folder's keywords: the name of each lowercase info letter, as Dovecot keeps them
    in the folder's ``dovecot-keywords`` (``<index> <name>`` lines; ``a`` is index 0).
    Names compare without case, as in Dovecot."""

    names: tuple[str | None, ...] = (None,) * MAX_KEYWORDS

    def letter(self, name: str) -> str | None:
        """The letter of a keyword (any case), or None."""
        folded = name.casefold()
        for i, known in enumerate(self.names):
            if known is not None and known.casefold() == folded:
                return KEYWORD_LETTERS[i]
        return None

    def defined(self) -> list[str]:
        """The keyword names, in letter order."""
        return [n for n in self.names if n is not None]

    @property
    def full(self) -> bool:
        """True when no letter is free (PERMANENTFLAGS then has no ``\\*``)."""
        return all(n is not None for n in self.names)

    def flags(self, letters: str) -> list[str]:
        """The IMAP flags of info letters: system flags, ``P`` as ``$Forwarded``,
        keywords (a letter with no name, or a repeat, is skipped)."""
        out: list[str] = []
        for c in letters:
            if c in _LETTER_FLAGS:
                flag: str | None = _LETTER_FLAGS[c]
            elif c == PASSED:
                flag = FORWARDED
            elif "a" <= c <= "z":
                flag = self.names[ord(c) - 97]
            else:
                flag = None
            if flag is not None and flag not in out:
                out.append(flag)
        return out

    def letters(self, flags: Iterable[str], *, clearing: bool = False) -> str:
        """The info letters of ``flags`` this folder can show (unknown keywords are
        dropped); ``clearing`` adds ``P`` for ``$Forwarded``, so -FLAGS clears both."""
        out = set()
        for flag in flags:
            system = canonical_flag(flag)
            if system is not None:
                out.add(FLAG_LETTERS[system])
                continue
            letter = self.letter(flag)
            if letter is not None:
                out.add(letter)
            if clearing and flag.casefold() == FORWARDED.casefold():
                out.add(PASSED)
        return "".join(sorted(out))

    def missing(self, flags: Iterable[str]) -> list[str]:
        """The keywords among ``flags`` that have no letter yet (first spelling kept)."""
        out: list[str] = []
        for flag in flags:
            if flag.startswith("\\") or self.letter(flag) is not None:
                continue
            if flag.casefold() not in {m.casefold() for m in out}:
                out.append(flag)
        return out


def read_keywords(folder: Path) -> Keywords:
    """A folder's ``dovecot-keywords`` (none when the file is missing or unreadable)."""
    try:
        text = (folder / KEYWORDS_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return Keywords()
    names: list[str | None] = [None] * MAX_KEYWORDS
    for line in text.splitlines():
        index, _, name = line.partition(" ")
        if index.isdigit() and int(index) < MAX_KEYWORDS and is_keyword(name):
            names[int(index)] = name
    return Keywords(tuple(names))


def add_keywords(folder: Path, flags: Iterable[str]) -> Keywords:
    """Give each new keyword among ``flags`` a free letter, under the folder lock, and
    rewrite ``dovecot-keywords`` (temp file, rename); the folder's keywords after.
    TooManyKeywords (nothing written) when they do not all fit."""
    flags = list(flags)
    current = read_keywords(folder)
    if not current.missing(flags):
        return current
    with folder_lock(folder):
        current = read_keywords(folder)
        missing = current.missing(flags)
        names = list(current.names)
        free = [i for i, n in enumerate(names) if n is None]
        if len(missing) > len(free):
            raise TooManyKeywords(len(missing), len(free))
        for i, name in zip(free, missing, strict=False):
            names[i] = name
        path = folder / KEYWORDS_FILE
        tmp = path.with_name(f".{KEYWORDS_FILE}.{os.getpid()}.{next(_counter)}.tmp")
        tmp.write_text(
            "".join(f"{i} {n}\n" for i, n in enumerate(names) if n is not None),
            encoding="utf-8",
        )
        os.replace(tmp, path)
        return Keywords(tuple(names))


def translate_letters(letters: str, source: Keywords, target: Keywords) -> str:
    """One folder's info letters as another's (keywords by name; a keyword the target
    lacks is dropped: :func:`add_keywords` it there first)."""
    system = {c for c in letters if not ("a" <= c <= "z")}
    names = [source.names[ord(c) - 97] for c in letters if "a" <= c <= "z"]
    return "".join(sorted(system | set(target.letters(n for n in names if n))))


def new_unique(size_disk: int, size_crlf: int) -> str:
    """A Maildir unique name in the store's format (``<sec>.M<usec>P<pid>Q<n>.<host>,S=,W=``)."""
    now = time.time()
    sec, usec = int(now), int((now % 1) * 1_000_000)
    base = f"{sec}.M{usec}P{os.getpid()}I{next(_counter)}."
    return f"{base}{_HOST[: max(1, 70 - len(base))]},S={size_disk},W={size_crlf}"


@dataclass(slots=True)
class MessageInfo:
    """One message of a folder snapshot."""

    uid: int
    unique: str
    letters: str
    """Maildir flag letters, sorted."""
    path: str
    size: int = -1
    """Octets with CRLF line ends; -1 until known (:func:`size_of`)."""


@dataclass
class FolderSnapshot:
    """A folder as :func:`sync_folder` found it: UIDVALIDITY, next UID, messages by UID."""

    path: Path
    uidvalidity: int
    uidnext: int
    messages: list[MessageInfo]
    recent: set[str] = field(default_factory=set)
    """Unique names this sync moved from ``new/`` (the session's \\Recent)."""
    keywords: Keywords = field(default_factory=lambda: Keywords())
    """The folder's keyword letters."""


def _read_uids(path: Path) -> tuple[int, int, dict[str, int]]:
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return 0, 1, {}
    lines = text.splitlines()
    if not lines:
        return 0, 1, {}
    head = lines[0].split()
    try:
        validity = int(head[1][1:]) if len(head) > 1 and head[1][:1] == "V" else 0
        nextuid = int(head[2][1:]) if len(head) > 2 and head[2][:1] == "N" else 1
    except ValueError:
        return 0, 1, {}
    uids: dict[str, int] = {}
    for line in lines[1:]:
        uid, _, unique = line.partition(" ")
        if uid.isdigit() and unique:
            uids[unique] = int(uid)
    return validity, nextuid, uids


def _write_uids(path: Path, validity: int, nextuid: int, uids: dict[str, int]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    body = "".join(f"{u} {n}\n" for n, u in sorted(uids.items(), key=lambda kv: kv[1]))
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as fh:
        fh.write(f"3 V{validity} N{nextuid}\n{body}")
    os.replace(tmp, path)


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """The folder's UID-list lock (blocking ``flock``; the kernel drops it on a crash)."""
    fd = os.open(folder / UID_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _ensure(folder: Path) -> None:
    for sub in ("tmp", "new", "cur"):
        os.makedirs(folder / sub, mode=0o700, exist_ok=True)


def sync_folder(folder: Path, *, move_new: bool = True) -> FolderSnapshot:
    """List a folder and bring its UID list up to date (under the folder lock)."""
    if not (folder / "cur").is_dir():
        if not folder.is_dir():
            raise FileNotFoundError(errno.ENOENT, "no such folder", str(folder))
        _ensure(folder)
    with folder_lock(folder):
        recent: set[str] = set()
        found: dict[str, tuple[str, str]] = {}  # unique -> (letters, path)
        new_dir, cur_dir = str(folder / "new"), str(folder / "cur")
        for name in os.listdir(new_dir):
            if name.startswith("."):
                continue
            unique = name.partition(":")[0]
            if move_new:
                try:
                    os.rename(f"{new_dir}/{name}", f"{cur_dir}/{unique}:2,")
                except OSError:
                    found[unique] = ("", f"{new_dir}/{name}")
                    continue
                recent.add(unique)
            else:
                found[unique] = ("", f"{new_dir}/{name}")
        for name in os.listdir(cur_dir):
            if name.startswith("."):
                continue
            unique, _, info = name.partition(":")
            letters = "".join(sorted(set(info[2:]))) if info.startswith("2,") else ""
            found[unique] = (letters, f"{cur_dir}/{name}")
        uid_path = folder / UID_FILE
        validity, nextuid, uids = _read_uids(uid_path)
        changed = validity == 0
        if validity == 0:
            validity, nextuid, uids = int(time.time()), 1, {}
        for unique in [u for u in uids if u not in found]:
            del uids[unique]
            changed = True
        for unique in sorted((u for u in found if u not in uids), key=_delivery_order):
            uids[unique] = nextuid
            nextuid += 1
            changed = True
        if changed:
            _write_uids(uid_path, validity, nextuid, uids)
    messages = [MessageInfo(uids[u], u, letters, path) for u, (letters, path) in found.items()]
    messages.sort(key=lambda m: m.uid)
    return FolderSnapshot(folder, validity, nextuid, messages, recent, read_keywords(folder))


def size_of(msg: MessageInfo) -> int:
    """The message's size with CRLF line ends: the name's ``W=``, else measured once."""
    if msg.size < 0:
        _, _, w = parse_maildir_name(msg.unique)
        msg.size = w if w is not None else crlf_size(msg.path)
    return msg.size


def resolve(folder: Path, msg: MessageInfo) -> str | None:
    """The message's current path (another session may have renamed it), or None."""
    if os.path.exists(msg.path):
        return msg.path
    for sub in ("cur", "new"):
        with os.scandir(folder / sub) as it:
            for entry in it:
                if entry.name.partition(":")[0] == msg.unique:
                    msg.path = entry.path
                    info = entry.name.partition(":")[2]
                    msg.letters = "".join(sorted(set(info[2:]))) if info.startswith("2,") else ""
                    return entry.path
    return None


def set_letters(folder: Path, msg: MessageInfo, letters: str) -> bool:
    """Rename the message to carry exactly ``letters``; False when it is gone."""
    letters = "".join(sorted(set(letters)))
    for _ in range(3):
        if msg.letters == letters and "/cur/" in msg.path:
            return True
        target = f"{folder}/cur/{msg.unique}:2,{letters}"
        try:
            os.rename(msg.path, target)
        except FileNotFoundError:
            if resolve(folder, msg) is None:
                return False
            continue
        msg.path, msg.letters = target, letters
        return True
    return False


def fsync_dir(path: Path) -> None:
    """fsync a directory (errors ignored: the rename is done either way)."""
    with contextlib.suppress(OSError):
        _fsync_dir(path)


def lf_content(message: bytes) -> tuple[bytes, int]:
    """Message text as stored (LF line ends) and its size with CRLF line ends."""
    text = message.replace(b"\r\n", b"\n")
    return text, len(text) + text.count(b"\n")


def add_message(folder: Path, message: bytes, letters: str, mtime: float | None) -> str:
    """Store a message in ``cur/`` durably (tmp, fsync, rename, dir fsync); its unique name."""
    _ensure(folder)
    text, size_crlf = lf_content(message)
    unique = new_unique(len(text), size_crlf)
    tmp = folder / "tmp" / unique
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(text)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    if mtime is not None:
        os.utime(tmp, (mtime, mtime))
    os.rename(tmp, folder / "cur" / f"{unique}:2,{letters}")
    fsync_dir(folder / "cur")
    return unique


def copy_message(
    src: MessageInfo, src_folder: Path, folder: Path, letters: str | None = None
) -> str | None:
    """A copy of ``src`` (same date; same flags, or ``letters``: the target folder's
    letters of its keywords) in ``folder``; its unique name, or None when the source is
    gone. A hard link when possible (same file system)."""
    path = resolve(src_folder, src)
    if path is None:
        return None
    _ensure(folder)
    _, _, w = parse_maildir_name(src.unique)
    disk = os.stat(path).st_size
    unique = new_unique(disk, w if w is not None else size_of(src))
    info = src.letters if letters is None else letters
    target = folder / "cur" / f"{unique}:2,{info}"
    try:
        os.link(path, target)
    except FileNotFoundError:
        return None
    except OSError:
        tmp = folder / "tmp" / unique
        shutil.copy2(path, tmp)
        os.rename(tmp, target)
    fsync_dir(folder / "cur")
    return unique


def remove_messages(folder: Path, messages: Iterable[MessageInfo]) -> None:
    """Unlink messages (already gone is fine), then fsync ``cur/``."""
    for msg in messages:
        path = resolve(folder, msg)
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    fsync_dir(folder / "cur")


# region #### folders ####


class Store:
    """The folders of one user's Maildir (Maildir++ layout)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder_path(self, name: str) -> Path:
        """The directory of a canonical mailbox name (:func:`check_mailbox_name`)."""
        if name == "INBOX":
            return self.root
        return self.root / f".{name}"

    def exists(self, name: str) -> bool:
        """True when the folder exists."""
        return (self.folder_path(name) / "cur").is_dir()

    def prepare(self) -> None:
        """INBOX and the special-use folders (first login), subscribed."""
        _ensure(self.root)
        made = False
        for name in SPECIAL_USE:
            path = self.folder_path(name)
            if not path.is_dir():
                with contextlib.suppress(FileExistsError):  # another worker's first login
                    self.create(name)
                _ensure(path)
                made = True
        if made:
            subs = self.subscriptions()
            self.set_subscriptions(subs | {"INBOX", *SPECIAL_USE})

    def folders(self) -> list[str]:
        """Every folder name, INBOX first."""
        names = ["INBOX"]
        with os.scandir(self.root) as it:
            for entry in it:
                name = entry.name
                if (
                    name.startswith(".")
                    and "\\" not in name
                    and entry.is_dir()
                    and os.path.isdir(os.path.join(entry.path, "cur"))
                ):
                    names.append(name[1:])
        return names[:1] + sorted(names[1:])

    def create(self, name: str) -> None:
        """Create a folder (FileExistsError when it exists)."""
        path = self.folder_path(name)
        os.mkdir(path, 0o700)
        _ensure(path)
        (path / "maildirfolder").touch()
        fsync_dir(self.root)

    def delete(self, name: str) -> None:
        """Remove a folder and its messages (not its sub-folders, which are separate)."""
        path = self.folder_path(name)
        if not (path / "cur").is_dir():
            raise FileNotFoundError(errno.ENOENT, "no such folder", name)
        # a name no mailbox can have (check_mailbox_name refuses "\\"), so never listed
        trash = self.root / f".\\deleted.{os.getpid()}.{next(_counter)}"
        os.rename(path, trash)  # one step: no session sees a half-deleted folder
        shutil.rmtree(trash, ignore_errors=True)
        fsync_dir(self.root)

    def rename(self, old: str, new: str) -> None:
        """Rename a folder and its sub-folders."""
        if not self.exists(old):
            raise FileNotFoundError(errno.ENOENT, "no such folder", old)
        if self.folder_path(new).exists():
            raise FileExistsError(errno.EEXIST, "folder exists", new)
        children = [n for n in self.folders() if n.startswith(old + SEPARATOR)]
        os.rename(self.folder_path(old), self.folder_path(new))
        for child in children:
            os.rename(self.folder_path(child), self.folder_path(new + child[len(old) :]))
        fsync_dir(self.root)

    def rename_inbox(self, new: str) -> int:
        """RFC 3501 §6.3.5's RENAME of INBOX: make ``new`` and move every INBOX message
        into it (``new/`` to ``new/``, ``cur/`` to ``cur/``, names kept); INBOX stays,
        empty, and its sub-folders stay where they are. FileExistsError when ``new``
        exists. The number of messages moved.

        The folder is made first, then the files are moved one ``rename`` each: a crash
        half-way leaves some messages in each folder, none lost. A delivery during the
        move lands in INBOX or in ``new``. The folder's keyword file goes with the
        messages (its letters are theirs)."""
        target = self.folder_path(new)
        self.create(new)
        moved = 0
        for sub in ("new", "cur"):
            for name in os.listdir(self.root / sub):
                if name.startswith("."):
                    continue
                with contextlib.suppress(FileNotFoundError):  # expunged meanwhile
                    os.rename(self.root / sub / name, target / sub / name)
                    moved += 1
        keywords = self.root / KEYWORDS_FILE
        if keywords.exists():
            shutil.copy2(keywords, target / KEYWORDS_FILE)
        fsync_dir(target / "new")
        fsync_dir(target / "cur")
        fsync_dir(self.root / "cur")
        return moved

    def subscriptions(self) -> set[str]:
        """Subscribed folder names."""
        try:
            text = (self.root / SUBSCRIPTIONS).read_text(encoding="utf-8")
        except FileNotFoundError:
            return set()
        return {line for line in text.splitlines() if line}

    def set_subscriptions(self, names: set[str]) -> None:
        """Replace the subscriptions (temp file and rename)."""
        path = self.root / SUBSCRIPTIONS
        tmp = path.with_name(f".{SUBSCRIPTIONS}.{os.getpid()}.{next(_counter)}.tmp")
        tmp.write_text("".join(f"{n}\n" for n in sorted(names)), encoding="utf-8")
        os.replace(tmp, path)


def stamp(folder: Path) -> tuple[int, int]:
    """(new/ mtime ns, cur/ mtime ns): changes with any delivery, flag change or removal."""
    return (os.stat(folder / "new").st_mtime_ns, os.stat(folder / "cur").st_mtime_ns)


# endregion
