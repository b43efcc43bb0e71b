"""Folder change notices for IMAP IDLE: Linux inotify on a folder's ``new/`` and ``cur/``
(and on a Maildir++ sub-folder itself, which RENAME or DELETE can move away).

A delivery is a rename into ``new/`` (or a hard link), a flag change a rename in ``cur/``,
an expunge an unlink: whichever process makes it (an SMTP worker, the store process, a
POP3 or IMAP session of another worker), the kernel tells every watcher at once. One
inotify descriptor per event loop (:func:`watcher_for`) serves every IDLE session of the
process; sessions on the same folder share its watches (counted). A session waits on an
:class:`asyncio.Event` that the descriptor's reader sets; nothing runs while nothing
changes.

inotify is called through ``ctypes`` (libc's ``inotify_init1``, ``inotify_add_watch``,
``inotify_rm_watch``), no package needed. Where it is missing (not Linux, a watch limit
reached: ``fs.inotify.max_user_watches``/``max_user_instances``), or turned off with
``MAILPLAN_IMAP_INOTIFY=0`` (a Maildir on a network file system that other hosts write:
inotify sees only this host's changes), :meth:`FolderWatcher.watch` returns None and the
session falls back to looking at the folder's mtimes
(:data:`~planner.mailserver.imap_protocol.IDLE_POLL_S`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import struct
import sys
from pathlib import Path

__all__ = ["FolderWatcher", "Watch", "watcher_for"]

log = logging.getLogger("mailplan.imap")

IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x01000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
WATCH_MASK = (
    IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF
) | IN_ONLYDIR
"""What changes a folder's messages: arrivals, renames (flags), removals, the folder going."""
SELF_MASK = IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR
"""On the folder itself: renamed (RENAME) or removed (DELETE); nothing of the files in it."""

_EVENT = struct.Struct("iIII")
INOTIFY_ENV = "MAILPLAN_IMAP_INOTIFY"
"""Set to ``0`` to turn inotify off (IDLE then polls)."""


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


class Watch:
    """One session's watch of one folder: :attr:`changed` is set at each change."""

    def __init__(self, folder: Path, wds: tuple[int, ...]) -> None:
        self.folder = folder
        self.wds = wds
        self.changed = asyncio.Event()


class FolderWatcher:
    """The inotify descriptor of one event loop and the watches on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.fd: int | None = None
        self._wd_count: dict[int, int] = {}
        self._sessions: dict[int, set[Watch]] = {}
        if _LIBC is not None and os.environ.get(INOTIFY_ENV, "1") != "0":
            fd = _LIBC.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
            if fd < 0:
                log.warning("inotify unavailable (%s): IDLE polls", os.strerror(ctypes.get_errno()))
            else:
                self.fd = fd
                loop.add_reader(fd, self._read)

    def watch(self, folder: Path) -> Watch | None:
        """Watch ``folder``'s ``new/`` and ``cur/``, and the folder itself; None when
        inotify cannot (poll then)."""
        if self.fd is None or _LIBC is None:
            return None
        wds: list[int] = []
        for path, mask in ((folder / "new", WATCH_MASK), (folder / "cur", WATCH_MASK)) + (
            ((folder, SELF_MASK),) if (folder / "maildirfolder").exists() else ()
        ):
            wd = _LIBC.inotify_add_watch(self.fd, os.fsencode(path), mask)
            if wd < 0:
                err = ctypes.get_errno()
                if err not in (2, 20):  # ENOENT, ENOTDIR: the folder is gone, say so quietly
                    log.warning("inotify_add_watch %s: %s: IDLE polls", folder, os.strerror(err))
                for done in wds:
                    self._release(done)
                return None
            self._wd_count[wd] = self._wd_count.get(wd, 0) + 1
            wds.append(wd)
        watch = Watch(folder, tuple(wds))
        for wd in wds:
            self._sessions.setdefault(wd, set()).add(watch)
        return watch

    def unwatch(self, watch: Watch) -> None:
        """End a session's watch (the kernel watch goes with its last session)."""
        for wd in watch.wds:
            sessions = self._sessions.get(wd)
            if sessions is not None:
                sessions.discard(watch)
            self._release(wd)

    def alive(self, watch: Watch) -> bool:
        """True while the kernel still watches both of the session's directories."""
        return self.fd is not None and all(wd in self._wd_count for wd in watch.wds)

    def _release(self, wd: int) -> None:
        if wd not in self._wd_count:  # dropped by the kernel (IN_IGNORED) already
            return
        count = self._wd_count[wd] - 1
        if count > 0:
            self._wd_count[wd] = count
            return
        self._wd_count.pop(wd, None)
        self._sessions.pop(wd, None)
        if self.fd is not None and _LIBC is not None:
            _LIBC.inotify_rm_watch(self.fd, wd)  # EINVAL when the kernel dropped it: fine

    def _read(self) -> None:
        """The descriptor is readable: wake every session whose folder changed."""
        assert self.fd is not None
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            log.exception("inotify read failed: IDLE polls")
            self.close()
            return
        woken: set[Watch] = set()
        offset = 0
        while offset + _EVENT.size <= len(data):
            wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
            offset += _EVENT.size + length
            if mask & IN_Q_OVERFLOW:  # events were lost: everyone looks
                for sessions in self._sessions.values():
                    woken |= sessions
                continue
            woken |= self._sessions.get(wd, set())
            if mask & IN_IGNORED:  # the directory went (or was renamed away)
                self._wd_count.pop(wd, None)
                self._sessions.pop(wd, None)
        for watch in woken:
            watch.changed.set()

    def close(self) -> None:
        """Stop reading and close the descriptor (sessions fall back to polling)."""
        if self.fd is not None:
            with contextlib.suppress(Exception):
                self.loop.remove_reader(self.fd)
            os.close(self.fd)
            self.fd = None
            for sessions in self._sessions.values():
                for watch in sessions:
                    watch.changed.set()
            self._sessions.clear()
            self._wd_count.clear()


_watchers: dict[asyncio.AbstractEventLoop, FolderWatcher] = {}


def watcher_for(loop: asyncio.AbstractEventLoop) -> FolderWatcher:
    """The event loop's watcher (made at its first IDLE)."""
    watcher = _watchers.get(loop)
    if watcher is None:
        for old in [k for k in _watchers if k.is_closed()]:
            _watchers.pop(old).close()
        watcher = _watchers[loop] = FolderWatcher(loop)
    return watcher
