"""Crash safety: SIGKILL the whole server mid-load, every acknowledged message survives;
EIO injected into the store's file operations, no 4yz reply leaves a delivered copy."""

from __future__ import annotations

import os
import smtplib
import threading
import time
import uuid
from pathlib import Path

import pytest

from planner.mailserver.store import decode_queue_head
from tests.mailserver.conftest import PASSWORDS, make_users, wait_for

FAULTS_DIR = Path(__file__).parent / "faults"  # sitecustomize.py: EIO on request

END = "END-OF-MESSAGE"


@pytest.mark.timeout(120)
def test_kill_9_loses_no_acknowledged_message(server_factory):
    """After kill -9 and restart, each 250'd message is in a Maildir or the queue; no partial file."""
    srv = server_factory(
        "--insecure-auth", "--dns", "127.0.0.1:9", "--relay-timeout", "2", workers=2, name="crash"
    )
    acked: list[tuple[str, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        while not stop.is_set():
            tok = uuid.uuid4().hex
            rcpt = "carol@remote.test" if n % 4 == 0 else "bob@example.test"
            body = f"Subject: {tok}\r\n\r\n" + ("filler line\r\n" * 40) + END + "\r\n"
            try:
                with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=5) as c:
                    if rcpt.endswith("remote.test"):
                        c.login("bob@example.test", "bob-secret")
                    c.sendmail("bob@example.test", [rcpt], body.encode())
            except (OSError, smtplib.SMTPException):
                continue
            with lock:
                acked.append((tok, rcpt))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    wait_for(lambda: len(acked) >= 150, 60, "150 acknowledged messages")
    srv.kill()
    time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join(30)
    data_dir = srv.data_dir

    found: set[str] = set()
    new_dirs = list((data_dir / "mailboxes").glob("*/*/new"))
    for path in (f for d in new_dirs for f in d.iterdir()):
        data = path.read_bytes()
        size = int(path.name.split(",S=")[1].split(",")[0])
        assert size == len(data), f"truncated file in new/: {path.name}"
        assert data.endswith(f"{END}\n".encode()), f"partial file in new/: {path.name}"
        found.add(data.split(b"Subject: ", 1)[1][:32].decode())
    for path in (data_dir / "queue" / "entries").iterdir():
        head, content = path.read_bytes().split(b"\n", 1)
        decode_queue_head(head)
        assert content.endswith(f"{END}\r\n".encode())
        found.add(content.split(b"Subject: ", 1)[1][:32].decode())

    lost = [tok for tok, _ in acked if tok not in found]
    assert lost == [], f"{len(lost)} of {len(acked)} acknowledged messages lost"
    assert any(r == "carol@remote.test" for _, r in acked)

    again = server_factory(workers=1, name="crash", users=False)
    with smtplib.SMTP("127.0.0.1", again.smtp_port, timeout=10) as c:
        msg = b"Subject: after\r\n\r\nok\r\n"
        assert c.sendmail("a@client.test", ["bob@example.test"], msg) == {}
    assert list((data_dir / "queue" / "tmp").iterdir()) == []


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    "rule",
    ["rename alice/new", "rename carol/new", "fsync bob/new"],
    ids=["second-rename", "third-rename", "dir-fsync"],
)
def test_451_after_injected_eio_leaves_no_copy(server_factory, tmp_path, rule):
    """A 3-recipient message whose store hits EIO (a rename into the 2nd or 3rd Maildir, or
    the fsync of the 1st one's new/) gets 451 4.3.0 and no Maildir keeps a copy; the client's
    retry then leaves exactly one copy in each (before: two in the first mailbox)."""
    rules = tmp_path / "faults.rules"
    data_dir = tmp_path / "faults"
    data_dir.mkdir()
    make_users(data_dir, {**PASSWORDS, "carol@example.test": "carol-secret"})
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(FAULTS_DIR), os.environ.get("PYTHONPATH")])
        ),
        "MAILPLAN_TEST_FAULTS": str(rules),
    }
    srv = server_factory(name="faults", users=False, env=env)
    rcpts = ["bob@example.test", "alice@example.test", "carol@example.test"]
    tok = uuid.uuid4().hex
    body = f"Subject: {tok}\r\n\r\nthree copies\r\n".encode()

    def copies() -> list[int]:
        return [
            sum(tok.encode() in p.read_bytes() for p in srv.maildir_files(r, sub))
            for r in rcpts
            for sub in ("new", "tmp")
        ]

    rules.write_text(rule + "\n")
    with srv.smtp() as c:
        c.ehlo()
        c.mail("a@client.test")
        for r in rcpts:
            assert c.rcpt(r)[0] == 250
        assert c.data(body) == (
            451, b"4.3.0 Error: local error in processing, try again later"
        )  # fmt: skip
    assert copies() == [0] * 6
    rules.unlink()
    with srv.smtp() as c:
        assert c.sendmail("a@client.test", rcpts, body) == {}
    assert copies() == [1, 0] * 3
