"""Real POP3 clients from Debian (fetchmail, mpop) against the server on 127.0.0.1."""

from __future__ import annotations

import itertools
import os
import poplib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mailserver.pop3_support import (
    Pop3Mailbox,
    Pop3Process,
    add_user,
    make_tls_files,
)

pytestmark = [pytest.mark.timeout(90), pytest.mark.peers]

ADDRESS, PASSWORD = "client@example.test", "s3cret pass"
MESSAGES = [
    b"From: a@example.test\nSubject: dots\n\nHello\n.\n..two dots\n.leading\nend\n",
    b"From: b@example.test\r\nSubject: crlf from another MTA\r\n\r\nLine 1\r\n.\r\n",
    b"From: c@example.test\nSubject: big\n\n" + b".dot line in a big message\n" * 12_000,
]


def as_lf(body: bytes) -> bytes:
    """What a client stores locally: LF line ends."""
    return body.replace(b"\r\n", b"\n")


def without_received(message: bytes) -> bytes:
    """fetchmail's delivered message without the Received: header it adds on top."""
    lines = message.split(b"\n")
    assert lines[0].startswith(b"Received: ")
    i = 1
    while lines[i].startswith((b"\t", b" ")):
        i += 1
    return b"\n".join(lines[i:])


_accounts = itertools.count(1)


def fill(data: Path) -> Pop3Mailbox:
    """A new user in ``data`` whose Maildir holds MESSAGES (one under a foreign name)."""
    n = next(_accounts)
    address, password = f"client{n}@example.test", f"s3cret pass {n}"
    box = Pop3Mailbox(address, password, add_user(data, address, password))
    for i, body in enumerate(MESSAGES):
        box.deliver(body, plain_name=i == 1)
    return box


def module_server(data: Path, *args: str) -> Iterator[Pop3Process]:
    """A server on ``data`` for the module; its log must hold no traceback at the end."""
    srv = Pop3Process(data, *args, log_dir=data.parent).start()
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log(), srv.log()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pop3Process]:
    """One server for the module, plain-text logins allowed on loopback (each test fills a
    mailbox of its own on it)."""
    yield from module_server(tmp_path_factory.mktemp("pop3-clients") / "data", "--insecure-auth")


@pytest.fixture(scope="module")
def tls_only_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pop3Process]:
    """One server for the module with a certificate and without --insecure-auth: logins only
    under TLS."""
    folder = tmp_path_factory.mktemp("pop3-clients-tls")
    cert, key = make_tls_files(folder)
    yield from module_server(folder / "data", "--tls-cert", str(cert), "--tls-key", str(key))


@pytest.fixture
def filled(server: Pop3Process) -> Pop3Mailbox:
    """A new user on the module's server whose Maildir holds MESSAGES."""
    return fill(server.data_dir)


def stored_count(box: Pop3Mailbox) -> int:
    """Messages left in the user's Maildir."""
    return len(os.listdir(box.root / "cur")) + len(os.listdir(box.root / "new"))


