"""The cost of one DKIM signature per relayed message (issue #18 item 5): the reference
server's signer (canonicalisation and hashing in Python, the RSA/Ed25519 step through
``cryptography``/OpenSSL) against dkimpy's own signing (pure-Python RSA), on the same
message, the same key and the same header list.

    .venv/bin/python benchmarks/dkim_signing_cost.py [--size 10240] [--repeat 200]

Prints milliseconds per signature, wall clock and CPU time (medians of ``--rounds``
rounds), and the load average, which moves the wall-clock figures on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dkim
from cryptography.hazmat.primitives import serialization

from planner.mailserver.dkim import DkimSigner, generate_key


def message(size: int) -> bytes:
    """A plain message of about ``size`` bytes from example.test."""
    head = (
        b"From: Bob <bob@example.test>\r\nTo: carol@remote.test\r\nSubject: benchmark\r\n"
        b"Date: Thu, 03 Dec 2026 12:00:00 +0000\r\nMessage-ID: <1@example.test>\r\n\r\n"
    )
    line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


def per_call_ms(fn, repeat: int, rounds: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Medians over ``rounds`` of the mean wall-clock and CPU time (this process) of
    ``repeat`` calls, in milliseconds: on a shared machine the CPU time is the cost,
    the wall time includes waiting for a core."""
    fn()
    wall, cpu = [], []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(repeat):
            fn()
        wall.append((time.perf_counter() - start) / repeat * 1000)
        cpu.append((time.process_time() - start_cpu) / repeat * 1000)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_240, help="message size in bytes")
    parser.add_argument("--repeat", type=int, default=200, help="signatures per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    msg = message(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for algorithm in ("rsa", "ed25519"):
            d = Path(tmp) / algorithm
            key = generate_key(d, "example.test", "s1", algorithm)
            signer = DkimSigner.from_data_dir(d, frozenset({"example.test"}))
            ours = per_call_ms(lambda s=signer: s.signatures(msg), args.repeat, args.rounds)
            rows.append((f"{algorithm}: mailplan (cryptography)", ours))
            if algorithm == "rsa":
                pem = key.private_key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.TraditionalOpenSSL,
                    serialization.NoEncryption(),
                )
                headers = [b"from", b"from", b"to", b"subject", b"date", b"message-id"]

                def dkimpy_sign(pem: bytes = pem, headers: list[bytes] = headers) -> bytes:
                    return dkim.sign(
                        msg, b"s1", b"example.test", pem,
                        canonicalize=(b"relaxed", b"relaxed"), include_headers=headers,
                    )  # fmt: skip

                repeat = max(10, args.repeat // 10)
                rows.append(
                    ("rsa: dkimpy (pure Python RSA)", per_call_ms(dkimpy_sign, repeat, args.rounds))
                )
    print(f"DKIM signing, {len(msg):,}-byte message, RSA-2048 / Ed25519, relaxed/relaxed")
    print(f"  {'':36s} {'wall ms':>8s} {'CPU ms':>8s}  per signature")
    for name, (wall, cpu) in rows:
        print(f"  {name:36s} {wall:8.3f} {cpu:8.3f}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
