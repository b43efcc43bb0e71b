"""Relaying: MX look-up on a real DNS server, loopback MX hosts, retries and bounces."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from planner.mailserver.config import Listen, RelaySettings
from planner.mailserver.dsn import build_bounce, status_of
from planner.mailserver.relay import DeliveryFailure, MxResolver, dot_stuff, next_delay_s
from planner.net import free_port
from tests.mailserver.conftest import (
    MAILPLAN,
    FakeDNS,
    FakeMX,
    ServerProcess,
    start_server,
    wait_for,
)

pytestmark = pytest.mark.timeout(60)

_ips = (f"127.0.1.{n}" for n in itertools.count(1))


def relay_args(dns: FakeDNS, mx_port: int, *extra: str) -> tuple[str, ...]:
    return (
        "--dns", dns.address, "--relay-port", str(mx_port), "--insecure-auth",
        "--retry-initial", "0.3", "--retry-max", "0.6", "--queue-scan", "0.2",
        "--relay-timeout", "5", *extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def mx_port() -> int:
    """The port every fake remote MX listens on (each on its own loopback address)."""
    return free_port()


@pytest.fixture(scope="module")
def server(shared_data: Path, dns_server: FakeDNS, mx_port: int) -> Iterator[ServerProcess]:
    """A server relaying through the loopback DNS and MX hosts, with short retries."""
    srv = start_server(shared_data, *relay_args(dns_server, mx_port))
    yield srv
    srv.stop()


@pytest.fixture
def remote(dns_server: FakeDNS, mx_port: int, tmp_path: Path) -> Iterator[object]:
    """Make remote domains: ``remote(mode)`` → (domain, FakeMX) with one MX record."""
    made: list[FakeMX] = []

    def make(mode: str = "accept", tls: bool = False) -> tuple[str, FakeMX]:
        domain = f"r{uuid.uuid4().hex[:8]}.test"
        ip = next(_ips)
        mx = FakeMX(ip, mx_port, mode, tls_dir=tmp_path / f"tls-{ip}" if tls else None)
        made.append(mx)
        dns_server.mx(domain, (10, f"mx.{domain}"))
        dns_server.a(f"mx.{domain}", ip)
        return domain, mx

    yield make
    for mx in made:
        mx.close()


def send(
    server: ServerProcess,
    rcpts: list[str],
    body: bytes = b"Hi.\r\n",
    sender: str = "bob@example.test",
) -> str:
    """Send as bob (AUTH PLAIN on loopback); returns the subject token."""
    tok = uuid.uuid4().hex
    msg = b"Subject: " + tok.encode() + b"\r\nFrom: " + sender.encode() + b"\r\n\r\n" + body
    with server.smtp() as c:
        c.login("bob@example.test", "bob-secret")
        assert c.sendmail(sender, rcpts, msg) == {}
    return tok


def queue_json(data_dir: Path) -> list[dict[str, object]]:
    out = subprocess.run(
        [*MAILPLAN, "queue", "--data-dir", str(data_dir), "--format", "json"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return list(json.loads(out.stdout))


def queued(server: ServerProcess, tok: str) -> list[Path]:
    entries = server.data_dir / "queue" / "entries"
    return [p for p in entries.iterdir() if tok.encode() in p.read_bytes()]


def bounces_for(server: ServerProcess, tok: str) -> list[bytes]:
    return [
        data
        for p in server.maildir_files("bob@example.test")
        if b"Undelivered Mail" in (data := p.read_bytes()) and tok.encode() in data
    ]


class TestUnits:
    def test_dot_stuff(self):
        """Lines starting with a dot get a second one; the final dot line is added."""
        assert dot_stuff(b".a\r\nb\r\n..c\r\n") == b"..a\r\nb\r\n...c\r\n.\r\n"

    def test_dot_stuff_adds_missing_crlf(self):
        """Content without a final CRLF gets one before the dot line."""
        assert dot_stuff(b"x") == b"x\r\n.\r\n"

    @pytest.mark.parametrize(("attempts", "delay"), [(1, 300), (2, 600), (4, 2400), (5, 4000)])
    def test_backoff_doubles_up_to_the_cap(self, attempts, delay):
        """The wait doubles after each failure, from 5 minutes to at most 4000 s."""
        assert next_delay_s(attempts, RelaySettings()) == delay

    @pytest.mark.parametrize(
        ("code", "text", "status"),
        [
            (550, "5.1.1 no such user", "5.1.1"),
            (554, "go away", "5.0.0"),
            (550, "4.1.1 x", "5.0.0"),
        ],
        ids=["enhanced", "plain", "mismatched-class"],
    )
    def test_status_of_reply(self, code, text, status):
        """The DSN Status comes from the reply's enhanced code when its class matches."""
        assert status_of(code, text) == status

    def test_bounce_lists_each_recipient(self):
        """A bounce has one delivery-status block per failed recipient and the headers."""
        body = build_bounce(
            hostname="mx.example.test", qid="Q1", sender="bob@example.test",
            failures=[("a@x.test", 550, "5.1.1 unknown"), ("b@x.test", 554, "5.7.1 no")],
            original=b"Subject: hi\r\n\r\nsecret body\r\n", arrival_s=0,
        )  # fmt: skip
        assert body.count(b"Action: failed") == 2
        assert b"Subject: hi\r\n" in body
        assert b"secret body" not in body
        assert body.count(b"\n") == body.count(b"\r\n")

    def test_equal_preferences_are_shuffled(self, dns_server):
        """Hosts of equal preference come in random order, lower preference always first."""
        hosts = [(10, f"h{i}.shuffle.test") for i in range(6)]
        dns_server.mx("shuffle.test", (5, "a.shuffle.test"), *hosts)
        settings = RelaySettings(dns=Listen(host="127.0.0.1", port=dns_server.port))

        async def lookups() -> list[list[str]]:
            resolver = MxResolver(settings)
            return [await resolver.mx_hosts("shuffle.test") for _ in range(8)]

        results = asyncio.run(lookups())
        assert {r[0] for r in results} == {"a.shuffle.test"}
        assert len({tuple(r[1:]) for r in results}) > 1

    @pytest.mark.parametrize(
        ("setup", "code"),
        [("nxdomain", 550), ("servfail", 451), ("nullmx", 550)],
        ids=["nxdomain-bounces", "servfail-defers", "null-mx-bounces"],
    )
    def test_lookup_failures(self, dns_server, setup, code):
        """NXDOMAIN and null MX are permanent (5yz), SERVFAIL is temporary (4yz)."""
        name = f"{setup}.unit.test"
        if setup == "servfail":
            dns_server.servfail(name)
        elif setup == "nullmx":
            dns_server.mx(name, (0, "."))
        settings = RelaySettings(dns=Listen(host="127.0.0.1", port=dns_server.port))
        with pytest.raises(DeliveryFailure) as info:
            asyncio.run(MxResolver(settings).mx_hosts(name))
        assert info.value.code == code


