"""Peer servers on loopback for tests and benchmarks: Postfix, its smtp-sink, and Dovecot.

Both are the Debian packages (``postfix``, ``dovecot-pop3d``, ``dovecot-imapd``), started
as private instances on free 127.0.0.1 ports in a temporary folder and stopped with
SIGTERM; nothing in /etc is read or changed. Run as root, they drop to ``nobody``
(smtp-sink ``-u``; Dovecot's mail user, since Dovecot refuses uid 0).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from planner.bench.workload import MessageFactory, Workload
from planner.net import free_port

__all__ = [
    "DOVECOT",
    "SINK",
    "Dovecot",
    "Postfix",
    "SmtpSink",
    "dovecot_version",
    "postfix_version",
    "wait_listening",
]


def _first_line(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = out.stdout.strip().splitlines()
    return lines[0] if out.returncode == 0 and lines else None


def postfix_version() -> str | None:
    """``Postfix 3.7.11`` (the smtp-sink and smtp-source package), or None."""
    line = _first_line(["postconf", "-d", "mail_version"])
    return f"Postfix {line.split('=', 1)[1].strip()}" if line and "=" in line else None


def dovecot_version() -> str | None:
    """``Dovecot 2.3.19.1``, or None."""
    line = _first_line([DOVECOT, "--version"])
    return f"Dovecot {line.split()[0]}" if line else None


SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


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


POSTFIX_MASTER_CF = """\
{port} inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""

POSTFIX_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = bench.localdomain
mydomain = localdomain
mydestination = localhost, bench.localdomain
mynetworks = 127.0.0.0/8
default_transport = error
relay_transport = error
smtpd_peername_lookup = no
local_recipient_maps =
alias_maps = inline:{{ bench={root}/postfix-mail/Maildir/ }}
alias_database =
biff = no
maillog_file_prefixes = {root}
maillog_file = {root}/postfix.log
smtpd_banner = $myhostname ESMTP
"""


class Postfix:
    """A private Postfix instance on 127.0.0.1:port delivering every message for
    ``bench@localhost`` to root/postfix-mail/Maildir (the durable path: queue, then local(8)
    to Maildir). Needs root, as Postfix's master does; ``start()`` then ``stop()``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.conf = root / "postfix-conf"
        self.maildir_new = root / "postfix-mail" / "Maildir" / "new"
        self.target = "bench@localhost"

    def start(self) -> None:
        self.conf.mkdir()
        (self.conf / "main.cf").write_text(POSTFIX_MAIN_CF.format(root=self.root))
        (self.conf / "master.cf").write_text(
            POSTFIX_MASTER_CF.format(port=f"127.0.0.1:{self.port}")
        )
        (self.root / "spool").mkdir(mode=0o755)
        (self.root / "data").mkdir(mode=0o700)
        pf = pwd.getpwnam("postfix")
        os.chown(self.root / "data", pf.pw_uid, pf.pw_gid)
        mail = self.root / "postfix-mail"
        mail.mkdir()
        nobody = pwd.getpwnam("nobody")
        os.chown(mail, nobody.pw_uid, nobody.pw_gid)
        subprocess.run(["postfix", "-c", str(self.conf), "check"], check=True)
        subprocess.run(["postfix", "-c", str(self.conf), "start"], check=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            time.sleep(0.2)
        raise RuntimeError("postfix did not start listening")

    def stop(self) -> None:
        if self.conf.exists():
            subprocess.run(["postfix", "-c", str(self.conf), "stop"], capture_output=True)


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
mail_location = maildir:{root}/mailboxes/%Ld/%Ln
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
    """A private Dovecot on two free loopback ports: user ``USER`` with ``messages``
    messages of ``size_kb`` in its Maildir, and ``EMPTY_USER`` with none (same password).

    Its Maildirs are laid out as the reference server's (``mailboxes/<domain>/<local>``)
    and seeded through :func:`planner.mailserver.provision.seed_mailbox`, so both servers
    read the same files and nothing here writes Maildir names."""

    USER = "u1@bench.test"
    EMPTY_USER = "empty@bench.test"
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
        from planner.mailserver.provision import mailbox_path, seed_mailbox

        home, empty = self.root / "home" / "u1", self.root / "home" / "empty"
        home.mkdir(parents=True)
        empty.mkdir(parents=True)
        factory = MessageFactory(Workload(size_kb=size_kb), "dovecot")
        seed_mailbox(self.root, self.USER, (factory.next().data[:-3] for _ in range(messages)))
        mailbox_path(self.root, self.EMPTY_USER).mkdir(parents=True)  # Dovecot adds tmp, new, cur
        mailboxes = self.root / "mailboxes"
        for path in [home, empty, mailboxes, *mailboxes.rglob("*")]:
            os.chown(path, uid, gid)
        (self.root / "passwd").write_text(
            f"{self.USER}:{{PLAIN}}{self.PASSWORD}:{uid}:{gid}::{home}\n"
            f"{self.EMPTY_USER}:{{PLAIN}}{self.PASSWORD}:{uid}:{gid}::{empty}\n"
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
