"""The store process: durable writes for one server process, batched, off its event loop.

Each worker process forks one store process and talks to it over a Unix socket pair.
The worker sends a request (Maildir copies and queue files of one message) and awaits
the reply; the store process takes every request that has arrived, writes them as one
batch (:meth:`~planner.mailserver.store.Store.commit_batch`: all files written, then
fsynced at the same time on a few threads, renamed, and each directory fsynced once)
and answers each. While it works on one batch the next one gathers in the socket: group
commit, and the worker's event loop never waits for a GIL held by file I/O.

Frames both ways: ``!QI`` (request id, payload length) + a pickle (the two processes are
one program; nothing from the network is unpickled). A worker that dies closes the
socket; the store process finishes the batch in hand and exits.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import pickle
import signal
import socket
import struct
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from planner.mailserver.store import MaildirFile, Store, StoreError

__all__ = ["CommitClient", "run_store_process", "start_store_process"]

log = logging.getLogger("mailplan.store")
_HEAD = struct.Struct("!QI")
_MAX_BATCH = 256


def _frame(req_id: int, obj: Any) -> bytes:
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEAD.pack(req_id, len(payload)) + payload


def _split_frames(buf: bytearray) -> list[tuple[int, Any]]:
    """Complete frames at the start of ``buf`` (removed from it)."""
    out: list[tuple[int, Any]] = []
    pos = 0
    while len(buf) - pos >= _HEAD.size:
        req_id, size = _HEAD.unpack_from(buf, pos)
        end = pos + _HEAD.size + size
        if len(buf) < end:
            break
        out.append((req_id, pickle.loads(buf[pos + _HEAD.size : end])))
        pos = end
    del buf[:pos]
    return out


# region #### store process ####


def _handle_batch(store: Store, requests: list[tuple[int, Any]], pool: Executor) -> bytes:
    groups = []
    planned: list[tuple[int, Any]] = []
    replies: list[bytes] = []
    for req_id, (local, queued) in requests:
        try:
            pending, files, paths = store.plan(local, queued)
        except StoreError as exc:
            replies.append(_frame(req_id, _error_reply(exc)))
            continue
        groups.append(pending)
        planned.append((req_id, (files, paths)))
    errors = store.commit_batch(groups, pool) if groups else []
    for (req_id, (files, paths)), error in zip(planned, errors, strict=True):
        if error is None:
            result = [(str(f.path), f.size_on_disk, f.size_crlf) for f in files]
            replies.append(_frame(req_id, ("ok", result, [str(p) for p in paths])))
        else:
            replies.append(_frame(req_id, _error_reply(error)))
    return b"".join(replies)


def _error_reply(exc: StoreError) -> tuple[str, int, str, str | None]:
    """A StoreError as plain data: errno, its text and the file name (not ``str(exc)``,
    which would nest ``[Errno N]`` once more each time it is rebuilt)."""
    filename = None if exc.filename is None else str(exc.filename)
    return ("err", exc.errno or errno.EIO, exc.strerror or str(exc), filename)


def run_store_process(sock: socket.socket, data_dir: Path, threads: int) -> None:
    """Serve commit requests on ``sock`` until the worker closes it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    store = Store(data_dir)
    pool = ThreadPoolExecutor(threads, thread_name_prefix="mailplan-fsync")
    buf = bytearray()
    waiting: list[tuple[int, Any]] = []
    eof = False
    while not eof or waiting:
        if not waiting and not eof:
            sock.setblocking(True)
            chunk = sock.recv(1 << 20)
            if not chunk:
                eof = True
            buf += chunk
        sock.setblocking(False)
        try:
            while not eof:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    eof = True
                buf += chunk
        except BlockingIOError:
            pass
        waiting += _split_frames(buf)
        if not waiting:
            continue
        batch, waiting = waiting[:_MAX_BATCH], waiting[_MAX_BATCH:]
        reply = _handle_batch(store, batch, pool)
        sock.setblocking(True)
        try:
            sock.sendall(reply)
        except OSError:
            return


def start_store_process(data_dir: Path, threads: int) -> tuple[int, socket.socket]:
    """Fork the store process; returns its pid and the worker's end of the socket pair."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            mine.close()
            run_store_process(theirs, data_dir, threads)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    theirs.close()
    return pid, mine


# endregion

# region #### worker side ####


class _Protocol(asyncio.Protocol):
    def __init__(self, client: CommitClient) -> None:
        self.client = client
        self.buf = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        for req_id, reply in _split_frames(self.buf):
            self.client._resolve(req_id, reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client._lost()


class CommitClient:
    """The worker's handle on its store process: ``await commit(...)``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, store: Store) -> None:
        self.loop = loop
        self.store = store
        self._transport: asyncio.Transport | None = None
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._next = 0
        self._closing = False

    async def connect(self, sock: socket.socket) -> None:
        """Attach to the socket from :func:`start_store_process`."""
        transport, _ = await self.loop.create_unix_connection(lambda: _Protocol(self), sock=sock)
        self._transport = transport

    def close(self) -> None:
        """Close the socket; the store process finishes its batch and exits."""
        self._closing = True
        if self._transport is not None:
            self._transport.close()

    def _resolve(self, req_id: int, reply: Any) -> None:
        fut = self._waiting.pop(req_id, None)
        if fut is None or fut.done():
            return
        if reply[0] == "ok":
            files = [MaildirFile(Path(p), s, w) for p, s, w in reply[1]]
            fut.set_result((files, [Path(p) for p in reply[2]]))
        elif reply[3] is None:
            fut.set_exception(StoreError(reply[1], reply[2]))
        else:
            fut.set_exception(StoreError(reply[1], reply[2], reply[3]))

    @property
    def alive(self) -> bool:
        """True while the store process is connected."""
        return self._transport is not None

    def _lost(self) -> None:
        if self._transport is not None and not self._closing:
            log.error("store process went away; writing from I/O threads from now on")
        self._transport = None
        waiting, self._waiting = self._waiting, {}
        for fut in waiting.values():
            if not fut.done():
                fut.set_exception(StoreError(5, "store process went away"))

    async def commit(
        self, local: list[tuple[str, bytes, int]], queued: list[tuple[str, bytes]]
    ) -> tuple[list[MaildirFile], list[Path]]:
        """Make one message's files durable; StoreError when that failed."""
        if self._transport is None:
            raise StoreError(5, "store process not running")
        self._next += 1
        fut: asyncio.Future[Any] = self.loop.create_future()
        self._waiting[self._next] = fut
        self._transport.write(_frame(self._next, (local, queued)))
        result: tuple[list[MaildirFile], list[Path]] = await fut
        return result


# endregion
