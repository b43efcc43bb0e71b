"""The load harness against Postfix's smtp-source, both pushing into smtp-sink.

In one run, for 1 KB and 10 KB messages, one message per session and 50 sessions at once,
Postfix's ``smtp-source`` and ``mailplan bench smtp`` (one worker, latency histograms on)
each push the same number of messages into one ``smtp-sink`` on loopback. Runs alternate
(source, harness, source, ...) so both see the same machine; the median of the repeats
is printed with the ratio harness / smtp-source. Goals: >= 1.0x at 10 KB, >= 0.9x at 1 KB.

    python benchmarks/harness_vs_smtp_source.py [--messages 20000] [--repeat 3]

smtp-source's rate is messages / wall time of the whole process (it prints no rate of
its own); the harness's is its own measured rate (connect of the first session to the
last 250). Both run against a sink started once and left running.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from planner.net import free_port

ROOT = Path(__file__).resolve().parent.parent
SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"


def start_sink(port: int) -> subprocess.Popen[bytes]:
    """smtp-sink on 127.0.0.1:port (as nobody when root), backlog 1024."""
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    proc = subprocess.Popen(
        [SINK, *user, f"127.0.0.1:{port}", "1024"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("smtp-sink did not start")


def run_source(port: int, size_kb: int, messages: int, sessions: int) -> float:
    """smtp-source's rate in messages/s."""
    cmd = [SOURCE, "-s", str(sessions), "-m", str(messages), "-l", str(size_kb * 1024)]
    cmd += ["-f", "bench@bench.test", "-t", "user@bench.test", f"127.0.0.1:{port}"]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, timeout=300, stdout=subprocess.DEVNULL)
    return messages / (time.perf_counter() - t)


def run_harness(port: int, size_kb: int, messages: int, sessions: int) -> float:
    """``mailplan bench smtp`` rate in messages/s (its own measurement)."""
    cmd = [sys.executable, "-m", "planner", "bench", "smtp", "--smtp", f"127.0.0.1:{port}"]
    cmd += ["--messages", str(messages), "--concurrency", str(sessions)]
    cmd += ["--size-kb", str(size_kb), "--format", "json", "--no-save", "--quiet"]
    out = subprocess.run(cmd, check=True, timeout=300, capture_output=True, text=True)
    result = json.loads(out.stdout)
    if result["messages_failed"]:
        raise SystemExit(
            f"harness: {result['messages_failed']} messages failed: {result['errors']}"
        )
    return float(result["msgs_per_s"])


def main() -> None:
    """Run both generators and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", default="1,10", help="message sizes in KB, comma-separated")
    args = ap.parse_args()
    port = free_port()
    sink = start_sink(port)
    try:
        print(
            f"smtp-sink on 127.0.0.1:{port}; {args.messages} messages, one per session, "
            f"{args.sessions} sessions, median of {args.repeat}; cpus={os.cpu_count()} "
            f"load={os.getloadavg()[0]:.1f}"
        )
        print(
            f"{'size':>6} {'smtp-source':>12} {'harness':>10} {'ratio':>6}  runs (source / harness)"
        )
        for size in (int(s) for s in args.sizes.split(",")):
            src, har = [], []
            for _ in range(args.repeat):
                src.append(run_source(port, size, args.messages, args.sessions))
                har.append(run_harness(port, size, args.messages, args.sessions))
            s, h = statistics.median(src), statistics.median(har)
            runs = " ".join(f"{a:,.0f}/{b:,.0f}" for a, b in zip(src, har, strict=True))
            print(f"{size:>4}KB {s:>12,.0f} {h:>10,.0f} {h / s:>5.2f}x  {runs}")
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=10)


if __name__ == "__main__":
    main()
