"""Run the reference server: one supervisor process and N worker processes.

The supervisor takes the data folder (an ``flock`` on ``DATA_DIR/serve.lock``, held by
the server's processes for their life, so a second server on the same folder is refused
instead of recovering, and then sharing, the first one's queue), prepares it (recovery of
a crashed run, TLS certificate),
reserves each listening port (a bound, non-listening ``SO_REUSEPORT`` socket, so port 0
is resolved once), forks the workers, prints the bound addresses, writes
``DATA_DIR/stats.json`` about once a second, restarts a worker that dies, and on
SIGTERM/SIGINT tells every worker to stop.

Each worker runs one event loop (uvloop when installed) with its own ``SO_REUSEPORT``
listening sockets on the same ports (the kernel spreads connections over the workers),
its own I/O thread pool for durable writes, and a relay worker for the queue entries it
accepts; worker 0 also scans the queue for retries. With ``--pop3``/``--pop3s`` every worker
also serves POP3 (STLS, or TLS from the first byte) on its own ``SO_REUSEPORT`` socket; the
per-maildrop ``flock`` keeps one session per maildrop across workers. With ``--imap``/``--imaps``
every worker serves IMAP the same way (STARTTLS, or TLS from the first byte); the
per-folder UID-list ``flock`` keeps UIDs consistent across workers. With ``--smtp off
--submission off`` the server is a POP3 and/or IMAP server only (tests and benchmarks
start it so). Workers share the
store through the file system only (unique names, renames, ``flock`` on queue files), and
the counters through shared memory.

Output on stdout, one line each, in this order (a stable format for scripts)::

    listening smtp 127.0.0.1:2525
    listening submission 127.0.0.1:2587
    listening pop3 127.0.0.1:2110
    listening pop3s 127.0.0.1:2995
    listening imap 127.0.0.1:2143
    listening imaps 127.0.0.1:2993
    ready workers=2 pid=12345
    ...
    stopped
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO

from planner.errors import PlannerError
from planner.mailserver.auth_penalty import AuthPenalty
from planner.mailserver.config import Listen, ServerConfig
from planner.mailserver.policy import AccessError, AccessList
from planner.mailserver.stats import Counters, write_stats_json
from planner.mailserver.store import Store
from planner.mailserver.tls import TLSError, ensure_self_signed, server_context
from planner.mailserver.users import UserDB, UserError
from planner.net import format_hostport, run_loop

__all__ = ["LOCK_FILE", "listen_line", "lock_data_dir", "run_server"]

log = logging.getLogger("mailplan.serve")

STATS_INTERVAL_S = 1.0
READY_TIMEOUT_S = 60.0
LISTEN_BACKLOG = 1024
LISTENERS = ("smtp", "submission", "pop3", "pop3s", "imap", "imaps")  # in printed order
LOCK_FILE = "serve.lock"
POP3_LISTENERS = ("pop3", "pop3s")
IMAP_LISTENERS = ("imap", "imaps")


def listen_line(name: str, sockname: tuple[Any, ...]) -> str:
    """``listening NAME HOST:PORT`` (IPv6 hosts in brackets)."""
    return f"listening {name} {format_hostport(sockname[0], sockname[1])}"


def lock_data_dir(data_dir: Path) -> int:
    """Take ``DATA_DIR/serve.lock`` (``flock``, exclusive) and write our pid in it; the fd.

    The lock lasts while any process holding the fd lives (forked workers inherit it).
    PlannerError naming the holder's pid when another server has it.
    """
    path = data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise PlannerError(
            f"--data-dir: {data_dir} is in use by another server (pid {holder})"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


def _bind(listen: Listen, *, listening: bool) -> socket.socket:
    host = "127.0.0.1" if listen.host == "localhost" else listen.host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if not listening and listen.port != 0:
        # SO_REUSEPORT would silently share a port another server already listens on
        # (same user): probe without it first, so a taken port is an error.
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, listen.port))
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, listen.port))
        if listening:
            sock.listen(LISTEN_BACKLOG)
            sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class _BufferedHandler(logging.Handler):
    """Log lines collected in memory and appended to the file a few times a second.

    One ``write`` per flush instead of one per line (a busy server logs two lines per
    message); a background thread flushes every ``FLUSH_S`` seconds, and at 64 KiB.
    """

    FLUSH_S = 0.2
    MAX_BUFFER = 65536

    def __init__(self, path: Path | None) -> None:
        super().__init__()
        if path is None:
            self._fd, self._own = sys.stderr.fileno(), False
        else:
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._own = True
        self._buf: list[bytes] = []
        self._size = 0
        self._closed = False
        self._flusher = threading.Thread(target=self._flush_loop, daemon=True)
        self._flusher.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = (self.format(record) + "\n").encode("utf-8", "replace")
        except Exception:
            self.handleError(record)
            return
        with self.lock:  # type: ignore[union-attr]
            self._buf.append(line)
            self._size += len(line)
            full = self._size >= self.MAX_BUFFER
        if full:
            self.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            data, self._buf, self._size = b"".join(self._buf), [], 0
        with contextlib.suppress(OSError):
            while data:
                data = data[os.write(self._fd, data) :]

    def _flush_loop(self) -> None:
        while not self._closed:
            time.sleep(self.FLUSH_S)
            self.flush()

    def close(self) -> None:
        self._closed = True
        self.flush()
        if self._own:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        super().close()


def _setup_logging(config: ServerConfig, tag: str) -> None:
    logging.logProcesses = False  # the pid is in the format already
    logging.logThreads = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # no caller look-up per record  # type: ignore[attr-defined]
    handler = _BufferedHandler(config.log_file)
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s mailplan/{tag}[{os.getpid()}] %(levelname)s %(message)s")
    )
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(config.log_level.upper())
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's own chatter


# region #### worker ####


class _Worker:
    """One server process: listeners, I/O threads, relay worker, shutdown."""

    def __init__(
        self,
        index: int,
        config: ServerConfig,
        ports: dict[str, Listen],
        counters: Counters,
        ready_fd: int,
        tls_files: tuple[Path, Path],
        parent_pid: int,
    ) -> None:
        self.index = index
        self.config = config
        self.ports = ports
        self.counters = counters
        self.ready_fd = ready_fd
        self.tls_files = tls_files
        self.parent_pid = parent_pid
        self.store_sock: socket.socket | None = None

    async def main(self) -> int:
        from planner.mailserver.committer import CommitClient
        from planner.mailserver.context import ServerContext
        from planner.mailserver.handler import DeliveryHandler
        from planner.mailserver.imap_server import start_imap_server
        from planner.mailserver.pop3_server import start_pop3_server
        from planner.mailserver.relay import RelayWorker
        from planner.mailserver.smtp import ServerSMTP

        config = self.config
        loop = asyncio.get_running_loop()
        executor = ThreadPoolExecutor(config.io_threads, thread_name_prefix="mailplan-io")
        users = UserDB(config.data_dir / "users", cache_ttl_s=config.credential_cache_ttl_s)
        tls_context = server_context(*self.tls_files)
        penalty = AuthPenalty(
            config.limits.auth_failure_delay_s, config.limits.auth_failure_max_delay_s
        )
        ctx = ServerContext(
            config=config,
            loop=loop,
            store=Store(config.data_dir),
            users=users,
            access=AccessList(config.access_file),
            stats=self.counters.row(self.index),
            executor=executor,
            tls_context=tls_context,
            connections=lambda: self.counters.total("connections"),
            auth_penalty=penalty,
        )
        if self.store_sock is not None:
            ctx.committer = CommitClient(loop, ctx.store)
            await ctx.committer.connect(self.store_sock)
        handler = DeliveryHandler(ctx)
        relay = RelayWorker(ctx, config.relay, scan=self.index == 0)
        ctx.kick_relay = relay.kick
        servers: list[asyncio.AbstractServer] = []
        report = f"ready {self.index}"
        for name, listen in self.ports.items():
            sock = _bind(listen, listening=True)
            if name in POP3_LISTENERS:
                servers.append(
                    await start_pop3_server(
                        config,
                        sock=sock,
                        implicit_tls=name == "pop3s",
                        ssl_context=tls_context,
                        users=users,
                        auth_penalty=penalty,
                    )
                )
                continue
            if name in IMAP_LISTENERS:
                servers.append(
                    await start_imap_server(
                        config,
                        sock=sock,
                        implicit_tls=name == "imaps",
                        ssl_context=tls_context,
                        users=users,
                        auth_penalty=penalty,
                    )
                )
                continue
            factory = ServerSMTP.factory(handler, submission=name == "submission")
            servers.append(await loop.create_server(factory, sock=sock))
        gc.freeze()  # start-up objects need no more collecting
        gc.set_threshold(20_000, 20, 20)  # fewer collections of short-lived session objects
        os.write(self.ready_fd, (report + "\n").encode("ascii"))
        log.info("worker %d serving", self.index)

        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        relay_task = loop.create_task(relay.run())
        watch_task = loop.create_task(self._watch_parent(stop))
        await stop.wait()

        log.info("worker %d stopping", self.index)
        ctx.stopping = True
        for server in servers:
            server.close()
        deadline = loop.time() + config.shutdown_grace_s
        while any(s.busy for s in ctx.sessions) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for session in list(ctx.sessions):
            session.shutdown()
        relay_task.cancel()
        watch_task.cancel()
        await relay.stop()
        await asyncio.sleep(0.05)
        if ctx.committer is not None:
            ctx.committer.close()
        executor.shutdown(wait=True)
        log.info("worker %d stopped", self.index)
        return 0

    async def _watch_parent(self, stop: asyncio.Event) -> None:
        while True:
            await asyncio.sleep(1.0)
            if os.getppid() != self.parent_pid:
                log.warning("worker %d: supervisor is gone, stopping", self.index)
                stop.set()
                return

    def run(self) -> int:
        from planner.mailserver.committer import start_store_process

        store_pid = 0
        try:
            store_pid, self.store_sock = start_store_process(
                self.config.data_dir,
                self.config.io_threads,
                frozenset(d.lower() for d in self.config.domains),
            )
            return run_loop(self.main())  # uvloop when installed
        except Exception as exc:
            log.error("worker %d failed: %s\n%s", self.index, exc, traceback.format_exc())
            with contextlib.suppress(OSError):
                line = f"error {self.index} {exc}".replace("\n", " ")[:400]
                os.write(self.ready_fd, (line + "\n").encode("utf-8", "replace"))
            return 1
        finally:
            if self.store_sock is not None:
                self.store_sock.close()
            if store_pid:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(store_pid, 0)


# endregion

# region #### supervisor ####


class _Supervisor:
    def __init__(self, config: ServerConfig, out: TextIO) -> None:
        self.config = config
        self.out = out
        self.children: dict[int, int] = {}  # pid -> worker index
        self.stopping = False
        self.ports: dict[str, Listen] = {}
        self.placeholders: list[socket.socket] = []
        self.counters = Counters(config.workers)
        self.ready_r, self.ready_w = os.pipe()
        os.set_blocking(self.ready_r, False)
        self._buf = b""
        self.tls_files: tuple[Path, Path] = (Path(), Path())
        self.lock_fd: int | None = None

    def prepare(self) -> None:
        config = self.config
        store = Store(config.data_dir)
        try:
            config.data_dir.mkdir(parents=True, exist_ok=True)
            self.lock_fd = lock_data_dir(config.data_dir)  # before recovery touches the queue
            store.prepare()
            removed = store.recover()
        except OSError as exc:
            raise PlannerError(f"--data-dir: cannot use {config.data_dir}: {exc}") from None
        if any(removed.values()):
            log.info("recovery: removed %s", removed)
        try:
            UserDB(config.data_dir / "users").addresses()
        except UserError as exc:
            raise PlannerError(str(exc)) from None
        try:
            AccessList(config.access_file)
        except AccessError as exc:
            raise PlannerError(f"--access: {exc}") from None
        if config.tls_cert is not None and config.tls_key is not None:
            self.tls_files = (config.tls_cert, config.tls_key)
        else:
            self.tls_files = ensure_self_signed(config.data_dir / "tls", config.hostname)
        try:
            server_context(*self.tls_files)
        except TLSError as exc:
            raise PlannerError(str(exc)) from None
        for name in LISTENERS:
            listen = getattr(config, name)
            if listen is None:
                continue
            try:
                sock = _bind(listen, listening=False)
            except OSError as exc:
                raise PlannerError(f"--{name}: cannot listen on {listen}: {exc.strerror}") from None
            self.placeholders.append(sock)
            host, port = sock.getsockname()[:2]
            self.ports[name] = Listen(host=host, port=port)

    def spawn(self, index: int) -> int:
        self.counters.row(index).set("connections", 0)
        sys.stdout.flush()
        sys.stderr.flush()
        for h in logging.getLogger().handlers:
            h.flush()  # the child must not inherit (and write again) buffered lines
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                for sock in self.placeholders:
                    sock.close()
                os.close(self.ready_r)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _setup_logging(self.config, f"w{index}")
                code = _Worker(
                    index,
                    self.config,
                    self.ports,
                    self.counters,
                    self.ready_w,
                    self.tls_files,
                    os.getppid(),
                ).run()
            finally:
                logging.shutdown()
                os._exit(code)
        self.children[pid] = index
        return pid

    def _read_reports(self) -> list[str]:
        try:
            chunk = os.read(self.ready_r, 65536)
        except BlockingIOError:
            return []
        self._buf += chunk
        *lines, self._buf = self._buf.split(b"\n")
        return [line.decode("utf-8", "replace") for line in lines]

    def wait_ready(self) -> None:
        ready: set[int] = set()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while len(ready) < self.config.workers:
            if time.monotonic() > deadline:
                raise PlannerError("serve: workers did not start in time")
            for line in self._read_reports():
                kind, index, *rest = line.split(" ")
                if kind == "error":
                    raise PlannerError(f"serve: worker {index} failed to start: {' '.join(rest)}")
                ready.add(int(index))
            self._reap(respawn=False)
            time.sleep(0.02)

    def _reap(self, *, respawn: bool) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            index = self.children.pop(pid, None)
            if index is None:
                continue
            if not respawn:
                if not self.stopping:
                    raise PlannerError(f"serve: worker {index} exited during start-up")
                continue
            log.error("worker %d (pid %d) died (status %d); restarting", index, pid, status)
            time.sleep(0.5)
            self.spawn(index)

    def write_stats(self) -> None:
        with contextlib.suppress(OSError):
            write_stats_json(self.config.data_dir / "stats.json", self.counters.snapshot())

    def stop_children(self) -> None:
        self.stopping = True
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.config.shutdown_grace_s + 10
        while self.children and time.monotonic() < deadline:
            self._reap(respawn=False)
            time.sleep(0.05)
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            self.children.pop(pid, None)

    def print(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def run(self) -> int:
        stop_requested: list[int] = []

        def on_signal(signum: int, _frame: Any) -> None:
            stop_requested.append(signum)

        old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.prepare()
            log.info("starting %d workers", self.config.workers)
            try:
                for i in range(self.config.workers):
                    self.spawn(i)
                self.wait_ready()
            except BaseException:
                self.stop_children()
                raise
            for name in LISTENERS:
                if name in self.ports:
                    p = self.ports[name]
                    self.print(listen_line(name, (p.host, p.port)))
            self.write_stats()
            self.print(f"ready workers={self.config.workers} pid={os.getpid()}")
            next_stats = 0.0
            while not stop_requested:
                now = time.monotonic()
                if now >= next_stats:
                    self.write_stats()
                    next_stats = now + STATS_INTERVAL_S
                self._read_reports()
                self._reap(respawn=True)
                time.sleep(0.1)
            log.info("signal %d: stopping", stop_requested[0])
            self.stop_children()
            self.write_stats()
            self.print("stopped")
            return 0
        finally:
            for sock in self.placeholders:
                sock.close()
            for s, handler in old.items():
                signal.signal(s, handler)
            os.close(self.ready_r)
            os.close(self.ready_w)
            if self.lock_fd is not None:
                os.close(self.lock_fd)


def run_server(config: ServerConfig, out: TextIO | None = None) -> int:
    """Run until SIGTERM/SIGINT; returns the exit status. PlannerError for bad settings."""
    _setup_logging(config, "main")
    return _Supervisor(config, out or sys.stdout).run()


# endregion
