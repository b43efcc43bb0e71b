"""Benchmark: load a mail server (the bundled reference server or one you name), watch it
live, keep the results, and use a measured capacity in the scenario.

The form's widgets take their defaults and bounds from the request model
(``bench_form.BenchRequest``, via ``bench_form.NUMBERS``/``default``), written once there."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from planner.bench.apply import require_trusted
from planner.bench.result import CAPACITY_FIELDS, BenchmarkResult
from planner.bench.store import ResultStore, default_db_path
from planner.dashboard import PAGES_DIR, bench_views, cached, failures, state, widgets
from planner.dashboard.bench_form import (
    LABELS,
    MAX_MESSAGES,
    MAX_SECONDS,
    NUMBERS,
    check_request,
    default,
)
from planner.dashboard.bench_job import BenchJob
from planner.dashboard.widgets import keep, kept
from planner.errors import BenchmarkError, PlannerError
from planner.models import Scenario

# Session keys. No docstrings on constants here: Streamlit's "magic" would draw them.
JOB = "bench_job"  # id of the job this session started (the job lives in cached.bench_board)
SEEN = "bench_seen"  # id of the job whose end this session has already shown
RESULT = "bench_result"  # the result picked in the history
OPTION = "bench_option"  # the on-prem option "use this capacity" writes to
APPLIED = "bench_applied"  # what the last "use this capacity" did
ACCEPT = "bench_use_indicative"  # the box that lets "use this capacity" take a short run
ACCEPT_LABEL = "Use it as an indicative figure"
START_PROBLEMS = "bench_start_problems"  # why the last Run did not start
SIZE_FROM = "bench:size_from"  # the scenario size the size field was last set from
REFRESH_S = 1.0

_PROTOCOLS = {"smtp": "SMTP (send)", "pop3": "POP3 (read)", "imap": "IMAP (read)"}
_TARGETS = {
    "embedded": "The reference server (mailplan serve, started on 127.0.0.1 for the run)",
    "server": "A server I name (HOST:PORT)",
}


def _key(field: str) -> str:
    return f"bench:{field}"


def _number(col: DeltaGenerator, field: str, start: float | None = None) -> None:
    """The number input of ``field``: label, step and help from ``NUMBERS``, default and
    bounds from the request model (``start`` replaces the default, within the bounds)."""
    spec = NUMBERS[field]
    low, high = spec.bounds
    value = spec.default if start is None else min(max(start, low), high)
    kind = int if spec.integer else float  # one number type for value, bounds and step
    key = _key(field)
    col.number_input(
        spec.label,
        min_value=kind(low),
        max_value=kind(high),
        step=kind(spec.step),
        key=kept(key, kind(value)),
        on_change=keep,
        args=(key,),
        help=spec.help,
    )


def _text(col: DeltaGenerator, field: str, help: str, *, password: bool = False) -> None:
    key = _key(field)
    col.text_input(
        LABELS[field],
        key=kept(key, default(field)),
        on_change=keep,
        args=(key,),
        help=help,
        type="password" if password else "default",
    )


def _toggle(col: DeltaGenerator, field: str, label: str, help: str | None = None) -> bool:
    key = _key(field)
    return bool(
        col.toggle(label, key=kept(key, default(field)), on_change=keep, args=(key,), help=help)
    )


def _follow_scenario_size(scenario: Scenario) -> None:
    """Start the size field at the scenario's average message size, and follow it when the
    scenario changes unless the field was changed by hand."""
    ss = st.session_state
    avg = scenario.organization.avg_message_kb
    key = _key("size_kb")
    if ss.get(SIZE_FROM) != avg:
        if ss.get(key, ss.get(SIZE_FROM)) == ss.get(SIZE_FROM):
            low, high = NUMBERS["size_kb"].bounds
            keep(key, float(min(max(avg, low), high)))
        ss[SIZE_FROM] = avg


def _form(scenario: Scenario) -> None:
    """Draw the form (its values live in the session, read by :func:`_values`)."""
    _follow_scenario_size(scenario)
    top: Sequence[DeltaGenerator] = st.columns([3, 1])
    target = top[0].radio(
        LABELS["target"],
        list(_TARGETS),
        format_func=_TARGETS.__getitem__,
        key=kept(_key("target"), default("target")),
        on_change=keep,
        args=(_key("target"),),
    )
    protocol = top[1].selectbox(
        LABELS["protocol"],
        list(_PROTOCOLS),
        format_func=_PROTOCOLS.__getitem__,
        key=kept(_key("protocol"), default("protocol")),
        on_change=keep,
        args=(_key("protocol"),),
        help="SMTP sends mail (its capacity feeds the sizing); POP3 and IMAP read it.",
    )
    if target == "server":
        row: Sequence[DeltaGenerator] = st.columns(2)
        _text(row[0], "server", "For example 127.0.0.1:2525 or [::1]:110.")
        _text(row[1], "label", "How the results name the server, e.g. 'Postfix 3.7'.")
        row = st.columns(2)
        login = "AUTH PLAIN (optional)" if protocol == "smtp" else "login (required)"
        _text(row[0], "user", f"The address to log in as: {login}.")
        _text(row[1], "password", "Sent to the server only; never saved.", password=True)
        if protocol == "smtp":
            row = st.columns(2)
            _text(row[0], "sender", "Envelope sender (MAIL FROM).")
            _text(row[1], "recipient", "Every message goes to it.")

    load: Sequence[DeltaGenerator] = st.columns(5)
    _number(load[0], "size_kb", float(scenario.organization.avg_message_kb))
    if protocol == "smtp":
        mix = {"realistic": "realistic mix", "fixed": "fixed"}
        load[1].selectbox(
            LABELS["size_mix"],
            list(mix),
            format_func=mix.__getitem__,
            key=kept(_key("size_mix"), default("size_mix")),
            on_change=keep,
            args=(_key("size_mix"),),
            help="Realistic: a log-normal mix around the size (most smaller, a long tail).",
        )
    else:
        _number(load[1], "messages_per_session")
    _number(load[2], "concurrency")
    _number(load[3], "messages")
    _number(load[4], "duration_s")
    modes: Sequence[DeltaGenerator] = st.columns([1, 1, 2, 1])
    if _toggle(modes[0], "open_loop", LABELS["open_loop"]):
        _number(modes[1], "rate_msgs_per_s")
    capacity = _toggle(
        modes[2],
        "capacity",
        "Capacity search: the highest rate that meets a p99 target",
        "Steps an open-loop rate up until the p99 of the phase that matters "
        "(SMTP: end of DATA to the 250) or the error rate breaks; replaces the load above.",
    )
    _number(modes[3], "repeat")
    if capacity:
        search: Sequence[DeltaGenerator] = st.columns(5)
        for col, field in zip(
            search,
            ("slo_p99_ms", "start_rate", "max_rate", "step_duration_s", "max_steps"),
            strict=True,
        ):
            _number(col, field)


def _values() -> dict[str, object]:
    """The form's values by field name, read from the session (so that Run's callback sees
    a field typed just before the click), without the fields the form does not show."""
    ss = st.session_state
    values: dict[str, object] = {}
    for field in LABELS:
        key = _key(field)
        if key in ss and ss[key] is not None:
            values[field] = ss[key]
    if values.get("target") != "server":
        for field in ("server", "label", "user", "password", "sender", "recipient"):
            values.pop(field, None)
    if not values.get("open_loop"):
        values.pop("rate_msgs_per_s", None)
    if not values.get("capacity"):
        for field in ("slo_p99_ms", "start_rate", "max_rate", "step_duration_s", "max_steps"):
            values.pop(field, None)
    if values.get("protocol") == "smtp":
        values.pop("messages_per_session", None)
    else:
        values.pop("size_mix", None)
    return values


# region #### running ####


@failures.callback("The benchmark could not be started")
def _start() -> None:
    ss = st.session_state
    try:
        request = check_request(_values())
        job = cached.bench_board().start(request, default_db_path())
    except BenchmarkError as exc:
        ss[START_PROBLEMS] = list(exc.lines)
        return
    ss[START_PROBLEMS] = []
    ss[JOB] = job.id


@failures.callback("The benchmark could not be stopped")
def _stop(job_id: str) -> None:
    job = cached.bench_board().get(job_id)
    if job is not None:
        job.stop()


@st.fragment(run_every=REFRESH_S)
def _live(job_id: str, own: bool) -> None:
    """Progress and the live chart (and Stop, in the tab that started the job), redrawn
    every second while the job runs; one full rerun when it ends (to show the result and
    the history, or to let another tab run). A fragment rerun is not inside the page's
    guard, so it has its own."""
    with failures.guarded("The running benchmark could not be shown"):
        _live_view(job_id, own)


def _live_view(job_id: str, own: bool) -> None:
    job = cached.bench_board().get(job_id)
    if job is None or job.status != "running":
        st.rerun()
        return
    points = job.points
    fraction, text = bench_views.progress_state(job.request, points, job.elapsed_s, job.phase)
    st.progress(fraction, text=widgets.plain(text))
    cols: Sequence[DeltaGenerator] = st.columns([1, 5])
    if own:
        cols[0].button(
            "Stop",
            key="bench_stop",
            on_click=_stop,
            args=(job_id,),
            type="primary",
            help="End the run now. A stopped run is discarded: nothing is saved.",
        )
    cols[1].caption(
        f"{widgets.plain(job.phase)} · {job.elapsed_s:.0f} s of at most "
        f"{job.request.time_limit_s:g} s"
    )
    frame = bench_views.live_frame(points)
    phase = {"smtp": "data", "pop3": "retr", "imap": "fetch"}[job.request.protocol]
    widgets.chart(
        bench_views.throughput_latency_chart(frame, "Live: each second of the run", phase),
        key="bench_live_chart",
    )


def _outcome(job: BenchJob) -> None:
    """What became of this session's last job."""
    ss = st.session_state
    if job.status == "done" and job.result is not None:
        if ss.get(SEEN) != job.id:
            ss[SEEN] = job.id
            ss[RESULT] = job.result.id
        st.success(f"Finished: saved as result #{job.result.id} (shown below).")
    elif job.status == "stopped":
        for line in job.problems:
            st.info(widgets.plain(f"The run was {line}."))
    else:
        for line in job.problems:
            st.error(widgets.plain(line))


