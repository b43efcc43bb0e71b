"""The reference server (``mailplan serve``) as a benchmark target on loopback.

Everything the harness knows about the reference server is in this module, so it is
the one place to change if the server's command line or files change. The contract:

- start: ``mailplan serve --data-dir TMP --domain bench.test --smtp 127.0.0.1:0
  [--pop3 127.0.0.1:0] [--imap 127.0.0.1:0] --insecure-auth`` as a subprocess (its own
  process, so client and server never share an event loop); it prints ``listening smtp
  127.0.0.1:PORT`` (and ``listening pop3 ...``, ``listening imap ...``) on standard output;
- users: ``DATA_DIR/users``, written with :class:`planner.mailserver.users.UserDB` (what
  ``mailplan user add ADDRESS --data-dir DIR --password-stdin`` calls), before the start;
- mailboxes: the server's Maildirs, filled before a POP3 run through
  :func:`planner.mailserver.provision.seed_mailbox` (POP3 and IMAP read the same Maildir)
  and counted by
  :func:`~planner.mailserver.provision.count_messages` (the server owns their layout and
  file names);
- counters: ``DATA_DIR/stats.json`` (accepted, delivered_local, queued, relayed,
  deferred, bounced, rejected), rewritten about once a second;
- stop: SIGTERM.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from planner.bench.result import BenchmarkResult
from planner.bench.targets import Target
from planner.bench.workload import MessageFactory, Workload
from planner.errors import BenchmarkError

__all__ = ["DOMAIN", "EmbeddedServer", "serve_available"]

DOMAIN = "bench.test"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
PASSWORD = "bench-password"
_LISTENING = re.compile(r"^listening (smtp|pop3|imap) (\S+):(\d+)\s*$")
_SERVE = [sys.executable, "-m", "planner", "serve"]


def serve_available() -> bool:
    """True when this install has ``mailplan serve`` (the reference server)."""
    try:
        r = subprocess.run(
            [*_SERVE, "--help"], capture_output=True, timeout=60, check=False, text=True
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and "--data-dir" in r.stdout


class EmbeddedServer:
    """``mailplan serve`` in a temporary data folder; use as a context manager."""

    def __init__(self, *, pop3: bool = False, imap: bool = False, users: int = 1) -> None:
        self.pop3 = pop3
        self.imap = imap
        self.user_count = max(1, users)
        self.data_dir = Path(tempfile.mkdtemp(prefix="mailplan-bench-"))
        self.users: list[tuple[str, str]] = [
            (f"user{i}@{DOMAIN}", PASSWORD) for i in range(1, self.user_count + 1)
        ]
        self.ports: dict[str, int] = {}
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str] = queue.Queue()
        self._drainer: threading.Thread | None = None

    # region #### lifecycle ####

    def __enter__(self) -> EmbeddedServer:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Create the users, start the server and wait for its ``listening`` lines."""
        if not serve_available():
            raise BenchmarkError(
                "--embedded: this install has no 'mailplan serve' (the reference server); "
                "name a running server with --smtp/--pop3/--imap HOST:PORT instead"
            )
        self._add_users()
        cmd = [*_SERVE, "--data-dir", str(self.data_dir), "--domain", DOMAIN]
        cmd += ["--smtp", "127.0.0.1:0", "--submission", "off", "--insecure-auth"]
        if self.pop3:
            cmd += ["--pop3", "127.0.0.1:0"]
        if self.imap:
            cmd += ["--imap", "127.0.0.1:0"]
        log = open(self.data_dir / "serve.log", "w", encoding="utf-8")  # noqa: SIM115
        self._proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True
        )
        log.close()
        self._drainer = threading.Thread(target=self._drain, daemon=True, name="serve-stdout")
        self._drainer.start()
        wanted = {"smtp"} | ({"pop3"} if self.pop3 else set()) | ({"imap"} if self.imap else set())
        limit = time.monotonic() + START_TIMEOUT_S
        while not wanted <= self.ports.keys():
            if self._proc.poll() is not None:
                raise BenchmarkError(
                    f"--embedded: 'mailplan serve' exited with status {self._proc.returncode}: "
                    + self._log_tail()
                )
            try:
                line = self._lines.get(timeout=max(0.01, min(0.5, limit - time.monotonic())))
            except queue.Empty:
                if time.monotonic() > limit:
                    raise BenchmarkError(
                        f"--embedded: 'mailplan serve' did not report its ports within "
                        f"{START_TIMEOUT_S:g} s"
                    ) from None
                continue
            m = _LISTENING.match(line.strip())
            if m:
                self.ports[m.group(1)] = int(m.group(3))

    def _drain(self) -> None:
        assert self._proc is not None
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)

    def _log_tail(self) -> str:
        try:
            text = (self.data_dir / "serve.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "no log"
        lines = [ln for ln in text.splitlines() if ln.strip()]
        return lines[-1][:200] if lines else "no output"

    def close(self) -> None:
        """Stop the server (SIGTERM; after a grace period SIGKILL to its process group)
        and remove its data."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                # its own session (start_new_session): the group is the server and its workers
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=STOP_TIMEOUT_S)
        if self._drainer is not None:
            self._drainer.join(timeout=STOP_TIMEOUT_S)  # reads to EOF once the server is gone
            self._drainer = None
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        self._proc = None
        shutil.rmtree(self.data_dir, ignore_errors=True)

    # endregion
    # region #### users, mailboxes, counters ####

    def _add_users(self) -> None:
        from planner.mailserver.users import UserDB

        db = UserDB(self.data_dir / "users")
        for address, password in self.users:
            db.add(address, password)

    def mailbox(self, address: str) -> Path:
        """The Maildir of ``address`` (:func:`planner.mailserver.provision.mailbox_path`)."""
        from planner.mailserver.provision import mailbox_path

        return mailbox_path(self.data_dir, address)

    def seed(self, messages_per_user: int, workload: Workload) -> int:
        """Put ``messages_per_user`` messages shaped like ``workload`` into every user's
        ``new/`` through the server's own provisioning (:func:`seed_mailbox`); returns how
        many files were written."""
        from planner.mailserver.provision import seed_mailbox

        factory = MessageFactory(workload, "seed")
        written = 0
        for address, _ in self.users:
            messages = (factory.next().data[:-3] for _ in range(messages_per_user))
            written += seed_mailbox(self.data_dir, address, messages, sender=workload.sender)
        return written

    def target(self, protocol: str, label: str | None = None) -> Target:
        """The harness target for this server's ``protocol`` listener (its users included)."""
        from planner import __version__

        return Target(
            protocol=protocol,  # type: ignore[arg-type]
            host="127.0.0.1",
            port=self.ports[protocol],
            users=tuple(self.users),
            server_label=label or "mailplan serve (reference server)",
            server_version=__version__,
            embedded=True,
            flag="--embedded",
        )

    def check(self, result: BenchmarkResult, after: float) -> BenchmarkResult:
        """``result`` with the server's counters attached and accepted = delivered checked
        (SMTP): the harness's accepted count against stats.json and the Maildir files."""
        counters = self.settled_counters(after)
        files = self.delivered_files()
        notes = list(result.notes)
        data: dict[str, Any] = dict(counters or {})
        data["maildir_files"] = files
        if result.protocol == "smtp":
            harness = result.messages_ok + result.warmup_messages
            if result.capacity_search is not None:  # the server counted every step
                harness = sum(
                    s.messages_ok + s.warmup_messages for s in result.capacity_search.steps
                )
            data["harness_accepted"] = harness
            accepted = data.get("accepted")
            same = accepted == harness and (
                result.workload.recipients_per_message > 1 or files == harness
            )
            notes.append(
                f"Server check {'ok' if same else 'MISMATCH'}: harness counted {harness} "
                f"accepted, server stats.json accepted={accepted}, "
                f"delivered_local={data.get('delivered_local')}, {files} files in Maildir."
            )
        return result.model_copy(update={"server_counters": data, "notes": notes})

    def delivered_files(self) -> int:
        """Messages in every user's Maildir
        (:func:`planner.mailserver.provision.count_messages`)."""
        from planner.mailserver.provision import count_messages

        return count_messages(self.data_dir)

    def counters(self) -> dict[str, Any] | None:
        """The server's ``stats.json``, or None when it has not written one."""
        try:
            data = json.loads((self.data_dir / "stats.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def settled_counters(self, after: float, timeout_s: float = 5.0) -> dict[str, Any] | None:
        """``stats.json`` once it was written after ``after`` (time.time()) and
        ``accepted`` stopped moving, or the last one seen after ``timeout_s``."""
        limit = time.monotonic() + timeout_s
        last: dict[str, Any] | None = None
        while time.monotonic() < limit:
            data = self.counters()
            if data is not None and float(data.get("updated_at_s", 0)) > after:
                if (
                    last is not None
                    and last.get("updated_at_s") != data.get("updated_at_s")
                    and last.get("accepted") == data.get("accepted")
                ):
                    return data
                last = data
            time.sleep(0.5)
        return last or self.counters()

    # endregion
