"""``mailplan bench``: load benchmarks, capacity search, the results store, apply.

Thin: parse flags, build a :class:`planner.bench.plan.BenchPlan` (target or the embedded
reference server, workload, capacity search, repeat), hand it to
:func:`planner.bench.plan.execute` with a progress bar, print the result with
:mod:`planner.cli.render`. Only the harness's pure data modules load with the command
line; the runner is imported inside the commands, so ``mailplan compare`` stays fast.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from planner.bench.result import MIN_MEASURED_S
from planner.bench.targets import logins
from planner.bench.workload import flagged_workload
from planner.cli.app import app, require_extra
from planner.errors import BenchmarkError

if TYPE_CHECKING:
    from planner.bench.capacity import CapacityPlan
    from planner.bench.plan import Embedded
    from planner.bench.result import BenchmarkResult
    from planner.bench.targets import Target
    from planner.bench.workload import Protocol, Workload

bench_app = typer.Typer(
    name="bench",
    help="Load benchmarks: SMTP, POP3 and IMAP load against a server, capacity at a latency "
    "target, saved results, and measured capacity into a scenario.",
    no_args_is_help=True,
)
app.add_typer(bench_app)


OutFormat = enum.StrEnum("OutFormat", ["table", "json"])
SizeMix = enum.StrEnum("SizeMix", ["fixed", "realistic"])
CapacityProtocol = enum.StrEnum("CapacityProtocol", ["smtp", "pop3", "imap"])
_FLAGS = {  # workload field -> flag, where the flag is not --field-with-dashes
    "duration_s": "--duration",
    "rate_msgs_per_s": "--rate",
    "warmup_s": "--warmup",
    "timeout_s": "--timeout",
    "recipients_per_message": "--recipients",
}

# region #### shared options ####

Opt = typer.Option  # an option without names is --param-name
MessagesOpt = Annotated[int | None, Opt(min=1, help="Messages after warm-up (default 1000).")]
DurationOpt = Annotated[float | None, Opt(min=0.1, max=3600, help="Measured seconds at most.")]
ConcurrencyOpt = Annotated[
    int, Opt("--concurrency", "-c", min=1, max=20000, help="Sessions at once (closed loop).")
]
RateOpt = Annotated[float | None, Opt(min=0.01, help="Open loop: offered msgs/s.")]
WarmupOpt = Annotated[float, Opt(min=0, max=600, help="Uncounted seconds first.")]
WorkersOpt = Annotated[int, Opt(min=1, max=256, help="Load processes.")]
PerSessionOpt = Annotated[int, Opt("--messages-per-session", min=1, help="Per connection.")]
TimeoutOpt = Annotated[float, Opt(min=0.1, max=3600, help="Seconds one session may take.")]
SeedOpt = Annotated[int | None, Opt(help="Seed for arrivals and the size mix.")]
EmbeddedOpt = Annotated[bool, Opt("--embedded", help="Load the reference server on loopback.")]
UserOpt = Annotated[str | None, Opt(help="Login address.")]
PasswordOpt = Annotated[str | None, Opt(help="Login password.")]
UsersFileOpt = Annotated[Path | None, Opt(metavar="FILE", help="address:password lines.")]
LabelOpt = Annotated[str | None, Opt(help="Server name (e.g. 'Postfix 3.7').")]
FormatOpt = Annotated[OutFormat, Opt("--format", "-f", help="Output format.")]
DbOpt = Annotated[Path | None, Opt(metavar="PATH", help="Results database.", show_default=False)]
NoSaveOpt = Annotated[bool, Opt("--no-save", help="Do not save the result.")]
QuietOpt = Annotated[bool, Opt("--quiet", "-q", help="No progress bar.")]
SizeOpt = Annotated[float | None, Opt(min=0.25, max=100000, help="Message KB (default 10).")]
MixOpt = Annotated[SizeMix | None, Opt(help="fixed, or realistic (log-normal).")]
ScenarioOpt = Annotated[Path | None, Opt(metavar="FILE", help="Shape the load like its mail.")]
FromOpt = Annotated[str, Opt("--from", help="Envelope sender.")]
ToOpt = Annotated[list[str] | None, Opt(help="Local recipient (repeatable).")]
RemoteToOpt = Annotated[list[str] | None, Opt(help="Remote recipient (repeatable).")]
RecipientsOpt = Annotated[int, Opt(min=1, max=1000, help="Recipients per message.")]
LocalShareOpt = Annotated[float | None, Opt(min=0, max=1, help="Chance a recipient is local.")]
NoPipeliningOpt = Annotated[bool, Opt("--no-pipelining", help="One command per round trip.")]
StarttlsOpt = Annotated[bool, Opt("--starttls", help="STARTTLS (certificate not checked).")]
RepeatOpt = Annotated[int, Opt(min=1, max=10, help="Run K times: the median run, the spread.")]
HostOpt = Annotated[str | None, Opt(metavar="HOST:PORT", help="The server to load.")]

# endregion
# region #### helpers ####


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
        size_kb = size_kb if size_kb is not None else base.size_kb
        local_share = local_share if local_share is not None else base.local_share
    mix = size_mix.value if size_mix is not None else ("realistic" if scenario else "fixed")
    fields |= {"size_kb": size_kb or 10.0, "size_mix": mix, "local_share": local_share}
    return flagged_workload(_FLAGS, protocol="smtp", **fields)


def _target(
    protocol: Protocol,
    hostport: str | None,
    users: tuple[tuple[str, str], ...],
    label: str | None,
    *,
    embedded: bool,
    seed_size_kb: float = 10.0,
) -> Target | Embedded:
    """The server named by ``--PROTOCOL HOST:PORT``, or the reference server (``--embedded``)."""
    from planner.bench.plan import Embedded
    from planner.bench.targets import named_target

    flag = f"--{protocol}"
    if embedded and hostport:
        raise BenchmarkError(f"{flag} and --embedded: give one target, not both")
    if embedded:
        return Embedded(label=label, seed_size_kb=seed_size_kb)
    return named_target(protocol, hostport, flag, users, label)


def _execute(
    target: Target | Embedded,
    wl: Workload,
    quiet: bool,
    *,
    repeat: int = 1,
    capacity: CapacityPlan | None = None,
) -> BenchmarkResult:
    """Build the plan and run it under a live bar (on a terminal, unless ``--quiet``)."""
    from planner.bench.plan import BenchPlan, execute

    plan = BenchPlan(workload=wl, target=target, capacity=capacity, repeat=repeat)
    if quiet or not sys.stderr.isatty():
        return execute(plan)
    from planner.bench.progress import RichProgress

    with RichProgress(("capacity " if capacity else "") + wl.protocol) as bar:
        return execute(plan, bar, phase=bar.phase)


def _finish(result: BenchmarkResult, fmt: OutFormat, db: Path | None, no_save: bool) -> None:
    from planner.bench.store import ResultStore
    from planner.cli import render

    store = None if no_save else ResultStore(db)
    result = result if store is None else store.save(result)
    render.print_bench_result(result, as_json=fmt is OutFormat.json)
    if store is not None and fmt is OutFormat.table:
        typer.echo(f"saved as result {result.id} in {store.path}")


# endregion
# region #### load commands ####


@bench_app.command("smtp")
def smtp_cmd(
    smtp: HostOpt = None,
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
    user: Annotated[str | None, Opt(help="AUTH PLAIN as this address.")] = None,
    password: PasswordOpt = None,
    label: LabelOpt = None,
    repeat: RepeatOpt = 1,
    fmt: FormatOpt = OutFormat.table,
    db: DbOpt = None,
    no_save: NoSaveOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Send mail over SMTP: closed loop (--concurrency) or open loop (--rate)."""
    require_extra("bench", "hdrh")
    from planner.bench.workload import check_address

    check_address(sender, "--from")
    users = logins(user, password)
    target = _target("smtp", smtp, users, label, embedded=embedded)
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
    _finish(_execute(target, wl, quiet, repeat=repeat), fmt, db, no_save)