class TestDelivery:
    def test_relayed_with_starttls_crlf_and_dot_stuffing(self, server, remote):
        """The remote MX gets the message over STARTTLS, CRLF only, dot-stuffed, with a trace
        header; the log has two lines for it at the default level, accepted and relayed."""
        domain, mx = remote("accept", tls=True)
        tok = send(server, [f"carol@{domain}"], b"line\r\n.dot\r\n")
        wait_for(lambda: mx.received, what="delivery to the MX")
        (rec,) = mx.received
        assert rec.tls
        assert (rec.mail_from, rec.rcpts) == ("bob@example.test", [f"carol@{domain}"])
        assert rec.raw.startswith(b"Received: from client.test ([127.0.0.1])\r\n")
        assert rec.raw.endswith(b"\r\n\r\nline\r\n..dot\r\n")
        assert rec.raw.count(b"\n") == rec.raw.count(b"\r\n")
        wait_for(lambda: not queued(server, tok), what="the queue to empty")
        log = wait_for(lambda: f"relayed to=<carol@{domain}>" in (t := server.log()) and t, 5)
        assert f"relayed to=<carol@{domain}> via=mx.{domain}[" in log
        # at the default level one line when accepted and one per delivery; the steps
        # between (route, queued, mx, removed) are debug lines
        (qid,) = re.findall(rf" INFO (\w+): relayed to=<carol@{re.escape(domain)}>", log)
        steps = [line.split(f"{qid}: ", 1)[1].split(" ", 1)[0] for line in log.splitlines()
                 if f" {qid}: " in line]  # fmt: skip
        assert steps == ["accepted", "relayed"]

    def test_next_mx_when_the_first_is_down(self, server, remote, dns_server):
        """With the preferred MX unreachable, the next one by preference gets the mail."""
        domain, mx = remote("accept")
        dead = next(_ips)
        dns_server.mx(domain, (5, f"dead.{domain}"), (10, f"mx.{domain}"))
        dns_server.a(f"dead.{domain}", dead)
        send(server, [f"dave@{domain}"])
        wait_for(lambda: mx.received, what="delivery to the second MX")

    def test_implicit_mx_from_a_record(self, server, dns_server, mx_port):
        """A domain without MX records is delivered to its own A record."""
        ip = next(_ips)
        mx = FakeMX(ip, mx_port)
        try:
            dns_server.a("plain-a.test", ip)
            send(server, ["eve@plain-a.test"])
            wait_for(lambda: mx.received, what="delivery to the A record")
        finally:
            mx.close()

    def test_temporary_failure_is_retried_until_accepted(self, server, remote):
        """A 4yz after DATA keeps the message queued with its error; a later attempt delivers."""
        domain, mx = remote("tempfail")
        tok = send(server, [f"fay@{domain}"])
        entry = wait_for(
            lambda: [e for e in queue_json(server.data_dir) if e["attempts"]], what="a retry"
        )[0]
        assert entry["recipients"][0]["last_error"].startswith("451 ")
        mx.mode = "accept"
        wait_for(lambda: mx.received, what="the retry to succeed")
        wait_for(lambda: not queued(server, tok), what="the queue to empty")

    def test_drop_mid_data_is_deferred_and_retried(self, server, remote):
        """A connection lost during DATA defers the message and it is tried again."""
        domain, mx = remote("drop")
        tok = send(server, [f"gil@{domain}"], b"x" * 200 + b"\r\n")
        wait_for(lambda: mx.connections >= 2, what="a second attempt")
        assert queued(server, tok)
        assert bounces_for(server, tok) == []

    def test_permanent_failure_bounces_to_local_sender(self, server, remote):
        """A 5yz at RCPT bounces to the (local) sender with an RFC 3464 report; queue emptied."""
        domain, _ = remote("permfail")
        tok = send(server, [f"hal@{domain}"])
        (bounce,) = wait_for(lambda: bounces_for(server, tok), what="the bounce")
        assert bounce.startswith(b"Return-Path: <>\n")
        assert f"Final-Recipient: rfc822; hal@{domain}".encode() in bounce
        assert b"Status: 5.1.1" in bounce
        wait_for(lambda: not queued(server, tok), what="the queue to empty")

    @pytest.mark.parametrize(
        ("kind", "status"),
        [("nullmx", b"5.1.10"), ("nxdomain", b"5.1.2")],
        ids=["null-mx", "nxdomain"],
    )
    def test_undeliverable_domain_bounces(self, server, dns_server, kind, status):
        """Null MX and a domain that does not exist bounce at once, no retry."""
        domain = f"{kind}-{uuid.uuid4().hex[:6]}.test"
        if kind == "nullmx":
            dns_server.mx(domain, (0, "."))
        tok = send(server, [f"ian@{domain}"])
        (bounce,) = wait_for(lambda: bounces_for(server, tok), what="the bounce")
        assert b"Status: " + status in bounce

    def test_dns_failure_defers(self, server, dns_server):
        """SERVFAIL keeps the message queued (4.4.3), without a bounce."""
        domain = f"sf-{uuid.uuid4().hex[:6]}.test"
        dns_server.servfail(domain)
        tok = send(server, [f"jo@{domain}"])
        entry = wait_for(
            lambda: [e for e in queue_json(server.data_dir) if e["attempts"] and
                     e["recipients"][0]["address"] == f"jo@{domain}"], what="a deferral",
        )[0]  # fmt: skip
        assert "4.4.3" in entry["recipients"][0]["last_error"]
        assert queued(server, tok)
        assert bounces_for(server, tok) == []

    def test_no_bounce_for_the_null_sender(self, server, remote):
        """A failed message from <> is dropped with a log line, never bounced."""
        domain, _ = remote("permfail")
        tok = uuid.uuid4().hex
        with server.smtp() as c:
            c.login("bob@example.test", "bob-secret")
            c.sendmail("", [f"kim@{domain}"], f"Subject: {tok}\r\n\r\nx\r\n".encode())
        wait_for(lambda: "no bounce for the null sender" in server.log(), what="the log line")
        assert bounces_for(server, tok) == []

    def test_bounce_to_remote_sender_goes_out_from_null_sender(self, server, remote):
        """A bounce for a remote sender is queued and relayed with MAIL FROM:<>."""
        bad, _ = remote("permfail")
        home, home_mx = remote("accept")
        send(server, [f"lee@{bad}"], sender=f"sender@{home}")
        wait_for(lambda: home_mx.received, what="the bounce at the sender's MX")
        (rec,) = home_mx.received
        assert (rec.mail_from, rec.rcpts) == ("", [f"sender@{home}"])
        assert b"Undelivered Mail Returned to Sender" in rec.raw


