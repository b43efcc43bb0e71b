"""IMAP: the reference server against Dovecot's IMAP, side by side in one run (issue #17).

Sets up, on loopback and in a temporary folder, USERS users each with MESSAGES messages of
SIZE_KB KB (hard links to one pool of files, as ``pop3_vs_dovecot.py`` does), plus one
user with BIG messages (10,000 by default) for the folder-open row, and starts:

- the reference server (``mailplan serve --smtp off --submission off --imap ...``,
  ``--workers 1``: the default on 2 CPUs) with the users' real scrypt hashes (verified
  credentials cached in memory);
- Dovecot 2.3 (``dovecot -F -c conf``) in its default process model (no service tuning),
  listening on 127.0.0.1, a passwd-file of the same users. Dovecot 2.3 has no scrypt, so
  its passwords are PLAIN (no hashing): the login row favours Dovecot.

Rows, every server in the same run, one user per session:

- ``FETCH``: S sessions (10), each LOGIN, SELECT INBOX, ``FETCH n (BODY.PEEK[])`` for n =
  1..K (K = 100, or MESSAGES if fewer), LOGOUT, looping for DURATION seconds: messages per second;
- ``logins``: S sessions of LOGIN, SELECT INBOX, LOGOUT: sessions per second;
- ``open``: SELECT of the BIG folder and ``FETCH 1:* (UID FLAGS)``, the first time (UID
  list or index built) and then the median of three more opens.

Every user logs in once on every server before the timed rows (new/ -> cur/, UID lists,
Dovecot's index); the pool is read once (page cache).

Run (as root, for Dovecot): .venv/bin/python benchmarks/imap_vs_dovecot.py [--duration 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from pop3_vs_dovecot import (  # noqa: E402
    DOMAIN,
    Server,
    address,
    build_pool,
    link_maildir,
    on_uvloop,
    password,
    wait_port,
)

from planner.mailserver.users import UserDB  # noqa: E402
from planner.net import free_port  # noqa: E402

BIG_USER = 999


# region #### servers ####


def start_reference(data_dir: Path, logs: Path) -> Server:
    """The reference server, IMAP only, one worker."""
    log = logs / "mailplan.log"
    cmd = [sys.executable, "-m", "planner", "serve", "--data-dir", str(data_dir)]
    cmd += ["--smtp", "off", "--submission", "off", "--imap", "127.0.0.1:0", "--insecure-auth"]
    cmd += ["--workers", "1", "--log-file", str(log), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT, start_new_session=True)
    assert proc.stdout is not None
    port = 0
    while (line := proc.stdout.readline().decode()).startswith("listening "):
        port = int(line.rsplit(":", 1)[1]) if line.startswith("listening imap ") else port
    if not line.startswith("ready ") or not port:
        raise RuntimeError(f"reference server did not start: {line!r}; see {log}")
    return Server("mailplan", port, proc, log)


DOVECOT_CONF = """\
base_dir = {run}
state_dir = {state}
instance_name = mailplan-imap-bench-{pid}
log_path = {log}
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:~/Maildir
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
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


