"""DKIM signing (issue #18 item 1): key files, the signature dkimpy and OpenDKIM accept,
and ``mailplan serve`` signing what it relays, once, before the message is queued."""

from __future__ import annotations

import itertools
import shutil
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import dkim
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import pytest
from dkim.canonicalization import Relaxed
from dnslib import TXT
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.cli import run
from planner.mailserver.dkim import (
    DkimError,
    DkimKey,
    DkimSigner,
    generate_key,
    load_keys,
    relaxed_body,
    relaxed_header,
)
from planner.mailserver.handler import SIGN_INLINE_MAX
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

pytestmark = pytest.mark.timeout(90)

DOMAIN = "example.test"
MESSAGE = (
    b"From: Bob <bob@example.test>\r\nTo: carol@remote.test,\r\n  dave@remote.test\r\n"
    b"Subject:  a   test \r\nDate: Thu, 03 Dec 2026 12:00:00 +0000\r\n"
    b"Message-ID: <1@example.test>\r\n\r\nHello  there \t\r\n\r\n.dot line\r\n\r\n\r\n"
)
_ips = (f"127.0.2.{n}" for n in itertools.count(1))


def publish(dns_server: FakeDNS, key: DkimKey) -> None:
    """Serve ``key``'s TXT record (in 255-octet strings) from the loopback DNS server."""
    text = key.txt.encode()
    name = key.record_name
    dns_server.resolver.names.add(name)
    dns_server.resolver.records[(name, "TXT")] = [
        TXT([text[i : i + 255] for i in range(0, len(text), 255)])
    ]


def dns_txt(dns_server: FakeDNS):  # type: ignore[no-untyped-def]
    """A dkimpy DNS function asking the loopback DNS server."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = dns_server.port
    resolver.lifetime = 5

    def get_txt(name: bytes, timeout: float = 5) -> bytes | None:
        try:
            answer = resolver.resolve(name.decode(), "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        return b"".join(next(iter(answer)).strings)

    return get_txt


def opendkim_verifies(tmp_path: Path, message: bytes, keys: list[DkimKey]) -> str:
    """OpenDKIM's verifier (``opendkim -t``) on ``message`` with the keys as test DNS
    data; its report (the ``Authentication-Results`` it would add)."""
    (tmp_path / "dns").write_text("".join(f"{k.record_name} {k.txt}\n" for k in keys))
    (tmp_path / "conf").write_text(
        f"TestDNSData file:{tmp_path}/dns\nMode v\nSyslog no\nBackground no\n"
    )
    (tmp_path / "msg").write_bytes(message)
    out = subprocess.run(
        ["opendkim", "-x", str(tmp_path / "conf"), "-t", str(tmp_path / "msg"), "-vvv"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return out.stdout + out.stderr


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> tuple[Path, list[DkimKey]]:
    """An RSA and an Ed25519 key for example.test."""
    d = tmp_path_factory.mktemp("keys")
    return d, [generate_key(d, DOMAIN, "rsa1"), generate_key(d, DOMAIN, "ed1", "ed25519")]


class TestKeys:
    def test_keygen_writes_a_private_file_and_the_record(self, tmp_path):
        """RSA-2048 by default, PKCS #8 PEM mode 0600 in DATA_DIR/dkim/<domain>/<selector>.pem;
        the TXT record carries the public key."""
        key = generate_key(tmp_path, "Example.TEST.", "Sel1")
        path = tmp_path / "dkim" / "example.test" / "sel1.pem"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
        assert (key.domain, key.selector, key.algorithm) == ("example.test", "sel1", "rsa")
        assert key.private_key.key_size == 2048  # type: ignore[union-attr]
        assert key.txt.startswith("v=DKIM1; k=rsa; p=MIIBIjAN")
        assert load_keys(tmp_path)["example.test"][0].public_b64 == key.public_b64

    def test_keygen_refuses_to_replace_and_bad_names(self, tmp_path):
        """An existing selector keeps its key; bad names and algorithms name the flag."""
        generate_key(tmp_path, DOMAIN, "s1", "ed25519")
        with pytest.raises(DkimError, match=r"^--selector: .* exists already"):
            generate_key(tmp_path, DOMAIN, "s1")
        with pytest.raises(DkimError, match=r"^--domain: "):
            generate_key(tmp_path, "no_domain", "s2")
        with pytest.raises(DkimError, match=r"^--selector: "):
            generate_key(tmp_path, DOMAIN, "a b")
        with pytest.raises(DkimError, match=r"^--algorithm: "):
            generate_key(tmp_path, DOMAIN, "s3", "dsa")

    def test_keygen_command_prints_a_record_dnspython_reads(self, tmp_path, capsys):
        """``mailplan dkim keygen`` prints the zone line; its rdata parses as TXT and joins
        back to the key's text; a second run with the same selector exits 2 in one line
        (the first run is the real program, the second in-process)."""
        args = [*MAILPLAN, "dkim", "keygen", "--domain", DOMAIN, "--selector", "s1",
                "--data-dir", str(tmp_path), "--algorithm", "ed25519"]  # fmt: skip
        out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
        line = out.stdout.splitlines()[-1]
        name, ttl, klass, rtype, rdata = line.split(None, 4)
        assert (name, ttl, klass, rtype) == ("s1._domainkey.example.test.", "3600", "IN", "TXT")
        txt = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, rdata)
        key = load_keys(tmp_path)[DOMAIN][0]
        assert b"".join(txt.strings).decode() == key.txt  # type: ignore[attr-defined]
        assert key.txt.startswith("v=DKIM1; k=ed25519; p=")
        capsys.readouterr()
        assert run(args[len(MAILPLAN) :]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "--selector" in err


class TestCanonicalisation:
    def test_relaxed_header(self):
        """Lower-case name, unfolded, runs of blanks one space, none around the colon."""
        raw = b"SuBject \t:  a \t b\r\n\t  c  \r\n"
        assert relaxed_header(raw) == b"subject:a b c\r\n"

    @pytest.mark.parametrize(
        ("body", "expected"),
        [
            (b"", b""),
            (b"\r\n\r\n", b""),
            (b"a  b \t\r\n\r\n\r\n", b"a b\r\n"),
            (b" x\r\ny", b" x\r\ny\r\n"),
            (b"a\tb  c \t d\r\n \r\n\t\r\n", b"a b c d\r\n"),
        ],
    )
    def test_relaxed_body(self, body, expected):
        """RFC 6376 §3.4.4: trailing blanks and empty lines go, an empty body stays empty."""
        assert relaxed_body(body) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"b", b" ", b"\t", b"\r\n", b"."]), max_size=40))
def test_relaxed_body_is_dkimpys(parts):
    """On any body of letters, blanks and CRLF line ends that ends in CRLF (as SMTP data
    does), the same bytes as dkimpy's."""
    body = b"".join(parts) + b"\r\n"
    assert relaxed_body(body) == Relaxed.canonicalize_body(body)