# endregion
# region #### results ####


def _load_history(db: Path) -> list[BenchmarkResult]:
    try:
        return ResultStore(db).list()
    except BenchmarkError as exc:
        if db.exists():
            st.error(widgets.plain("; ".join(exc.lines)))
        return []


def _detail(result: BenchmarkResult) -> None:
    tiles = bench_views.headline(result)
    for col, (label, value) in zip(st.columns(len(tiles)), tiles, strict=True):
        col.metric(label, value)
    indicative = bench_views.indicative_text(result)
    if indicative is not None:
        st.warning(widgets.plain(indicative))
    if result.environment.shared_machine:
        st.warning(
            "The load generator shared the machine with the server (loopback), so both "
            "competed for the same cores: the figures understate a dedicated server."
        )
    if result.timeseries:
        widgets.chart(cached.bench_chart(result), key="bench_result_chart")
    names = ["Latency by phase", "Errors", "Environment", "Workload"]
    if result.capacity_search is not None:
        names.append("Capacity steps")
    tabs = st.tabs([*names, "Notes"])
    tabs[0].dataframe(bench_views.phases_table(result), hide_index=True)
    if result.errors:
        tabs[1].dataframe(bench_views.errors_table(result), hide_index=True)
    else:
        tabs[1].write("No message failed.")
    tabs[2].table(bench_views.environment_table(result).set_index("What"))
    tabs[3].table(bench_views.workload_table(result).set_index("What"))
    if result.capacity_search is not None:
        tabs[4].caption(widgets.plain(f"Stopped because: {result.capacity_search.stop_reason}"))
        tabs[4].dataframe(bench_views.steps_table(result), hide_index=True)
    for note in result.notes or ["None."]:
        tabs[-1].markdown(widgets.plain(note))


