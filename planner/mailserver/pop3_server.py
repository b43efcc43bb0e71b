"""The POP3 listener: :func:`start_pop3_server`, which every ``mailplan serve`` worker calls
once per POP3 listener (``--pop3``: STLS offered; ``--pop3s``: TLS from the first byte).

Each connection gets a :class:`~planner.mailserver.pop3.POP3` session sharing one
:class:`~planner.mailserver.pop3.ListenerState` (the configuration, the users, the
connection counts, the failed-login penalty, the maildrop index). The limits are the
configuration's :class:`~planner.mailserver.config.Pop3Limits`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl

from planner.mailserver.auth_penalty import AuthPenalty
from planner.mailserver.config import Listen, ServerConfig
from planner.mailserver.pop3 import POP3, ListenerState
from planner.mailserver.pop3_stream import ImplicitTLS
from planner.mailserver.users import UserDB
from planner.net import format_hostport

__all__ = ["start_pop3_server"]

log = logging.getLogger("mailplan.pop3")


async def start_pop3_server(
    config: ServerConfig,
    *,
    sock: socket.socket | None = None,
    listen: Listen | None = None,
    implicit_tls: bool = False,
    ssl_context: ssl.SSLContext | None = None,
    users: UserDB | None = None,
    auth_penalty: AuthPenalty | None = None,
) -> asyncio.Server:
    """Serve POP3 for ``config`` on an already bound ``sock``, or on ``listen`` (default:
    the configuration's ``pop3``, or ``pop3s`` with ``implicit_tls``).

    ``ssl_context`` enables STLS (RFC 2595), or TLS from the first byte with
    ``implicit_tls`` (port 995 style); without it, and without ``config.insecure_auth``
    (which allows logins in clear from loopback peers only), no one can log in, and a
    warning says so. ``users`` and ``auth_penalty`` default to the configuration's
    (``DATA_DIR/users``, the SMTP limits' failed-login delays); ``mailplan serve`` passes
    the ones its SMTP listeners use, so the credential cache and the penalty are shared.
    Works on any asyncio event loop, uvloop included.
    """
    if implicit_tls and ssl_context is None:
        raise ValueError("implicit_tls needs an ssl_context")
    if users is None:
        users = UserDB(config.data_dir / "users", cache_ttl_s=config.credential_cache_ttl_s)
    if auth_penalty is None:
        limits = config.limits
        auth_penalty = AuthPenalty(limits.auth_failure_delay_s, limits.auth_failure_max_delay_s)
    state = ListenerState(config, users, auth_penalty, ssl_context, implicit_tls)

    def factory() -> asyncio.Protocol:
        pop3 = POP3(state)
        return (
            ImplicitTLS(pop3, ssl_context, pop3.limits.tls_handshake_timeout_s)
            if ssl_context and implicit_tls
            else pop3
        )

    loop = asyncio.get_running_loop()
    if sock is None:
        listen = listen or (config.pop3s if implicit_tls else config.pop3)
        if listen is None:
            raise ValueError("start_pop3_server: no socket and no POP3 listener configured")
        server = await loop.create_server(factory, listen.host, listen.port)
    else:
        server = await loop.create_server(factory, sock=sock)
    where = ", ".join(format_hostport(*s.getsockname()[:2]) for s in server.sockets)
    if config.insecure_auth:
        log.warning(
            "POP3 on %s: --insecure-auth: passwords accepted without TLS from loopback clients",
            where,
        )
    elif ssl_context is None:
        log.warning("POP3 on %s: no TLS certificate, so no one can log in", where)
    return server
