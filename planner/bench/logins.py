"""The users a process's mailbox sessions log in as, and the window of messages each reads.

Shared by the POP3 and IMAP clients. A user is handed to one session at a time while any
user is free (a POP3 maildrop takes one session at a time, RFC 1939 section 8); when
every user is busy, users are reused in turn. Each session reads the next window of
messages, so sessions spread over the whole mailbox.
"""

from __future__ import annotations

import collections
import itertools
from dataclasses import dataclass, field

__all__ = ["Logins"]

Login = tuple[str, str]


@dataclass
class Logins:
    """Users (address, password) to log in as, and the running message offset."""

    users: list[Login]
    _users: itertools.cycle[Login] = field(init=False, repr=False)
    _free: collections.deque[Login] = field(init=False, repr=False)
    _offset: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if not self.users:
            raise ValueError("a mailbox session needs at least one user")
        self._users = itertools.cycle(self.users)
        self._free = collections.deque(dict.fromkeys(self.users))

    def next_user(self) -> Login:
        """A user no session of this process holds, or, when all are busy, the next in turn."""
        return self._free.popleft() if self._free else next(self._users)

    def release(self, user: Login) -> None:
        """Give a user back when its session ends."""
        if user not in self._free:
            self._free.append(user)

    def next_window(self, count: int) -> int:
        """The offset of the next session's window of ``count`` messages."""
        start = self._offset
        self._offset += count
        return start
