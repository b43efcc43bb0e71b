#!/usr/bin/env python3
"""End-to-end SMTP throughput: the reference server (`mailplan serve`) against Postfix.

Two kinds of case, each driven by Postfix's ``smtp-source`` (one message per SMTP session,
like the peer measurements in ../shared/research/peer-performance.md), the two servers
taking turns, run after run, so that both see the same machine load:

- ``maildir``: both servers deliver durably to a Maildir; a run is timed from the start
  of smtp-source until every message is a file in the Maildir's ``new/``.
- ``relay`` (issue #18 item 5): both servers relay every message to one ``smtp-sink``
  on loopback, DKIM-signed (``signed``) or not (``unsigned``); a run is timed from the
  start of smtp-source (the first byte sent) until the sink has accepted every message
  (its ``-c`` counter). The reference server trusts 127.0.0.0/8 (``--trusted-network``),
  signs with a key from ``mailplan dkim keygen`` and finds the sink through MX and A
  records served by a small DNS responder on loopback (three look-ups a message: MX, A,
  AAAA); Postfix relays to ``relayhost = [127.0.0.1]:SINK`` (no DNS) and signs through
  Debian's OpenDKIM as a milter (``smtpd_milters = inet:127.0.0.1:PORT``, configured
  here, ``opendkim -f`` as the opendkim user) with the same key, selector and
  relaxed/relaxed canonicalisation. Signed or not is the sender's domain: smtp-source
  writes ``From: <SENDER>``, and both sign only ``bench.test``; Postfix's unsigned case
  uses a second smtpd listener without the milter. Before timing, one message of each
  kind goes through each server into a dumping sink, and dkimpy checks the signature
  against the key (and that unsigned mail has none), so the comparison is honest. Server
  CPU time (all processes of the server's session, OpenDKIM included for Postfix; not
  the DNS responder, smtp-source or the sink) is read from /proc, so the cost of signing
  is given per message both in wall-clock and CPU milliseconds (signed minus unsigned).

Postfix set-up: the Debian package's programs with a private configuration in the temp
folder (``postfix -c DIR``): ``inet_interfaces = 127.0.0.1``, smtpd on a free port,
``smtpd_peername_lookup = no``; for ``maildir`` ``default_transport = error`` and local(8)
delivering through an ``inline:`` alias to ``DIR/postfix-mail/Maildir/`` (Maildir
delivery fsyncs each file); every service unchrooted. Needs root (Postfix's master runs
as root) and the postfix user; the relay case also the opendkim package.

Usage::

    .venv/bin/python benchmarks/smtp_vs_postfix.py   # 1 and 10 KB, 10 and 50 sessions
    .venv/bin/python benchmarks/smtp_vs_postfix.py --messages 3000 --rounds 5
    .venv/bin/python benchmarks/smtp_vs_postfix.py --cases relay --sizes 10240 --sessions 10

Prints messages/s (median of the rounds, and every run) and the ratio mailplan/Postfix,
and for the relay case the server CPU per message and the cost of signing.
Everything it starts is stopped and the temp folder removed, also on Ctrl-C
(``BENCH_KEEP=1`` keeps the relay case's folder, with both servers' logs, and says where).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from planner.bench.peers import (
    POSTFIX_MAIN_CF,
    POSTFIX_MASTER_CF,
    SINK,
    Postfix,
    wait_listening,
)
from planner.net import free_port

SIGN_DOMAIN = "bench.test"
"""The local domain of both servers; mail whose From: is here is signed."""
UNSIGNED_DOMAIN = "plain.test"
"""A sender domain neither server signs (the unsigned case)."""
SINK_DOMAIN = "sink.test"
"""The recipients' domain: MX mx.sink.test, A 127.0.0.1 (the sink)."""
SELECTOR = "s1"


def count_files(folder: Path) -> int:
    try:
        with os.scandir(folder) as it:
            return sum(1 for _ in it)
    except FileNotFoundError:
        return 0


def empty(folder: Path) -> None:
    if folder.is_dir():
        for entry in os.scandir(folder):
            os.unlink(entry.path)


