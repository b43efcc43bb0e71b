"""DMARC ``pct=`` sampling (RFC 7489 §6.6.4): a failing message outside the sample gets
the next lower policy (reject → quarantine, quarantine → none), in the checker's
``action``, in ``Authentication-Results:`` and in what ``mailplan serve`` enforces."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from planner.mailserver.authcheck import AuthChecker, record_pct
from planner.mailserver.config import Listen
from tests.mailserver.conftest import FakeDNS, ServerProcess, make_users, start_server
from tests.mailserver.test_authcheck import (
    AUTHSERV,
    CLIENT,
    deliver,
    delivered,
    message,
    token,
    txt,
)

pytestmark = pytest.mark.timeout(90)

RECORDS = {
    "none-sampled.test": "v=DMARC1; p=reject; pct=0",
    "half.test": "v=DMARC1; p=reject; pct=50",
    "quar-unsampled.test": "v=DMARC1; p=quarantine; pct=0",
    "bad-pct.test": "v=DMARC1; p=reject; pct=abc",
}
"""Sender domains whose SPF allows only 192.0.2.1 (so mail from loopback fails DMARC)."""


@pytest.fixture(name="pct_world", scope="module")
def _pct_world(dns_server: FakeDNS) -> None:
    """The RECORDS domains on the loopback DNS server."""
    for domain, record in RECORDS.items():
        txt(dns_server, domain, "v=spf1 ip4:192.0.2.1 -all")
        txt(dns_server, f"_dmarc.{domain}", record)


@pytest.fixture(name="checker")
def _checker(dns_server: FakeDNS, pct_world: None) -> AuthChecker:
    """A checker asking the loopback DNS server."""
    return AuthChecker(AUTHSERV, Listen(host="127.0.0.1", port=dns_server.port), 2.0)


def check(checker: AuthChecker, domain: str):  # type: ignore[no-untyped-def]
    sender = f"ann@{domain}"
    return checker.check(message(sender), CLIENT, sender, "client.test")


class TestRecordPct:
    @pytest.mark.parametrize(
        ("record", "pct"),
        [
            ("v=DMARC1; p=reject", 100),
            ("v=DMARC1; p=reject; pct=25", 25),
            ("v=DMARC1;p=reject;PCT = 0", 0),
            ("v=DMARC1; p=reject; pct=101", 100),
            ("v=DMARC1; p=reject; pct=-5", 100),
            ("v=DMARC1; p=reject; pct=", 100),
        ],
        ids=["absent", "25", "zero-spaced", "over", "negative", "empty"],
    )
    def test_record_pct(self, record, pct):
        """pct= is read as 0-100; absent or invalid is the default, 100."""
        assert record_pct(record) == pct


class TestChecker:
    @pytest.mark.parametrize(
        ("domain", "sample", "action", "comment"),
        [
            ("none-sampled.test", 0.0, "quarantine", "(p=reject pct=0 dis=quarantine)"),
            ("quar-unsampled.test", 0.0, "none", "(p=quarantine pct=0 dis=none)"),
            ("half.test", 0.49, "reject", "(p=reject pct=50 dis=reject)"),
            ("half.test", 0.5, "quarantine", "(p=reject pct=50 dis=quarantine)"),
            ("bad-pct.test", 0.99, "reject", "(p=reject)"),
        ],
        ids=["reject-pct0", "quarantine-pct0", "in-sample", "outside-sample", "bad-pct"],
    )
    def test_sampling(self, checker, domain, sample, action, comment):
        """A DMARC fail applies the policy only inside the pct sample (100 * sample < pct),
        the next lower one outside it; the header records pct and the disposition."""
        checker.sample = lambda: sample
        result = check(checker, domain)
        assert (result.dmarc, result.action) == ("fail", action)
        assert f"dmarc=fail {comment} header.from={domain}" in result.header().decode()


@pytest.fixture(name="enforcing", scope="module")
def _enforcing(
    dns_server: FakeDNS, pct_world: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server enforcing DMARC on loopback clients, with the loopback DNS."""
    data_dir = tmp_path_factory.mktemp("pct") / "data"
    data_dir.mkdir()
    make_users(data_dir)
    server = start_server(
        data_dir, "--dns", dns_server.address, "--auth-check-loopback", "--dmarc-policy", "enforce"
    )
    yield server
    server.stop()
    assert "Traceback" not in server.log(), server.log()


def test_server_quarantines_reject_outside_the_sample(enforcing):
    """Enforce: a DMARC fail under p=reject with pct=0 is not refused but filed in .Junk."""
    msg = message("ann@none-sampled.test", extra=token("pct0"))
    assert deliver(enforcing, "ann@none-sampled.test", msg)[0] == 250
    data = delivered(enforcing, b"X-Token: pct0", ".Junk")
    assert b"dmarc=fail (p=reject pct=0 dis=quarantine)" in data