class TestQueueLifetime:
    def test_message_expires_and_bounces(self, server_factory, dns_server, mx_port, tmp_path):
        """A message still deferred after --queue-lifetime bounces: Action failed, and the
        Status keeps the 4.4.7 of its diagnostic (RFC 3463; as Postfix), not 5.0.0."""
        ip = next(_ips)
        mx = FakeMX(ip, mx_port, "tempfail")
        try:
            dns_server.mx("slow.test", (10, "mx.slow.test"))
            dns_server.a("mx.slow.test", ip)
            srv = server_factory(*relay_args(dns_server, mx_port, "--queue-lifetime", "1"))
            tok = send(srv, ["mo@slow.test"])
            (bounce,) = wait_for(lambda: bounces_for(srv, tok), what="the expiry bounce")
            assert b"4.4.7 message expired" in bounce
            report = bounce.split(b"Final-Recipient: rfc822; mo@slow.test\n", 1)[1]
            assert report.startswith(b"Action: failed\nStatus: 4.4.7\nDiagnostic-Code: smtp; 451 ")
        finally:
            mx.close()

    def test_queue_survives_restart(self, server_factory, dns_server, mx_port):
        """A deferred message is listed by `mailplan queue` while stopped and sent after restart."""
        ip = next(_ips)
        mx = FakeMX(ip, mx_port, "tempfail")
        try:
            dns_server.mx("later.test", (10, "mx.later.test"))
            dns_server.a("mx.later.test", ip)
            srv = server_factory(*relay_args(dns_server, mx_port), name="restart")
            send(srv, ["ned@later.test"])
            wait_for(
                lambda: any(e["attempts"] for e in queue_json(srv.data_dir)),
                what="a first attempt recorded in the queue",
            )
            assert srv.stop() == 0
            listing = subprocess.run(
                [*MAILPLAN, "queue", "--data-dir", str(srv.data_dir)],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout  # fmt: skip
            assert "to=<ned@later.test>  last: 451 " in listing
            assert listing.endswith("1 message(s) queued\n")
            mx.mode = "accept"
            srv2 = server_factory(*relay_args(dns_server, mx_port), name="restart")
            wait_for(lambda: mx.received, what="delivery after restart")
            wait_for(lambda: queue_json(srv2.data_dir) == [], what="the queue to empty")
        finally:
            mx.close()
