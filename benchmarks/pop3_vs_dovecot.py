"""POP3: the reference server against Dovecot's POP3, side by side in one run.

Sets up, on loopback and in a temporary folder:
- USERS users (one per concurrent session, since each maildrop is locked per session), each
  with MESSAGES messages of SIZE_KB KB, hard links to one pool of files to keep the disk small;
- the reference server (``mailplan serve --smtp off --submission off --pop3 ...``: POP3
  only) with the users' real scrypt hashes (verified credentials cached in memory),
  ``--workers 1`` and ``--workers 2``, and once more with the credential cache off
  (``--credential-cache-ttl 0``), for the login rows only (what a login costs when the
  client polls less often than the cache lasts); each on its own data folder (a server
  locks its folder) of hard links to the same messages;
- its own Dovecot (``dovecot -F -c conf``: passwd-file with PLAIN passwords,
  ``pop3_lock_session = yes``), in the default process model (a new pop3-login and pop3
  process per session) and the tuned one (pop3-login ``service_count = 0``,
  ``process_min_avail = 2``).

Every server answers every row in the same run, rows interleaved, so a busy neighbour hits
them alike. One driver (asyncio + uvloop, in this process) runs C concurrent sessions, session i
as user i, for DURATION seconds per cell: USER, PASS, STAT, [RETR 1..k], QUIT.
Rows: logins/s (k = 0) and retrieval (k = 10 and 100: messages/s and MB/s), at 1, 10 and
50 sessions. Before measuring, every user logs in on every server (Maildir new/ -> cur/,
Dovecot's index, the credential cache), and the pool is read once (page cache).

Run: .venv/bin/python benchmarks/pop3_vs_dovecot.py [--duration 3] [--repeat 1] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.mailserver.provision import link_mailbox, pool_messages  # noqa: E402
from planner.mailserver.users import UserDB  # noqa: E402
from planner.net import free_port, run_loop  # noqa: E402

T = TypeVar("T")


def on_uvloop(main: Coroutine[Any, Any, T]) -> T:
    """Run the driver on uvloop (the server's loop too), as every figure here was measured."""
    return run_loop(main, use_uvloop=True)


DOMAIN = "bench.test"


# region #### the maildrops ####


def pool_message(i: int, size: int) -> bytes:
    """A deterministic text message of about ``size`` bytes, LF line ends, some dot lines."""
    head = (
        f"From: sender{i}@example.test\nTo: someone@{DOMAIN}\nSubject: benchmark message {i}\n"
        f"Message-ID: <{i}.bench@example.test>\nDate: Sun, 29 Nov 2026 10:00:00 +0000\n\n"
    ).encode()
    lines = []
    n = 0
    while len(head) + sum(len(x) for x in lines) < size:
        text = f"line {n} of message {i}: " + "lorem ipsum dolor sit amet " * 2
        lines.append(((".") if n % 17 == 0 else "").encode() + text[:70].encode() + b"\n")
        n += 1
    return head + b"".join(lines)


def build_pool(folder: Path, count: int, size: int) -> list[str]:
    """``count`` message files named as the store names them; returns the names."""
    return pool_messages(folder, (pool_message(i, size) for i in range(count)))


def link_maildir(pool: Path, names: list[str], maildir: Path) -> None:
    """A Maildir whose new/ holds hard links to the pool."""
    link_mailbox(pool, names, maildir)


def address(i: int) -> str:
    return f"user{i}@{DOMAIN}"


def password(i: int) -> str:
    return f"bench password {i}"


# endregion

# region #### servers ####


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.recv(100)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port}")


@dataclass
class Server:
    """A POP3 server under test."""

    label: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)  # the server and its workers
                self.proc.wait(5)


def start_reference(data_dir: Path, workers: int, logs: Path, *, cold: bool = False) -> Server:
    """The reference server, POP3 only; ``cold``: no credential cache, every login hashes."""
    log = logs / f"mailplan-{workers}{'-cold' if cold else ''}.log"
    cmd = [sys.executable, "-m", "planner", "serve", "--data-dir", str(data_dir)]
    cmd += ["--smtp", "off", "--submission", "off", "--pop3", "127.0.0.1:0", "--insecure-auth"]
    cmd += ["--workers", str(workers), "--log-file", str(log), "--log-level", "warning"]
    cmd += ["--credential-cache-ttl", "0"] if cold else []
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, cwd=ROOT, env=os.environ.copy(), start_new_session=True
    )
    assert proc.stdout is not None
    port = 0
    while (line := proc.stdout.readline().decode()).startswith("listening "):
        port = int(line.rsplit(":", 1)[1]) if line.startswith("listening pop3 ") else port
    if not line.startswith("ready ") or not port:
        raise RuntimeError(f"reference server did not start: {line!r}; see {log}")
    label = f"mailplan {workers}p" + (" cold" if cold else "")
    return Server(label, port, proc, log)


