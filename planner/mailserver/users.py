"""Local mail users: the ``DATA_DIR/users`` file of full addresses and scrypt hashes.

One line per user, ``address:$scrypt$ln=14,r=8,p=1$<salt>$<hash>`` (salt and hash in
unpadded base64). Addresses are stored lower-cased; SMTP AUTH and POP3 log in with the
full address. Verified credentials are cached in memory for a short time (as Dovecot's
auth cache does) as an HMAC under a per-process key, never as the password, so repeated
logins do not pay the scrypt cost while the stored hashes stay strong.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ADDRESS_RE", "UserDB", "UserError", "hash_password", "verify_hash"]

ADDRESS_RE = re.compile(
    r"^[a-z0-9!#$&'*+/=?^_`{|}~.-]{1,64}@[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)+$"
)
SCRYPT_LOG_N = 14  # n = 16384: about 40 ms and 16 MiB per hash
SCRYPT_R = 8
SCRYPT_P = 1
MAX_PASSWORD_BYTES = 1024


class UserError(ValueError):
    """A bad address, password or users file line; the message is one line for a person."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, log_n: int = SCRYPT_LOG_N) -> str:
    """An scrypt hash string for ``password`` with a fresh 16-byte salt."""
    raw = password.encode("utf-8")
    if not raw:
        raise UserError("password: must not be empty")
    if len(raw) > MAX_PASSWORD_BYTES:
        raise UserError(f"password: longer than {MAX_PASSWORD_BYTES} bytes")
    salt = os.urandom(16)
    digest = hashlib.scrypt(
        raw, salt=salt, n=1 << log_n, r=SCRYPT_R, p=SCRYPT_P, maxmem=64 * 1024 * 1024, dklen=32
    )
    return f"$scrypt$ln={log_n},r={SCRYPT_R},p={SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_hash(password: str, stored: str) -> bool:
    """True when ``password`` matches the scrypt hash string ``stored`` (constant time)."""
    try:
        _, scheme, params, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        kv = dict(p.split("=", 1) for p in params.split(","))
        log_n, r, p = int(kv["ln"]), int(kv["r"]), int(kv["p"])
        salt, expected = _unb64(salt_b64), _unb64(digest_b64)
    except (ValueError, KeyError):
        return False
    raw = password.encode("utf-8", "surrogateescape")
    if len(raw) > MAX_PASSWORD_BYTES or not 1 <= log_n <= 20:
        return False
    digest = hashlib.scrypt(
        raw, salt=salt, n=1 << log_n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=len(expected)
    )
    return hmac.compare_digest(digest, expected)


def normalise_address(address: str) -> str:
    """The address lower-cased and checked; UserError when it is not a plain address."""
    addr = address.strip().lower()
    if not ADDRESS_RE.match(addr) or ".." in addr or addr.startswith("."):
        raise UserError(f"address: not a plain user@domain address: {address!r}")
    return addr


@dataclass
class _Cached:
    tag: bytes
    expires: float


class UserDB:
    """The users file, re-read when it changes on disk; safe to share between threads.

    ``verify`` costs one scrypt hash (about 40 ms) the first time and a dictionary lookup
    for ``cache_ttl_s`` seconds after the last successful use.
    """

    def __init__(self, path: Path, *, cache_ttl_s: float = 60.0) -> None:
        self.path = Path(path)
        self.cache_ttl_s = cache_ttl_s
        self._lock = threading.Lock()
        self._hashes: dict[str, str] = {}
        self._mtime: tuple[int, int] | None = None
        self._key = secrets.token_bytes(32)
        self._cache: dict[str, _Cached] = {}

    # region #### reading and writing ####

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _load(self) -> None:
        stamp = self._stat()
        if stamp == self._mtime:
            return
        hashes: dict[str, str] = {}
        if stamp is not None:
            for n, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                address, sep, stored = line.partition(":")
                if not sep or not stored.startswith("$"):
                    raise UserError(f"{self.path}:{n}: expected 'address:$scrypt$...'")
                hashes[address.lower()] = stored
        self._hashes, self._mtime = hashes, stamp
        self._cache.clear()

    def _write(self, hashes: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        text = "".join(f"{a}:{h}\n" for a, h in sorted(hashes.items()))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        self._mtime = None

    def add(self, address: str, password: str) -> str:
        """Add a user or replace its password; returns the normalised address."""
        addr = normalise_address(address)
        stored = hash_password(password)
        with self._lock:
            self._load()
            self._write({**self._hashes, addr: stored})
            self._load()
        return addr

    def delete(self, address: str) -> bool:
        """Remove a user; False when there was none."""
        addr = address.strip().lower()
        with self._lock:
            self._load()
            if addr not in self._hashes:
                return False
            self._write({a: h for a, h in self._hashes.items() if a != addr})
            self._load()
        return True

    def addresses(self) -> list[str]:
        """Every user address, sorted."""
        with self._lock:
            self._load()
            return sorted(self._hashes)

    def exists(self, address: str) -> bool:
        """True when ``address`` (any case) is a local user."""
        with self._lock:
            self._load()
            return address.strip().lower() in self._hashes

    # endregion

    def verify_cached(self, address: str, password: str) -> bool:
        """True when these credentials were verified and used within the last ``cache_ttl_s``.

        Each hit restarts the time to live; a change to the users file empties the cache.
        Never hashes, so an event loop may call it directly; False means "call verify".
        """
        addr = address.strip().lower()
        tag = hmac.new(self._key, password.encode("utf-8", "surrogateescape"), "sha256").digest()
        now = time.monotonic()
        with self._lock:
            self._load()
            hit = self._cache.get(addr)
            if (
                addr not in self._hashes
                or hit is None
                or hit.expires <= now
                or not hmac.compare_digest(hit.tag, tag)
            ):
                return False
            hit.expires = now + self.cache_ttl_s  # sliding: a user who keeps logging in
            return True

    def verify(self, address: str, password: str) -> bool:
        """True when the password is right; unknown users cost a hash too (no timing oracle)."""
        if self.verify_cached(address, password):
            return True
        addr = address.strip().lower()
        tag = hmac.new(self._key, password.encode("utf-8", "surrogateescape"), "sha256").digest()
        now = time.monotonic()
        with self._lock:
            self._load()
            stored = self._hashes.get(addr)
        if stored is None:
            hash_password(password)  # the same scrypt a known user costs: no timing oracle
            return False
        ok = verify_hash(password, stored)
        if ok:
            with self._lock:
                if self._hashes.get(addr) == stored:
                    self._cache[addr] = _Cached(tag, now + self.cache_ttl_s)
        return ok
