"""The DNS records a self-hosted mail domain publishes (``mailplan dns-records``).

:func:`records` lists them as :class:`Record` (zone-file presentation: absolute names,
rdata as a zone file has it, so dnspython's ``dns.rdata.from_text`` reads each back):

- ``MX`` of the domain (and the MX host's ``A``/``AAAA`` and ``PTR`` with ``--ip``);
- SPF (RFC 7208): ``v=spf1 mx -all`` (plus ``ip4:``/``ip6:`` with ``--ip``);
- DKIM (RFC 6376 §3.6.1): one TXT per key in ``DATA_DIR/dkim/<domain>/``;
- DMARC (RFC 7489): ``p=none`` with aggregate reports to ``--rua``, the usual start;
- optional: MTA-STS (RFC 8461) ``_mta-sts`` TXT with the policy file to serve at
  ``https://mta-sts.<domain>/.well-known/mta-sts.txt`` (mode ``testing``), and TLS-RPT
  (RFC 8460) ``_smtp._tls`` TXT.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from planner.mailserver.dkim import DkimKey

__all__ = ["Record", "check_domain", "mta_sts_policy", "records", "reminders", "to_text"]

TTL = 3600
_HOST_RE = re.compile(
    r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+"
)
_UNROUTED = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
"""Private and shared address space (RFC 1918, 6598, 4193): no reverse DNS to publish."""
_LOCAL_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}")


@dataclass(frozen=True)
class Record:
    """One thing to publish: a DNS record (``type`` MX, TXT, A, AAAA, PTR; ``value`` its
    rdata as in a zone file), or ``type`` ``policy``: the MTA-STS policy file (``name`` its
    URL, ``value`` its text)."""

    type: str
    name: str
    value: str
    optional: bool = False

    def as_dict(self) -> dict[str, object]:
        """``{type, name, value, optional}`` for JSON."""
        return asdict(self)


def check_domain(text: str, flag: str) -> str:
    """A host or domain name, lower-cased, without a final dot; ValueError naming ``flag``."""
    name = text.strip().lower().removesuffix(".")
    if not _HOST_RE.fullmatch(name):
        raise ValueError(f"{flag}: not a domain name: {text!r}")
    return name


def _check_address(text: str, flag: str) -> str:
    address = text.strip().removeprefix("mailto:")
    local, at, domain = address.rpartition("@")
    if not at or not _LOCAL_RE.fullmatch(local) or not _HOST_RE.fullmatch(domain.lower()):
        raise ValueError(f"{flag}: not a mail address: {text!r}")
    return f"{local}@{domain.lower()}"


def _txt(text: str) -> str:
    """TXT rdata: ``text`` in quoted strings of at most 255 octets."""
    chunks = [text[i : i + 255] for i in range(0, len(text), 255)] or [""]
    return " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)


def mta_sts_policy(mx_host: str) -> str:
    """The MTA-STS policy file (RFC 8461 §3.2), in ``testing`` mode to start."""
    return f"version: STSv1\nmode: testing\nmx: {mx_host}\nmax_age: 86400\n"


def records(
    domain: str,
    mx_host: str,
    *,
    ip: str | None = None,
    rua: str | None = None,
    data_dir: Path | None = None,
    selector: str | None = None,
) -> list[Record]:
    """What ``domain`` publishes to receive at ``mx_host`` and send with SPF, DKIM and
    DMARC; ValueError (one line, naming the flag) for bad input or a missing key."""
    domain = check_domain(domain, "--domain")
    mx_host = check_domain(mx_host, "--mx-host")
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    if ip is not None:
        try:
            addr = ipaddress.ip_address(ip.strip())
        except ValueError:
            raise ValueError(f"--ip: not an IP address: {ip!r}") from None
        if (
            addr.is_loopback
            or addr.is_link_local
            or addr.is_unspecified
            or addr.is_multicast
            or any(addr in net for net in _UNROUTED if net.version == addr.version)
        ):
            raise ValueError(f"--ip: not a public address: {ip!r}")
    report_to = _check_address(rua, "--rua") if rua is not None else f"postmaster@{domain}"
    if selector is not None and data_dir is None:
        raise ValueError("--selector: needs --data-dir (where the key is)")

    out = [Record("MX", f"{domain}.", f"10 {mx_host}.")]
    spf = "v=spf1 mx"
    if addr is not None:
        kind = "A" if addr.version == 4 else "AAAA"
        out.append(Record(kind, f"{mx_host}.", str(addr)))
        out.append(Record("PTR", addr.reverse_pointer + ".", f"{mx_host}."))
        spf += f" ip{addr.version}:{addr}"
    out.append(Record("TXT", f"{domain}.", _txt(spf + " -all")))
    for key in _dkim_keys(domain, data_dir, selector):
        out.append(Record("TXT", f"{key.record_name}.", _txt(key.txt)))
    out.append(
        Record("TXT", f"_dmarc.{domain}.", _txt(f"v=DMARC1; p=none; rua=mailto:{report_to}"))
    )
    policy = mta_sts_policy(mx_host)
    sts_id = hashlib.sha256(policy.encode()).hexdigest()[:20]
    out.append(Record("TXT", f"_mta-sts.{domain}.", _txt(f"v=STSv1; id={sts_id}"), True))
    if addr is not None:
        out.append(
            Record("A" if addr.version == 4 else "AAAA", f"mta-sts.{domain}.", str(addr), True)
        )
    out.append(Record("policy", f"https://mta-sts.{domain}/.well-known/mta-sts.txt", policy, True))
    out.append(
        Record("TXT", f"_smtp._tls.{domain}.", _txt(f"v=TLSRPTv1; rua=mailto:{report_to}"), True)
    )
    return out


def _dkim_keys(domain: str, data_dir: Path | None, selector: str | None) -> list[DkimKey]:
    if data_dir is None:
        return []
    from planner.mailserver.dkim import DkimError, check_names, key_path, load_keys, read_key

    if selector is not None:
        try:
            domain, selector = check_names(domain, selector)
            path = key_path(data_dir, domain, selector)
            if not path.is_file():
                raise DkimError(f"--selector: no key {path} (make one with 'mailplan dkim keygen')")
            return [read_key(path, domain)]
        except DkimError as exc:
            raise ValueError(str(exc)) from None
    keys = load_keys(data_dir).get(domain, [])
    if not keys:
        raise ValueError(
            f"--data-dir: no DKIM key for {domain} in {Path(data_dir) / 'dkim' / domain} "
            "(make one with 'mailplan dkim keygen')"
        )
    return list(keys)


def reminders(domain: str, mx_host: str, ip: str | None) -> list[str]:
    """What cannot be published in the domain's own zone, one line each."""
    where = f"of {ip}" if ip else "of the server's public address"
    return [
        f"reverse DNS (PTR) {where} must name {mx_host}, the name the server gives in "
        "HELO/EHLO (--hostname); the address's provider publishes it",
        f"{mx_host} must resolve forward to the same address (forward-confirmed rDNS)",
        "DMARC: move to p=quarantine, then p=reject, once the reports show only your own mail",
    ]


def to_text(items: list[Record], notes: list[str]) -> str:
    """Zone-file lines (optional ones marked), the policy file as comments, the notes."""
    lines = ["; DNS records to publish (zone-file syntax; ; optional: may be left out)"]
    for r in items:
        if r.type == "policy":
            lines.append(f"; optional: the MTA-STS policy file, served at {r.name}:")
            lines += [f";   {line}" for line in r.value.splitlines()]
            continue
        mark = "  ; optional" if r.optional else ""
        lines.append(f"{r.name} {TTL} IN {r.type} {r.value}{mark}")
    lines += [f"; reminder: {n}" for n in notes]
    return "\n".join(lines) + "\n"