@failures.callback("The measured capacity could not be used")
def _use(result_id: int, option_id: str) -> None:
    ss = st.session_state
    if state.problems(ss):
        ss[APPLIED] = (
            "error",
            "The Scenario page has changes with problems: fix or undo them first, so that "
            "none is lost.",
        )
        return
    try:
        result = ResultStore(default_db_path()).get(result_id)
        require_trusted(result, indicative_ok=bool(ss.get(ACCEPT)), accept=f"tick '{ACCEPT_LABEL}'")
        changed = cached.with_bench_capacity(state.current(ss), result, option_id)
    except PlannerError as exc:
        ss[APPLIED] = ("error", "; ".join(exc.lines))
        return
    state.use(ss, changed)
    option = next(o for o in changed.onprem if o.id == option_id)
    if CAPACITY_FIELDS[result.protocol] == "capacity_msgs_per_s":
        figure = f"{option.capacity_msgs_per_s:g} msgs/s per server"
        source = option.capacity_source
    else:
        figure = f"{option.client_capacity_fetches_per_s:g} fetches/s per server (client load)"
        source = option.client_capacity_source
    if result.indicative:
        figure += " (indicative)"
    ss[APPLIED] = (
        "success",
        f"On-prem option '{option_id}' now uses {figure} ({source}). The "
        "scenario in use is now 'edited'; the Costs and Scale pages show it.",
    )


