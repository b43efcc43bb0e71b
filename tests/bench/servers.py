"""Real servers on 127.0.0.1 for the harness's tests.

- :class:`SmtpSink`: Postfix's ``smtp-sink`` (counts what it received, optionally dumps
  every message to a folder).
- :class:`Dovecot`: a private Dovecot instance (POP3 and IMAP) with one passwd-file user
  and a seeded Maildir.
- :class:`ScriptedSmtp`: a small SMTP server of our own, in a thread, that can be slow
  (a delay before the reply to end of DATA), refuse every n-th message with 451, start
  refusing sessions with 421 after n messages, or handle one message at a time; it
  records when each connection arrived.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from planner.bench.workload import MessageFactory, Workload

SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(
    port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 10
) -> None:
    """Until something accepts on 127.0.0.1:port."""
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


def _shared_dir(prefix: str) -> Path:
    """A temp folder other users (nobody, dovecot) can use: pytest's tmp_path is 0700."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


# region #### smtp-sink ####


class SmtpSink:
    """``smtp-sink -c`` on a free loopback port; ``received()`` reads its counter."""

    def __init__(self, dump: bool = False) -> None:
        self.port = free_port()
        self.root = _shared_dir("mailplan-sink-")
        self.dump_dir = self.root / "dump"
        self.out = self.root / "sink.out"
        cmd = [SINK, "-c"]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]
        if dump:
            self.dump_dir.mkdir()
            self.dump_dir.chmod(0o777)
            cmd += ["-d", f"{self.dump_dir}/%H%M%S."]
        cmd += [f"127.0.0.1:{self.port}", "1024"]
        with self.out.open("wb") as f:
            self.proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
        wait_listening(self.port, self.proc)

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    def received(self) -> int:
        """Messages received so far (the last ``mesg=N`` of smtp-sink's counter line)."""
        found = re.findall(rb"mesg=(\d+)", self.out.read_bytes())
        return int(found[-1]) if found else 0

    def dumped(self) -> list[bytes]:
        """The dumped messages' contents."""
        return [p.read_bytes() for p in sorted(self.dump_dir.iterdir())]

    def stop(self) -> None:
        """Stop smtp-sink and remove its folder."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


# endregion
# region #### Dovecot ####

_DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
instance_name = mailplan-test-{port}
listen = 127.0.0.1
protocols = pop3 imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
mail_max_userip_connections = 1000
log_path = {root}/dovecot.log
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


class Dovecot:
    """A private Dovecot on two free loopback ports with one user and ``messages``
    messages of ``size_kb`` in its Maildir."""

    USER = "u1@bench.test"
    PASSWORD = "secret"

    def __init__(self, messages: int = 200, size_kb: float = 2.0) -> None:
        self.root = _shared_dir("mailplan-dovecot-")
        self.pop3_port, self.imap_port = free_port(), free_port()
        self.messages = messages
        if os.geteuid() == 0:  # Dovecot refuses uid 0 for mail: use nobody
            uid, gid = 65534, 65534
            login_user, internal_user = "dovenull", "dovecot"
        else:
            uid, gid = os.getuid(), os.getgid()
            login_user = internal_user = pwd.getpwuid(uid).pw_name
        home = self.root / "home" / "u1"
        for sub in ("tmp", "new", "cur"):
            (home / "Maildir" / sub).mkdir(parents=True)
        factory = MessageFactory(Workload(size_kb=size_kb), "dovecot")
        for n in range(messages):
            msg = factory.next()
            (home / "Maildir" / "new" / f"{1700000000 + n}.M{n}P1.test").write_bytes(
                msg.data[:-3].replace(b"\r\n", b"\n")
            )
        for path in [home, *home.rglob("*")]:
            os.chown(path, uid, gid)
        (self.root / "passwd").write_text(
            f"{self.USER}:{{PLAIN}}{self.PASSWORD}:{uid}:{gid}::{home}\n"
        )
        conf = self.root / "dovecot.conf"
        conf.write_text(
            _DOVECOT_CONF.format(
                root=self.root,
                port=self.pop3_port,
                pop3_port=self.pop3_port,
                imap_port=self.imap_port,
                login_user=login_user,
                internal_user=internal_user,
            )
        )
        self.proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        wait_listening(self.pop3_port, self.proc)
        wait_listening(self.imap_port, self.proc)

    def stop(self) -> None:
        """Stop Dovecot (SIGTERM to its master) and remove its folder."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=15)
        shutil.rmtree(self.root, ignore_errors=True)


# endregion
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
    ) -> None:
        self.data_delay_s = data_delay_s
        self.fail_every = fail_every
        self.refuse_after = refuse_after
        self.pipelining = pipelining
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
                    writer.write(b"250-scripted.test\r\n" + extra + b"250 8BITMIME\r\n")
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