class Mailplan:
    """``mailplan serve`` on a free port delivering to bench@bench.test."""

    def __init__(self, root: Path, workers: int | None) -> None:
        self.root = root
        self.data = root / "mailplan-data"
        self.maildir_new = self.data / "mailboxes" / "bench.test" / "bench" / "new"
        self.target = "bench@bench.test"
        self.workers = workers
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> None:
        exe = [sys.executable, "-m", "planner"]
        subprocess.run(
            [*exe, "user", "add", self.target, "--data-dir", str(self.data), "--password-stdin"],
            input="bench-password\n", check=True, capture_output=True, text=True,
        )  # fmt: skip
        cmd = [*exe, "serve", "--data-dir", str(self.data), "--domain", "bench.test",
               "--smtp", "127.0.0.1:0", "--submission", "off", "--hostname", "bench.test",
               "--log-file", str(self.root / "mailplan.log")]  # fmt: skip
        self.proc, self.port = _spawn_serve(cmd, self.workers)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def run_once(server: Postfix | Mailplan, size: int, sessions: int, messages: int) -> float:
    """Messages/s from the start of smtp-source until all messages are in new/."""
    empty(server.maildir_new)
    cmd = ["smtp-source", "-l", str(size), "-m", str(messages), "-s", str(sessions),
           "-f", "sender@client.test", "-t", server.target, f"127.0.0.1:{server.port}"]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    deadline = time.monotonic() + 120
    while count_files(server.maildir_new) < messages:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {count_files(server.maildir_new)} of {messages} delivered")
        time.sleep(0.005)
    return messages / (time.perf_counter() - start)


@contextlib.contextmanager
def servers(workers: int | None) -> Iterator[tuple[Postfix, Mailplan]]:
    root = Path(tempfile.mkdtemp(prefix="mailplan-bench-"))
    os.chmod(root, 0o755)
    postfix, mailplan = Postfix(root), Mailplan(root, workers)
    try:
        postfix.start()
        mailplan.start()
        yield postfix, mailplan
    finally:
        mailplan.stop()
        postfix.stop()
        shutil.rmtree(root, ignore_errors=True)


# region #### relay case: DNS responder, sink, Postfix + OpenDKIM, mailplan ####


