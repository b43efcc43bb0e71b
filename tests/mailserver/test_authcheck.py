"""Inbound SPF/DKIM/DMARC checks (issue #18 item 2): the checker against a real DNS server
on loopback publishing SPF, DKIM and DMARC records, and ``mailplan serve`` recording the
result in ``Authentication-Results:`` or enforcing the DMARC policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dnslib import TXT

from planner.mailserver.authcheck import AuthChecker, strip_forged
from planner.mailserver.config import Listen
from planner.mailserver.dkim import DkimSigner, generate_key
from tests.mailserver.conftest import FakeDNS, ServerProcess, make_users, start_server, wait_for

pytestmark = pytest.mark.timeout(90)

AUTHSERV = "mx.example.test"  # the test servers' --hostname
CLIENT = "127.0.0.1"


def txt(dns_server: FakeDNS, name: str, text: str) -> None:
    """Publish a TXT record (in 255-octet strings) on the loopback DNS server."""
    data = text.encode()
    dns_server.resolver.names.add(name)
    dns_server.resolver.records[(name, "TXT")] = [
        TXT([data[i : i + 255] for i in range(0, len(data), 255)])
    ]


@pytest.fixture(scope="module")
def world(dns_server: FakeDNS, tmp_path_factory: pytest.TempPathFactory) -> dict[str, DkimSigner]:
    """Sender domains on the loopback DNS server, and a signer with each one's key:

    - ``good.test``: SPF allows 127.0.0.1, a DKIM key, DMARC p=reject;
    - ``forged.test``: SPF allows only 192.0.2.1, DMARC p=reject;
    - ``quar.test``: SPF allows only 192.0.2.1, DMARC p=quarantine;
    - ``lax.test``: SPF allows only 192.0.2.1, DMARC p=none;
    - ``broken.test``: SERVFAIL for SPF and DMARC (``_dmarc.broken.test``).
    """
    keys = tmp_path_factory.mktemp("sender-keys")
    for domain in ("good.test", "forged.test", "quar.test", "lax.test"):
        key = generate_key(keys, domain, "k1")
        txt(dns_server, key.record_name, key.txt)
    txt(dns_server, "good.test", "v=spf1 ip4:127.0.0.1 -all")
    for domain, policy in (("forged.test", "reject"), ("quar.test", "quarantine"),
                           ("lax.test", "none")):  # fmt: skip
        txt(dns_server, domain, "v=spf1 ip4:192.0.2.1 -all")
        txt(dns_server, f"_dmarc.{domain}", f"v=DMARC1; p={policy}")
    txt(dns_server, "_dmarc.good.test", "v=DMARC1; p=reject; rua=mailto:d@good.test")
    dns_server.servfail("broken.test")
    dns_server.servfail("_dmarc.broken.test")
    domains = frozenset({"good.test", "forged.test", "quar.test", "lax.test"})
    return {"signer": DkimSigner.from_data_dir(keys, domains)}


def message(sender: str, *, sign: DkimSigner | None = None, extra: bytes = b"") -> bytes:
    """A message from ``sender`` to bob, DKIM-signed when ``sign`` is given."""
    msg = (
        b"From: " + sender.encode() + b"\r\nTo: bob@example.test\r\nSubject: check\r\n"
        + extra + b"\r\nThe body.\r\n"
    )  # fmt: skip
    if sign is not None:
        msg = b"".join(s + b"\r\n" for s in sign.signatures(msg)) + msg
    return msg


@pytest.fixture(scope="module")
def checker(dns_server: FakeDNS) -> AuthChecker:
    """A checker asking the loopback DNS server, 2 s per look-up."""
    return AuthChecker(AUTHSERV, Listen(host="127.0.0.1", port=dns_server.port), 2.0)


class TestChecker:
    def test_pass(self, checker, world):
        """SPF, DKIM and DMARC pass for a signed message from an allowed address."""
        msg = message("ann@good.test", sign=world["signer"])
        result = checker.check(msg, CLIENT, "ann@good.test", "client.test")
        assert (result.spf, result.dmarc, result.policy) == ("pass", "pass", "reject")
        assert result.dkim == (("pass", "good.test", "k1"),)
        assert result.action == "none"
        header = result.header().decode()
        assert header.startswith(f"Authentication-Results: {AUTHSERV};\r\n\t")
        assert "spf=pass smtp.mailfrom=ann@good.test" in header
        assert "dkim=pass header.d=good.test header.s=k1" in header
        assert "dmarc=pass (p=reject) header.from=good.test" in header

    def test_spf_fail_alone_still_passes_dmarc_with_dkim(self, checker, world):
        """SPF fails from a foreign address, but an aligned DKIM pass makes DMARC pass."""
        msg = message("ann@forged.test", sign=world["signer"])
        result = checker.check(msg, CLIENT, "ann@forged.test", "client.test")
        assert result.spf == "fail"
        assert (result.dmarc, result.action) == ("pass", "none")

    def test_spf_fail_without_dkim_fails_dmarc(self, checker, world):
        """SPF fail and no signature: DMARC fail under p=reject asks for a rejection."""
        result = checker.check(message("ann@forged.test"), CLIENT, "ann@forged.test", "c.test")
        assert (result.spf, result.dkim, result.dmarc) == ("fail", (), "fail")
        assert result.action == "reject"
        assert "dkim=none" in result.header().decode()

    def test_body_tampered(self, checker, world):
        """A body changed after signing fails DKIM; without SPF alignment DMARC fails."""
        msg = message("ann@quar.test", sign=world["signer"]).replace(b"The body", b"A body")
        result = checker.check(msg, CLIENT, "ann@quar.test", "client.test")
        assert result.dkim == (("fail", "quar.test", "k1"),)
        assert (result.dmarc, result.action) == ("fail", "quarantine")

    def test_temperror_never_asks_for_rejection(self, checker, world):
        """SERVFAIL for SPF and DMARC gives temperror, and no action."""
        result = checker.check(message("ann@broken.test"), CLIENT, "ann@broken.test", "c.test")
        assert (result.spf, result.dmarc, result.action) == ("temperror", "temperror", "none")

    def test_strip_forged(self):
        """Authentication-Results claiming our authserv-id go (any case, comments); others stay."""
        msg = (
            b"Authentication-Results: MX.Example.Test (forged); dkim=pass\r\n"
            b"Authentication-Results: other.test; spf=pass\r\n"
            b"authentication-results:\r\n mx.example.test; dmarc=pass\r\n"
            b"Subject: x\r\n\r\nAuthentication-Results: mx.example.test; body line\r\n"
        )
        out, removed = strip_forged(msg, AUTHSERV)
        assert removed == 2
        assert out == (
            b"Authentication-Results: other.test; spf=pass\r\nSubject: x\r\n\r\n"
            b"Authentication-Results: mx.example.test; body line\r\n"
        )
        assert strip_forged(b"Subject: y\r\n\r\nz\r\n", AUTHSERV) == (b"Subject: y\r\n\r\nz\r\n", 0)


@pytest.fixture(scope="module")
def servers(
    dns_server: FakeDNS, world: dict[str, DkimSigner], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServerProcess]]:
    """Two servers checking loopback clients with the loopback DNS: ``enforce`` and
    ``record`` DMARC policy."""
    started: dict[str, ServerProcess] = {}
    for policy in ("enforce", "record"):
        data_dir = tmp_path_factory.mktemp(policy) / "data"
        data_dir.mkdir()
        make_users(data_dir)
        started[policy] = start_server(
            data_dir, "--dns", dns_server.address, "--auth-check-loopback",
            "--dmarc-policy", policy,
        )  # fmt: skip
    yield started
    for server in started.values():
        server.stop()
        assert "Traceback" not in server.log(), server.log()


def deliver(server: ServerProcess, sender: str, msg: bytes) -> tuple[int, bytes]:
    """Send ``msg`` to bob without AUTH; the reply to the end of DATA."""
    with server.smtp() as c:
        c.ehlo("client.test")
        c.mail(sender)
        c.rcpt("bob@example.test")
        return c.data(msg)


def delivered(server: ServerProcess, token: bytes, folder: str = "") -> bytes:
    """The one file in bob's Maildir (or its ``folder``) ``new/`` holding ``token``."""
    new = server.data_dir / "mailboxes" / "example.test" / "bob" / folder / "new"

    def find() -> list[bytes]:
        files = sorted(new.iterdir()) if new.is_dir() else []
        return [data for p in files if token in (data := p.read_bytes())]

    (data,) = wait_for(find, what=f"delivery into {folder or 'INBOX'}")
    return data


