"""The store process: durable writes for one server process, batched, off its event loop.

Each worker process forks one store process and talks to it over a Unix socket pair.
The worker sends a request (Maildir copies and queue files of one message) and awaits
the reply; the store process prepares each request as it arrives (signs, plans its
files), and its commit thread takes everything prepared meanwhile, writes it as one
batch (:meth:`~planner.mailserver.store.Store.commit_batch`: all files written, then
fsynced at the same time on a few threads, renamed, and each directory fsynced once)
and answers each. While one batch is being made durable the next one is prepared: group
commit, and the worker's event loop never waits for a GIL held by file I/O.

The store process also DKIM-signs relayed messages (``to_sign`` of a request: the queue
entry, its Received: field and the message): an RSA-2048 signature costs more CPU than
the rest of a relayed message on the worker's event loop, and in the store process it runs
beside that loop, on another core (the worker sends the message to it anyway). It then
writes the queue file like any other; a message whose signing fails gets an error reply
(the client a 451), never a queue file without its signature.

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
import queue
import signal
import socket
import struct
import threading
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from planner.mailserver.dkim import DkimSigner, signed_for_queue
from planner.mailserver.store import (
    MaildirFile,
    QueueEntry,
    Store,
    StoreError,
    encode_queue_file,
)

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


def _signed(
    signer: DkimSigner, to_sign: list[tuple[QueueEntry, bytes, bytes]]
) -> list[tuple[str, bytes]]:
    """``(qid, queue file bytes)`` of each relayed message, signed."""
    out = []
    for entry, trace, content in to_sign:
        signed, queued = signed_for_queue(signer, entry, trace, content)
        out.append((signed.qid, encode_queue_file(signed, queued)))
    return out


_Prepared = tuple[int, list[Any], list[MaildirFile], list[Path]] | bytes
"""A request signed and planned ``(req_id, pending files, Maildir files, queue paths)``,
or its error reply (a frame)."""


def _prepare(store: Store, signer: DkimSigner, req_id: int, request: Any) -> _Prepared:
    """Sign a request's relayed messages and plan its files (nothing written yet)."""
    local, queued, to_sign = request
    try:
        if to_sign:
            queued = queued + _signed(signer, to_sign)
        pending, files, paths = store.plan(local, queued)
    except StoreError as exc:
        return _frame(req_id, _error_reply(exc))
    except Exception as exc:  # a bug in signing fails this message only
        log.error("signing failed: %s: %s", type(exc).__name__, exc)
        return _frame(req_id, ("err", errno.EIO, f"signing failed: {exc}", None))
    return req_id, pending, files, paths


def _commit_prepared(store: Store, items: list[_Prepared], pool: Executor) -> bytes:
    """Write the planned files of ``items`` as one batch; the replies, one frame each."""
    replies = [item for item in items if isinstance(item, bytes)]
    planned = [item for item in items if not isinstance(item, bytes)]
    errors = store.commit_batch([pending for _, pending, _, _ in planned], pool)
    for (req_id, _, files, paths), error in zip(planned, errors, strict=True):
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


def run_store_process(
    sock: socket.socket, data_dir: Path, threads: int, domains: frozenset[str] = frozenset()
) -> None:
    """Serve commit requests on ``sock`` until the worker closes it; relayed mail from
    ``domains`` is signed with their keys under ``data_dir``.

    Two stages: this thread reads requests, signs and plans each as it arrives; a commit
    thread takes everything prepared meanwhile as one batch (group commit) and answers.
    Signing the next requests so overlaps the fsyncs of the batch before them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    store = Store(data_dir)
    signer = DkimSigner.from_data_dir(data_dir, domains)
    pool = ThreadPoolExecutor(threads, thread_name_prefix="mailplan-fsync")
    prepared: queue.SimpleQueue[_Prepared | None] = queue.SimpleQueue()
    commit = threading.Thread(
        target=_commit_loop, args=(sock, store, pool, prepared), name="mailplan-commit"
    )
    commit.start()
    buf = bytearray()
    try:
        while chunk := sock.recv(1 << 20):
            buf += chunk
            for req_id, request in _split_frames(buf):
                prepared.put(_prepare(store, signer, req_id, request))
    except OSError:
        pass
    finally:
        prepared.put(None)
        commit.join()


def _commit_loop(
    sock: socket.socket, store: Store, pool: Executor, prepared: queue.SimpleQueue[Any]
) -> None:
    """Commit what :func:`run_store_process` prepared, in batches, until ``None``."""
    answering = True
    while True:
        items = [prepared.get()]
        while len(items) < _MAX_BATCH:
            try:
                items.append(prepared.get_nowait())
            except queue.Empty:
                break
        last = None in items
        batch = [item for item in items if item is not None]
        if batch:
            reply = _commit_prepared(store, batch, pool)
            if answering:
                try:
                    sock.sendall(reply)
                except OSError:
                    answering = False  # the worker is gone; finish what is in hand
        if last:
            return


def start_store_process(
    data_dir: Path, threads: int, domains: frozenset[str] = frozenset()
) -> tuple[int, socket.socket]:
    """Fork the store process (signing for ``domains``); returns its pid and the worker's
    end of the socket pair."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            mine.close()
            run_store_process(theirs, data_dir, threads, domains)
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
        self,
        local: list[tuple[str, bytes, int]],
        queued: list[tuple[str, bytes]],
        to_sign: list[tuple[QueueEntry, bytes, bytes]] | None = None,
    ) -> tuple[list[MaildirFile], list[Path]]:
        """Make one message's files durable; StoreError when that failed. ``to_sign``:
        relayed messages ``(entry, Received: field with CRLF, message)`` whose queue files
        the store process makes, with their DKIM signatures (``size_bytes`` set there)."""
        if self._transport is None:
            raise StoreError(5, "store process not running")
        self._next += 1
        fut: asyncio.Future[Any] = self.loop.create_future()
        self._waiting[self._next] = fut
        self._transport.write(_frame(self._next, (local, queued, to_sign or [])))
        result: tuple[list[MaildirFile], list[Path]] = await fut
        return result


# endregion