DOVECOT_CONF = """\
base_dir = {run}
state_dir = {state}
instance_name = mailplan-bench-{tag}
log_path = {log}
listen = 127.0.0.1
protocols = pop3
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:~/Maildir
pop3_lock_session = yes
mail_max_userip_connections = 1000
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {passwd}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {port}
  }}
{tuning}}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
}}
"""
TUNED = "  service_count = 0\n  process_min_avail = 2\n"


def start_dovecot(folder: Path, passwd: Path, tuned: bool, logs: Path) -> Server:
    tag = "tuned" if tuned else "default"
    port = free_port()
    conf = folder / f"dovecot-{tag}.conf"
    run, state = folder / f"run-{tag}", folder / f"state-{tag}"
    run.mkdir()
    state.mkdir()
    log = logs / f"dovecot-{tag}.log"
    conf.write_text(
        DOVECOT_CONF.format(
            run=run,
            state=state,
            tag=f"{tag}-{os.getpid()}",
            log=log,
            passwd=passwd,
            port=port,
            tuning=TUNED if tuned else "",
        )
    )
    proc = subprocess.Popen(
        ["dovecot", "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    wait_port(port, proc, f"dovecot {tag}")
    return Server(f"dovecot {tag}", port, proc, log)


# endregion

# region #### the driver ####


@dataclass
class Tally:
    sessions: int = 0
    messages: int = 0
    octets: int = 0
    errors: int = 0
    error_lines: list[str] = field(default_factory=list)


async def one_session(port: int, user: int, retrieve: int, tally: Tally) -> None:
    """USER, PASS, STAT, RETR 1..retrieve, QUIT."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
    try:
        await reader.readline()
        writer.write(f"USER {address(user)}\r\n".encode())
        await reader.readline()
        writer.write(f"PASS {password(user)}\r\n".encode())
        reply = await reader.readline()
        if not reply.startswith(b"+OK"):
            tally.errors += 1
            if len(tally.error_lines) < 3:
                tally.error_lines.append(reply.decode(errors="replace").strip())
            writer.write(b"QUIT\r\n")
            return
        writer.write(b"STAT\r\n")
        await reader.readline()
        octets = 0
        for n in range(1, retrieve + 1):
            writer.write(b"RETR %d\r\n" % n)
            first = await reader.readline()
            if not first.startswith(b"+OK"):
                raise RuntimeError(f"RETR {n}: {first!r}")
            octets += len(await reader.readuntil(b"\r\n.\r\n"))
        writer.write(b"QUIT\r\n")
        await reader.readline()
        tally.sessions += 1
        tally.messages += retrieve
        tally.octets += octets
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


async def drive(port: int, sessions: int, retrieve: int, duration_s: float) -> tuple[Tally, float]:
    """``sessions`` workers, worker i as user i, looping sessions until the time is up."""
    tally = Tally()
    stop_at = time.perf_counter() + duration_s

    async def worker(user: int) -> None:
        while time.perf_counter() < stop_at:
            await one_session(port, user, retrieve, tally)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(u) for u in range(sessions)))
    return tally, time.perf_counter() - t0


async def warm_up(port: int, users: int, retrieve: int) -> None:
    """Every user logs in four times (each worker process sees each user); user 0 reads."""
    tally = Tally()
    await one_session(port, 0, retrieve, tally)
    for _ in range(4):
        for start in range(0, users, 10):
            await asyncio.gather(
                *(one_session(port, u, 0, tally) for u in range(start, min(users, start + 10)))
            )
    if tally.errors:
        raise RuntimeError(f"warm-up failed on port {port}: {tally.error_lines}")


async def warm_users(port: int, users: int) -> None:
    """Users 0..users-1 log in three times each, ten at a time."""
    tally = Tally()
    for _ in range(3):
        for start in range(0, users, 10):
            await asyncio.gather(
                *(one_session(port, u, 0, tally) for u in range(start, min(users, start + 10)))
            )


# endregion


@dataclass
class Cell:
    per_s: float
    msgs_per_s: float
    mb_per_s: float
    errors: int


def measure(
    servers: list[Server], rows: list[tuple[str, int, int]], duration: float, repeat: int
) -> dict[tuple[str, int, str], Cell]:
    """Each row on each server, ``repeat`` times, servers interleaved; medians.

    Before a row every server sees each of the row's users log in three times, so every
    worker process has them in its credential cache (60 s after the last use: a row that
    follows a long pause would otherwise measure scrypt, which the cold server shows).
    A server whose label ends in "cold" takes part in the login rows only.
    """
    results: dict[tuple[str, int, str], list[Cell]] = {}
    for kind, retrieve, sessions in rows:
        taking_part = [s for s in servers if kind == "logins" or not s.label.endswith("cold")]
        for srv in taking_part:
            if not srv.label.endswith("cold"):
                on_uvloop(warm_users(srv.port, sessions))
        for _ in range(repeat):
            for srv in taking_part:
                tally, elapsed = on_uvloop(drive(srv.port, sessions, retrieve, duration))
                cell = Cell(
                    tally.sessions / elapsed,
                    tally.messages / elapsed,
                    tally.octets / elapsed / 1e6,
                    tally.errors,
                )
                results.setdefault((kind, sessions, srv.label), []).append(cell)
        figures = []
        for srv in taking_part:
            cells = results[(kind, sessions, srv.label)]
            figure = statistics.median(c.per_s if kind == "logins" else c.msgs_per_s for c in cells)
            figures.append(f"{srv.label}={figure:,.0f}")
        print(f"  {kind:>8} {sessions:>3} sessions: " + "  ".join(figures), file=sys.stderr)
    out = {}
    for key, cells in results.items():
        out[key] = Cell(
            statistics.median(c.per_s for c in cells),
            statistics.median(c.msgs_per_s for c in cells),
            statistics.median(c.mb_per_s for c in cells),
            sum(c.errors for c in cells),
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50, help="users = the most sessions")
    parser.add_argument("--messages", type=int, default=1000, help="messages per user")
    parser.add_argument("--size-kb", type=float, default=10.0)
    parser.add_argument("--sessions", default="1,10,50", help="concurrent sessions per row")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per cell")
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell (median)")
    parser.add_argument("--quick", action="store_true", help="10 users, 200 messages, 1 s")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if args.quick:
        args.users, args.messages, args.duration, args.sessions = 10, 200, 1.0, "1,10"
    sessions = [int(s) for s in args.sessions.split(",")]
    if max(sessions) > args.users:
        parser.error("--sessions: more sessions than --users (one user per session)")
    if shutil.which("dovecot") is None:
        parser.error("dovecot is not installed (Debian: dovecot-pop3d)")
    if os.geteuid() != 0:
        parser.error("run as root: Dovecot's mail processes need to switch to a mail user")

    work = Path(tempfile.mkdtemp(prefix="pop3-bench-"))
    work.chmod(0o755)
    logs = work / "logs"
    logs.mkdir()
    servers: list[Server] = []
    try:
        t0 = time.perf_counter()
        size = int(args.size_kb * 1024)
        names = build_pool(work / "pool", args.messages, size)
        # the reference servers' data dirs (one each: a server locks its folder): the same
        # users file with real scrypt hashes, Maildirs of hard links to the pool
        refs = {kind: work / f"reference-{kind}" for kind in ("1p", "2p", "cold")}
        db = UserDB(refs["1p"] / "users")
        for i in range(args.users):
            db.add(address(i), password(i))
        for ref in refs.values():
            if ref != refs["1p"]:
                ref.mkdir()
                shutil.copy2(refs["1p"] / "users", ref / "users")
            for i in range(args.users):
                link_maildir(work / "pool", names, ref / "mailboxes" / DOMAIN / f"user{i}")
        # Dovecot: passwd-file (PLAIN), homes owned by the unprivileged mail user
        nobody = pwd.getpwnam("nobody")
        dove = work / "dovecot"
        lines = []
        for i in range(args.users):
            home = dove / "home" / f"user{i}"
            link_maildir(work / "pool", names, home / "Maildir")
            ids = f"{nobody.pw_uid}:{nobody.pw_gid}"
            lines.append(f"{address(i)}:{{PLAIN}}{password(i)}:{ids}::{home}")
        (dove / "passwd").write_text("\n".join(lines) + "\n")
        for path, dirs, _files in os.walk(dove / "home"):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
            for d in dirs:
                os.chown(os.path.join(path, d), nobody.pw_uid, nobody.pw_gid)
        setup_s = time.perf_counter() - t0

        servers = [
            start_dovecot(dove, dove / "passwd", False, logs),
            start_dovecot(dove, dove / "passwd", True, logs),
            start_reference(refs["1p"], 1, logs),
            start_reference(refs["2p"], 2, logs),
            start_reference(refs["cold"], 1, logs, cold=True),
        ]
        for path in (work / "pool").iterdir():
            path.read_bytes()
        for srv in servers:
            if not srv.label.endswith("cold"):
                on_uvloop(warm_up(srv.port, args.users, 100))

        rows = [("logins", 0, s) for s in sessions]
        rows += [(f"RETR {k}", k, s) for k in (10, 100) for s in sessions]
        print(
            f"pop3_vs_dovecot: {args.users} users x {args.messages} messages x "
            f"{args.size_kb:g} KB (set-up {setup_s:.1f} s); {args.duration:g} s per cell, "
            f"median of {args.repeat}; load average before: {os.getloadavg()[0]:.2f}, "
            f"{os.cpu_count()} CPUs\npasswords: mailplan scrypt hashes (n=2^14) with verified "
            "credentials cached in memory (60 s after last use); "
            "Dovecot PLAIN in a passwd-file (no hashing)",
            file=sys.stderr,
        )
        results = measure(servers, rows, args.duration, args.repeat)
        load_after = os.getloadavg()[0]
    finally:
        for srv in servers:
            srv.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}", file=sys.stderr)

    print_table(servers, rows, results)
    print(f"\nload average after: {load_after:.2f} (the machine is shared: figures are noisy)")
    return 0


def print_table(
    servers: list[Server],
    rows: list[tuple[str, int, int]],
    results: dict[tuple[str, int, str], Cell],
) -> None:
    """The Markdown table of figures and ratios, then which goals were missed."""
    labels = [s.label for s in servers if not s.label.endswith("cold")]
    ratios = ["1p/dov-default", "1p/dov-tuned", "2p/dov-default", "2p/dov-tuned"]
    print()
    print("| row | sessions | " + " | ".join(labels + ratios) + " |")
    print("|---|---:|" + "---:|" * (len(labels) + len(ratios)))
    goals: list[str] = []
    for kind, _k, sessions in rows:
        logins = kind == "logins"
        by = {lab: results[(kind, sessions, lab)] for lab in labels}
        value = {lab: c.per_s if logins else c.msgs_per_s for lab, c in by.items()}
        shown = []
        for lab in labels:
            text = f"{value[lab]:,.0f}" + ("" if logins else f" ({by[lab].mb_per_s:,.0f} MB/s)")
            shown.append(text + (f" [{by[lab].errors} err]" if by[lab].errors else ""))
        d_def, d_tun = value["dovecot default"], value["dovecot tuned"]
        one, two = value["mailplan 1p"], value["mailplan 2p"]
        r = [one / d_def, one / d_tun, two / d_def, two / d_tun]
        unit = "logins/s" if logins else "msg/s"
        cells = shown + [f"{x:.2f}x" for x in r]
        print(f"| {kind} ({unit}) | {sessions} | " + " | ".join(cells) + " |")
        best = max(one, two)
        need = [("Dovecot default", best >= d_def)]
        if logins:
            need.append(("2x Dovecot default", best >= 2 * d_def))
        else:
            need.append(("0.8x Dovecot tuned", best >= 0.8 * d_tun))
        missed = [name for name, ok in need if not ok]
        if missed:
            goals.append(f"{kind}, {sessions} sessions: below {', '.join(missed)}")
    print()
    print("Goals (best mailplan process model): " + ("all met" if not goals else "; ".join(goals)))
    for srv in servers:
        if srv.label.endswith("cold"):
            cold = [
                f"{results[('logins', s, srv.label)].per_s:,.0f} at {s}"
                for kind, _k, s in rows
                if kind == "logins"
            ]
            print(
                f"\n{srv.label} (credential cache off: every login verifies its scrypt hash): "
                + ", ".join(cold)
                + " sessions (logins/s)"
            )


if __name__ == "__main__":
    sys.exit(main())