def token(name: str) -> bytes:
    return f"X-Token: {name}\r\n".encode()


class TestServer:
    def test_pass_adds_authentication_results(self, servers, world):
        """A passing message is delivered with our Authentication-Results above Received."""
        msg = message("ann@good.test", sign=world["signer"], extra=token("pass"))
        code, _ = deliver(servers["enforce"], "ann@good.test", msg)
        assert code == 250
        data = delivered(servers["enforce"], b"X-Token: pass")
        head = data.split(b"\n\n", 1)[0].decode()
        assert head.startswith("Return-Path: <ann@good.test>\nAuthentication-Results: ")
        assert head.index("Authentication-Results:") < head.index("Received:")
        assert "spf=pass" in head and "dkim=pass" in head and "dmarc=pass" in head  # noqa: PT018

    def test_dmarc_reject_is_refused_at_end_of_data(self, servers):
        """Enforce: DMARC fail under p=reject answers 550 5.7.1 and delivers nothing."""
        msg = message("ann@forged.test", extra=token("reject"))
        code, text = deliver(servers["enforce"], "ann@forged.test", msg)
        assert (code, text.decode()) == (
            550,
            "5.7.1 Error: rejected by the DMARC policy of forged.test",
        )
        log = servers["enforce"].log
        wait_for(lambda: "reject: DMARC policy of forged.test" in log(), what="the log line")
        maildir = servers["enforce"].data_dir / "mailboxes" / "example.test" / "bob"
        assert not [
            p for p in maildir.rglob("*") if p.is_file() and b"X-Token: reject" in p.read_bytes()
        ]

    def test_record_mode_delivers_the_fail(self, servers):
        """Record: the same message is delivered, its failure recorded."""
        msg = message("ann@forged.test", extra=token("record"))
        assert deliver(servers["record"], "ann@forged.test", msg)[0] == 250
        data = delivered(servers["record"], b"X-Token: record")
        assert b"dmarc=fail (p=reject) header.from=forged.test" in data

    def test_quarantine_goes_to_junk(self, servers):
        """Enforce: DMARC fail under p=quarantine lands in the .Junk Maildir++ folder."""
        msg = message("ann@quar.test", extra=token("quar"))
        assert deliver(servers["enforce"], "ann@quar.test", msg)[0] == 250
        data = delivered(servers["enforce"], b"X-Token: quar", ".Junk")
        assert b"dmarc=fail (p=quarantine)" in data
        junk = servers["enforce"].data_dir / "mailboxes" / "example.test" / "bob" / ".Junk"
        assert (junk / "maildirfolder").is_file()

    def test_temperror_is_delivered(self, servers):
        """Enforce: SERVFAIL gives temperror, never a rejection."""
        msg = message("ann@broken.test", extra=token("temp"))
        assert deliver(servers["enforce"], "ann@broken.test", msg)[0] == 250
        data = delivered(servers["enforce"], b"X-Token: temp")
        assert b"spf=temperror" in data
        assert b"dmarc=temperror" in data

    def test_forged_header_removed(self, servers, world):
        """A header from outside claiming our authserv-id is gone; only ours remains."""
        forged = b"Authentication-Results: mx.example.test; dmarc=pass header.from=lax.test\r\n"
        msg = forged + message("ann@lax.test", extra=token("forged"))
        assert deliver(servers["enforce"], "ann@lax.test", msg)[0] == 250
        data = delivered(servers["enforce"], b"X-Token: forged")
        assert data.count(b"Authentication-Results:") == 1
        assert b"dmarc=fail (p=none) header.from=lax.test" in data
        log = servers["enforce"].log
        wait_for(lambda: "removed 1 forged Authentication-Results" in log(), what="the log line")

    def test_authenticated_and_loopback_mail_is_not_checked(self, tmp_path: Path, dns_server):
        """Without --auth-check-loopback a loopback client is trusted: no header added."""
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        make_users(data_dir)
        server = start_server(data_dir, "--dns", dns_server.address, "--dmarc-policy", "enforce")
        try:
            msg = message("ann@forged.test", extra=token("trusted"))
            assert deliver(server, "ann@forged.test", msg)[0] == 250
            assert b"Authentication-Results" not in delivered(server, b"X-Token: trusted")
        finally:
            server.stop()


class TestJunkFolder:
    def test_store_resolves_maildirplusplus_folders(self, tmp_path):
        """``.Folder/address`` names that Maildir++ folder of the user's Maildir; other
        prefixes are refused, as are unsafe addresses."""
        from planner.mailserver.store import JUNK, Store, StoreError, in_folder

        store = Store(tmp_path)
        base = tmp_path / "mailboxes" / "example.test" / "bob"
        assert store.maildir("Bob@Example.test") == base
        assert store.maildir(in_folder("Bob@Example.test", JUNK)) == base / ".Junk"
        for bad in ("Junk/bob@example.test", "../x/bob@example.test", "./bob@example.test"):
            with pytest.raises(StoreError):
                store.maildir(bad)
