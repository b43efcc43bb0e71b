"""Real servers on 127.0.0.1 for the harness's tests.

- :class:`SmtpSink` and :class:`Dovecot` (from :mod:`planner.bench.peers`, shared with
  the benchmarks): Postfix's ``smtp-sink`` and a private Dovecot (POP3 and IMAP).
- :class:`ScriptedSmtp`: a small SMTP server of our own, in a thread, that can be slow
  (a delay before the reply to end of DATA), refuse every n-th message with 451, start
  refusing sessions with 421 after n messages, or handle one message at a time; it
  records when each connection arrived.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from planner.bench.peers import Dovecot, SmtpSink, wait_listening
from planner.mailserver.tls import ensure_self_signed, server_context

__all__ = ["Dovecot", "ScriptedSmtp", "SmtpSink", "TlsSmtp", "wait_listening"]

# region #### scripted SMTP server ####


class ScriptedSmtp:
    """An SMTP server in a thread whose behaviour the test chooses.

    ``data_delay_s``: wait before replying to the end of DATA. ``fail_every``: reply 451
    to every n-th message. ``refuse_after``: once that many messages were accepted, greet
    new sessions with 421 and close. ``serial``: handle one message's delay at a time (a
    server with a fixed capacity of 1 / data_delay_s messages per second).
    """

    def __init__(
        self,
        *,
        data_delay_s: float = 0.0,
        fail_every: int = 0,
        refuse_after: int = 0,
        serial: bool = False,
        pipelining: bool = False,
        ehlo_extra: bytes = b"",
    ) -> None:
        self.data_delay_s = data_delay_s
        self.fail_every = fail_every
        self.refuse_after = refuse_after
        self.pipelining = pipelining
        self.ehlo_extra = ehlo_extra
        self.accepted = 0
        self.refused = 0
        self.messages = 0
        self.arrivals: list[float] = []
        self._serial = serial
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="scripted-smtp")
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("scripted SMTP server did not start")

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._lock = asyncio.Lock()
        server = self._loop.run_until_complete(
            asyncio.start_server(self._session, "127.0.0.1", 0, backlog=1024)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._server = server
        self._ready.set()
        self._loop.run_forever()
        server.close()
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.arrivals.append(time.perf_counter())
        try:
            if self.refuse_after and self.accepted >= self.refuse_after:
                self.refused += 1
                writer.write(b"421 4.3.2 scripted.test shutting down\r\n")
                await writer.drain()
                return
            writer.write(b"220 scripted.test ESMTP\r\n")
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    extra = b"250-PIPELINING\r\n" if self.pipelining else b""
                    writer.write(
                        b"250-scripted.test\r\n" + self.ehlo_extra + extra + b"250 8BITMIME\r\n"
                    )
                elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                    writer.write(b"250 2.0.0 ok\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 go ahead\r\n")
                    await reader.readuntil(b"\r\n.\r\n")
                    writer.write(await self._end_of_data())
                elif verb == b"QUIT":
                    writer.write(b"221 2.0.0 bye\r\n")
                    break
                else:
                    writer.write(b"502 5.5.1 not implemented\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _end_of_data(self) -> bytes:
        self.messages += 1
        n = self.messages
        if self.data_delay_s:
            if self._serial:
                async with self._lock:
                    await asyncio.sleep(self.data_delay_s)
            else:
                await asyncio.sleep(self.data_delay_s)
        if self.fail_every and n % self.fail_every == 0:
            return b"451 4.3.0 scripted temporary failure\r\n"
        self.accepted += 1
        return b"250 2.0.0 queued\r\n"

    def stop(self) -> None:
        """Stop the server thread."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


# endregion
# region #### aiosmtpd with STARTTLS and AUTH ####


def self_signed_context(folder: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for localhost."""
    return server_context(*ensure_self_signed(folder, "localhost"))


class TlsSmtp:
    """aiosmtpd in a thread offering STARTTLS and AUTH only over TLS; one login
    (``user``, ``password``); counts the messages it accepts."""

    user = "u1@bench.test"
    password = "secret"

    def __init__(self, folder: Path) -> None:
        self.accepted = 0
        self.tls_sessions = 0
        self._ctx = self_signed_context(folder)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="tls-smtp")
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("aiosmtpd did not start")

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    def _authenticate(
        self, server: object, session: object, envelope: object, mechanism: str, data: object
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            self.user.encode(),
            self.password.encode(),
        )
        return AuthResult(success=ok, handled=False)  # let aiosmtpd answer 535 itself

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        """Count and accept."""
        self.accepted += 1
        if getattr(session, "ssl", None):
            self.tls_sessions += 1
        return "250 2.0.0 accepted"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        def factory() -> SMTP:
            return SMTP(
                self,
                hostname="tls.test",
                tls_context=self._ctx,
                auth_require_tls=True,
                authenticator=self._authenticate,
            )

        server = self._loop.run_until_complete(self._loop.create_server(factory, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    def stop(self) -> None:
        """Stop the server thread."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


# endregion
