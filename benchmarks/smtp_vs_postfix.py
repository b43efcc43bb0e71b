#!/usr/bin/env python3
"""End-to-end SMTP throughput: the reference server (`mailplan serve`) against Postfix.

Both servers run on loopback in a temporary folder, deliver durably to a Maildir, and are
driven by Postfix's ``smtp-source`` (one message per SMTP session, like the peer
measurements in ../shared/research/peer-performance.md). A run is timed from the start
of smtp-source until every message is a file in the Maildir's ``new/`` (end to end), and
the two servers take turns, run after run, so that both see the same machine load.

Postfix set-up: the Debian package's programs with a private configuration in the temp
folder (``postfix -c DIR``): ``inet_interfaces = 127.0.0.1``, smtpd on a free port,
``default_transport = error``, ``smtpd_peername_lookup = no``, local(8) delivering through
an ``inline:`` alias to ``DIR/postfix-mail/Maildir/`` (Maildir delivery fsyncs each file),
every service unchrooted. Needs root (Postfix's master runs as root) and the postfix user.

Usage::

    .venv/bin/python benchmarks/smtp_vs_postfix.py   # 1 and 10 KB, 10 and 50 sessions
    .venv/bin/python benchmarks/smtp_vs_postfix.py --messages 3000 --rounds 5

Prints messages/s (median of the rounds, and every run) and the ratio mailplan/Postfix.
Everything it starts is stopped and the temp folder removed, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from planner.bench.peers import Postfix


def count_files(folder: Path) -> int:
    try:
        with os.scandir(folder) as it:
            return sum(1 for _ in it)
    except FileNotFoundError:
        return 0


def empty(folder: Path) -> None:
    if folder.is_dir():
        for entry in os.scandir(folder):
            os.unlink(entry.path)


class Mailplan:
    """``mailplan serve`` on a free port delivering to bench@bench.test."""

    def __init__(self, root: Path, workers: int | None) -> None:
        self.root = root
        self.data = root / "mailplan-data"
        self.maildir_new = self.data / "mailboxes" / "bench.test" / "bench" / "new"
        self.target = "bench@bench.test"
        self.workers = workers
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> None:
        exe = [sys.executable, "-m", "planner"]
        subprocess.run(
            [*exe, "user", "add", self.target, "--data-dir", str(self.data), "--password-stdin"],
            input="bench-password\n", check=True, capture_output=True, text=True,
        )  # fmt: skip
        cmd = [*exe, "serve", "--data-dir", str(self.data), "--domain", "bench.test",
               "--smtp", "127.0.0.1:0", "--submission", "off", "--hostname", "bench.test",
               "--log-file", str(self.root / "mailplan.log")]  # fmt: skip
        if self.workers:
            cmd += ["--workers", str(self.workers)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("listening smtp "):
                self.port = int(line.rsplit(":", 1)[1])
            if line.startswith("ready "):
                return
        raise RuntimeError("mailplan serve did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def run_once(server: Postfix | Mailplan, size: int, sessions: int, messages: int) -> float:
    """Messages/s from the start of smtp-source until all messages are in new/."""
    empty(server.maildir_new)
    cmd = ["smtp-source", "-l", str(size), "-m", str(messages), "-s", str(sessions),
           "-f", "sender@client.test", "-t", server.target, f"127.0.0.1:{server.port}"]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    deadline = time.monotonic() + 120
    while count_files(server.maildir_new) < messages:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {count_files(server.maildir_new)} of {messages} delivered")
        time.sleep(0.005)
    return messages / (time.perf_counter() - start)


@contextlib.contextmanager
def servers(workers: int | None) -> Iterator[tuple[Postfix, Mailplan]]:
    root = Path(tempfile.mkdtemp(prefix="mailplan-bench-"))
    os.chmod(root, 0o755)
    postfix, mailplan = Postfix(root), Mailplan(root, workers)
    try:
        postfix.start()
        mailplan.start()
        yield postfix, mailplan
    finally:
        mailplan.stop()
        postfix.stop()
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000, help="messages per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per server and case")
    parser.add_argument("--sizes", default="1024,10240", help="message sizes in bytes")
    parser.add_argument("--sessions", default="10,50", help="parallel SMTP sessions")
    parser.add_argument("--workers", type=int, default=None, help="mailplan server processes")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("smtp_vs_postfix: needs root (Postfix's master runs as root)", file=sys.stderr)
        return 2
    if shutil.which("smtp-source") is None or shutil.which("postfix") is None:
        print("smtp_vs_postfix: needs Debian's postfix package (smtp-source)", file=sys.stderr)
        return 2
    sizes = [int(s) for s in args.sizes.split(",")]
    sessions = [int(s) for s in args.sessions.split(",")]
    print(f"cores={os.cpu_count()} load_avg_start={os.getloadavg()[0]:.2f} "
          f"messages_per_run={args.messages} rounds={args.rounds}")  # fmt: skip
    rows = []
    with servers(args.workers) as (postfix, mailplan):
        for size in sizes:
            for sess in sessions:
                runs: dict[str, list[float]] = {"postfix": [], "mailplan": []}
                for r in range(args.rounds):
                    order = [("postfix", postfix), ("mailplan", mailplan)]
                    for name, server in order if r % 2 == 0 else order[::-1]:
                        runs[name].append(run_once(server, size, sess, args.messages))
                p, m = statistics.median(runs["postfix"]), statistics.median(runs["mailplan"])
                rows.append((size, sess, p, m))
                print(
                    f"size={size // 1024}KB sessions={sess:>3}  postfix={p:7.0f} msg/s "
                    f"{[round(x) for x in runs['postfix']]}  mailplan={m:7.0f} msg/s "
                    f"{[round(x) for x in runs['mailplan']]}  ratio={m / p:.2f}",
                    flush=True,
                )
    print(f"load_avg_end={os.getloadavg()[0]:.2f}")
    print("case            postfix msg/s  mailplan msg/s  ratio")
    for size, sess, p, m in rows:
        print(f"{size // 1024:>3} KB x {sess:>3} s.  {p:13.0f}  {m:14.0f}  {m / p:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