def _spawn_serve(cmd: list[str], workers: int | None) -> tuple[subprocess.Popen[str], int]:
    """Start ``mailplan serve`` (``cmd``, plus ``--workers``) and wait for its ``ready`` line;
    the process and its SMTP port."""
    if workers:
        cmd = [*cmd, "--workers", str(workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    port = 0
    for line in proc.stdout:
        if line.startswith("listening smtp "):
            port = int(line.rsplit(":", 1)[1])
        if line.startswith("ready "):
            return proc, port
    raise RuntimeError("mailplan serve did not start")


def _qname(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


class DnsResponder:
    """A minimal authoritative DNS server on 127.0.0.1 (UDP, its own thread and event
    loop) answering from precomputed records: ``sink.test`` MX ``mx.sink.test``, whose A
    is 127.0.0.1 and which has no AAAA; NXDOMAIN for anything else. About 10 µs a query,
    so the reference server's look-ups cost what its own resolver code costs."""

    def __init__(self, sink_ip: str = "127.0.0.1") -> None:
        mx = f"mx.{SINK_DOMAIN}"
        rr_a, rr_mx = 1, 15
        self.answers: dict[tuple[str, int], list[bytes]] = {
            (SINK_DOMAIN, rr_mx): [struct.pack("!H", 10) + _qname(mx)],
            (mx, rr_a): [socket.inet_aton(sink_ip)],
        }
        self.names = {SINK_DOMAIN, mx}
        soa = _qname(f"ns.{SINK_DOMAIN}") + _qname(f"admin.{SINK_DOMAIN}")
        soa += struct.pack("!IIIII", 1, 3600, 600, 86400, 300)
        self.soa = _qname(SINK_DOMAIN) + struct.pack("!HHIH", 6, 1, 300, len(soa)) + soa
        self.loop = asyncio.new_event_loop()
        self.transport: asyncio.DatagramTransport | None = None
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        if not ready.wait(10) or self.transport is None:
            raise RuntimeError("DNS responder did not start")
        self.port = int(self.transport.get_extra_info("sockname")[1])

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        responder = self

        class Proto(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                reply = responder.reply(data)
                if reply is not None and responder.transport is not None:
                    responder.transport.sendto(reply, addr)

        transport, _ = self.loop.run_until_complete(
            self.loop.create_datagram_endpoint(Proto, local_addr=("127.0.0.1", 0))
        )
        self.transport = transport
        ready.set()
        self.loop.run_forever()

    def reply(self, query: bytes) -> bytes | None:
        """The answer to one query (its question echoed, no EDNS), or None if malformed."""
        if len(query) < 17:
            return None
        labels, i = [], 12
        while i < len(query) and query[i]:
            n = query[i]
            labels.append(query[i + 1 : i + 1 + n].decode("ascii", "replace").lower())
            i += 1 + n
        end = i + 5
        if end > len(query):
            return None
        name, qtype = ".".join(labels), struct.unpack("!H", query[i + 1 : i + 3])[0]
        rdatas = self.answers.get((name, qtype), [])
        rcode = 0 if name in self.names else 3
        flags = 0x8400 | (struct.unpack("!H", query[2:4])[0] & 0x0100) | rcode
        # No answer (the sink's AAAA, NXDOMAIN) carries the zone's SOA, as an authoritative
        # server's does: resolvers keep such answers for its minimum TTL (RFC 2308).
        authority = b"" if rdatas else self.soa
        header = query[:2] + struct.pack("!HHHHH", flags, 1, len(rdatas), int(bool(authority)), 0)
        answers = b"".join(
            b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 300, len(r)) + r for r in rdatas
        )
        return header + query[12:end] + answers + authority

    def stop(self) -> None:
        if self.transport is not None:
            self.loop.call_soon_threadsafe(self.transport.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class Sink:
    """``smtp-sink`` on a fixed loopback port: counting (``-c``), or also dumping each
    message to a file (the signature check before timing)."""

    def __init__(self, root: Path, port: int, *, dump: bool) -> None:
        self.root, self.port = root, port
        self.out = root / ("sink-check.out" if dump else "sink.out")
        self.dump_dir = root / "sink-dump"
        cmd = [SINK, "-c", "-u", "nobody"]
        if dump:
            self.dump_dir.mkdir(exist_ok=True)
            self.dump_dir.chmod(0o777)
            cmd += ["-d", f"{self.dump_dir}/%H%M%S."]
        cmd += [f"127.0.0.1:{port}", "1024"]
        with self.out.open("wb") as f:
            self.proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
        wait_listening(port, self.proc)
        self._reader = self.out.open("rb")
        self._tail = b""
        self._count = 0

    def received(self) -> int:
        """Messages accepted so far (the last ``mesg=N`` of the counter); reads only what
        the sink wrote since the last call, so polling stays cheap."""
        data = self._tail + self._reader.read()
        found = re.findall(rb"mesg=(\d+)", data)
        if found:
            self._count = int(found[-1])
        self._tail = data[-32:]
        return self._count

    def dumped(self) -> list[bytes]:
        """Each dumped message with CRLF line ends, the sink's own X- lines dropped."""
        out = []
        for path in sorted(self.dump_dir.iterdir()):
            lines = path.read_bytes().split(b"\n")
            while lines and lines[0].startswith(b"X-"):
                lines.pop(0)
            out.append(b"\r\n".join(lines))
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self._reader.close()


OPENDKIM_CONF = """\
Syslog no
Mode s
Domain {domain}
Selector {selector}
KeyFile {key}
Socket inet:{port}@127.0.0.1
Canonicalization relaxed/relaxed
SignatureAlgorithm rsa-sha256
OversignHeaders From
InternalHosts 127.0.0.1
UserID opendkim:opendkim
"""


class OpenDkim:
    """Debian's ``opendkim -f`` (signing mode, as the opendkim user) on a free loopback
    port, with a copy of the reference server's key."""

    def __init__(self, key: Path) -> None:
        # OpenDKIM refuses a configuration file on a path others can write (/tmp): its
        # folder is made under /run (root's, mode 0755) and removed by stop().
        self.dir = Path(tempfile.mkdtemp(prefix="mailplan-bench-opendkim-", dir="/run"))
        self.dir.chmod(0o755)
        self.port = free_port()
        ent = pwd.getpwnam("opendkim")
        key_copy = self.dir / f"{SELECTOR}.private"
        key_copy.write_bytes(key.read_bytes())
        os.chown(key_copy, ent.pw_uid, ent.pw_gid)
        key_copy.chmod(0o600)
        conf = self.dir / "opendkim.conf"
        conf.write_text(OPENDKIM_CONF.format(
            domain=SIGN_DOMAIN, selector=SELECTOR, key=key_copy, port=self.port))  # fmt: skip
        self.log = self.dir / "opendkim.log"
        with self.log.open("wb") as f:
            self.proc = subprocess.Popen(
                ["opendkim", "-f", "-x", str(conf)],
                stdout=f, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            wait_listening(self.port, self.proc)
        except RuntimeError:
            why = self.log.read_text()
            self.stop()
            raise RuntimeError(f"opendkim did not start: {why}") from None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class PostfixRelay(Postfix):
    """A private Postfix relaying everything to ``[127.0.0.1]:SINK`` (no DNS): ``port``
    signs through the OpenDKIM milter, ``unsigned_port`` is a second smtpd without it."""

    def __init__(self, root: Path, sink_port: int, opendkim: OpenDkim) -> None:
        root.mkdir(mode=0o755)
        super().__init__(root)
        self.unsigned_port = free_port()
        self.sink_port, self.opendkim = sink_port, opendkim

    def start(self) -> None:
        main_cf = POSTFIX_MAIN_CF.format(root=self.root)
        local_only = "default_transport = error\nrelay_transport = error\n"
        assert local_only in main_cf, "planner.bench.peers.POSTFIX_MAIN_CF changed"
        main_cf = main_cf.replace(
            local_only,
            f"default_transport = smtp\nrelay_transport = smtp\n"
            f"relayhost = [127.0.0.1]:{self.sink_port}\n"
            f"milter_default_action = tempfail\n",
        )
        master_cf = POSTFIX_MASTER_CF.format(port=f"127.0.0.1:{self.unsigned_port}")
        master_cf += (
            f"127.0.0.1:{self.port} inet n - n - - smtpd\n"
            f"  -o smtpd_milters=inet:127.0.0.1:{self.opendkim.port}\n"
            "smtp unix - - n - - smtp\n"
        )
        self.conf.mkdir()
        (self.conf / "main.cf").write_text(main_cf)
        (self.conf / "master.cf").write_text(master_cf)
        (self.root / "spool").mkdir(mode=0o755)
        (self.root / "data").mkdir(mode=0o700)
        pf = pwd.getpwnam("postfix")
        os.chown(self.root / "data", pf.pw_uid, pf.pw_gid)
        subprocess.run(["postfix", "-c", str(self.conf), "check"], check=True)
        subprocess.run(["postfix", "-c", str(self.conf), "start"], check=True)
        wait_listening(self.port, timeout=30)
        wait_listening(self.unsigned_port, timeout=30)

    def session_ids(self) -> list[int]:
        """The master's pid (its session holds every Postfix process) and OpenDKIM's."""
        master = int((self.root / "spool" / "pid" / "master.pid").read_text().split()[0])
        return [master, self.opendkim.proc.pid]


class MailplanRelay(Mailplan):
    """``mailplan serve`` trusting 127.0.0.0/8, signing bench.test with a fresh key and
    relaying through the loopback DNS responder to the sink's port."""

    def __init__(self, root: Path, workers: int | None, dns_port: int, sink_port: int) -> None:
        super().__init__(root, workers)
        self.data = root / "mailplan-relay"
        self.dns_port, self.sink_port = dns_port, sink_port

    def keygen(self) -> Path:
        """``mailplan dkim keygen`` (RSA-2048); the key file."""
        subprocess.run(
            [sys.executable, "-m", "planner", "dkim", "keygen", "--domain", SIGN_DOMAIN,
             "--selector", SELECTOR, "--data-dir", str(self.data)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return self.data / "dkim" / SIGN_DOMAIN / f"{SELECTOR}.pem"

    def start(self) -> None:
        cmd = [sys.executable, "-m", "planner", "serve", "--data-dir", str(self.data),
               "--domain", SIGN_DOMAIN, "--smtp", "127.0.0.1:0", "--submission", "off",
               "--hostname", SIGN_DOMAIN, "--log-file", str(self.root / "mailplan-relay.log"),
               "--trusted-network", "127.0.0.0/8", "--dns", f"127.0.0.1:{self.dns_port}",
               "--relay-port", str(self.sink_port)]  # fmt: skip
        self.proc, self.port = _spawn_serve(cmd, self.workers)


def session_cpu_s(sids: list[int]) -> float:
    """CPU seconds (user + system, with waited-for children) of every process whose
    session is one of ``sids``."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        if int(fields[3]) in sids:
            total += sum(int(x) for x in fields[11:15])
    return total / tick


def relay_once(
    port: int, sender: str, sink: Sink, sids: list[int], size: int, sessions: int, messages: int
) -> tuple[float, float]:
    """(messages/s, server CPU ms per message) from the start of smtp-source until the
    sink has accepted every message."""
    base = sink.received()
    cmd = ["smtp-source", "-l", str(size), "-m", str(messages), "-s", str(sessions),
           "-f", sender, "-t", f"user@{SINK_DOMAIN}", f"127.0.0.1:{port}"]  # fmt: skip
    cpu0 = session_cpu_s(sids)
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    deadline = time.monotonic() + 120
    while sink.received() < base + messages:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {sink.received() - base} of {messages} reached the sink")
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    return messages / elapsed, (session_cpu_s(sids) - cpu0) * 1000 / messages


def check_signatures(
    root: Path, key: Path, routes: dict[str, tuple[int, str, bool]], sink_port: int
) -> None:
    """One message per route into a dumping sink; dkimpy must verify the signed ones
    against ``key`` (d=bench.test, s=s1), and the unsigned ones must carry none."""
    import dkim

    from planner.mailserver.dkim import load_keys

    (record,) = load_keys(key.parent.parent.parent)[SIGN_DOMAIN]
    txt = {f"{record.record_name}.".encode(): record.txt.encode()}
    sink = Sink(root, sink_port, dump=True)
    try:
        for name, (port, sender, _) in routes.items():
            subprocess.run(
                ["smtp-source", "-l", "2048", "-m", "1", "-s", "1", "-f", sender,
                 "-t", f"{name}@{SINK_DOMAIN}", f"127.0.0.1:{port}"], check=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while sink.received() < len(routes):
            if time.monotonic() > deadline:
                raise RuntimeError(f"signature check: {sink.received()} of {len(routes)} arrived")
            time.sleep(0.01)
        for message in sink.dumped():
            found = re.search(rb"^To: <([^@>]+)@", message, re.MULTILINE)
            assert found is not None, message[:300]
            route = found.group(1).decode()
            signed = routes[route][2]
            sigs = message.count(b"\r\nDKIM-Signature:")
            if not signed:
                assert sigs == 0, f"{route}: unsigned mail carries a signature"
                continue
            assert sigs == 1, f"{route}: {sigs} signatures"
            ok = dkim.verify(message, dnsfunc=lambda n, timeout=5: txt.get(n))
            assert ok, f"{route}: dkimpy does not verify the signature"
        print(f"signature check: {', '.join(routes)}: signed ones verify (dkimpy), "
              "unsigned ones carry none", flush=True)  # fmt: skip
    finally:
        sink.stop()
        shutil.rmtree(sink.dump_dir, ignore_errors=True)


@contextlib.contextmanager
def relay_servers(workers: int | None) -> Iterator[tuple[PostfixRelay, MailplanRelay, Sink]]:
    """DNS responder, Postfix + OpenDKIM and mailplan relaying to one counting sink,
    after the signature check."""
    root = Path(tempfile.mkdtemp(prefix="mailplan-bench-relay-"))
    os.chmod(root, 0o755)
    sink_port = free_port()
    dns = DnsResponder()
    mailplan = MailplanRelay(root, workers, dns.port, sink_port)
    stack: list[Callable[[], None]] = [dns.stop]
    try:
        key = mailplan.keygen()
        opendkim = OpenDkim(key)
        stack.append(opendkim.stop)
        postfix = PostfixRelay(root / "postfix", sink_port, opendkim)
        stack.append(postfix.stop)
        postfix.start()
        stack.append(mailplan.stop)
        mailplan.start()
        check_signatures(root, key, {
            "postfix-signed": (postfix.port, f"a@{SIGN_DOMAIN}", True),
            "postfix-unsigned": (postfix.unsigned_port, f"a@{UNSIGNED_DOMAIN}", False),
            "mailplan-signed": (mailplan.port, f"a@{SIGN_DOMAIN}", True),
            "mailplan-unsigned": (mailplan.port, f"a@{UNSIGNED_DOMAIN}", False),
        }, sink_port)  # fmt: skip
        sink = Sink(root, sink_port, dump=False)
        stack.append(sink.stop)
        yield postfix, mailplan, sink
    finally:
        for stop in reversed(stack):
            with contextlib.suppress(Exception):
                stop()
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {root} (BENCH_KEEP)")
        else:
            shutil.rmtree(root, ignore_errors=True)


def run_relay_cases(
    args: argparse.Namespace, sizes: list[int], sessions: list[int]
) -> list[tuple[str, int, int, dict[str, float]]]:
    """Every (signed|unsigned, size, sessions) case, both servers, ``args.rounds`` each."""
    rows = []
    with relay_servers(args.workers) as (postfix, mailplan, sink):
        postfix_sids = postfix.session_ids()
        assert mailplan.proc is not None
        mailplan_sids = [mailplan.proc.pid]
        routes = {
            ("postfix", "signed"): (postfix.port, f"bench@{SIGN_DOMAIN}", postfix_sids),
            ("postfix", "unsigned"): (postfix.unsigned_port, f"bench@{UNSIGNED_DOMAIN}",
                                      postfix_sids),
            ("mailplan", "signed"): (mailplan.port, f"bench@{SIGN_DOMAIN}", mailplan_sids),
            ("mailplan", "unsigned"): (mailplan.port, f"bench@{UNSIGNED_DOMAIN}",
                                       mailplan_sids),
        }  # fmt: skip
        for size in sizes:
            for sess in sessions:
                for kind in ("unsigned", "signed"):
                    rates: dict[str, list[float]] = {"postfix": [], "mailplan": []}
                    cpus: dict[str, list[float]] = {"postfix": [], "mailplan": []}
                    for r in range(args.rounds):
                        order = ["postfix", "mailplan"] if r % 2 == 0 else ["mailplan", "postfix"]
                        for name in order:
                            port, sender, sids = routes[(name, kind)]
                            rate, cpu = relay_once(
                                port, sender, sink, sids, size, sess, args.messages
                            )
                            rates[name].append(rate)
                            cpus[name].append(cpu)
                    figures = {
                        f"{n}_{k}": statistics.median(v)
                        for n in ("postfix", "mailplan")
                        for k, v in (("rate", rates[n]), ("cpu_ms", cpus[n]))
                    }
                    rows.append((kind, size, sess, figures))
                    p, m = figures["postfix_rate"], figures["mailplan_rate"]
                    print(
                        f"relay {kind:<8} size={size // 1024}KB sessions={sess:>3}  "
                        f"postfix={p:6.0f} msg/s {[round(x) for x in rates['postfix']]} "
                        f"cpu={figures['postfix_cpu_ms']:.2f} ms/msg  "
                        f"mailplan={m:6.0f} msg/s {[round(x) for x in rates['mailplan']]} "
                        f"cpu={figures['mailplan_cpu_ms']:.2f} ms/msg  ratio={m / p:.2f}",
                        flush=True,
                    )
    return rows


# endregion


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000, help="messages per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per server and case")
    parser.add_argument("--sizes", default="1024,10240", help="message sizes in bytes")
    parser.add_argument("--sessions", default="10,50", help="parallel SMTP sessions")
    parser.add_argument("--workers", type=int, default=None, help="mailplan server processes")
    parser.add_argument("--cases", default="maildir,relay", help="maildir, relay or both")
    args = parser.parse_args()
    cases = {c.strip() for c in args.cases.split(",")}
    if not cases or not cases <= {"maildir", "relay"}:
        print("smtp_vs_postfix: --cases: maildir, relay or maildir,relay", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("smtp_vs_postfix: needs root (Postfix's master runs as root)", file=sys.stderr)
        return 2
    if shutil.which("smtp-source") is None or shutil.which("postfix") is None:
        print("smtp_vs_postfix: needs Debian's postfix package (smtp-source)", file=sys.stderr)
        return 2
    if "relay" in cases and shutil.which("opendkim") is None:
        print("smtp_vs_postfix: the relay case needs Debian's opendkim package", file=sys.stderr)
        return 2
    sizes = [int(s) for s in args.sizes.split(",")]
    sessions = [int(s) for s in args.sessions.split(",")]
    print(f"cores={os.cpu_count()} load_avg_start={os.getloadavg()[0]:.2f} "
          f"messages_per_run={args.messages} rounds={args.rounds}")  # fmt: skip
    rows = []
    if "maildir" in cases:
        with servers(args.workers) as (postfix, mailplan):
            for size in sizes:
                for sess in sessions:
                    runs: dict[str, list[float]] = {"postfix": [], "mailplan": []}
                    for r in range(args.rounds):
                        order = [("postfix", postfix), ("mailplan", mailplan)]
                        for name, server in order if r % 2 == 0 else order[::-1]:
                            runs[name].append(run_once(server, size, sess, args.messages))
                    p, m = statistics.median(runs["postfix"]), statistics.median(runs["mailplan"])
                    rows.append((size, sess, p, m))
                    print(
                        f"size={size // 1024}KB sessions={sess:>3}  postfix={p:7.0f} msg/s "
                        f"{[round(x) for x in runs['postfix']]}  mailplan={m:7.0f} msg/s "
                        f"{[round(x) for x in runs['mailplan']]}  ratio={m / p:.2f}",
                        flush=True,
                    )
    relay_rows = run_relay_cases(args, sizes, sessions) if "relay" in cases else []
    print(f"load_avg_end={os.getloadavg()[0]:.2f}")
    if rows:
        print("maildir         postfix msg/s  mailplan msg/s  ratio")
        for size, sess, p, m in rows:
            print(f"{size // 1024:>3} KB x {sess:>3} s.  {p:13.0f}  {m:14.0f}  {m / p:5.2f}")
    if relay_rows:
        print_relay_summary(relay_rows)
    return 0


def print_relay_summary(rows: list[tuple[str, int, int, dict[str, float]]]) -> None:
    """The relay table, and the cost of signing per message (signed minus unsigned)."""
    print("relay                    postfix msg/s (CPU ms/msg)  mailplan msg/s (CPU ms/msg)  ratio")
    for kind, size, sess, f in rows:
        print(
            f"{kind:<8} {size // 1024:>3} KB x {sess:>3} s.  "
            f"{f['postfix_rate']:13.0f} ({f['postfix_cpu_ms']:5.2f})      "
            f"{f['mailplan_rate']:14.0f} ({f['mailplan_cpu_ms']:5.2f})     "
            f"{f['mailplan_rate'] / f['postfix_rate']:5.2f}"
        )
    by_case = {(kind, size, sess): f for kind, size, sess, f in rows}
    print("cost of signing per message (signed minus unsigned): wall ms = 1/rate difference, "
          "server CPU ms")  # fmt: skip
    for (kind, size, sess), signed in by_case.items():
        unsigned = by_case.get(("unsigned", size, sess))
        if kind != "signed" or unsigned is None:
            continue
        parts = []
        for name in ("postfix", "mailplan"):
            wall = 1000 / signed[f"{name}_rate"] - 1000 / unsigned[f"{name}_rate"]
            cpu = signed[f"{name}_cpu_ms"] - unsigned[f"{name}_cpu_ms"]
            label = "postfix+opendkim" if name == "postfix" else "mailplan"
            parts.append(f"{label}: {wall:+.3f} ms wall, {cpu:+.3f} ms CPU")
        print(f"  {size // 1024:>3} KB x {sess:>3} s.  " + "   ".join(parts))


if __name__ == "__main__":
    sys.exit(main())