def start_dovecot(folder: Path, passwd: Path, logs: Path) -> Server:
    """Dovecot with its default process model (a login and an imap process per session)."""
    port = free_port()
    run, state = folder / "run", folder / "state"
    run.mkdir()
    state.mkdir()
    log = logs / "dovecot.log"
    conf = folder / "dovecot.conf"
    conf.write_text(
        DOVECOT_CONF.format(
            run=run, state=state, pid=os.getpid(), log=log, passwd=passwd, port=port
        )
    )
    proc = subprocess.Popen(
        ["dovecot", "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    wait_port(port, proc, "dovecot")
    return Server("dovecot", port, proc, log)


# endregion

# region #### the driver ####


class Client:
    """A minimal IMAP client: tagged commands, literals in answers read and counted."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.n = 0

    @classmethod
    async def connect(cls, port: int) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
        client = cls(reader, writer)
        await reader.readline()
        return client

    async def command(self, text: str) -> tuple[bytes, int]:
        """Send a command; (tagged status line, literal octets received)."""
        self.n += 1
        tag = b"t%d" % self.n
        self.writer.write(tag + b" " + text.encode() + b"\r\n")
        octets = 0
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("closed")
            while line.endswith(b"}\r\n"):
                size = int(line[line.rindex(b"{") + 1 : -3])
                await self.reader.readexactly(size)
                octets += size
                line = await self.reader.readline()
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise RuntimeError(f"{text}: {line!r}")
                return line, octets

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


async def session(port: int, user: int, fetches: int) -> int:
    """LOGIN, SELECT INBOX, FETCH n (BODY.PEEK[]) for n = 1..fetches, LOGOUT; octets read."""
    c = await Client.connect(port)
    try:
        await c.command(f'LOGIN {address(user)} "{password(user)}"')
        await c.command("SELECT INBOX")
        octets = 0
        for n in range(1, fetches + 1):
            octets += (await c.command(f"FETCH {n} (BODY.PEEK[])"))[1]
        await c.command("LOGOUT")
        return octets
    finally:
        await c.close()


@dataclass
class Cell:
    sessions_per_s: float
    msgs_per_s: float
    mb_per_s: float


async def drive(port: int, sessions: int, fetches: int, duration_s: float) -> Cell:
    """``sessions`` workers, worker i as user i, looping sessions until the time is up."""
    done = [0, 0]
    stop_at = time.perf_counter() + duration_s

    async def worker(user: int) -> None:
        while time.perf_counter() < stop_at:
            octets = await session(port, user, fetches)  # then add: no await in between
            done[1] += octets
            done[0] += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(u) for u in range(sessions)))
    elapsed = time.perf_counter() - t0
    return Cell(done[0] / elapsed, done[0] * fetches / elapsed, done[1] / elapsed / 1e6)


async def open_big(port: int) -> float:
    """Seconds for LOGIN-less part: SELECT INBOX and FETCH 1:* (UID FLAGS) of the big user."""
    c = await Client.connect(port)
    try:
        await c.command(f'LOGIN {address(BIG_USER)} "{password(BIG_USER)}"')
        t0 = time.perf_counter()
        await c.command("SELECT INBOX")
        await c.command("FETCH 1:* (UID FLAGS)")
        elapsed = time.perf_counter() - t0
        await c.command("LOGOUT")
        return elapsed
    finally:
        await c.close()


# endregion


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--messages", type=int, default=100, help="per user")
    parser.add_argument("--size-kb", type=float, default=10.0)
    parser.add_argument("--big", type=int, default=10_000, help="messages of the big folder")
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per cell")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell (median)")
    args = parser.parse_args()
    if args.sessions > args.users:
        parser.error("--sessions: more sessions than --users (one user per session)")
    if shutil.which("dovecot") is None:
        parser.error("dovecot is not installed (Debian: dovecot-imapd)")
    if os.geteuid() != 0:
        parser.error("run as root: Dovecot's mail processes need to switch to a mail user")

    work = Path(tempfile.mkdtemp(prefix="imap-bench-"))
    work.chmod(0o755)
    logs = work / "logs"
    logs.mkdir()
    servers: list[Server] = []
    try:
        t0 = time.perf_counter()
        names = build_pool(work / "pool", args.messages, int(args.size_kb * 1024))
        big = build_pool(work / "bigpool", args.big, 2048)
        users = [*range(args.users), BIG_USER]
        ref = work / "reference"
        db = UserDB(ref / "users")
        for i in users:
            db.add(address(i), password(i))
        nobody = pwd.getpwnam("nobody")
        dove = work / "dovecot"
        lines = []
        for i in users:
            pool, files = (work / "bigpool", big) if i == BIG_USER else (work / "pool", names)
            link_maildir(pool, files, ref / "mailboxes" / DOMAIN / f"user{i}")
            home = dove / "home" / f"user{i}"
            link_maildir(pool, files, home / "Maildir")
            lines.append(
                f"{address(i)}:{{PLAIN}}{password(i)}:{nobody.pw_uid}:{nobody.pw_gid}::{home}"
            )
        (dove / "passwd").write_text("\n".join(lines) + "\n")
        for path, dirs, _files in os.walk(dove / "home"):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
            for d in dirs:
                os.chown(os.path.join(path, d), nobody.pw_uid, nobody.pw_gid)
        setup_s = time.perf_counter() - t0
        servers = [start_dovecot(dove, dove / "passwd", logs), start_reference(ref, logs)]
        for path in (work / "pool").iterdir():
            path.read_bytes()
        load_before = os.getloadavg()[0]
        first_open = {s.label: on_uvloop(open_big(s.port)) for s in servers}
        for srv in servers:
            on_uvloop(drive(srv.port, args.users, 1, 0.1))  # every user logged in once
        rows: dict[str, dict[str, list[float]]] = {s.label: {} for s in servers}
        for _ in range(args.repeat):
            for srv in servers:  # interleaved: a busy neighbour hits both alike
                fetches = min(100, args.messages)
                fetch = on_uvloop(drive(srv.port, args.sessions, fetches, args.duration))
                login = on_uvloop(drive(srv.port, args.sessions, 0, args.duration))
                opened = on_uvloop(open_big(srv.port))
                r = rows[srv.label]
                r.setdefault("fetch msgs/s", []).append(fetch.msgs_per_s)
                r.setdefault("fetch MB/s", []).append(fetch.mb_per_s)
                r.setdefault("logins/s", []).append(login.sessions_per_s)
                r.setdefault("open s", []).append(opened)
        load_after = os.getloadavg()[0]
    finally:
        for srv in servers:
            srv.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"imap_vs_dovecot: {args.users} users x {args.messages} messages x {args.size_kb:g} KB, "
        f"{args.sessions} sessions, {args.duration:g} s per cell, median of {args.repeat}; "
        f"big folder {args.big} messages (set-up {setup_s:.1f} s)\n"
        f"load average before {load_before:.2f}, after {load_after:.2f}; {os.cpu_count()} CPUs\n"
        "passwords: mailplan scrypt (n=2^14) with the credential cache; Dovecot PLAIN"
    )
    labels = [s.label for s in servers]
    print(f"{'row':<16}" + "".join(f"{lb:>14}" for lb in labels) + f"{'mailplan/dovecot':>18}")
    med = {lb: {k: statistics.median(v) for k, v in rows[lb].items()} for lb in labels}
    for key in ("fetch msgs/s", "fetch MB/s", "logins/s", "open s"):
        values = [med[lb][key] for lb in labels]
        ratio = med["mailplan"][key] / med["dovecot"][key] if med["dovecot"][key] else 0.0
        fmt = "{:>14.3f}" if key == "open s" else "{:>14.1f}"
        print(f"{key:<16}" + "".join(fmt.format(v) for v in values) + f"{ratio:>17.2f}x")
    print(
        f"{'first open s':<16}"
        + "".join(f"{first_open[lb]:>14.3f}" for lb in labels)
        + f"{first_open['mailplan'] / first_open['dovecot']:>17.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
