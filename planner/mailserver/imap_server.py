"""The IMAP listener: :func:`start_imap_server`, which every ``mailplan serve`` worker calls
once per IMAP listener (``--imap``: STARTTLS offered; ``--imaps``: TLS from the first byte).

Each connection gets an :class:`~planner.mailserver.imap.IMAP` session sharing one
:class:`~planner.mailserver.imap.ImapListenerState` (the configuration, the users, the
connection counts, the failed-login penalty). The limits are the configuration's
:class:`~planner.mailserver.config.ImapLimits`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl

from planner.mailserver.auth_penalty import AuthPenalty
from planner.mailserver.config import Listen, ServerConfig
from planner.mailserver.imap import IMAP, ImapListenerState
from planner.mailserver.pop3_stream import ImplicitTLS
from planner.mailserver.users import UserDB
from planner.net import format_hostport

__all__ = ["start_imap_server"]

log = logging.getLogger("mailplan.imap")


async def start_imap_server(
    config: ServerConfig,
    *,
    sock: socket.socket | None = None,
    listen: Listen | None = None,
    implicit_tls: bool = False,
    ssl_context: ssl.SSLContext | None = None,
    users: UserDB | None = None,
    auth_penalty: AuthPenalty | None = None,
) -> asyncio.Server:
    """Serve IMAP for ``config`` on an already bound ``sock``, or on ``listen`` (default:
    the configuration's ``imap``, or ``imaps`` with ``implicit_tls``).

    ``ssl_context`` enables STARTTLS, or TLS from the first byte with ``implicit_tls``
    (port 993 style); without it, and without ``config.insecure_auth`` (logins in clear
    from loopback peers only), no one can log in, and a warning says so. ``users`` and
    ``auth_penalty`` default to the configuration's; ``mailplan serve`` passes the ones
    its SMTP and POP3 listeners use, so the credential cache and the penalty are shared.
    """
    if implicit_tls and ssl_context is None:
        raise ValueError("implicit_tls needs an ssl_context")
    if users is None:
        users = UserDB(config.data_dir / "users", cache_ttl_s=config.credential_cache_ttl_s)
    if auth_penalty is None:
        limits = config.limits
        auth_penalty = AuthPenalty(limits.auth_failure_delay_s, limits.auth_failure_max_delay_s)
    state = ImapListenerState(config, users, auth_penalty, ssl_context, implicit_tls)

    def factory() -> asyncio.Protocol:
        imap = IMAP(state)
        return (
            ImplicitTLS(imap, ssl_context, imap.limits.tls_handshake_timeout_s)
            if ssl_context and implicit_tls
            else imap
        )

    loop = asyncio.get_running_loop()
    if sock is None:
        listen = listen or (config.imaps if implicit_tls else config.imap)
        if listen is None:
            raise ValueError("start_imap_server: no socket and no IMAP listener configured")
        server = await loop.create_server(factory, listen.host, listen.port)
    else:
        server = await loop.create_server(factory, sock=sock)
    where = ", ".join(format_hostport(*s.getsockname()[:2]) for s in server.sockets)
    if config.insecure_auth:
        log.warning(
            "IMAP on %s: --insecure-auth: passwords accepted without TLS from loopback clients",
            where,
        )
    elif ssl_context is None:
        log.warning("IMAP on %s: no TLS certificate, so no one can log in", where)
    return server
