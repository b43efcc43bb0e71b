"""The server's TLS context: a given certificate, or a self-signed one made on first start.

The self-signed certificate (EC P-256, 10 years, the host name as CN and SAN) is written
to ``DATA_DIR/tls/{cert,key}.pem`` (key mode 0600) and reused on later starts. Clients
that verify certificates will refuse it: it exists so that STARTTLS and AUTH work out of
the box on a test or lab server.
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
from pathlib import Path

__all__ = ["TLSError", "ensure_self_signed", "server_context"]


class TLSError(ValueError):
    """A certificate or key that cannot be used; one line naming the file."""


def ensure_self_signed(tls_dir: Path, hostname: str) -> tuple[Path, Path]:
    """``(cert, key)`` paths in ``tls_dir``, creating a self-signed pair when missing."""
    cert_path, key_path = tls_dir / "cert.pem", tls_dir / "key.pem"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname[:64])])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for path, data, mode in (
        (key_path, key_pem, 0o600),
        (cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644),
    ):
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side context (TLS 1.2+) with the certificate chain loaded."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except FileNotFoundError as exc:
        raise TLSError(f"--tls-cert/--tls-key: no such file: {exc.filename}") from None
    except (ssl.SSLError, OSError) as exc:
        raise TLSError(f"--tls-cert/--tls-key: cannot load {cert} / {key}: {exc}") from None
    return ctx
