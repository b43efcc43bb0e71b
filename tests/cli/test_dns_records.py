"""``mailplan dns-records`` (issue #18 item 3): what a self-hosted mail domain publishes,
as zone-file text and as JSON, both read back with dnspython's parsers."""

from __future__ import annotations

import json

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest

from planner.cli import run
from planner.mailserver.dkim import generate_key

BASE = ["dns-records", "--domain", "example.test", "--mx-host", "mx.example.test"]


def records_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    """The JSON output of ``mailplan dns-records BASE ARGS --format json``."""
    assert run([*BASE, *args, "--format", "json"]) == 0
    return list(json.loads(capsys.readouterr().out))


def txt_text(value: object) -> str:
    """A TXT value parsed by dnspython, its strings joined."""
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, str(value))
    return b"".join(rdata.strings).decode()  # type: ignore[attr-defined]


def test_json_records_parse_back(capsys, tmp_path):
    """Every DNS item's value parses as its type; MX, SPF, DKIM (the key on disk), DMARC
    p=none with the reporting address, optional MTA-STS, its policy file and TLS-RPT."""
    key = generate_key(tmp_path, "example.test", "s1")
    items = records_json(capsys, "--ip", "203.0.113.9", "--data-dir", str(tmp_path),
                         "--selector", "s1", "--rua", "dmarc@reports.example.test")  # fmt: skip
    assert all(set(i) == {"type", "name", "value", "optional"} for i in items)
    by = {(i["type"], i["name"]): i for i in items}
    for item in items:
        if item["type"] != "policy":
            dns.name.from_text(str(item["name"]))
            dns.rdata.from_text(dns.rdataclass.IN, str(item["type"]), str(item["value"]))
    mx = dns.rdata.from_text(
        dns.rdataclass.IN, dns.rdatatype.MX, str(by["MX", "example.test."]["value"])
    )
    assert mx.exchange.to_text() == "mx.example.test."  # type: ignore[attr-defined]
    assert by["A", "mx.example.test."]["value"] == "203.0.113.9"
    assert by["PTR", "9.113.0.203.in-addr.arpa."]["value"] == "mx.example.test."
    assert txt_text(by["TXT", "example.test."]["value"]) == "v=spf1 mx ip4:203.0.113.9 -all"
    assert txt_text(by["TXT", "s1._domainkey.example.test."]["value"]) == key.txt
    assert txt_text(by["TXT", "_dmarc.example.test."]["value"]) == (
        "v=DMARC1; p=none; rua=mailto:dmarc@reports.example.test"
    )
    sts = by["TXT", "_mta-sts.example.test."]
    assert sts["optional"] is True
    assert txt_text(sts["value"]).startswith("v=STSv1; id=")
    policy = by["policy", "https://mta-sts.example.test/.well-known/mta-sts.txt"]
    assert policy["value"] == "version: STSv1\nmode: testing\nmx: mx.example.test\nmax_age: 86400\n"
    assert txt_text(by["TXT", "_smtp._tls.example.test."]["value"]) == (
        "v=TLSRPTv1; rua=mailto:dmarc@reports.example.test"
    )
    assert [i["optional"] for i in items if i["type"] in ("MX", "PTR")] == [False, False]


def test_text_output_is_a_zone_dnspython_reads(capsys, tmp_path):
    """The text output (comments and all) loads as a zone; the reminder names reverse DNS."""
    generate_key(tmp_path, "example.test", "s1", "ed25519")
    assert run([*BASE, "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    zone = dns.zone.from_text(out, origin="example.test.", check_origin=False, relativize=False)
    mx = zone.get_rdataset("example.test.", "MX")
    assert mx is not None
    assert [r.exchange.to_text() for r in mx] == ["mx.example.test."]  # type: ignore[attr-defined]
    dkim_txt = zone.get_rdataset("s1._domainkey.example.test.", "TXT")
    assert dkim_txt is not None
    assert b"".join(next(iter(dkim_txt)).strings).startswith(b"v=DKIM1; k=ed25519; p=")  # type: ignore[attr-defined]
    assert "; reminder: reverse DNS (PTR)" in out
    assert "must name mx.example.test" in out
    assert ";   mode: testing" in out


def test_without_keys_no_dkim_line(capsys):
    """Without --data-dir there is no DKIM record; the rest is there."""
    types = [(i["type"], i["name"]) for i in records_json(capsys)]
    assert ("TXT", "_dmarc.example.test.") in types
    assert not [n for _, n in types if "_domainkey" in str(n)]


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--ip", "300.1.1.1"], "--ip"),
        (["--ip", "10.0.0.1"], "--ip"),
        (["--rua", "not-an-address"], "--rua"),
        (["--selector", "s1"], "--selector"),
        (["--format", "yaml"], "--format"),
    ],
)
def test_bad_input_is_one_line_naming_the_flag(capsys, args, flag):
    """Bad input: exit 2 and one line on stderr that names the flag."""
    assert run([*BASE, *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"mailplan: {flag}: ")


@pytest.mark.parametrize(("flag", "value"), [("--domain", "bad_domain"), ("--mx-host", "mx")])
def test_bad_names(capsys, flag, value):
    """A domain or MX host that is not a DNS name is refused naming its flag."""
    args = ["dns-records", "--domain", "example.test", "--mx-host", "mx.example.test"]
    args[args.index(flag) + 1] = value
    assert run(args) == 2
    assert capsys.readouterr().err.startswith(f"mailplan: {flag}: not a domain name")


def test_missing_key(capsys, tmp_path):
    """--selector naming no key on disk says how to make one."""
    assert run([*BASE, "--data-dir", str(tmp_path), "--selector", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mailplan: --selector: no key ")
    assert "mailplan dkim keygen" in err
