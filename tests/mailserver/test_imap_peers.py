"""The same IMAP session against Dovecot's IMAP and the reference server, in one test:
the visible results (UIDs, flags, counts, folders) must be the same. And neomutt reading
a folder in batch mode."""

from __future__ import annotations

import imaplib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from planner.bench.peers import Dovecot
from planner.mailserver.maildrop import maildir_path
from planner.mailserver.provision import mailbox_path
from tests.mailserver.conftest import ImapProcess
from tests.mailserver.pop3_support import add_user

pytestmark = [pytest.mark.timeout(120), pytest.mark.peers]

ADDRESS, PASSWORD = "same@example.test", "same-pass"


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """A private Dovecot on loopback (its empty user is ours)."""
    if shutil.which("dovecot") is None:
        pytest.fail("dovecot is not installed (.ci/run installs dovecot-imapd)")
    d = Dovecot(messages=0)
    yield d
    d.stop()


@pytest.fixture
def reference(tmp_path: Path) -> Iterator[ImapProcess]:
    """The reference server with one empty user."""
    add_user(tmp_path / "data", ADDRESS, PASSWORD)
    srv = ImapProcess(tmp_path / "data", "--insecure-auth", log_dir=tmp_path).start()
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log()


def script(port: int, user: str, password: str) -> list[object]:
    """One scripted session's visible results; a reconnect in the middle."""
    seen: list[object] = []

    def connect() -> imaplib.IMAP4:
        c = imaplib.IMAP4("127.0.0.1", port, timeout=15)
        c.login(user, password)
        return c

    def state(c: imaplib.IMAP4, folder: str) -> tuple[object, ...]:
        typ, data = c.select(folder)
        assert typ == "OK"
        exists = int(data[0])  # type: ignore[arg-type]
        if not exists:
            return (folder, 0)
        _, rows = c.fetch("1:*", "(UID FLAGS)")
        found = []
        for row in rows:
            assert isinstance(row, bytes)
            uid = int(re.search(rb"UID (\d+)", row).group(1))  # type: ignore[union-attr]
            flags = re.search(rb"FLAGS \(([^)]*)\)", row).group(1).split()  # type: ignore[union-attr]
            found.append((uid, sorted(f.decode() for f in flags if f != b"\\Recent")))
        return (folder, exists, found)

    c = connect()
    for i in range(4):
        body = f"From: a@example.test\r\nSubject: m{i}\r\n\r\nbody {i}\r\n".encode()
        assert c.append("INBOX", "(\\Seen)" if i % 2 else None, None, body)[0] == "OK"
    assert c.create("Work")[0] == "OK"
    c.select("INBOX")
    c.store("2", "+FLAGS", "(\\Flagged)")
    c.store("3", "+FLAGS", "(\\Deleted)")
    c.store("1:2", "+FLAGS", "($Junk MyTag)")
    c.store("2", "-FLAGS", "(mytag)")
    seen.append(c.copy("1:2", "Work")[0])
    seen.append(c.expunge()[1])
    seen.append(state(c, "INBOX"))
    c.logout()
    c = connect()
    seen.append(state(c, "INBOX"))
    seen.append(state(c, "Work"))
    typ, data = c.list('""', "Work")
    seen.append((typ, [d.split(b")", 1)[1] for d in data if isinstance(d, bytes)]))
    typ, data = c.status("Work", "(MESSAGES UIDNEXT UNSEEN)")
    seen.append((typ, data))
    c.select("INBOX")
    seen.append(c.search(None, "UNSEEN"))
    seen.append(c.search(None, "KEYWORD", "MYTAG"))
    c.logout()
    return seen


def on_disk(maildir: Path) -> tuple[list[str], str]:
    """The flag letters of a Maildir's INBOX files, and its ``dovecot-keywords``."""
    infos = sorted(n.partition(":2,")[2] for n in os.listdir(maildir / "cur"))
    return infos, (maildir / "dovecot-keywords").read_text()


def test_same_results_as_dovecot(dovecot: Dovecot, reference: ImapProcess) -> None:
    """APPEND, STORE (keywords too), COPY, EXPUNGE, a reconnect, LIST, STATUS and SEARCH
    give the same UIDs, flags, counts and folders on both servers, and the keywords are
    the same letters and ``dovecot-keywords`` on disk."""
    theirs = script(dovecot.imap_port, Dovecot.EMPTY_USER, Dovecot.PASSWORD)
    ours = script(reference.port, ADDRESS, PASSWORD)
    assert ours == theirs
    assert on_disk(maildir_path(reference.data_dir, ADDRESS)) == on_disk(
        mailbox_path(dovecot.root, Dovecot.EMPTY_USER)
    )


def test_neomutt_reads_a_folder_in_batch_mode(reference: ImapProcess, tmp_path: Path) -> None:
    """neomutt, without a terminal, opens the INBOX over IMAP and saves its messages to
    an mbox: every message arrives."""
    if shutil.which("neomutt") is None or shutil.which("script") is None:
        pytest.fail("neomutt is not installed (.ci/run installs it)")
    c = imaplib.IMAP4("127.0.0.1", reference.port, timeout=15)
    c.login(ADDRESS, PASSWORD)
    for i in range(3):
        c.append(
            "INBOX", None, None, f"From: a@example.test\r\nSubject: n{i}\r\n\r\nx\r\n".encode()
        )
    c.logout()
    rc = tmp_path / "muttrc"
    out = tmp_path / "saved.mbox"
    rc.write_text(
        f'set imap_user="{ADDRESS}"\nset imap_pass="{PASSWORD}"\n'
        "set ssl_starttls=no\nset ssl_force_tls=no\nset imap_passive=no\n"
        "set confirmappend=no\nset confirmcreate=no\nset mbox_type=mbox\n"
        f'set folder="imap://127.0.0.1:{reference.port}/"\n'
        f"set header_cache=\nset message_cachedir=\n"
    )
    url = f"imap://{ADDRESS.replace('@', '%40')}@127.0.0.1:{reference.port}/INBOX"
    keys = f"<tag-pattern>~A<enter><tag-prefix><copy-message>{out}<enter><quit>"
    command = f"neomutt -n -F {rc} -R -f '{url}' -e \"push '{keys}'\""
    proc = subprocess.run(  # neomutt needs a terminal: script(1) gives it a pseudo-tty
        ["script", "-qec", command, "/dev/null"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "HOME": str(tmp_path), "TERM": "xterm"},
        stdin=subprocess.DEVNULL,
    )
    assert out.exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
    assert out.read_text().count("\nSubject: n") == 3
