"""``mailplan bench``: load benchmarks, capacity search, the results store, apply.

Thin: parse flags, build a Workload and a Target, call :mod:`planner.bench`, print.
The harness is imported inside the commands so ``mailplan compare`` stays fast.
"""

from __future__ import annotations

import enum
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from planner.cli.app import app, require_extra
from planner.errors import BenchmarkError

if TYPE_CHECKING:
    from planner.bench.progress import ProgressCallback
    from planner.bench.result import BenchmarkResult
    from planner.bench.targets import Target
    from planner.bench.workload import Workload

bench_app = typer.Typer(
    name="bench",
    help="Load benchmarks: SMTP, POP3 and IMAP load against a server, capacity at a latency "
    "target, saved results, and measured capacity into a scenario.",
    no_args_is_help=True,
)
app.add_typer(bench_app)


class OutFormat(enum.StrEnum):
    """Output formats of the bench commands."""

    table = "table"
    json = "json"


class SizeMix(enum.StrEnum):
    """Message size distributions."""

    fixed = "fixed"
    realistic = "realistic"


class CapacityProtocol(enum.StrEnum):
    """Protocols the capacity search drives."""

    smtp = "smtp"
    pop3 = "pop3"
    imap = "imap"


_FIELD_FLAGS = {
    "size_kb": "--size-kb",
    "messages": "--messages",
    "duration_s": "--duration",
    "rate_msgs_per_s": "--rate",
    "concurrency": "--concurrency",
    "workers": "--workers",
    "warmup_s": "--warmup",
    "timeout_s": "--timeout",
    "messages_per_session": "--messages-per-session",
    "recipients_per_message": "--recipients",
    "local_share": "--local-share",
}

# region #### shared options ####

