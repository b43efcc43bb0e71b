"""DKIM signing of outbound mail (RFC 6376, RFC 8463) and the key files it uses.

Keys live in ``DATA_DIR/dkim/<domain>/<selector>.pem`` (PKCS #8 PEM, mode 0600), made by
``mailplan dkim keygen``: RSA (2048 bits by default, ``a=rsa-sha256``) or Ed25519
(``a=ed25519-sha256``). :class:`DkimSigner` signs a message whose ``From:`` domain has
keys with every key of that domain; ``d=`` is that domain.

The signature: relaxed/relaxed canonicalisation (§3.4.2, §3.4.4), SHA-256 body hash,
the RFC 6376 §5.4.1 header list (each field present, every instance), ``From`` signed
once more than it appears (oversigned: a second ``From:`` added later breaks the
signature), ``t=`` the signing time, no ``l=``. The canonicalisation and hashing are
here; the private-key step is OpenSSL's through ``cryptography`` (about 0.3–1 ms per
RSA-2048 signature, against about 8 ms in dkimpy's pure-Python RSA). dkimpy checks these
signatures in the tests and checks inbound ones (:mod:`~planner.mailserver.authcheck`).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import time
from dataclasses import dataclass
from email.utils import getaddresses
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from planner.mailserver.store import QueueEntry

__all__ = [
    "ALGORITHMS",
    "DkimError",
    "DkimKey",
    "DkimSigner",
    "from_domain",
    "generate_key",
    "key_path",
    "load_keys",
    "relaxed_body",
    "relaxed_header",
    "txt_chunks",
]

log = logging.getLogger("mailplan.dkim")

ALGORITHMS = ("rsa", "ed25519")
RSA_BITS = 2048
SIGNED_HEADERS = (
    "from", "sender", "reply-to", "subject", "date", "message-id", "to", "cc",
    "mime-version", "content-type", "content-transfer-encoding", "content-id",
    "content-description", "resent-date", "resent-from", "resent-sender", "resent-to",
    "resent-cc", "resent-message-id", "in-reply-to", "references", "list-id", "list-help",
    "list-unsubscribe", "list-subscribe", "list-post", "list-owner", "list-archive",
)  # fmt: skip
"""RFC 6376 §5.4.1's list (dkimpy's ``DKIM.SHOULD``); each one present is signed."""
OVERSIGNED = ("from",)
"""Signed once more than present: no further instance can be added (§8.15)."""

_SELECTOR_RE = re.compile(
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)
_DOMAIN_RE = re.compile(
    r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+"
)
_WSP_RUN = re.compile(rb"\t[ \t]*| [ \t]+")
"""A run of blanks that is not already one space (single spaces, most of them, stay put)."""
_FOLD = re.compile(rb"\r\n(?=[ \t])")


class DkimError(Exception):
    """A key that cannot be made, read or used; the message is one line for a person."""


@dataclass(frozen=True)
class DkimKey:
    """One signing key: ``d=`` domain, ``s=`` selector, and the private key."""

    domain: str
    selector: str
    private_key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

    @property
    def algorithm(self) -> str:
        """``rsa`` or ``ed25519`` (the TXT record's ``k=``)."""
        return "ed25519" if isinstance(self.private_key, ed25519.Ed25519PrivateKey) else "rsa"

    @property
    def public_b64(self) -> str:
        """The ``p=`` of the TXT record: SubjectPublicKeyInfo DER (RSA), or the raw 32
        bytes (Ed25519, RFC 8463 §4.2)."""
        pub = self.private_key.public_key()
        if isinstance(pub, ed25519.Ed25519PublicKey):
            raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        else:
            raw = pub.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        return base64.b64encode(raw).decode("ascii")

    @property
    def record_name(self) -> str:
        """``<selector>._domainkey.<domain>`` (no final dot)."""
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def txt(self) -> str:
        """The TXT record's text: ``v=DKIM1; k=rsa; p=...``."""
        return f"v=DKIM1; k={self.algorithm}; p={self.public_b64}"

    def sign_digest_input(self, data: bytes) -> bytes:
        """The signature over the canonicalised header data (RFC 6376 §3.7; RFC 8463 §3
        for Ed25519: the SHA-256 hash of the data is what is signed)."""
        if isinstance(self.private_key, ed25519.Ed25519PrivateKey):
            return self.private_key.sign(hashlib.sha256(data).digest())
        return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def txt_chunks(text: str, size: int = 255) -> list[str]:
    """``text`` cut into the ≤255-octet strings of one TXT record (RFC 1035 §3.3.14)."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def check_names(domain: str, selector: str) -> tuple[str, str]:
    """``(domain, selector)`` lower-cased, or :class:`DkimError` naming the flag."""
    domain = domain.strip().lower().removesuffix(".")
    selector = selector.strip().lower()
    if not _DOMAIN_RE.fullmatch(domain):
        raise DkimError(f"--domain: not a domain name: {domain!r}")
    if not _SELECTOR_RE.fullmatch(selector) or len(selector) > 63:
        raise DkimError(f"--selector: not a DNS label: {selector!r}")
    return domain, selector


def key_path(data_dir: Path, domain: str, selector: str) -> Path:
    """``DATA_DIR/dkim/<domain>/<selector>.pem``."""
    return Path(data_dir) / "dkim" / domain / f"{selector}.pem"


def generate_key(data_dir: Path, domain: str, selector: str, algorithm: str = "rsa") -> DkimKey:
    """Make a key and write it to :func:`key_path` (mode 0600, folders 0700); refuses to
    replace an existing one (a published selector keeps its key: rotate with a new one)."""
    domain, selector = check_names(domain, selector)
    if algorithm not in ALGORITHMS:
        raise DkimError(f"--algorithm: one of {', '.join(ALGORITHMS)}, not {algorithm!r}")
    private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    if algorithm == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = key_path(data_dir, domain, selector)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise DkimError(
            f"--selector: {path} exists already; choose a new selector to rotate keys"
        ) from None
    except OSError as exc:
        raise DkimError(f"--data-dir: cannot write {path}: {exc.strerror}") from None
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    return DkimKey(domain, selector, private)


def read_key(path: Path, domain: str) -> DkimKey:
    """The key in ``path`` (a PEM private key, RSA ≥ 1024 bits or Ed25519)."""
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise DkimError(f"{path}: not a readable unencrypted PEM private key: {exc}") from None
    if isinstance(private, rsa.RSAPrivateKey):
        if private.key_size < 1024:
            raise DkimError(f"{path}: RSA key of {private.key_size} bits (RFC 8301: ≥ 1024)")
    elif not isinstance(private, ed25519.Ed25519PrivateKey):
        raise DkimError(f"{path}: neither an RSA nor an Ed25519 key")
    return DkimKey(domain.lower(), path.stem.lower(), private)


def load_keys(data_dir: Path) -> dict[str, list[DkimKey]]:
    """Every key under ``DATA_DIR/dkim``, by domain (selectors in name order); keys that
    cannot be read are logged and left out."""
    keys: dict[str, list[DkimKey]] = {}
    root = Path(data_dir) / "dkim"
    if not root.is_dir():
        return keys
    for path in sorted(root.glob("*/*.pem")):
        try:
            key = read_key(path, path.parent.name)
        except DkimError as exc:
            log.error("dkim key left out: %s", exc)
            continue
        keys.setdefault(key.domain, []).append(key)
    return keys


# region #### canonicalisation ####


def split_message(content: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """``([(name, whole field with its CRLF)...], body)`` of a CRLF message."""
    end = content.find(b"\r\n\r\n")
    if end < 0:
        head, body = content, b""
        if not head.endswith(b"\r\n"):
            head += b"\r\n"
    else:
        head, body = content[: end + 2], content[end + 4 :]
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t") and fields:
            name, raw = fields[-1]
            fields[-1] = (name, raw + line + b"\r\n")
        else:
            fields.append((line.split(b":", 1)[0].strip().lower(), line + b"\r\n"))
    return fields, body


def relaxed_header(raw: bytes) -> bytes:
    """A whole header field in relaxed form (RFC 6376 §3.4.2), ending in CRLF."""
    name, _, value = raw.partition(b":")
    value = _WSP_RUN.sub(b" ", _FOLD.sub(b"", value).rstrip(b"\r\n")).strip(b" ")
    return name.strip().lower() + b":" + value + b"\r\n"


def relaxed_body(body: bytes) -> bytes:
    """The body in relaxed form (RFC 6376 §3.4.4): runs of WSP one space, none at line
    ends, no empty lines at the end; empty stays empty."""
    # whole-body passes in C (the SMTP side has rejected bare CR and LF): one space per
    # run, none before a line end, no blank lines (nor trailing blanks) at the end
    body = _WSP_RUN.sub(b" ", body).replace(b" \r\n", b"\r\n").rstrip(b" \r\n")
    return body + b"\r\n" if body else b""


def from_domain(fields: list[tuple[bytes, bytes]]) -> str | None:
    """The one domain of the ``From:`` field (every address in it), else None."""
    values = [raw.partition(b":")[2] for name, raw in fields if name == b"from"]
    if len(values) != 1:
        return None
    text = _FOLD.sub(b"", values[0]).decode("utf-8", "replace").strip()
    domains = {addr.rpartition("@")[2].lower() for _, addr in getaddresses([text]) if addr}
    return domains.pop() if len(domains) == 1 else None


# endregion


class DkimSigner:
    """Signs messages for the local domains that have keys (``DATA_DIR/dkim``)."""

    def __init__(self, keys: dict[str, list[DkimKey]], domains: frozenset[str]) -> None:
        self.keys = {d: ks for d, ks in keys.items() if d in domains}

    @classmethod
    def from_data_dir(cls, data_dir: Path, domains: frozenset[str]) -> DkimSigner:
        """Keys of the ``domains`` found under ``data_dir``."""
        return cls(load_keys(data_dir), domains)

    def __bool__(self) -> bool:
        return bool(self.keys)

    def signatures(self, content: bytes, now: float | None = None) -> list[bytes]:
        """``DKIM-Signature:`` fields (each without final CRLF, folded) to prepend to
        ``content`` (CRLF line ends), one per key of its ``From:`` domain; none when the
        domain has no key or ``From:`` is missing, repeated or names several domains."""
        fields, body = split_message(content)
        domain = from_domain(fields)
        keys = self.keys.get(domain) if domain is not None else None
        if not keys:
            return []
        return [sign(key, fields, body, now) for key in keys]


def sign(
    key: DkimKey, fields: list[tuple[bytes, bytes]], body: bytes, now: float | None = None
) -> bytes:
    """One ``DKIM-Signature:`` field over ``fields`` and ``body`` (see the module doc)."""
    bh = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest())
    present: dict[bytes, list[bytes]] = {}
    for name, raw in fields:
        present.setdefault(name, []).append(raw)
    names: list[bytes] = []
    for h in SIGNED_HEADERS:
        n = len(present.get(h.encode(), ()))
        names += [h.encode()] * (n + (1 if h in OVERSIGNED else 0))
    data = bytearray()
    taken: dict[bytes, int] = {}
    for name in names:  # bottom-up per name (§5.4.2); a missing instance signs nothing
        instances = present.get(name, [])
        i = taken.get(name, 0)
        taken[name] = i + 1
        if i < len(instances):
            data += relaxed_header(instances[-1 - i])
    alg = b"ed25519-sha256" if key.algorithm == "ed25519" else b"rsa-sha256"
    stamp = int(time.time() if now is None else now)
    h_lines = _fold_list(b":".join(names))
    head = (
        b"DKIM-Signature: v=1; a=" + alg + b"; c=relaxed/relaxed; d=" + key.domain.encode()
        + b"; s=" + key.selector.encode() + b"; t=" + str(stamp).encode()
        + b";\r\n\th=" + h_lines + b";\r\n\tbh=" + bh + b";\r\n\tb="
    )  # fmt: skip
    data += relaxed_header(head).removesuffix(b"\r\n")
    b = base64.b64encode(key.sign_digest_input(bytes(data)))
    return head + b"\r\n\t ".join(b[i : i + 72] for i in range(0, len(b), 72))


def _fold_list(h: bytes, width: int = 70) -> bytes:
    """The ``h=`` value folded before a colon where a line would pass ``width``."""
    lines: list[bytes] = []
    line = b""
    for part in h.split(b":"):
        piece = part if not line else b":" + part
        if line and len(line) + len(piece) > width:
            lines.append(line)
            line = b":" + part
        else:
            line += piece
    lines.append(line)
    return b"\r\n\t ".join(lines)


def signed_for_queue(
    signer: DkimSigner, entry: QueueEntry, trace: bytes, content: bytes
) -> tuple[QueueEntry, bytes]:
    """What the queue keeps of a relayed message: ``trace`` (the Received: field with its
    CRLF), the ``DKIM-Signature:`` fields of :meth:`DkimSigner.signatures` (none when its
    ``From:`` domain has no key), ``content``; and ``entry`` with that size. Signed once,
    before the message is queued, so retries send the same signature."""
    sigs = signer.signatures(content) if signer else []
    queued = trace + b"".join(sig + b"\r\n" for sig in sigs) + content
    return entry.model_copy(update={"size_bytes": len(queued)}), queued