class TestSignature:
    def test_dkimpy_accepts_and_tampering_fails(self, keys):
        """dkimpy verifies the RSA signature; a changed body, or a second From: added
        (oversigned), fails it."""
        data_dir, (rsa_key, _) = keys
        signer = DkimSigner.from_data_dir(data_dir, frozenset({DOMAIN}))
        sigs = signer.signatures(MESSAGE)
        assert len(sigs) == 2
        rsa_sig = next(s for s in sigs if b"a=rsa-sha256" in s)
        records = {f"{rsa_key.record_name}.".encode(): rsa_key.txt.encode()}

        def txt(name: bytes, timeout: float = 5) -> bytes | None:
            return records.get(name)

        signed = rsa_sig + b"\r\n" + MESSAGE
        assert dkim.verify(signed, dnsfunc=txt)
        assert not dkim.verify(signed.replace(b"Hello", b"Hullo"), dnsfunc=txt)
        assert not dkim.verify(b"From: mallory@evil.test\r\n" + signed, dnsfunc=txt)
        assert dkim.verify(rsa_sig + b"\r\nReceived: from x\r\n" + MESSAGE, dnsfunc=txt)
        fields = {k.strip(): v for k, _, v in (t.partition(b"=") for t in rsa_sig.split(b";"))}
        assert fields[b"c"] == b"relaxed/relaxed"
        assert fields[b"d"] == b"example.test"
        h = b"".join(fields[b"h"].split()).split(b":")
        assert h.count(b"from") == 2
        assert {b"to", b"subject", b"date", b"message-id"} <= set(h)

    @pytest.mark.peers
    def test_opendkim_accepts_rsa_and_ed25519(self, keys, tmp_path):
        """OpenDKIM's verifier passes both signatures and fails them after tampering."""
        data_dir, key_list = keys
        signer = DkimSigner.from_data_dir(data_dir, frozenset({DOMAIN}))
        signed = b"".join(s + b"\r\n" for s in signer.signatures(MESSAGE)) + MESSAGE
        report = opendkim_verifies(tmp_path, signed, key_list)
        assert "header.a=rsa-sha256 header.s=rsa1" in report
        assert report.count("dkim=pass") == 2, report
        report = opendkim_verifies(tmp_path, signed.replace(b"Hello", b"Hullo"), key_list)
        assert "dkim=pass" not in report, report
        assert report.count("dkim=fail") == 2, report

    @pytest.mark.parametrize(
        "head",
        [
            b"From: bob@other.test\r\n",
            b"Subject: no from\r\n",
            b"From: bob@example.test\r\nFrom: eve@example.test\r\n",
            b"From: bob@example.test, eve@other.test\r\n",
        ],
    )
    def test_not_signed(self, keys, head):
        """No signature for another domain, no From:, two From: fields, or two domains."""
        signer = DkimSigner.from_data_dir(keys[0], frozenset({DOMAIN}))
        assert signer.signatures(head + b"\r\nbody\r\n") == []

    def test_keys_of_other_domains_are_not_used(self, keys):
        """Only keys of the server's --domain values sign."""
        assert not DkimSigner.from_data_dir(keys[0], frozenset({"other.test"}))


