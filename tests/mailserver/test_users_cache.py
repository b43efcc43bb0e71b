"""The credential cache the POP3 login checks on the event loop (UserDB.verify_cached)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from planner.mailserver.users import UserDB
from tests.mailserver.pop3_support import add_user


@pytest.fixture
def users(tmp_path: Path) -> UserDB:
    """A users file with one user."""
    add_user(tmp_path, "a@example.test", "right")
    return UserDB(tmp_path / "users")


class TestVerifyCached:
    def test_unknown_until_verified(self, users: UserDB) -> None:
        """Before a full verification nothing is cached."""
        assert users.verify_cached("a@example.test", "right") is False

    def test_cached_after_verify(self, users: UserDB) -> None:
        """After a successful verify the same credentials are answered from the cache."""
        assert users.verify("a@example.test", "right")

        assert users.verify_cached("A@example.test", "right") is True

    def test_wrong_password_never_cached(self, users: UserDB) -> None:
        """A different password is not accepted from the cache."""
        users.verify("a@example.test", "right")

        assert users.verify_cached("a@example.test", "wrong") is False

    def test_expires(self, tmp_path: Path) -> None:
        """Past its time to live a cached credential is no longer used."""
        add_user(tmp_path, "b@example.test", "pw")
        db = UserDB(tmp_path / "users", cache_ttl_s=0.0)
        db.verify("b@example.test", "pw")

        assert db.verify_cached("b@example.test", "pw") is False

    def test_users_file_change_clears(self, users: UserDB, tmp_path: Path) -> None:
        """A change to the users file (a new password) empties the cache."""
        users.verify("a@example.test", "right")
        (tmp_path / "users").write_text("")

        assert users.verify_cached("a@example.test", "right") is False

    def test_use_extends_life(self, tmp_path: Path) -> None:
        """Each cached login restarts the time to live (a user who keeps polling stays cached)."""
        add_user(tmp_path, "c@example.test", "pw")
        db = UserDB(tmp_path / "users", cache_ttl_s=1.0)
        db.verify("c@example.test", "pw")
        for _ in range(4):
            time.sleep(0.4)
            assert db.verify_cached("c@example.test", "pw") is True
        time.sleep(1.1)

        assert db.verify_cached("c@example.test", "pw") is False