MessagesOpt = Annotated[
    int | None,
    typer.Option(
        "--messages",
        min=1,
        help="Messages to count after warm-up (default 1000 unless --duration).",
    ),
]
DurationOpt = Annotated[
    float | None,
    typer.Option("--duration", min=0.1, max=3600, help="Seconds of measurement at most."),
]
ConcurrencyOpt = Annotated[
    int,
    typer.Option("--concurrency", "-c", min=1, max=20000, help="Sessions at once (closed loop)."),
]
RateOpt = Annotated[
    float | None,
    typer.Option("--rate", min=0.01, help="Open loop: offered messages/s (Poisson arrivals)."),
]
WarmupOpt = Annotated[
    float, typer.Option("--warmup", min=0, max=600, help="Seconds of uncounted load first.")
]
WorkersOpt = Annotated[
    int, typer.Option("--workers", min=1, max=256, help="Load processes (histograms merged).")
]
PerSessionOpt = Annotated[
    int, typer.Option("--messages-per-session", min=1, help="Messages per connection.")
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", min=0.1, max=3600, help="Seconds one session may take.")
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Seed for arrivals and the size mix.")]
EmbeddedOpt = Annotated[
    bool,
    typer.Option("--embedded", help="Start the reference server (mailplan serve) on loopback."),
]
UserOpt = Annotated[str | None, typer.Option("--user", help="Login address.")]
PasswordOpt = Annotated[str | None, typer.Option("--password", help="Login password.")]
UsersFileOpt = Annotated[
    Path | None,
    typer.Option("--users-file", metavar="FILE", help="Logins, one address:password a line."),
]
LabelOpt = Annotated[
    str | None, typer.Option("--label", help="Server name for the result (e.g. 'Postfix 3.7').")
]
FormatOpt = Annotated[OutFormat, typer.Option("--format", "-f", help="Output format.")]
DbOpt = Annotated[
    Path | None,
    typer.Option(
        "--db",
        metavar="PATH",
        help="Results database (default: user data dir).",
        show_default=False,
    ),
]
NoSaveOpt = Annotated[bool, typer.Option("--no-save", help="Do not save the result.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
SizeOpt = Annotated[
    float | None,
    typer.Option(
        "--size-kb",
        min=0.25,
        max=100000,
        help="Message size in KB (default 10, or the scenario's).",
    ),
]
MixOpt = Annotated[
    SizeMix | None, typer.Option("--size-mix", help="fixed, or realistic (log-normal).")
]
ScenarioOpt = Annotated[
    Path | None,
    typer.Option(
        "--scenario", metavar="FILE", help="Shape the workload like this scenario's mail."
    ),
]
FromOpt = Annotated[str, typer.Option("--from", help="Envelope sender.")]
ToOpt = Annotated[list[str] | None, typer.Option("--to", help="Local recipient (repeatable).")]
RemoteToOpt = Annotated[
    list[str] | None, typer.Option("--remote-to", help="Remote recipient (repeatable).")
]
RecipientsOpt = Annotated[
    int, typer.Option("--recipients", min=1, max=1000, help="Recipients per message.")
]
LocalShareOpt = Annotated[
    float | None, typer.Option("--local-share", min=0, max=1, help="Chance a recipient is local.")
]
NoPipeliningOpt = Annotated[
    bool, typer.Option("--no-pipelining", help="One command per round trip even if offered.")
]
StarttlsOpt = Annotated[
    bool, typer.Option("--starttls", help="STARTTLS (certificate not checked).")
]

# endregion
# region #### helpers ####


def _workload(**fields: Any) -> Workload:
    from pydantic import ValidationError

    from planner.bench.workload import Workload

    clean = {k: v for k, v in fields.items() if v is not None}
    try:
        return Workload.model_validate(clean)
    except ValidationError as exc:
        lines = []
        for e in exc.errors():
            field = str(e["loc"][0]) if e["loc"] else "workload"
            lines.append(f"{_FIELD_FLAGS.get(field, field)}: {e['msg']}")
        raise BenchmarkError(lines) from None


def _logins(
    user: str | None, password: str | None, users_file: Path | None
) -> tuple[tuple[str, str], ...]:
    from planner.bench.targets import read_users_file
    from planner.bench.workload import check_address

    if users_file is not None:
        return tuple(read_users_file(users_file))
    if user is None and password is None:
        return ()
    if user is None or password is None:
        raise BenchmarkError("--user and --password: give both (or --users-file)")
    return ((check_address(user, "--user"), password),)


def _remote_target(
    protocol: str,
    hostport: str | None,
    flag: str,
    users: tuple[tuple[str, str], ...],
    label: str | None,
    *,
    embedded: bool,
    smtp_auth: bool = False,
) -> Target | None:
    from planner.bench.targets import Target, parse_hostport

    if embedded and hostport:
        raise BenchmarkError(f"{flag} and --embedded: give one target, not both")
    if embedded:
        return None
    if not hostport:
        raise BenchmarkError(f"{flag} HOST:PORT or --embedded: name the server to load")
    host, port = parse_hostport(hostport, flag)
    if protocol != "smtp" and not users:
        raise BenchmarkError(f"{flag}: give --user and --password, or --users-file")
    return Target(
        protocol=protocol,  # type: ignore[arg-type]
        host=host,
        port=port,
        users=users,
        smtp_auth=smtp_auth,
        server_label=label,
        flag=flag,
    )


def _progress(quiet: bool, description: str) -> Any:
    """A live bar on a terminal, else nothing."""
    import contextlib

    if quiet or not sys.stderr.isatty():
        return contextlib.nullcontext(None)
    from planner.bench.progress import RichProgress

    return RichProgress(description)


def _finish(result: BenchmarkResult, fmt: OutFormat, db: Path | None, no_save: bool) -> None:
    from planner.bench.store import ResultStore

    saved_in = None
    if not no_save:
        store = ResultStore(db)
        result = store.save(result)
        saved_in = store.path
    _print_result(result, fmt)
    if saved_in is not None and fmt is OutFormat.table:
        typer.echo(f"saved as result {result.id} in {saved_in}")


def _print_result(result: BenchmarkResult, fmt: OutFormat) -> None:
    if fmt is OutFormat.json:
        print(result.model_dump_json(indent=2))
        return
    from rich.table import Table

    from planner.cli.render import console

    con = console()
    wl = result.workload
    loop = (
        f"open loop {wl.rate_msgs_per_s:g} msgs/s"
        if wl.mode == "open"
        else f"closed loop, {wl.concurrency} sessions"
    )
    size = f", {wl.size_kb:g} KB {wl.size_mix}" if result.protocol == "smtp" else ""
    ident = f"result {result.id}: " if result.id is not None else ""
    t = Table(
        title=f"{ident}{result.protocol} {result.target} ({loop}{size}, {wl.workers} worker(s))",
        title_justify="left",
        show_header=False,
    )
    t.add_column("what")
    t.add_column("value")
    lat = result.latency_ms
    t.add_row("messages ok / failed", f"{result.messages_ok:,} / {result.messages_failed:,}")
    t.add_row("duration", f"{result.duration_s:.2f} s (after {wl.warmup_s:g} s warm-up)")
    t.add_row("throughput", f"{result.msgs_per_s:,.1f} msgs/s, {result.mb_per_s:,.2f} MB/s")
    t.add_row(
        f"latency {result.latency_phase} (ms)",
        f"p50 {lat.p50:g}  p90 {lat.p90:g}  p99 {lat.p99:g}  max {lat.max:g}",
    )
    if result.capacity_search is not None:
        cap = result.capacity_msgs_per_s
        t.add_row(
            "capacity",
            (f"{cap:,.1f} msgs/s" if cap is not None else "not found")
            + f" at p99 {result.capacity_search.phase} <= {result.capacity_search.slo_p99_ms:g} ms",
        )
        t.add_row("stopped because", result.capacity_search.stop_reason)
    env = result.environment
    t.add_row("machine", env.summary())
    if env.server_banner or env.server_label:
        t.add_row("server", env.server_label or env.server_banner or "")
    con.print(t)
    phases = Table(title="latency by phase (ms)", title_justify="left")
    for col in ("phase", "count", "p50", "p90", "p99", "max"):
        phases.add_column(col, justify="left" if col == "phase" else "right")
    for name, s in result.phases.items():
        phases.add_row(name, f"{s.count:,}", f"{s.p50:g}", f"{s.p90:g}", f"{s.p99:g}", f"{s.max:g}")
    con.print(phases)
    if result.capacity_search is not None:
        steps = Table(title="capacity steps", title_justify="left")
        for col in ("offered msgs/s", "achieved", "p99 ms", "errors", "verdict"):
            steps.add_column(col, justify="right")
        for st in result.capacity_search.steps:
            steps.add_row(
                f"{st.offered_msgs_per_s:,.1f}",
                f"{st.achieved_msgs_per_s:,.1f}",
                "-" if st.p99_ms is None else f"{st.p99_ms:g}",
                f"{st.error_rate:.2%}",
                "pass" if st.passed else st.reason,
            )
        con.print(steps)
    if result.errors:
        errs = ", ".join(f"{k}: {v:,}" for k, v in result.errors.items())
        con.print(f"errors: {errs}")
    for note in result.notes:
        con.print(f"note: {note}")


def _run(
    target: Target,
    wl: Workload,
    quiet: bool,
    description: str,
) -> BenchmarkResult:
    from planner.bench.runner import run

    with _progress(quiet, description) as bar:
        cb: ProgressCallback | None = bar
        return run(target, wl, progress=cb)


# endregion
# region #### load commands ####


def _smtp_workload(
    scenario: Path | None,
    size_kb: float | None,
    size_mix: SizeMix | None,
    local_share: float | None,
    **fields: Any,
) -> Workload:
    if scenario is not None:
        from planner.bench.workload import workload_from_scenario
        from planner.catalog import load_scenario

        base = workload_from_scenario(load_scenario(scenario))
        fields.setdefault("size_kb", size_kb if size_kb is not None else base.size_kb)
        fields["size_mix"] = size_mix.value if size_mix is not None else base.size_mix
        fields["local_share"] = local_share if local_share is not None else base.local_share
    else:
        fields["size_kb"] = size_kb if size_kb is not None else 10.0
        fields["size_mix"] = size_mix.value if size_mix is not None else "fixed"
        fields["local_share"] = local_share
    return _workload(protocol="smtp", **fields)


@bench_app.command("smtp")
def smtp_cmd(
    smtp: Annotated[
        str | None, typer.Option("--smtp", metavar="HOST:PORT", help="SMTP server.")
    ] = None,
    embedded: EmbeddedOpt = False,
    messages: MessagesOpt = None,
    duration: DurationOpt = None,
    concurrency: ConcurrencyOpt = 50,
    rate: RateOpt = None,
    size_kb: SizeOpt = None,
    size_mix: MixOpt = None,
    scenario: ScenarioOpt = None,
    sender: FromOpt = "bench@bench.test",
    to: ToOpt = None,
    remote_to: RemoteToOpt = None,
    recipients: RecipientsOpt = 1,
    local_share: LocalShareOpt = None,
    per_session: PerSessionOpt = 1,
    warmup: WarmupOpt = 0.0,
    workers: WorkersOpt = 1,
    timeout: TimeoutOpt = 30.0,
    seed: SeedOpt = None,
    no_pipelining: NoPipeliningOpt = False,
    starttls: StarttlsOpt = False,
    user: Annotated[str | None, typer.Option("--user", help="AUTH PLAIN as this address.")] = None,
    password: PasswordOpt = None,
    label: LabelOpt = None,
    fmt: FormatOpt = OutFormat.table,
    db: DbOpt = None,
    no_save: NoSaveOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Send mail over SMTP: closed loop (--concurrency) or open loop (--rate)."""
    require_extra("bench", "hdrh")
    from planner.bench.workload import check_address

    check_address(sender, "--from")
    users = _logins(user, password, None)
    target = _remote_target(
        "smtp", smtp, "--smtp", users, label, embedded=embedded, smtp_auth=bool(users)
    )
    wl = _smtp_workload(
        scenario,
        size_kb,
        size_mix,
        local_share,
        messages=messages,
        duration_s=duration,
        concurrency=concurrency,
        rate_msgs_per_s=rate,
        sender=sender,
        local_recipients=tuple(to) if to else None,
        remote_recipients=tuple(remote_to) if remote_to else None,
        recipients_per_message=recipients,
        messages_per_session=per_session,
        warmup_s=warmup,
        workers=workers,
        timeout_s=timeout,
        seed=seed,
        pipelining=not no_pipelining,
        starttls=starttls,
    )
    if target is not None:
        _finish(_run(target, wl, quiet, "smtp"), fmt, db, no_save)
        return
    from planner.bench.embedded import EmbeddedServer

    with EmbeddedServer(users=min(wl.concurrency, 50)) as srv:
        target = srv.target("smtp", label)
        wl = wl.model_copy(
            update={"local_recipients": tuple(a for a, _ in srv.users), "local_share": 1.0}
        )
        result = _run(target, wl, quiet, "smtp (embedded)")
        result = srv.check(result, time.time())
    _finish(result, fmt, db, no_save)


def _mailbox_run(
    protocol: str,
    hostport: str | None,
    flag: str,
    embedded: bool,
    users: tuple[tuple[str, str], ...],
    label: str | None,
    wl: Workload,
    quiet: bool,
    size_kb: float,
) -> BenchmarkResult:
    target = _remote_target(protocol, hostport, flag, users, label, embedded=embedded)
    if target is not None:
        return _run(target, wl, quiet, protocol)
    if protocol == "imap":
        raise BenchmarkError("--embedded: the reference server has no IMAP; name one with --imap")
    from planner.bench.embedded import EmbeddedServer

    seed_wl = wl.model_copy(update={"protocol": "smtp", "size_kb": size_kb, "size_mix": "fixed"})
    with EmbeddedServer(pop3=True, users=min(wl.concurrency, 50)) as srv:
        budget = wl.message_budget or 1000
        per_user = max(20, wl.messages_per_session * 2)
        if wl.delete:
            per_user = max(per_user, budget // len(srv.users) + wl.messages_per_session * 2)
        srv.seed(min(per_user, 5000), seed_wl)
        target = srv.target(protocol, label)
        result = _run(target, wl, quiet, f"{protocol} (embedded)")
        return srv.check(result, time.time())


@bench_app.command("pop3")
def pop3_cmd(
    pop3: Annotated[
        str | None, typer.Option("--pop3", metavar="HOST:PORT", help="POP3 server.")
    ] = None,
    embedded: EmbeddedOpt = False,
    user: UserOpt = None,
    password: PasswordOpt = None,
    users_file: UsersFileOpt = None,
    messages: MessagesOpt = None,
    duration: DurationOpt = None,
    concurrency: ConcurrencyOpt = 10,
    rate: RateOpt = None,
    per_session: Annotated[
        int, typer.Option("--messages-per-session", min=1, help="RETRs per login.")
    ] = 10,
    top: Annotated[
        int | None, typer.Option("--top", min=0, help="TOP n LINES instead of RETR.")
    ] = None,
    delete: Annotated[bool, typer.Option("--delete", help="DELE what was read (at QUIT).")] = False,
    no_list: Annotated[bool, typer.Option("--no-list", help="Skip LIST.")] = False,
    size_kb: Annotated[
        float, typer.Option("--size-kb", min=0.25, help="--embedded: size of the seeded messages.")
    ] = 10.0,
    warmup: WarmupOpt = 0.0,
    workers: WorkersOpt = 1,
    timeout: TimeoutOpt = 30.0,
    seed: SeedOpt = None,
    label: LabelOpt = None,
    fmt: FormatOpt = OutFormat.table,
    db: DbOpt = None,
    no_save: NoSaveOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Read mail over POP3: USER/PASS, STAT, LIST, RETR (or TOP) n, optional DELE, QUIT."""
    require_extra("bench", "hdrh")
    users = _logins(user, password, users_file)
    wl = _workload(
        protocol="pop3",
        messages=messages,
        duration_s=duration,
        concurrency=concurrency,
        rate_msgs_per_s=rate,
        messages_per_session=per_session,
        retrieve="top" if top is not None else "retr",
        top_lines=top or 0,
        delete=delete,
        list_messages=not no_list,
        warmup_s=warmup,
        workers=workers,
        timeout_s=timeout,
        seed=seed,
    )
    result = _mailbox_run("pop3", pop3, "--pop3", embedded, users, label, wl, quiet, size_kb)
    _finish(result, fmt, db, no_save)


@bench_app.command("imap")
def imap_cmd(
    imap: Annotated[
        str | None, typer.Option("--imap", metavar="HOST:PORT", help="IMAP server.")
    ] = None,
    user: UserOpt = None,
    password: PasswordOpt = None,
    users_file: UsersFileOpt = None,
    messages: MessagesOpt = None,
    duration: DurationOpt = None,
    concurrency: ConcurrencyOpt = 10,
    rate: RateOpt = None,
    per_session: Annotated[
        int, typer.Option("--messages-per-session", min=1, help="FETCHes per login.")
    ] = 10,
    warmup: WarmupOpt = 0.0,
    workers: WorkersOpt = 1,
    timeout: TimeoutOpt = 30.0,
    seed: SeedOpt = None,
    label: LabelOpt = None,
    fmt: FormatOpt = OutFormat.table,
    db: DbOpt = None,
    no_save: NoSaveOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Read mail over IMAP (client only): LOGIN, SELECT INBOX, FETCH n, LOGOUT."""
    require_extra("bench", "hdrh")
    users = _logins(user, password, users_file)
    wl = _workload(
        protocol="imap",
        messages=messages,
        duration_s=duration,
        concurrency=concurrency,
        rate_msgs_per_s=rate,
        messages_per_session=per_session,
        warmup_s=warmup,
        workers=workers,
        timeout_s=timeout,
        seed=seed,
    )
    result = _mailbox_run("imap", imap, "--imap", False, users, label, wl, quiet, 10.0)
    _finish(result, fmt, db, no_save)


@bench_app.command("capacity")
def capacity_cmd(
    protocol: Annotated[
        CapacityProtocol, typer.Option("--protocol", help="Which protocol to push.")
    ] = CapacityProtocol.smtp,
    smtp: Annotated[str | None, typer.Option("--smtp", metavar="HOST:PORT")] = None,
    pop3: Annotated[str | None, typer.Option("--pop3", metavar="HOST:PORT")] = None,
    imap: Annotated[str | None, typer.Option("--imap", metavar="HOST:PORT")] = None,
    embedded: EmbeddedOpt = False,
    user: UserOpt = None,
    password: PasswordOpt = None,
    users_file: UsersFileOpt = None,
    slo_p99_ms: Annotated[
        float, typer.Option("--slo-p99-ms", min=0.1, help="p99 target of the phase that matters.")
    ] = 250.0,
    max_error_rate: Annotated[
        float, typer.Option("--max-error-rate", min=0, max=1, help="Failed share allowed.")
    ] = 0.01,
    start_rate: Annotated[
        float, typer.Option("--start-rate", min=0.1, help="First offered rate.")
    ] = 50.0,
    step_factor: Annotated[
        float, typer.Option("--step-factor", min=1.05, max=10, help="Rate multiplier per step.")
    ] = 1.5,
    max_rate: Annotated[
        float, typer.Option("--max-rate", min=0.1, help="Highest rate tried.")
    ] = 20000.0,
    max_steps: Annotated[
        int, typer.Option("--max-steps", min=1, max=50, help="Steps at most.")
    ] = 12,
    step_duration: Annotated[
        float, typer.Option("--step-duration", min=0.5, max=600, help="Seconds per step.")
    ] = 5.0,
    step_warmup: Annotated[
        float, typer.Option("--step-warmup", min=0, max=60, help="Warm-up seconds per step.")
    ] = 1.0,
    refine: Annotated[int, typer.Option("--refine", min=0, max=10, help="Bisection steps.")] = 2,
    size_kb: SizeOpt = None,
    size_mix: MixOpt = None,
    scenario: ScenarioOpt = None,
    sender: FromOpt = "bench@bench.test",
    to: ToOpt = None,
    per_session: PerSessionOpt = 1,
    workers: WorkersOpt = 1,
    timeout: TimeoutOpt = 30.0,
    seed: SeedOpt = None,
    label: LabelOpt = None,
    fmt: FormatOpt = OutFormat.table,
    db: DbOpt = None,
    no_save: NoSaveOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Highest offered rate whose p99 (SMTP: end of DATA to 250; POP3: RETR) meets --slo-p99-ms."""
    require_extra("bench", "hdrh")
    from planner.bench.capacity import CapacityPlan, search

    plan = CapacityPlan(
        slo_p99_ms=slo_p99_ms,
        max_error_rate=max_error_rate,
        start_rate=start_rate,
        step_factor=step_factor,
        max_rate=max(max_rate, start_rate),
        max_steps=max_steps,
        step_duration_s=step_duration,
        step_warmup_s=step_warmup,
        refine_steps=refine,
    )
    proto = protocol.value
    common: dict[str, Any] = {
        "rate_msgs_per_s": start_rate,
        "messages_per_session": per_session,
        "workers": workers,
        "timeout_s": timeout,
        "seed": seed,
        "max_in_flight": 5000,
    }
    if proto == "smtp":
        wl = _smtp_workload(
            scenario,
            size_kb,
            size_mix,
            None,
            sender=sender,
            local_recipients=tuple(to) if to else None,
            **common,
        )
        users: tuple[tuple[str, str], ...] = _logins(user, password, None)
    else:
        wl = _workload(protocol=proto, **common)
        users = _logins(user, password, users_file)
    hostport, flag = {"smtp": (smtp, "--smtp"), "pop3": (pop3, "--pop3"), "imap": (imap, "--imap")}[
        proto
    ]
    target = _remote_target(
        proto,
        hostport,
        flag,
        users,
        label,
        embedded=embedded,
        smtp_auth=proto == "smtp" and bool(users),
    )

    def go(t: Target, w: Workload) -> BenchmarkResult:
        with _progress(quiet, f"capacity {proto}") as bar:
            return search(t, w, plan, progress=bar)

    if target is not None:
        _finish(go(target, wl), fmt, db, no_save)
        return
    if proto == "imap":
        raise BenchmarkError("--embedded: the reference server has no IMAP; name one with --imap")
    from planner.bench.embedded import EmbeddedServer

    with EmbeddedServer(pop3=proto == "pop3", users=50) as srv:
        if proto == "pop3":
            srv.seed(100, wl.model_copy(update={"protocol": "smtp", "size_kb": size_kb or 10.0}))
        else:
            wl = wl.model_copy(
                update={"local_recipients": tuple(a for a, _ in srv.users), "local_share": 1.0}
            )
        result = go(srv.target(proto, label), wl)
        result = srv.check(result, time.time())
    _finish(result, fmt, db, no_save)


# endregion
# region #### results ####


@bench_app.command("list")
def list_cmd(db: DbOpt = None, fmt: FormatOpt = OutFormat.table) -> None:
    """Saved results, oldest first."""
    require_extra("bench", "hdrh")
    import json

    from rich.table import Table

    from planner.bench.store import ResultStore
    from planner.cli.render import console

    results = ResultStore(db).list()
    if fmt is OutFormat.json:
        rows = [
            {
                "id": r.id,
                "created_at": r.created_at.isoformat(),
                "protocol": r.protocol,
                "target": r.target,
                "mode": r.mode,
                "size_kb": r.workload.size_kb,
                "msgs_per_s": r.msgs_per_s,
                "p99_ms": r.latency_ms.p99,
                "capacity_msgs_per_s": r.capacity_msgs_per_s,
            }
            for r in results
        ]
        print(json.dumps(rows, indent=2))
        return
    t = Table(title=f"{len(results)} saved result(s)", title_justify="left")
    for col in (
        "id",
        "created (UTC)",
        "protocol",
        "target",
        "mode",
        "size",
        "msgs/s",
        "p99 ms",
        "capacity",
    ):
        t.add_column(
            col, justify="right" if col in {"id", "msgs/s", "p99 ms", "capacity"} else "left"
        )
    for r in results:
        t.add_row(
            str(r.id),
            r.created_at.strftime("%Y-%m-%d %H:%M"),
            r.protocol,
            r.target,
            r.mode,
            f"{r.workload.size_kb:g} KB" if r.protocol == "smtp" else "-",
            f"{r.msgs_per_s:,.1f}",
            f"{r.latency_ms.p99:g}",
            "-" if r.capacity_msgs_per_s is None else f"{r.capacity_msgs_per_s:,.1f}",
        )
    console().print(t)


@bench_app.command("show")
def show_cmd(
    result_id: Annotated[int, typer.Argument(metavar="ID", help="Result id (see 'bench list').")],
    db: DbOpt = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """One saved result in full."""
    require_extra("bench", "hdrh")
    from planner.bench.store import ResultStore

    _print_result(ResultStore(db).get(result_id), fmt)


@bench_app.command("apply")
def apply_cmd(
    result_ref: Annotated[
        str,
        typer.Argument(
            metavar="RESULT_ID_OR_JSON", help="A saved result id or a result JSON file."
        ),
    ],
    scenario: Annotated[Path, typer.Argument(metavar="SCENARIO", help="Scenario file to update.")],
    option: Annotated[
        str | None,
        typer.Option(
            "--option",
            metavar="ID",
            help="On-prem option that was measured (needed when there are several).",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here instead of SCENARIO."),
    ] = None,
    db: DbOpt = None,
) -> None:
    """Write a measured capacity_msgs_per_s and its capacity_source into an on-prem option."""
    require_extra("bench", "hdrh")
    from planner.bench.apply import (
        apply_capacity,
        choose_option,
        load_result_ref,
        write_scenario_atomically,
    )
    from planner.catalog import load_scenario

    result = load_result_ref(result_ref, db)
    current = load_scenario(scenario)
    option_id = choose_option(current, option)
    updated = apply_capacity(current, result, option_id)
    dest = output or scenario
    write_scenario_atomically(dest, updated)
    opt = next(o for o in updated.onprem if o.id == option_id)
    typer.echo(
        f"{dest}: onprem '{option_id}' capacity_msgs_per_s = {opt.capacity_msgs_per_s:g} "
        f"({opt.capacity_source})"
    )


@bench_app.command("import-locust")
def import_locust_cmd(
    csv_prefix: Annotated[
        str,
        typer.Argument(
            metavar="CSV_PREFIX", help="The --csv prefix Locust wrote (PREFIX_stats.csv)."
        ),
    ],
    protocol: Annotated[
        CapacityProtocol, typer.Option("--protocol", help="What the Locust users did.")
    ] = CapacityProtocol.smtp,
    target: Annotated[str, typer.Option("--target", help="The server the run loaded.")] = "locust",
    size_kb: Annotated[float, typer.Option("--size-kb", min=0, help="Message size used.")] = 10.0,
    users: Annotated[int, typer.Option("--users", min=1, help="Locust users (-u) of the run.")] = 1,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Locust worker processes.")] = 1,
    label: LabelOpt = None,
    fmt: FormatOpt = OutFormat.table,
    db: DbOpt = None,
    no_save: NoSaveOpt = False,
) -> None:
    """Turn Locust's CSV stats (--csv PREFIX) into a saved BenchmarkResult."""
    require_extra("bench", "hdrh")
    from planner.bench.locust_import import import_locust_csv

    result = import_locust_csv(
        csv_prefix,
        protocol=protocol.value,
        target=target,
        size_kb=size_kb,
        users=users,
        workers=workers,
        server_label=label,
    )
    _finish(result, fmt, db, no_save)


# endregion
