"""Relay for trusted client networks without AUTH (``--trusted-network``, Postfix
``mynetworks``): trusted clients relay, and their mail is DKIM-signed; everyone else
still needs AUTH (no open relay); bad networks stop ``mailplan serve`` in one line."""

from __future__ import annotations

import ipaddress
import smtplib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import dkim
import pytest

from planner.mailserver.dkim import generate_key
from planner.mailserver.policy import TrustedNetworks, parse_trusted_network
from planner.mailserver.smtp_replies import Reply
from planner.net import free_port
from tests.mailserver.conftest import (
    MAILPLAN,
    FakeDNS,
    FakeMX,
    ServerProcess,
    make_users,
    start_server,
    wait_for,
)
from tests.mailserver.test_dkim import dns_txt, publish

pytestmark = pytest.mark.timeout(90)

DOMAIN = "example.test"
TRUSTED_CLIENT = "127.0.0.7"
"""The client address the trusted test connects from (``--trusted-network`` 127.0.0.7/32)."""
UNTRUSTED_CLIENT = "127.0.0.8"
MX_IP = "127.0.3.1"


def message(rcpt: str) -> bytes:
    return (
        f"From: Bob <bob@{DOMAIN}>\r\nTo: {rcpt}\r\nSubject: trusted\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@{DOMAIN}>\r\n\r\nfrom a trusted host\r\n"
    ).encode()


def client(server: ServerProcess, source: str) -> smtplib.SMTP:
    """An SMTP client whose peer address (as the server sees it) is ``source``."""
    return smtplib.SMTP(
        "127.0.0.1",
        server.smtp_port,
        local_hostname="client.test",
        timeout=10,
        source_address=(source, 0),
    )


class TestParse:
    @pytest.mark.parametrize(
        ("text", "network"),
        [
            ("127.0.0.0/8", "127.0.0.0/8"),
            ("10.1.2.3", "10.1.2.3/32"),
            (" 192.168.0.0/16 ", "192.168.0.0/16"),
            ("fd00::/8", "fd00::/8"),
        ],
        ids=["loopback", "host", "blanks", "ula"],
    )
    def test_private_networks(self, text, network):
        """Private networks and single addresses are accepted as given."""
        assert parse_trusted_network(text) == ipaddress.ip_network(network)

    @pytest.mark.parametrize(
        ("text", "allow_public", "problem"),
        [
            ("bogus", False, "not an IP address or CIDR network: 'bogus'"),
            ("10.0.0.1/8", False, "host bits set in '10.0.0.1/8' (the network is 10.0.0.0/8)"),
            ("8.8.8.0/24", False, "8.8.8.0/24 is not a private network; add "
             "--allow-public-trusted-network if it really is yours"),
            ("0.0.0.0/0", True, "0.0.0.0/0 is wider than /8: that would make an open relay"),
            ("::/0", True, "::/0 is wider than /16: that would make an open relay"),
        ],
        ids=["syntax", "host-bits", "public", "everything-v4", "everything-v6"],
    )  # fmt: skip
    def test_refused(self, text, allow_public, problem):
        """Each refusal is one line naming the option."""
        with pytest.raises(ValueError, match=r"^--trusted-network: ") as info:
            parse_trusted_network(text, allow_public=allow_public)
        assert str(info.value) == f"--trusted-network: {problem}"

    def test_public_with_the_flag(self):
        """A public network is accepted when explicitly allowed."""
        assert str(parse_trusted_network("8.8.8.0/24", allow_public=True)) == "8.8.8.0/24"

    def test_membership(self):
        """An address is in the set when one network holds it (IPv4-mapped IPv6 counts as
        IPv4); garbage and the empty set hold nothing."""
        nets = TrustedNetworks((ipaddress.ip_network("10.0.0.0/8"),))
        assert ("10.9.8.7" in nets, "::ffff:10.0.0.1" in nets, "11.0.0.1" in nets) == (
            True,
            True,
            False,
        )
        assert "unknown" not in nets
        assert "10.0.0.1" not in TrustedNetworks()


