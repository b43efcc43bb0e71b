"""Mail in through SMTP and out through POP3 on one `mailplan serve`, with real clients
(swaks, fetchmail: marked ``peers``)."""

from __future__ import annotations

import itertools
import os
import poplib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mailserver.conftest import ServerProcess, client_tls, start_server
from tests.mailserver.pop3_support import add_user

pytestmark = pytest.mark.peers  # swaks and fetchmail

_accounts = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The reference server with SMTP, submission, POP3 (STLS) and POP3S listeners, one
    for the module (each test gets a user of its own on it)."""
    data_dir = tmp_path_factory.mktemp("end-to-end") / "data"
    srv = start_server(
        data_dir, "--pop3", "127.0.0.1:0", "--pop3s", "127.0.0.1:0", "--insecure-auth", workers=2
    )
    yield srv
    srv.stop()


@pytest.fixture
def account(server: ServerProcess) -> tuple[str, str]:
    """A new local user (address, password) with an empty Maildir on the module's server."""
    n = next(_accounts)
    address, password = f"user{n}@example.test", f"secret {n}"
    add_user(server.data_dir, address, password)
    return address, password


def _swaks(server: ServerProcess, address: str, marker: str) -> None:
    out = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{server.smtp_port}", "--from", "carol@remote.test",
         "--to", address, "--header", f"Subject: end to end {marker}",
         "--body", f"hello from swaks\n.a line with a leading dot\n{marker}\n"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.timeout(120)
def test_swaks_in_fetchmail_out(server: ServerProcess, account: tuple[str, str], tmp_path: Path):
    """A message sent with swaks arrives in the user's Maildir and fetchmail retrieves those
    bytes."""
    address, password = account
    marker = uuid.uuid4().hex
    _swaks(server, address, marker)
    (stored,) = server.maildir_files(address)
    delivered = stored.read_bytes()
    assert marker.encode() in delivered

    out_dir = tmp_path / "fetched"
    out_dir.mkdir()
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f"poll 127.0.0.1 service {server.ports['pop3']} protocol POP3 uidl\n"
        f'  user "{address}" password "{password}" sslproto "" no sslcertck keep\n'
        f"  mda \"/bin/sh -c 'cat > $(mktemp {out_dir}/msg.XXXXXX)'\"\n"
    )
    rc.chmod(0o600)
    env = {**os.environ, "HOME": str(tmp_path), "FETCHMAILHOME": str(tmp_path)}
    run = subprocess.run(
        ["fetchmail", "-f", str(rc), "-N", "--pidfile", str(tmp_path / "pid"), "-i", str(tmp_path / "ids")],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    (fetched,) = out_dir.iterdir()
    assert _without_fetchmail_received(fetched.read_bytes()) == delivered


def _without_fetchmail_received(message: bytes) -> bytes:
    """The message without the Received: header (and its folded lines) fetchmail adds."""
    lines = message.split(b"\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(b"Received: "))
    end = start + 1
    while lines[end].startswith((b"\t", b" ")):
        end += 1
    assert b"fetchmail" in b"\n".join(lines[start:end])
    return b"\n".join(lines[:start] + lines[end:])


@pytest.mark.timeout(120)
def test_pop3s_retrieves_what_smtp_accepted(server: ServerProcess, account: tuple[str, str]):
    """Over implicit TLS (POP3S), the user sees the message SMTP accepted, with its exact size."""
    address, password = account
    marker = uuid.uuid4().hex
    _swaks(server, address, marker)
    (stored,) = server.maildir_files(address)
    crlf_size = len(stored.read_bytes().replace(b"\n", b"\r\n"))
    pop = poplib.POP3_SSL("127.0.0.1", server.ports["pop3s"], context=client_tls(), timeout=10)
    try:
        pop.user(address)
        pop.pass_(password)
        assert pop.stat() == (1, crlf_size)
        _, lines, _ = pop.retr(1)
        assert marker.encode() in b"\n".join(lines)
        assert b"..a line with a leading dot" not in b"\n".join(lines)  # poplib unstuffs
    finally:
        pop.quit()