@bench_app.command("pop3")
def pop3_cmd(
    pop3: HostOpt = None,
    embedded: EmbeddedOpt = False,
    user: UserOpt = None,
    password: PasswordOpt = None,
    users_file: UsersFileOpt = None,
    messages: MessagesOpt = None,
    duration: DurationOpt = None,
    concurrency: ConcurrencyOpt = 10,
    rate: RateOpt = None,
    per_session: Annotated[int, Opt("--messages-per-session", min=1, help="RETRs a login.")] = 10,
    top: Annotated[int | None, Opt(min=0, help="TOP n LINES instead of RETR.")] = None,
    delete: Annotated[bool, Opt(help="DELE what was read (at QUIT).")] = False,
    no_list: Annotated[bool, Opt(help="Skip LIST.")] = False,
    size_kb: Annotated[float, Opt(min=0.25, help="--embedded: seeded message KB.")] = 10.0,
    warmup: WarmupOpt = 0.0,
    workers: WorkersOpt = 1,
    timeout: TimeoutOpt = 30.0,
    seed: SeedOpt = None,
    label: LabelOpt = None,
    repeat: RepeatOpt = 1,
    fmt: FormatOpt = OutFormat.table,
    db: DbOpt = None,
    no_save: NoSaveOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Read mail over POP3: USER/PASS, STAT, LIST, RETR (or TOP) n, optional DELE, QUIT."""
    require_extra("bench", "hdrh")
    wl = flagged_workload(
        _FLAGS,
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
    users = logins(user, password, users_file)
    target = _target("pop3", pop3, users, label, embedded=embedded, seed_size_kb=size_kb)
    _finish(_execute(target, wl, quiet, repeat=repeat), fmt, db, no_save)


@bench_app.command("imap")
def imap_cmd(
    imap: HostOpt = None,
    embedded: EmbeddedOpt = False,
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
    repeat: RepeatOpt = 1,
    fmt: FormatOpt = OutFormat.table,
    db: DbOpt = None,
    no_save: NoSaveOpt = False,
    quiet: QuietOpt = False,
    size_kb: Annotated[float, Opt(min=0.25, help="--embedded: seeded message KB.")] = 10.0,
) -> None:
    """Read mail over IMAP: LOGIN, SELECT INBOX, FETCH n (BODY.PEEK[]), LOGOUT."""
    require_extra("bench", "hdrh")
    wl = flagged_workload(
        _FLAGS,
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
    users = logins(user, password, users_file)
    target = _target("imap", imap, users, label, embedded=embedded, seed_size_kb=size_kb)
    _finish(_execute(target, wl, quiet, repeat=repeat), fmt, db, no_save)


@bench_app.command("capacity")
def capacity_cmd(
    protocol: Annotated[CapacityProtocol, Opt(help="Which protocol to push.")] = (
        CapacityProtocol.smtp
    ),
    smtp: HostOpt = None,
    pop3: HostOpt = None,
    imap: HostOpt = None,
    embedded: EmbeddedOpt = False,
    user: UserOpt = None,
    password: PasswordOpt = None,
    users_file: UsersFileOpt = None,
    slo_p99_ms: Annotated[float, Opt(min=0.1, help="p99 target of the key phase.")] = 250.0,
    max_error_rate: Annotated[float, Opt(min=0, max=1, help="Failed share allowed.")] = 0.01,
    start_rate: Annotated[float, Opt(min=0.1, help="First offered rate.")] = 50.0,
    step_factor: Annotated[float, Opt(min=1.05, max=10, help="Rate factor per step.")] = 1.5,
    max_rate: Annotated[float, Opt(min=0.1, help="Highest rate tried.")] = 20000.0,
    max_steps: Annotated[int, Opt(min=1, max=50, help="Rising steps at most.")] = 12,
    step_duration: Annotated[
        float, Opt(min=0.5, max=600, help="Measured s per step (< 30: indicative).")
    ] = MIN_MEASURED_S,
    step_warmup: Annotated[float, Opt(min=0, max=60, help="Warm-up s per step.")] = 1.0,
    refine: Annotated[int, Opt(min=0, max=10, help="Bisection steps.")] = 2,
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
    repeat: RepeatOpt = 1,
    fmt: FormatOpt = OutFormat.table,
    db: DbOpt = None,
    no_save: NoSaveOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Highest offered rate whose p99 (SMTP: end of DATA to 250; POP3: RETR) meets --slo-p99-ms."""
    require_extra("bench", "hdrh")
    from planner.bench.capacity import CapacityPlan

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
    proto = cast("Protocol", protocol.value)
    common = {"rate_msgs_per_s": start_rate, "messages_per_session": per_session, "seed": seed}
    common |= {"workers": workers, "timeout_s": timeout}
    if proto == "smtp":
        to_ = tuple(to) if to else None
        wl = _smtp_workload(
            scenario, size_kb, size_mix, None, sender=sender, local_recipients=to_, **common
        )
    else:
        wl = flagged_workload(_FLAGS, protocol=proto, **common)
    users = logins(user, password, None if proto == "smtp" else users_file)
    hostport = {"smtp": smtp, "pop3": pop3, "imap": imap}[proto]
    seed_kb = size_kb or 10.0
    target = _target(proto, hostport, users, label, embedded=embedded, seed_size_kb=seed_kb)
    _finish(_execute(target, wl, quiet, repeat=repeat, capacity=plan), fmt, db, no_save)


# endregion
# region #### results ####


@bench_app.command("list")
def list_cmd(db: DbOpt = None, fmt: FormatOpt = OutFormat.table) -> None:
    """Saved results, oldest first."""
    require_extra("bench", "hdrh")
    from planner.bench.store import ResultStore
    from planner.cli import render

    results = ResultStore(db).list()
    if fmt is OutFormat.json:
        render.print_json(render.bench_list_rows(results))
        return
    render.console().print(render.bench_list_table(results))


@bench_app.command("show")
def show_cmd(
    result_id: Annotated[int, typer.Argument(metavar="ID", help="Result id ('bench list').")],
    db: DbOpt = None,
    fmt: FormatOpt = OutFormat.table,
) -> None:
    """One saved result in full."""
    require_extra("bench", "hdrh")
    from planner.bench.store import ResultStore
    from planner.cli import render

    render.print_bench_result(ResultStore(db).get(result_id), as_json=fmt is OutFormat.json)


@bench_app.command("apply")
def apply_cmd(
    result_ref: Annotated[str, typer.Argument(metavar="RESULT_ID_OR_JSON", help="Id or file.")],
    scenario: Annotated[Path, typer.Argument(metavar="SCENARIO", help="Scenario file to update.")],
    option: Annotated[str | None, Opt(metavar="ID", help="On-prem option measured.")] = None,
    output: Annotated[
        Path | None, Opt("--output", "-o", metavar="FILE", help="Write here.")
    ] = None,
    indicative: Annotated[bool, Opt(help="Accept a run under 30 s, marked indicative.")] = False,
    db: DbOpt = None,
) -> None:
    """Write a measured capacity into an on-prem option: capacity_msgs_per_s from an SMTP
    result, client_capacity_fetches_per_s from a POP3 or IMAP one, with its source."""
    require_extra("bench", "hdrh")
    from planner.bench.apply import (
        apply_capacity,
        choose_option,
        load_result_ref,
        require_trusted,
        write_scenario_atomically,
    )
    from planner.catalog import load_scenario

    result = load_result_ref(result_ref, db)
    require_trusted(result, indicative_ok=indicative)
    current = load_scenario(scenario)
    option_id = choose_option(current, option)
    updated = apply_capacity(current, result, option_id)
    dest = output or scenario
    write_scenario_atomically(dest, updated)
    opt = next(o for o in updated.onprem if o.id == option_id)
    if result.protocol == "smtp":
        key, value, source = "capacity_msgs_per_s", opt.capacity_msgs_per_s, opt.capacity_source
    else:
        key, value = "client_capacity_fetches_per_s", opt.client_capacity_fetches_per_s
        source = opt.client_capacity_source
    typer.echo(
        f"{dest}: onprem '{option_id}' {key} = {value:g}"
        + (" (indicative)" if result.indicative else "")
        + f" ({source})"
    )


@bench_app.command("import-locust")
def import_locust_cmd(
    csv_prefix: Annotated[str, typer.Argument(metavar="CSV_PREFIX", help="Locust's --csv.")],
    protocol: Annotated[CapacityProtocol, Opt(help="What the Locust users did.")] = (
        CapacityProtocol.smtp
    ),
    target: Annotated[str, Opt(help="The server the run loaded.")] = "locust",
    size_kb: Annotated[float, Opt(min=0, help="Message size used.")] = 10.0,
    users: Annotated[int, Opt(min=1, help="Locust users (-u) of the run.")] = 1,
    workers: Annotated[int, Opt(min=1, help="Locust worker processes.")] = 1,
    label: LabelOpt = None,
    fmt: FormatOpt = OutFormat.table,
    db: DbOpt = None,
    no_save: NoSaveOpt = False,
) -> None:
    """Turn Locust's CSV stats (--csv PREFIX) into a saved BenchmarkResult."""
    require_extra("bench", "hdrh")
    from planner.bench.locust_import import import_locust_csv

    facts: dict[str, Any] = {"target": target, "size_kb": size_kb, "users": users}
    facts |= {"workers": workers, "server_label": label, "protocol": protocol.value}
    result = import_locust_csv(csv_prefix, **facts)
    _finish(result, fmt, db, no_save)


# endregion