@pytest.fixture(name="relay", scope="module")
def _relay(
    tmp_path_factory: pytest.TempPathFactory, dns_server: FakeDNS
) -> Iterator[tuple[ServerProcess, FakeMX, str]]:
    """A server trusting 127.0.0.7/32 only, with a DKIM key published by the loopback
    DNS server, relaying to a fake MX on loopback; the remote domain."""
    data_dir = tmp_path_factory.mktemp("trusted") / "data"
    data_dir.mkdir()
    make_users(data_dir)
    publish(dns_server, generate_key(data_dir, DOMAIN, "t1"))
    mx_port = free_port()
    mx = FakeMX(MX_IP, mx_port)
    remote = f"r{uuid.uuid4().hex[:8]}.test"
    dns_server.mx(remote, (10, f"mx.{remote}"))
    dns_server.a(f"mx.{remote}", MX_IP)
    server = start_server(
        data_dir,
        *("--dns", dns_server.address, "--relay-port", str(mx_port)),
        *("--trusted-network", f"{TRUSTED_CLIENT}/32", "--trusted-network", "10.0.0.0/8"),
    )
    yield server, mx, remote
    server.stop()
    mx.close()
    assert "Traceback" not in server.log(), server.log()


class TestServe:
    def test_trusted_client_relays_signed_without_auth(self, relay, dns_server):
        """A client in a trusted network relays to a remote domain without AUTH; the
        fake MX gets the message with a DKIM signature dkimpy verifies."""
        server, mx, remote = relay
        rcpt = f"carol@{remote}"
        with client(server, TRUSTED_CLIENT) as c:
            assert c.sendmail(f"bob@{DOMAIN}", [rcpt], message(rcpt)) == {}
        got = wait_for(lambda: [r for r in mx.received if r.rcpts == [rcpt]], what="relay")
        raw = got[0].raw
        assert got[0].mail_from == f"bob@{DOMAIN}"
        assert raw.count(b"DKIM-Signature:") == 1
        assert dkim.verify(raw, dnsfunc=dns_txt(dns_server))
        wait_for(
            lambda: (
                f"client=[{TRUSTED_CLIENT}] helo=client.test proto=ESMTP trusted=yes"
                in server.log()
            ),
            what="the accepted line in the log",
        )

    def test_untrusted_client_is_refused(self, relay):
        """A client outside every trusted network gets 554 5.7.1 for a remote recipient
        and nothing is queued: no open relay."""
        server, _, remote = relay
        rcpt = f"dave@{remote}"
        with client(server, UNTRUSTED_CLIENT) as c:
            c.ehlo()
            assert c.mail(f"bob@{DOMAIN}") == (250, b"2.1.0 Ok")
            code, text = c.rcpt(rcpt)
        assert f"{code} {text.decode()}" == Reply.RELAY_DENIED.format(addr=rcpt)
        assert list((server.data_dir / "queue" / "entries").glob("*")) == []

    def test_trusted_client_still_cannot_route(self, relay):
        """Trust does not lift the refusal of sender-specified routing."""
        server, _, remote = relay
        rcpt = f"eve%elsewhere.test@{remote}"
        with client(server, TRUSTED_CLIENT) as c:
            c.ehlo()
            c.mail(f"bob@{DOMAIN}")
            code, text = c.rcpt(rcpt)
        assert f"{code} {text.decode()}" == Reply.RELAY_DENIED.format(addr=rcpt)


def test_no_trusted_network_by_default(server_factory):
    """Without --trusted-network a loopback client without AUTH cannot relay."""
    server = server_factory()
    with server.smtp() as c:
        c.ehlo()
        c.mail(f"bob@{DOMAIN}")
        code, text = c.rcpt("carol@remote.test")
    assert f"{code} {text.decode()}" == Reply.RELAY_DENIED.format(addr="carol@remote.test")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("10.0.0/33", "not an IP address or CIDR network: '10.0.0/33'"),
        ("0.0.0.0/0", "0.0.0.0/0 is wider than /8: that would make an open relay"),
    ],
    ids=["syntax", "everything"],
)
def test_bad_network_exits_2_in_one_line(tmp_path: Path, value, problem):
    """``mailplan serve --trusted-network BAD`` exits 2 with one line naming the option."""
    out = subprocess.run(
        [*MAILPLAN, "serve", "--data-dir", str(tmp_path), "--domain", DOMAIN,
         "--smtp", "127.0.0.1:0", "--submission", "off", "--trusted-network", value],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (out.returncode, out.stderr) == (2, f"mailplan: --trusted-network: {problem}\n")