def _use_capacity(scenario: Scenario, result: BenchmarkResult) -> None:
    st.subheader("Use this capacity")
    try:
        capacity, source = cached.bench_capacity(result)
    except BenchmarkError as exc:
        st.info(widgets.plain("; ".join(exc.lines)))
        return
    onprem = [o.id for o in scenario.onprem]
    if not onprem:
        st.info("The scenario has no on-prem option: add one on the Scenario page.")
        return
    key = CAPACITY_FIELDS[result.protocol]
    source_key = "capacity_source" if key == "capacity_msgs_per_s" else "client_capacity_source"
    st.markdown(widgets.plain(f"{key} = {capacity:g}, {source_key} = “{source}”"))
    widgets.keep_choice(OPTION, onprem)
    cols: Sequence[DeltaGenerator] = st.columns([2, 1])
    option = cols[0].selectbox(
        "On-prem option measured",
        onprem,
        key=OPTION,
        help="A capacity measured for one stack says nothing about another: pick the one "
        "this server stands for.",
    )
    if result.indicative:
        cols[0].checkbox(
            ACCEPT_LABEL,
            key=ACCEPT,
            help="The run was shorter than a capacity figure needs: tick to use it anyway; "
            "the option is then marked indicative (capacity_indicative), as "
            "`mailplan bench apply --indicative` does.",
        )
    cols[1].button(
        "Use this capacity",
        key="bench_use",
        on_click=_use,
        args=(result.id, option),
        help="Writes the figure and its source into that option, as `mailplan bench apply`.",
    )


def _applied() -> None:
    outcome = st.session_state.get(APPLIED)
    if not outcome:
        return
    kind, text = outcome
    (st.success if kind == "success" else st.error)(widgets.plain(text))
    if kind == "success":
        st.page_link(PAGES_DIR / "scale.py", label="See it on the Scale page →")


def _history(scenario: Scenario) -> None:
    st.header("Saved results")
    db = default_db_path()
    st.caption(
        widgets.plain(f"Results store: {db} (set MAILPLAN_BENCH_DB to use another file).")
        + " The same store as `mailplan bench list`."
    )
    results = _load_history(db)
    if not results:
        st.info("No saved results yet: run a benchmark above, or `mailplan bench smtp --embedded`.")
        return
    st.dataframe(bench_views.history_table(results), hide_index=True)
    by_id = {r.id: r for r in results if r.id is not None}
    ids = list(reversed(by_id))
    if st.session_state.get(RESULT) not in ids:
        st.session_state.pop(RESULT, None)
    picked = st.selectbox(
        "Result",
        ids,
        key=RESULT,
        format_func={i: bench_views.result_label(r) for i, r in by_id.items()}.__getitem__,
    )
    result = by_id[picked]
    _detail(result)
    _use_capacity(scenario, result)
    _applied()


# endregion


def render() -> None:
    """The form and Run, the live view of a running job, the saved results."""
    ss = st.session_state
    scenario = state.current(ss)
    widgets.page_header(
        "Benchmark",
        scenario,
        "measure a mail server's throughput and latency, and use the capacity for sizing",
    )
    board = cached.bench_board()
    job = board.get(ss.get(JOB))
    running = board.running()

    st.header("Run a load")
    _form(scenario)
    try:
        request = check_request(_values())
        problems: list[str] = []
    except BenchmarkError as exc:
        request, problems = None, list(exc.lines)
    for line in problems:
        st.error(widgets.plain(line))
    if request is not None:
        st.caption(
            f"Every run is bounded: at most {MAX_MESSAGES:,} messages and {MAX_SECONDS:g} s of "
            f"load. This one loads for at most {request.worst_case_s:g} s and is stopped "
            f"after {request.time_limit_s:g} s whatever happens. One run at a time."
        )
    other = running is not None and (job is None or running.id != job.id)
    if running is not None and other:
        st.info(
            f"Another benchmark is running (started {running.started_at:%H:%M:%S} UTC, "
            "maybe in another tab); Run is back when it ends. Its progress:"
        )
        _live(running.id, own=False)
    st.button(
        "Run",
        type="primary",
        on_click=_start,
        disabled=request is None or running is not None,
        key="bench_run",
    )
    for line in ss.get(START_PROBLEMS, []):
        st.error(widgets.plain(line))

    if job is not None:
        if job.status == "running":
            _live(job.id, own=True)
        else:
            _outcome(job)
    _history(scenario)


render()
