"""The reference server against Postfix and Dovecot, measured by the harness in one run.

Same workload for every server of a protocol, all on loopback, load generator on the
same machine:

- SMTP: 10 KB messages (``--size-kb``), one per session, 50 sessions, closed loop (and, with
  ``--capacity``, the highest rate whose end-of-DATA p99 stays under 250 ms). Servers:
  the reference server (``mailplan serve``, when installed), Postfix (a private instance
  started here when run as root with Debian's postfix installed, delivering to a Maildir;
  or one that answers on ``--postfix HOST:PORT``), and smtp-sink as the machine's ceiling
  (accept and discard).
- POP3: 10 KB messages, RETR 10 per login, 10 sessions: the reference server's POP3 and
  Dovecot (a private instance started here).
- IMAP: Dovecot only (the reference server has no IMAP).

    python benchmarks/reference_vs_peers.py [--messages 5000] [--postfix 127.0.0.1:25]
        [--capacity] [--save-dir data/benchmarks]

Prints one table; ``--save-dir`` writes each result as JSON (with its environment).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from planner.bench.capacity import CapacityPlan, search
from planner.bench.embedded import EmbeddedServer, serve_available
from planner.bench.peers import Dovecot, Postfix, SmtpSink, dovecot_version, postfix_version
from planner.bench.result import BenchmarkResult
from planner.bench.runner import probe, run
from planner.bench.targets import Target, hostport_option
from planner.bench.workload import Workload
from planner.errors import BenchmarkError

Row = tuple[str, str, BenchmarkResult | None, str]


def smtp_workload(messages: int, size_kb: float = 10.0) -> Workload:
    """``size_kb`` (10 KB by default), one message per session, 50 sessions, closed loop."""
    return Workload(size_kb=size_kb, messages=messages, concurrency=50, warmup_s=1)


def mailbox_workload(protocol: str, messages: int) -> Workload:
    """RETR/FETCH 10 per login, 10 sessions."""
    return Workload(
        protocol=protocol, messages=messages, concurrency=10, messages_per_session=10, warmup_s=1
    )


def measure(target: Target, wl: Workload, capacity: bool) -> BenchmarkResult:
    """A closed-loop run, or a capacity search at p99 <= 250 ms."""
    if not capacity:
        return run(target, wl)
    plan = CapacityPlan(
        slo_p99_ms=250, start_rate=100, step_factor=1.5, step_duration_s=4, refine_steps=2
    )
    return search(
        target, wl.model_copy(update={"rate_msgs_per_s": 100.0, "max_in_flight": 5000}), plan
    )


def smtp_rows(args: argparse.Namespace) -> list[Row]:
    """The SMTP servers."""
    rows: list[Row] = []
    wl = smtp_workload(args.messages, args.size_kb)
    if serve_available():
        with EmbeddedServer(users=50) as srv:
            target = Target(
                "smtp",
                "127.0.0.1",
                srv.ports["smtp"],
                embedded=True,
                server_label="mailplan serve (reference)",
            )
            wl_ref = wl.model_copy(update={"local_recipients": tuple(a for a, _ in srv.users)})
            rows.append(
                ("smtp", "reference (mailplan serve)", measure(target, wl_ref, args.capacity), "")
            )
    else:
        rows.append(
            ("smtp", "reference (mailplan serve)", None, "not available: no 'mailplan serve' here")
        )
    if args.postfix:
        host, port = hostport_option(args.postfix, "--postfix")
        target = Target("smtp", host, port, server_label="Postfix", flag="--postfix")
        try:
            banner = probe(target, wl)
            rows.append(
                ("smtp", f"Postfix ({banner[:30]})", measure(target, wl, args.capacity), "")
            )
        except BenchmarkError as exc:
            rows.append(("smtp", "Postfix", None, f"not available: {exc}"))
    elif os.geteuid() == 0 and shutil.which("postfix"):
        root = Path(tempfile.mkdtemp(prefix="mailplan-postfix-"))
        os.chmod(root, 0o755)
        postfix = Postfix(root)
        try:
            postfix.start()
            target = Target(
                "smtp", "127.0.0.1", postfix.port, server_label="Postfix (private, to Maildir)",
                server_version=postfix_version(),
            )  # fmt: skip
            wl_pf = wl.model_copy(update={"local_recipients": (postfix.target,)})
            rows.append(
                (
                    "smtp",
                    "Postfix (queue, local to Maildir)",
                    measure(target, wl_pf, args.capacity),
                    "",
                )
            )
        finally:
            postfix.stop()
            shutil.rmtree(root, ignore_errors=True)
    else:
        rows.append(
            (
                "smtp",
                "Postfix",
                None,
                "not available: run as root with Debian's postfix, or pass --postfix HOST:PORT",
            )
        )
    sink = SmtpSink()
    try:
        target = Target(
            "smtp",
            "127.0.0.1",
            sink.port,
            server_label="smtp-sink (ceiling: accept and discard)",
            server_version=postfix_version(),
        )
        rows.append(
            ("smtp", "smtp-sink (accept and discard)", measure(target, wl, args.capacity), "")
        )
    finally:
        sink.stop()
    return rows


def mailbox_rows(args: argparse.Namespace) -> list[Row]:
    """The POP3 and IMAP servers."""
    rows: list[Row] = []
    n = max(1000, args.messages // 2)
    pop3 = mailbox_workload("pop3", n)
    if serve_available():
        with EmbeddedServer(pop3=True, users=10) as srv:
            srv.seed(200, Workload(size_kb=10))
            target = Target(
                "pop3",
                "127.0.0.1",
                srv.ports["pop3"],
                users=tuple(srv.users),
                embedded=True,
                server_label="mailplan serve (reference)",
            )
            rows.append(("pop3", "reference (mailplan serve)", run(target, pop3), ""))
    else:
        rows.append(
            ("pop3", "reference (mailplan serve)", None, "not available: no 'mailplan serve' here")
        )
    dovecot = Dovecot(messages=500, size_kb=10)
    try:
        users = ((Dovecot.USER, Dovecot.PASSWORD),)
        for proto, port in (("pop3", dovecot.pop3_port), ("imap", dovecot.imap_port)):
            target = Target(
                proto,
                "127.0.0.1",
                port,
                users=users,
                server_label="Dovecot (default process model)",
                server_version=dovecot_version(),
            )
            rows.append((proto, "Dovecot", run(target, mailbox_workload(proto, n)), ""))
    finally:
        dovecot.stop()
    return rows


def main() -> None:
    """Measure and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=5000, help="SMTP messages per server")
    ap.add_argument("--postfix", help="a running Postfix to measure, HOST:PORT")
    ap.add_argument("--size-kb", type=float, default=10.0, help="SMTP message size (KB)")
    ap.add_argument(
        "--capacity", action="store_true", help="SMTP: capacity search at p99 <= 250 ms"
    )
    ap.add_argument("--save-dir", type=Path, help="write each result as JSON here")
    args = ap.parse_args()
    command = "python benchmarks/reference_vs_peers.py " + " ".join(sys.argv[1:])
    rows = smtp_rows(args) + mailbox_rows(args)
    env = next((r.environment for _, _, r, _ in rows if r is not None), None)
    if env is not None:
        print(
            f"machine: {env.cpu_model}, {env.cores} cores, {env.os}, Python {env.python}, "
            f"load {os.getloadavg()[0]:.1f} (shared with the load generator)"
        )
    what = "capacity at p99 data <= 250 ms" if args.capacity else "closed loop"
    print(f"SMTP: {args.size_kb:g} KB, 1 message/session, 50 sessions, {what}")
    print("POP3/IMAP: 10 KB messages, 10 per login, 10 sessions, closed loop")
    head = ("proto", "server", "msgs/s", "MB/s", "p50 ms", "p99 ms")
    print("{:<6}{:<34}{:>10}{:>8}{:>9}{:>9}  errors / note".format(*head))
    for proto, name, r, note in rows:
        if r is None:
            print(f"{proto:<6}{name:<34}{'-':>10}{'-':>8}{'-':>9}{'-':>9}  {note}")
            continue
        rate = r.capacity_msgs_per_s if r.capacity_msgs_per_s is not None else r.msgs_per_s
        errors = ", ".join(f"{k}: {v}" for k, v in r.errors.items()) or "none"
        lat = r.latency_ms
        print(f"{proto:<6}{name:<34}{rate:>10,.0f}{r.mb_per_s:>8.1f}", end="")
        print(f"{lat.p50:>9.2f}{lat.p99:>9.2f}  {errors}")
        if args.save_dir is not None:
            r = r.model_copy(update={"notes": [*r.notes, f"Measured with: {command}"]})
            args.save_dir.mkdir(parents=True, exist_ok=True)
            slug = name.split(" ")[0].lower().strip("()")
            out = args.save_dir / f"{proto}-{slug}-{r.created_at.date().isoformat()}.json"
            out.write_text(r.model_dump_json(indent=2) + "\n")


if __name__ == "__main__":
    main()
