"""Real IMAP clients from Debian (fetchmail, mbsync, offlineimap3) against the server on
127.0.0.1: mail fetched byte for byte, flags and deletions synced both ways."""

from __future__ import annotations

import imaplib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mailserver.conftest import ImapProcess
from tests.mailserver.pop3_support import add_user, deliver

pytestmark = [pytest.mark.timeout(120), pytest.mark.peers]

ADDRESS, PASSWORD = "client@example.test", "s3cret-pass"
MESSAGES = [
    b"From: a@example.test\nSubject: first\n\nHello\n.\n..two dots\n",
    b"From: b@example.test\nSubject: second\n\nLine 1\n",
    b"From: c@example.test\nSubject: big\n\n" + b"a line in a big message\n" * 8_000,
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ImapProcess]:
    """A server whose user holds MESSAGES, plain-text logins allowed on loopback."""
    data = tmp_path / "data"
    root = add_user(data, ADDRESS, PASSWORD)
    for body in MESSAGES:
        deliver(root, body)
    srv = ImapProcess(data, "--insecure-auth", log_dir=tmp_path).start()
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log()


def server_view(server: ImapProcess) -> list[tuple[str, list[str]]]:
    """(subject, flags) of every INBOX message, read with imaplib."""
    c = imaplib.IMAP4("127.0.0.1", server.port, timeout=15)
    c.login(ADDRESS, PASSWORD)
    c.select("INBOX", readonly=True)
    _, data = c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    c.logout()
    out = []
    for item in data:
        if isinstance(item, tuple):
            flags = item[0].split(b"FLAGS (", 1)[1].split(b")", 1)[0].decode().split()
            subject = item[1].decode().split(":", 1)[1].strip()
            out.append((subject, sorted(f for f in flags if f != "\\Recent")))
    return sorted(out)


def need(program: str) -> None:
    if shutil.which(program) is None:
        pytest.fail(f"{program} is not installed (.ci/run installs it)")


def test_fetchmail_imap_keep_then_delete(server: ImapProcess, tmp_path: Path) -> None:
    """fetchmail over IMAP gets every message byte for byte (keep), then without keep
    deletes them on the server."""
    need("fetchmail")
    out = tmp_path / "out"
    out.mkdir()

    def poll(keep: bool) -> subprocess.CompletedProcess[str]:
        rc = tmp_path / "fetchmailrc"
        rc.write_text(
            f"poll 127.0.0.1 service {server.port} protocol IMAP\n"
            f'  user "{ADDRESS}" password "{PASSWORD}" sslproto "" no sslcertck '
            f"{'keep fetchall' if keep else 'nokeep fetchall'}\n"
            f"  mda \"/bin/sh -c 'cat > $(mktemp {out}/msg.XXXXXX)'\"\n"
        )
        rc.chmod(0o600)
        env = {**os.environ, "HOME": str(tmp_path), "FETCHMAILHOME": str(tmp_path)}
        return subprocess.run(
            ["fetchmail", "-f", str(rc), "-N", "--pidfile", str(tmp_path / "pid"), "-v"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    proc = poll(keep=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fetched = sorted(
        b"\n".join(
            line
            for line in p.read_bytes().split(b"\n")
            if not line.startswith((b"Received", b"\t"))
        )
        for p in out.iterdir()
    )
    assert [f.split(b"\n\n", 1)[1] for f in fetched] == sorted(
        m.split(b"\n\n", 1)[1] for m in MESSAGES
    )
    assert len(server_view(server)) == 3
    proc = poll(keep=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert server_view(server) == []


def test_mbsync_syncs_both_ways(server: ImapProcess, tmp_path: Path) -> None:
    """mbsync pulls the mailbox; a flag set and a message deleted locally reach the
    server at the next sync, and mail new on the server arrives."""
    need("mbsync")
    local = tmp_path / "mail"
    local.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(
        f"IMAPAccount acc\nHost 127.0.0.1\nPort {server.port}\nUser {ADDRESS}\n"
        f'Pass "{PASSWORD}"\nSSLType None\nAuthMechs LOGIN\n\n'
        "IMAPStore remote\nAccount acc\n\n"
        f"MaildirStore local\nPath {local}/\nInbox {local}/INBOX\nSubFolders Verbatim\n\n"
        "Channel ch\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Both\n"
        "Expunge Both\nSyncState *\n"
    )

    def sync() -> None:
        proc = subprocess.run(
            ["mbsync", "-c", str(rc), "-a"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "HOME": str(tmp_path)},
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr

    sync()
    files = sorted((local / "INBOX" / "cur").iterdir()) + sorted(
        (local / "INBOX" / "new").iterdir()
    )
    assert len(files) == 3
    by_subject = {f.read_bytes().split(b"Subject: ")[1].split(b"\n")[0]: f for f in files}
    first, second = by_subject[b"first"], by_subject[b"second"]
    first.rename(local / "INBOX" / "cur" / (first.name.split(":")[0] + ":2,FS"))
    second.rename(local / "INBOX" / "cur" / (second.name.split(":")[0] + ":2,T"))
    sync()
    assert server_view(server) == [("big", []), ("first", ["\\Flagged", "\\Seen"])]
    deliver(Path(server.data_dir) / "mailboxes" / "example.test" / "client", b"Subject: new\n\nn\n")
    sync()
    new = [f for d in ("cur", "new") for f in (local / "INBOX" / d).iterdir()]
    assert any(b"Subject: new" in f.read_bytes() for f in new)


def test_offlineimap_syncs_both_ways(server: ImapProcess, tmp_path: Path) -> None:
    """offlineimap3 pulls the mailbox; a flag set and a message deleted locally reach the
    server at the next sync."""
    need("offlineimap")
    local = tmp_path / "mail"
    conf = tmp_path / "offlineimaprc"
    conf.write_text(
        "[general]\naccounts = a\n"
        f"metadata = {tmp_path / 'meta'}\n\n"
        "[Account a]\nlocalrepository = L\nremoterepository = R\n\n"
        f"[Repository L]\ntype = Maildir\nlocalfolders = {local}\n\n"
        "[Repository R]\ntype = IMAP\nremotehost = 127.0.0.1\n"
        f"remoteport = {server.port}\nremoteuser = {ADDRESS}\nremotepass = {PASSWORD}\n"
        "ssl = no\nstarttls = no\nfolderfilter = lambda name: name == 'INBOX'\n"
    )

    def sync() -> None:
        proc = subprocess.run(
            ["offlineimap", "-c", str(conf), "-o", "-u", "basic"],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
            env={**os.environ, "HOME": str(tmp_path)},
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "ERROR" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr

    sync()
    files = [f for d in ("cur", "new") for f in (local / "INBOX" / d).iterdir()]
    assert len(files) == 3
    by_subject = {f.read_bytes().split(b"Subject: ")[1].split(b"\n")[0]: f for f in files}
    first, second = by_subject[b"first"], by_subject[b"second"]
    first.rename(first.parent.parent / "cur" / (first.name.split(":")[0] + ":2,FS"))
    second.unlink()
    sync()
    assert server_view(server) == [("big", []), ("first", ["\\Flagged", "\\Seen"])]
