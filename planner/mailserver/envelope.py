"""What aiosmtpd hands the delivery handler, as this server uses it: the envelope with the
route of each recipient, and the session's client address and login (a leaf of the SMTP
side: aiosmtpd's data classes and :mod:`~planner.mailserver.policy` only)."""

from __future__ import annotations

from aiosmtpd.smtp import Envelope, Session

from planner.mailserver.policy import RouteKind

__all__ = ["RoutedEnvelope", "session_ip", "session_login"]


class RoutedEnvelope(Envelope):
    """aiosmtpd's envelope plus the route chosen for each accepted recipient."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: list[tuple[str, RouteKind]] = []
        self.overshoot = 0
        """RCPT commands refused for the recipient limit in this transaction."""


def session_ip(session: Session) -> str:
    """The client's IP address, or ``unknown``."""
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) else "unknown"


def session_login(session: Session) -> str | None:
    """The address a session authenticated as, or None."""
    if not session.authenticated:
        return None
    data = session.auth_data
    return data if isinstance(data, str) else None
