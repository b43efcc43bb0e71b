"""Local users: the scrypt users file and ``mailplan user``."""

from __future__ import annotations

import subprocess

import pytest

from planner.cli import run
from planner.mailserver.users import UserDB, UserError, hash_password, verify_hash
from tests.mailserver.conftest import MAILPLAN


@pytest.fixture
def db(tmp_path):
    return UserDB(tmp_path / "users")


class TestUserDB:
    def test_add_verify(self, db):
        """A user added with a password verifies with it and not with another."""
        db.add("Carol@Example.Test", "pw-1")
        assert db.verify("carol@example.test", "pw-1")
        assert not db.verify("carol@example.test", "pw-2")

    def test_file_holds_hashes_not_passwords(self, db):
        """The users file has an scrypt hash, never the password, and is mode 0600."""
        db.add("carol@example.test", "very-secret-pw")
        text = db.path.read_text()
        assert text.startswith("carol@example.test:$scrypt$ln=14,r=8,p=1$")
        assert "very-secret-pw" not in text
        assert db.path.stat().st_mode & 0o777 == 0o600

    def test_exists_is_case_insensitive(self, db):
        """exists() ignores case, as SMTP domains do."""
        db.add("carol@example.test", "pw")
        assert db.exists("CAROL@example.TEST")
        assert not db.exists("dan@example.test")

    def test_unknown_user_does_not_verify(self, db):
        """An unknown address never verifies."""
        assert not db.verify("nobody@example.test", "anything")

    def test_delete(self, db):
        """A deleted user no longer exists; deleting again says so."""
        db.add("carol@example.test", "pw")
        assert db.delete("carol@example.test")
        assert not db.exists("carol@example.test")
        assert not db.delete("carol@example.test")

    def test_reloads_when_the_file_changes(self, db, tmp_path):
        """A second UserDB on the same file sees users added by the first."""
        other = UserDB(tmp_path / "users")
        assert other.addresses() == []
        db.add("carol@example.test", "pw")
        assert other.addresses() == ["carol@example.test"]

    def test_password_change_drops_cached_login(self, db):
        """After a new password the old one no longer verifies, cache or not."""
        db.add("carol@example.test", "old-pw")
        assert db.verify("carol@example.test", "old-pw")
        db.add("carol@example.test", "new-pw")
        assert not db.verify("carol@example.test", "old-pw")

    @pytest.mark.parametrize(
        "address", ["no-at-sign", "a@b", "../x@example.test", "a..b@example.test", "a b@c.test"]
    )
    def test_bad_addresses_are_refused(self, db, address):
        """Addresses that are not plain user@domain raise UserError."""
        with pytest.raises(UserError):
            db.add(address, "pw")

    def test_bad_line_is_reported(self, db):
        """A malformed users file line raises UserError naming the line."""
        db.path.write_text("garbage\n")
        with pytest.raises(UserError, match=r"users:1:"):
            db.addresses()


def test_hash_round_trip():
    """hash_password output verifies with the same password only."""
    stored = hash_password("pw", log_n=4)
    assert verify_hash("pw", stored)
    assert not verify_hash("px", stored)


def test_cli_add_list_del(tmp_path, capsys):
    """mailplan user add/list/del manage the file; a second del fails with exit 2. (``add``
    runs as the real program, its password on standard input; the rest in-process.)"""
    data = str(tmp_path)

    def run_here(*args: str) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        status = run(["user", *args, "--data-dir", data])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, status, out, err)

    added = subprocess.run(
        [*MAILPLAN, "user", "add", "Eve@Example.Test", "--password-stdin", "--data-dir", data],
        input="pw\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (added.returncode, added.stdout) == (0, "added eve@example.test\n")
    assert run_here("list").stdout == "eve@example.test\n"
    assert run_here("del", "eve@example.test").returncode == 0
    failed = run_here("del", "eve@example.test")
    assert failed.returncode == 2
    assert failed.stderr == "mailplan: user del: no such user: eve@example.test\n"
