"""``mailplan serve`` as a program: listener lines, workers, stats.json, signals, errors."""

from __future__ import annotations

import json
import os
import re
import signal
import smtplib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from planner.cli import run
from tests.mailserver.conftest import (
    MAILPLAN,
    ServerProcess,
    make_users,
    start_server,
    wait_for,
)

pytestmark = pytest.mark.timeout(90)

LISTEN_RE = re.compile(r"^listening (smtp|submission|pop3) 127\.0\.0\.1:(\d+)$")


def send_one(port: int, rcpt: str = "bob@example.test", tag: str = "x") -> None:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=10) as c:
        c.sendmail("a@client.test", [rcpt], f"Subject: {tag}\r\n\r\nhi\r\n".encode())


def worker_pids(server_pid: int) -> list[int]:
    cmd = ["ps", "-o", "pid=", "--ppid", str(server_pid)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with the default options for the tests that only look at it (bob and alice)."""
    data_dir = tmp_path_factory.mktemp("serve") / "data"
    data_dir.mkdir()
    make_users(data_dir)
    srv = start_server(data_dir)
    yield srv
    srv.stop()


class TestStartAndStop:
    def test_prints_listener_lines_then_ready(self, server):
        """Port 0 is resolved and printed as 'listening NAME HOST:PORT', then 'ready'."""
        srv = server
        assert [LISTEN_RE.match(line) is not None for line in srv.lines[:2]] == [True, True]
        assert re.fullmatch(r"ready workers=1 pid=\d+", srv.lines[2])
        assert 0 not in srv.ports.values()

    def test_sigterm_stops_cleanly(self, server_factory):
        """SIGTERM ends the server with status 0 and a final 'stopped' line."""
        srv = server_factory()
        send_one(srv.smtp_port)
        assert srv.stop() == 0
        assert srv.lines[-1] == "stopped"

    def test_stats_json_counts_over_all_workers(self, server_factory):
        """stats.json sums every worker: 20 accepted messages, one unknown-user refusal."""
        srv = server_factory(workers=2)
        for i in range(20):
            send_one(srv.smtp_port, tag=f"m{i}")
        with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as c:
            c.ehlo()
            c.mail("a@client.test")
            assert c.rcpt("nobody@example.test")[0] == 550

        def caught_up() -> dict[str, object] | None:
            s = srv.stats()
            return s if s["accepted"] == 20 and s["rejected"]["unknown_user"] == 1 else None

        stats = wait_for(caught_up, what="stats.json to catch up")
        assert {k: stats[k] for k in ("accepted", "delivered_local", "queued", "workers")} == {
            "accepted": 20, "delivered_local": 20, "queued": 0, "workers": 2
        }  # fmt: skip
        assert set(stats) >= {"relayed", "deferred", "bounced", "rejected"}

    def test_both_workers_serve(self, server_factory):
        """With two workers the kernel spreads connections over both processes."""
        srv = server_factory(workers=2)
        for i in range(30):
            send_one(srv.smtp_port, tag=f"w{i}")
        pattern = re.compile(r"mailplan/(w\d)\[\d+\] INFO \w+: accepted")
        wait_for(lambda: len(pattern.findall(srv.log())) == 30, 5, "30 log lines")
        assert set(pattern.findall(srv.log())) == {"w0", "w1"}

    def test_dead_worker_is_replaced(self, server_factory):
        """A worker killed with SIGKILL is restarted and the server keeps accepting mail."""
        srv = server_factory(workers=2)
        before = worker_pids(srv.proc.pid)
        assert len(before) == 2
        os.kill(before[0], signal.SIGKILL)
        after = wait_for(
            lambda: (p := worker_pids(srv.proc.pid)) and len(p) == 2 and before[0] not in p and p,
            what="a replacement worker",
        )  # fmt: skip
        assert before[1] in after
        for i in range(5):
            send_one(srv.smtp_port, tag=f"r{i}")
        assert len(srv.maildir_files("bob@example.test")) == 5

    def test_store_process_death_falls_back_to_threads(self, server_factory):
        """If a worker's store process dies, mail still gets durably written and a 250."""
        srv = server_factory()
        (worker,) = worker_pids(srv.proc.pid)
        (store,) = worker_pids(worker)
        os.kill(store, signal.SIGKILL)
        wait_for(lambda: "store process went away" in srv.log(), 10, "the worker to notice")
        for i in range(3):
            send_one(srv.smtp_port, tag=f"f{i}")
        assert len(srv.maildir_files("bob@example.test")) == 3

    def test_shutdown_finishes_message_in_flight(self, server_factory):
        """A message whose DATA is under way when SIGTERM comes is still accepted (250)."""
        srv = server_factory("--shutdown-grace", "10")
        c = smtplib.SMTP("127.0.0.1", srv.smtp_port, local_hostname="client.test", timeout=10)
        try:
            c.ehlo()
            c.mail("a@client.test")
            c.rcpt("bob@example.test")
            assert c.docmd("DATA")[0] == 354
            c.send(b"Subject: in flight\r\n\r\nfirst half\r\n")
            srv.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            c.send(b"second half\r\n.\r\n")
            code, _ = c.getreply()
            assert code == 250
        finally:
            c.close()
        assert srv.proc.wait(30) == 0
        (path,) = srv.maildir_files("bob@example.test")
        assert path.read_bytes().endswith(b"first half\nsecond half\n")


class TestBadOptions:
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (
                ["--smtp", "nonsense"],
                "mailplan: --smtp: expected HOST:PORT (port 0-65535, IPv6 in brackets), got 'nonsense'",
            ),
            (
                ["--smtp", "0.0.0.0:0", "--insecure-auth"],
                "mailplan: --insecure-auth: allowed on loopback only, but --smtp is 0.0.0.0:0",
            ),
            (
                ["--max-recipients", "10"],
                "mailplan: --max-recipients: Input should be greater than or equal to 100 (got 10)",
            ),
            (
                ["--tls-cert", "/nonexistent.pem"],
                "mailplan: --tls-cert/--tls-key: give both or neither",
            ),
            (["--domain", "a/b"], "mailplan: --domain: not a domain name: 'a/b'"),
        ],
        ids=[
            "bad-listener",
            "insecure-auth-public",
            "too-few-recipients",
            "cert-without-key",
            "bad-domain",
        ],
    )
    def test_one_line_and_exit_2(self, tmp_path, capsys, args, message):
        """Bad options print one 'mailplan: ...' line naming the option, exit 2, no traceback."""
        argv = ["serve", "--data-dir", str(tmp_path), "--domain", "example.test",
                "--submission", "off", *args]  # fmt: skip
        assert run(argv) == 2
        assert capsys.readouterr().err.strip() == message

    def test_port_in_use(self, server, tmp_path):
        """A listener port already taken is a one-line error with exit 2."""
        srv = server
        out = subprocess.run(
            [*MAILPLAN, "serve", "--data-dir", str(tmp_path / "other"), "--domain", "example.test",
             "--smtp", "127.0.0.1:0", "--submission", f"127.0.0.1:{srv.smtp_port}"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert out.returncode == 2
        assert out.stderr.startswith(
            f"mailplan: --submission: cannot listen on 127.0.0.1:{srv.smtp_port}"
        )

    def test_second_server_on_the_same_data_dir_is_refused(self, server_factory):
        """A second `mailplan serve` on a data folder in use exits 2 with one line naming the
        first server's pid, without touching its queue; once the first stops, it may start."""
        srv = server_factory(name="busy")
        held = srv.data_dir / "queue" / "tmp" / "in-flight"
        held.write_bytes(b"a queue file being written")
        out = subprocess.run(
            [*MAILPLAN, "serve", "--data-dir", str(srv.data_dir), "--domain", "example.test",
             "--smtp", "127.0.0.1:0", "--submission", "off"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert out.returncode == 2
        assert out.stderr == (
            f"mailplan: --data-dir: {srv.data_dir} is in use by another server "
            f"(pid {srv.proc.pid})\n"
        )
        assert held.exists()
        send_one(srv.smtp_port)
        assert srv.stop() == 0
        again = server_factory(name="busy", users=False)
        send_one(again.smtp_port)
        assert len(again.maildir_files("bob@example.test")) == 2

    def test_pop3_idle_timeout_option(self, server_factory):
        """--pop3-idle-timeout sets the POP3 autologout: a silent client is told so and closed."""
        srv = server_factory("--pop3", "127.0.0.1:0", "--pop3-idle-timeout", "1")
        with socket.create_connection(("127.0.0.1", srv.ports["pop3"]), timeout=30) as sock:
            f = sock.makefile("rb")
            assert f.readline().startswith(b"+OK")
            start = time.monotonic()
            assert f.readline() == b"-ERR Disconnected for inactivity.\r\n"
            assert time.monotonic() - start >= 0.9
            assert f.readline() == b""

    def test_tls_handshake_timeout_option(self, server_factory):
        """--tls-handshake-timeout: a POP3S client that never starts TLS is closed after it,
        with a log line saying why."""
        srv = server_factory("--pop3s", "127.0.0.1:0", "--tls-handshake-timeout", "1")
        with socket.create_connection(("127.0.0.1", srv.ports["pop3s"]), timeout=30) as sock:
            start = time.monotonic()
            assert sock.recv(100) == b""
            assert time.monotonic() - start >= 0.9
        wait_for(lambda: "TLS handshake timeout (1 s), closing" in srv.log(), 10, "the log line")

    def test_pop3_listeners(self, server_factory):
        """--pop3 and --pop3s start POP3 listeners on every worker and print their ports."""
        srv = server_factory(
            "--pop3", "127.0.0.1:0", "--pop3s", "127.0.0.1:0", "--insecure-auth", workers=2
        )
        assert {"pop3", "pop3s"} <= srv.ports.keys()
        assert [line.split()[1] for line in srv.lines if line.startswith("listening")] == [
            "smtp", "submission", "pop3", "pop3s"
        ]  # fmt: skip

    def test_insecure_auth_warns_at_start(self, tmp_path):
        """--insecure-auth prints a warning on standard error when the server starts."""
        proc = subprocess.Popen(
            [*MAILPLAN, "serve", "--data-dir", str(tmp_path), "--domain", "example.test",
             "--smtp", "127.0.0.1:0", "--submission", "off", "--insecure-auth", "--workers", "1",
             "--log-file", str(tmp_path / "log")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert proc.stderr is not None
            assert proc.stderr.readline().startswith("mailplan: warning: --insecure-auth:")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)


def test_queue_lists_nothing_for_an_empty_queue(tmp_path):
    """`mailplan queue` on a fresh data folder says the queue is empty."""
    (tmp_path / "queue" / "entries").mkdir(parents=True)
    cmd = [*MAILPLAN, "queue", "--data-dir", str(tmp_path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert out.stdout == "queue is empty\n"


def test_stats_json_is_valid_json_while_running(server):
    """stats.json is replaced atomically: always complete JSON while the server runs."""
    srv = server
    path: Path = srv.data_dir / "stats.json"
    for _ in range(20):
        assert isinstance(json.loads(path.read_text()), dict)
        time.sleep(0.05)