class TestServerSigns:
    @pytest.fixture
    def setup(self, tmp_path, dns_server) -> Iterator[tuple[ServerProcess, FakeMX, list[DkimKey]]]:
        """A server with two keys for example.test, relaying to a fake MX whose domain
        the loopback DNS server knows; the keys are published there too."""
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        make_users(data_dir)
        keys = [generate_key(data_dir, DOMAIN, "a1"), generate_key(data_dir, DOMAIN, "b2")]
        for key in keys:
            publish(dns_server, key)
        mx_port = free_port()
        ip = next(_ips)
        mx = FakeMX(ip, mx_port, "tempfail")
        domain = f"r{uuid.uuid4().hex[:8]}.test"
        dns_server.mx(domain, (10, f"mx.{domain}"))
        dns_server.a(f"mx.{domain}", ip)
        server = start_server(
            data_dir,
            *("--dns", dns_server.address, "--relay-port", str(mx_port), "--insecure-auth"),
            *("--retry-initial", "0.3", "--retry-max", "0.6", "--queue-scan", "0.2"),
        )
        mx.domain = domain  # type: ignore[attr-defined]
        yield server, mx, keys
        server.stop()
        mx.close()

    def test_relayed_mail_is_signed_once_before_queueing(self, setup, dns_server, tmp_path):
        """The queued message already carries one signature per key; the retry sends
        exactly those (not re-signed), and dkimpy verifies them against the keys served
        by the loopback DNS server (and OpenDKIM with the same records, if installed)."""
        server, mx, keys = setup
        rcpt = f"carol@{mx.domain}"
        msg = MESSAGE.replace(b"carol@remote.test", rcpt.encode())
        with server.smtp() as c:
            c.login("bob@example.test", "bob-secret")
            assert c.sendmail("bob@example.test", [rcpt], msg) == {}
        entries = server.data_dir / "queue" / "entries"
        wait_for(lambda: "deferred" in server.log(), what="a first, deferred attempt")
        (queued,) = [p.read_bytes() for p in entries.iterdir()]
        queued_sigs = [ln for ln in queued.split(b"\r\n") if ln.startswith(b"DKIM-Signature:")]
        assert len(queued_sigs) == 2
        mx.mode = "accept"
        wait_for(lambda: mx.received, what="delivery after the retry")
        wire = mx.received[0].raw  # dot-stuffed: undo it
        raw = b"\r\n".join(ln[1:] if ln[:1] == b"." else ln for ln in wire.split(b"\r\n"))
        assert raw.startswith(b"Received: from client.test")
        assert [ln for ln in raw.split(b"\r\n") if ln.startswith(b"DKIM-Signature:")] == queued_sigs
        assert raw.count(b"DKIM-Signature:") == 2
        assert "dkim: signing mail from example.test with a1 (rsa), b2 (rsa)" in server.log()
        get_txt = dns_txt(dns_server)
        verifier = dkim.DKIM(raw)
        assert verifier.verify(idx=0, dnsfunc=get_txt)
        assert verifier.verify(idx=1, dnsfunc=get_txt)
        if shutil.which("opendkim"):
            report = opendkim_verifies(tmp_path, raw, keys)
            assert report.count("dkim=pass") == 2, report

    def test_large_message_is_signed_too(self, setup, dns_server):
        """A message over SIGN_INLINE_MAX (signed on an I/O thread, not in the store
        process) goes out with one verifying signature per key, like a small one."""
        server, mx, _ = setup
        mx.mode = "accept"
        rcpt = f"erin@{mx.domain}"
        body = b"".join(b"line %d of a long message\r\n" % i for i in range(12_000))
        assert len(body) > SIGN_INLINE_MAX
        msg = MESSAGE.replace(b"carol@remote.test", rcpt.encode()) + body
        with server.smtp() as c:
            c.login("bob@example.test", "bob-secret")
            assert c.sendmail("bob@example.test", [rcpt], msg) == {}
        wait_for(lambda: mx.received, what="delivery")
        wire = mx.received[0].raw
        raw = b"\r\n".join(ln[1:] if ln[:1] == b"." else ln for ln in wire.split(b"\r\n"))
        assert raw.count(b"DKIM-Signature:") == 2
        verifier = dkim.DKIM(raw)
        get_txt = dns_txt(dns_server)
        assert verifier.verify(idx=0, dnsfunc=get_txt)
        assert verifier.verify(idx=1, dnsfunc=get_txt)

    def test_other_from_domain_is_not_signed(self, setup):
        """A relayed message whose From: is not a local domain goes out unsigned."""
        server, mx, _ = setup
        mx.mode = "accept"
        rcpt = f"dave@{mx.domain}"
        with server.smtp() as c:
            c.login("bob@example.test", "bob-secret")
            msg = b"From: list@lists.other.test\r\nSubject: x\r\n\r\nhi\r\n"
            assert c.sendmail("bob@example.test", [rcpt], msg) == {}
        wait_for(lambda: mx.received, what="delivery")
        assert b"DKIM-Signature" not in mx.received[0].raw
