"""IMAP IDLE: how soon a message SMTP delivers is announced, and what idle sessions cost.

Starts the reference server (``mailplan serve --smtp ... --imap ... --workers W``) on
loopback in a temporary folder with one user, then:

- ``latency``: one session SELECTs INBOX and IDLEs; N times, a message goes in over SMTP
  and the time from the SMTP ``250`` to end-of-DATA to the session's ``* n EXISTS`` is
  taken: median, p90 and max in milliseconds;
- ``cpu``: S sessions SELECT INBOX and IDLE, nothing is delivered, and the CPU time of the
  server's processes (``/proc/PID/stat`` utime + stime of the workers and store processes)
  over SECONDS seconds is reported.

Run: .venv/bin/python benchmarks/imap_idle_latency.py [--deliveries 30] [--sessions 50]
"""

from __future__ import annotations

import argparse
import os
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner.mailserver.maildrop import maildir_path
from planner.mailserver.users import hash_password

ROOT = Path(__file__).resolve().parent.parent
ADDRESS, PASSWORD = "idle@example.test", "idle-pass"


def start(data_dir: Path, workers: int) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    """``mailplan serve`` with SMTP and IMAP on free loopback ports; its ports."""
    cmd = [sys.executable, "-m", "planner", "serve", "--data-dir", str(data_dir)]
    cmd += ["--domain", "example.test", "--smtp", "127.0.0.1:0", "--submission", "off"]
    cmd += ["--imap", "127.0.0.1:0", "--insecure-auth", "--workers", str(workers)]
    cmd += ["--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT, start_new_session=True)
    assert proc.stdout is not None
    ports: dict[str, int] = {}
    while (line := proc.stdout.readline().decode()).startswith("listening "):
        _, name, address = line.split()
        ports[name] = int(address.rsplit(":", 1)[1])
    if not line.startswith("ready "):
        raise RuntimeError(f"server did not start: {line!r}")
    return proc, ports


class Session:
    """A raw IMAP session in IDLE on INBOX."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""
        self.line()
        self.command(f'a LOGIN {ADDRESS} "{PASSWORD}"', "a ")
        self.command("b SELECT INBOX", "b ")
        self.sock.sendall(b"c IDLE\r\n")
        self.until(lambda line: line.startswith(b"+"))

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def until(self, done: object) -> bytes:
        while True:
            line = self.line()
            if done(line):  # type: ignore[operator]
                return line

    def command(self, text: str, tag: str) -> None:
        self.sock.sendall(text.encode() + b"\r\n")
        self.until(lambda line: line.startswith(tag.encode()))


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process and all its descendants alive now (clock ticks)."""
    stats: dict[int, list[str]] = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                stats[int(p)] = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
    family, grew = {pid}, True
    while grew:
        more = {p for p, f in stats.items() if int(f[1]) in family} - family
        family |= more
        grew = bool(more)
    return sum(int(stats[p][11]) + int(stats[p][12]) for p in family if p in stats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=30)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mailplan-idle-") as tmp:
        data = Path(tmp)
        (data / "users").write_text(f"{ADDRESS}:{hash_password(PASSWORD, log_n=4)}\n")
        for sub in ("tmp", "new", "cur"):
            (maildir_path(data, ADDRESS) / sub).mkdir(parents=True)
        proc, ports = start(data, args.workers)
        try:
            watcher = Session(ports["imap"])
            took = []
            with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=30) as smtp:
                for i in range(args.deliveries):
                    body = f"From: a@remote.test\r\nSubject: m{i}\r\n\r\nbody\r\n"
                    smtp.sendmail("a@remote.test", [ADDRESS], body)  # returns after 250
                    sent = time.perf_counter()
                    watcher.until(lambda line: line.endswith(b" EXISTS"))
                    took.append((time.perf_counter() - sent) * 1000)
            took.sort()
            print(
                f"latency SMTP 250 -> * n EXISTS, {args.deliveries} deliveries: "
                f"median {statistics.median(took):.1f} ms, "
                f"p90 {took[int(len(took) * 0.9) - 1]:.1f} ms, max {took[-1]:.1f} ms"
            )
            sessions = [Session(ports["imap"]) for _ in range(args.sessions)]
            time.sleep(1.0)  # the logins' own work settles
            before = cpu_ticks(proc.pid)
            time.sleep(args.seconds)
            used = (cpu_ticks(proc.pid) - before) / os.sysconf("SC_CLK_TCK")
            print(
                f"cpu with {args.sessions + 1} sessions in IDLE over {args.seconds:.0f} s: "
                f"{used:.2f} s ({used / args.seconds * 100:.1f}% of one core)"
            )
            for s in sessions:
                s.sock.close()
            watcher.sock.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
