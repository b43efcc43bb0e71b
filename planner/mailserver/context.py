"""What every SMTP connection of one server process shares: :class:`ServerContext`.

A leaf of the SMTP side: the protocol (:mod:`~planner.mailserver.smtp`), the delivery
handler (:mod:`~planner.mailserver.handler`) and the relay worker
(:mod:`~planner.mailserver.relay`) all import it, and it imports none of them. Built once
per worker process by :mod:`~planner.mailserver.serve`.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from planner.mailserver.auth_penalty import AuthPenalty
from planner.mailserver.committer import CommitClient
from planner.mailserver.config import ServerConfig
from planner.mailserver.policy import AccessList
from planner.mailserver.stats import CounterRow
from planner.mailserver.store import Store
from planner.mailserver.users import UserDB

__all__ = ["KickRelay", "ServerContext", "Session"]


class Session(Protocol):
    """An open connection as the shutdown sees it (:class:`~planner.mailserver.smtp.ServerSMTP`)."""

    busy: bool
    """True while a message is being received and committed: shutdown waits for it."""

    def shutdown(self) -> None:
        """Tell the client the server is going away, and close."""


class KickRelay(Protocol):
    """Deliver a queue file now (:meth:`~planner.mailserver.relay.RelayWorker.kick`)."""

    def __call__(self, path: Path, *, fresh: bool = False) -> None: ...


@dataclass
class ServerContext:
    """What every connection of one server process shares."""

    config: ServerConfig
    loop: asyncio.AbstractEventLoop
    store: Store
    users: UserDB
    access: AccessList
    stats: CounterRow
    executor: Executor
    tls_context: ssl.SSLContext | None
    connections: Callable[[], int]
    """Open SMTP connections over all processes."""
    auth_penalty: AuthPenalty
    """Failed logins per client address, shared with this process's POP3 listeners."""
    kick_relay: KickRelay | None = None
    """Deliver a queue file now (RelayWorker.kick)."""
    committer: CommitClient | None = None
    """The store process for durable writes (None: the I/O thread pool)."""
    sessions: set[Session] = field(default_factory=set)
    """Open SMTP connections of this process (closed politely at shutdown)."""
    stopping: bool = False