class TestFetchmail:
    def run(
        self, tmp_path: Path, port: int, box: Pop3Mailbox, *, keep: bool
    ) -> subprocess.CompletedProcess[str]:
        """One fetchmail poll (rc file as in the research notes), each message to its own file."""
        out = tmp_path / "out"
        out.mkdir(exist_ok=True)
        rc = tmp_path / "fetchmailrc"
        rc.write_text(
            f"poll 127.0.0.1 service {port} protocol POP3 uidl\n"
            f'  user "{box.address}" password "{box.password}" sslproto "" no sslcertck '
            f"{'keep' if keep else 'nokeep'}\n"
            f"  mda \"/bin/sh -c 'cat > $(mktemp {out}/msg.XXXXXX)'\"\n"
        )
        rc.chmod(0o600)
        env = {**os.environ, "HOME": str(tmp_path), "FETCHMAILHOME": str(tmp_path)}
        return subprocess.run(
            [
                "fetchmail",
                "-f",
                str(rc),
                "-N",
                "-v",
                "--pidfile",
                str(tmp_path / "pid"),
                "-i",
                str(tmp_path / "ids"),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    def fetched(self, tmp_path: Path) -> list[bytes]:
        """The messages fetchmail delivered, Received: header removed, sorted."""
        return sorted(without_received(p.read_bytes()) for p in (tmp_path / "out").iterdir())

    def test_keep_retrieves_delivered_bytes(
        self, server: Pop3Process, filled: Pop3Mailbox, tmp_path: Path
    ) -> None:
        """fetchmail in keep mode gets every message byte for byte and leaves them on the server."""
        proc = self.run(tmp_path, server.port, filled, keep=True)

        assert proc.returncode == 0, proc.stderr
        assert self.fetched(tmp_path) == sorted(as_lf(m) for m in MESSAGES)
        assert stored_count(filled) == 3

    def test_keep_second_poll_fetches_nothing(
        self, server: Pop3Process, filled: Pop3Mailbox, tmp_path: Path
    ) -> None:
        """A second keep-mode poll finds nothing new: the UIDLs did not change."""
        self.run(tmp_path, server.port, filled, keep=True)
        proc = self.run(tmp_path, server.port, filled, keep=True)

        assert proc.returncode == 1, proc.stderr  # 1: no mail
        assert "3 messages (3 seen)" in proc.stderr + proc.stdout
        assert len(list((tmp_path / "out").iterdir())) == 3

    def test_fetch_and_delete(
        self, server: Pop3Process, filled: Pop3Mailbox, tmp_path: Path
    ) -> None:
        """Without keep, fetchmail retrieves, deletes at QUIT, and the Maildir is empty."""
        proc = self.run(tmp_path, server.port, filled, keep=False)

        assert proc.returncode == 0, proc.stderr
        assert len(self.fetched(tmp_path)) == 3
        assert stored_count(filled) == 0


class TestMpop:
    def run(
        self, tmp_path: Path, port: int, box: Pop3Mailbox, *args: str
    ) -> subprocess.CompletedProcess[str]:
        """One mpop run delivering to a local Maildir."""
        local = tmp_path / "local"
        for sub in ("cur", "new", "tmp"):
            (local / sub).mkdir(parents=True, exist_ok=True)
        return subprocess.run(
            [
                "mpop",
                "--host=127.0.0.1",
                f"--port={port}",
                f"--user={box.address}",
                f"--passwordeval=echo '{box.password}'",
                f"--delivery=maildir,{local}",
                f"--uidls-file={tmp_path / 'uidls'}",
                "--received-header=off",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )

    def fetched(self, tmp_path: Path) -> list[bytes]:
        """The messages mpop delivered to the local Maildir, sorted."""
        return sorted(p.read_bytes() for p in (tmp_path / "local" / "new").iterdir())

    def test_keep_retrieves_delivered_bytes(
        self, server: Pop3Process, filled: Pop3Mailbox, tmp_path: Path
    ) -> None:
        """mpop (pipelining, USER/PASS) gets every message byte for byte."""
        proc = self.run(tmp_path, server.port, filled, "--tls=off", "--auth=user", "--keep=on")

        assert proc.returncode == 0, proc.stderr
        assert self.fetched(tmp_path) == sorted(as_lf(m) for m in MESSAGES)
        assert stored_count(filled) == 3

    def test_second_run_fetches_nothing(
        self, server: Pop3Process, filled: Pop3Mailbox, tmp_path: Path
    ) -> None:
        """mpop's UIDL list makes a second run fetch nothing new."""
        self.run(tmp_path, server.port, filled, "--tls=off", "--auth=user", "--keep=on")
        proc = self.run(tmp_path, server.port, filled, "--tls=off", "--auth=user", "--keep=on")

        assert proc.returncode == 0, proc.stderr
        assert len(self.fetched(tmp_path)) == 3

    def test_delete(self, server: Pop3Process, filled: Pop3Mailbox, tmp_path: Path) -> None:
        """mpop without keep deletes what it fetched."""
        proc = self.run(tmp_path, server.port, filled, "--tls=off", "--auth=user", "--keep=off")

        assert proc.returncode == 0, proc.stderr
        assert (len(self.fetched(tmp_path)), stored_count(filled)) == (3, 0)

    def test_stls_and_auth_plain(self, tls_only_server: Pop3Process, tmp_path: Path) -> None:
        """mpop upgrades with STLS and logs in with AUTH PLAIN on a TLS-only server."""
        box = fill(tls_only_server.data_dir)
        proc = self.run(
            tmp_path,
            tls_only_server.port,
            box,
            *("--tls=on", "--tls-starttls=on", "--tls-certcheck=off", "--auth=plain"),
            "--keep=on",
        )

        assert proc.returncode == 0, proc.stderr
        assert self.fetched(tmp_path) == sorted(as_lf(m) for m in MESSAGES)

    def test_cleartext_login_refused(self, tls_only_server: Pop3Process, tmp_path: Path) -> None:
        """Without TLS, a server without --insecure-auth refuses mpop's login."""
        box = fill(tls_only_server.data_dir)
        proc = self.run(
            tmp_path, tls_only_server.port, box, "--tls=off", "--auth=user", "--keep=on"
        )

        assert proc.returncode != 0
        assert "Plaintext authentication disallowed" in proc.stderr
        assert not (tmp_path / "local" / "new").exists() or self.fetched(tmp_path) == []
        assert stored_count(box) == 3


class TestOtherMTA:
    LDA = "/usr/lib/dovecot/dovecot-lda"

    @pytest.fixture
    def open_dir(self) -> Iterator[Path]:
        """A temporary folder others may enter (the LDA runs as nobody when we are root)."""
        folder = Path(tempfile.mkdtemp(prefix="pop3-lda-"))
        folder.chmod(0o755)
        yield folder
        shutil.rmtree(folder)

    def deliver_with_lda(self, maildir: Path, message: bytes, folder: Path) -> None:
        """Deliver through Dovecot's LDA (package dovecot-core) into ``maildir``."""
        conf = folder / "lda.conf"
        conf.write_text(
            f"mail_location = maildir:{maildir}\npostmaster_address = postmaster@example.test\n"
            "log_path = /dev/stderr\n"
        )
        conf.chmod(0o644)
        cmd = [self.LDA, "-c", str(conf), "-f", "sender@example.test"]
        if os.geteuid() == 0:  # as root the LDA wants a userdb service: deliver as nobody
            for path in (*maildir.parents[: len(maildir.relative_to(folder).parts) - 1], maildir):
                path.chmod(0o755)
            for path in (maildir, *maildir.iterdir()):
                os.chown(path, 65534, 65534)
            cmd = ["runuser", "-u", "nobody", "--", *cmd]
        env = {**os.environ, "HOME": str(folder)}
        proc = subprocess.run(cmd, input=message, capture_output=True, timeout=30, env=env)
        assert proc.returncode == 0, proc.stderr

    def test_dovecot_lda_delivery_served(self, open_dir: Path) -> None:
        """Mail that Dovecot's LDA wrote into the Maildir is listed and retrieved exactly."""
        data = open_dir / "data"
        root = add_user(data, ADDRESS, PASSWORD)
        message = b"From: x@example.test\r\nSubject: lda\r\n\r\n.dot line\r\nbody\r\n"
        self.deliver_with_lda(root, message, open_dir)
        srv = Pop3Process(data, "--insecure-auth", log_dir=open_dir).start()
        try:
            client = poplib.POP3("127.0.0.1", srv.port, timeout=10)
            client.user(ADDRESS)
            client.pass_(PASSWORD)
            listed = client.list()[1]
            _, lines, octets = client.retr(1)
            client.quit()
        finally:
            srv.stop()

        assert listed == [f"1 {len(message)}".encode()]
        assert (b"\r\n".join(lines) + b"\r\n", octets) == (message, len(message))
