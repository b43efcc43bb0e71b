"""Benchmark: load a mail server (the bundled reference server or one you name), watch it
live, keep the results, and use a measured capacity in the scenario."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from planner.bench.result import BenchmarkResult
from planner.bench.store import ResultStore, default_db_path
from planner.dashboard import PAGES_DIR, bench_views, cached, failures, state, widgets
from planner.dashboard.bench_form import LABELS, MAX_MESSAGES, MAX_SECONDS, check_request
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


def _number(
    col: DeltaGenerator,
    field: str,
    default: float,
    bounds: tuple[float, float],
    step: float,
    help: str | None = None,
) -> None:
    key = _key(field)
    col.number_input(
        LABELS[field],
        min_value=bounds[0],
        max_value=bounds[1],
        step=step,
        key=kept(key, default),
        on_change=keep,
        args=(key,),
        help=help,
    )


def _text(
    col: DeltaGenerator, field: str, default: str, help: str, *, password: bool = False
) -> None:
    key = _key(field)
    col.text_input(
        LABELS[field],
        key=kept(key, default),
        on_change=keep,
        args=(key,),
        help=help,
        type="password" if password else "default",
    )


def _follow_scenario_size(scenario: Scenario) -> None:
    """Start the size field at the scenario's average message size, and follow it when the
    scenario changes unless the field was changed by hand."""
    ss = st.session_state
    avg = scenario.organization.avg_message_kb
    key = _key("size_kb")
    if ss.get(SIZE_FROM) != avg:
        if ss.get(key, ss.get(SIZE_FROM)) == ss.get(SIZE_FROM):
            keep(key, float(avg))
        ss[SIZE_FROM] = avg


def _form(scenario: Scenario) -> None:
    """Draw the form (its values live in the session, read by :func:`_values`)."""
    _follow_scenario_size(scenario)
    top: Sequence[DeltaGenerator] = st.columns([3, 1])
    target = top[0].radio(
        LABELS["target"],
        list(_TARGETS),
        format_func=_TARGETS.__getitem__,
        key=kept(_key("target"), "embedded"),
        on_change=keep,
        args=(_key("target"),),
    )
    protocol = top[1].selectbox(
        LABELS["protocol"],
        list(_PROTOCOLS),
        format_func=_PROTOCOLS.__getitem__,
        key=kept(_key("protocol"), "smtp"),
        on_change=keep,
        args=(_key("protocol"),),
        help="SMTP sends mail (its capacity feeds the sizing); POP3 and IMAP read it.",
    )
    if target == "server":
        row: Sequence[DeltaGenerator] = st.columns(2)
        _text(row[0], "server", "127.0.0.1:25", "For example 127.0.0.1:2525 or [::1]:110.")
        _text(row[1], "label", "", "How the results name the server, e.g. 'Postfix 3.7'.")
        row = st.columns(2)
        login = "AUTH PLAIN (optional)" if protocol == "smtp" else "login (required)"
        _text(row[0], "user", "", f"The address to log in as: {login}.")
        _text(row[1], "password", "", "Sent to the server only; never saved.", password=True)
        if protocol == "smtp":
            row = st.columns(2)
            _text(row[0], "sender", "bench@bench.test", "Envelope sender (MAIL FROM).")
            _text(row[1], "recipient", "user@bench.test", "Every message goes to it.")

    load: Sequence[DeltaGenerator] = st.columns(5)
    _number(
        load[0],
        "size_kb",
        float(scenario.organization.avg_message_kb),
        (0.25, 10_240.0),
        1.0,
        "Starts at the scenario's average message size (capacity falls steeply with size). "
        "For POP3 on the reference server: the size of the seeded messages.",
    )
    if protocol == "smtp":
        mix = {"realistic": "realistic mix", "fixed": "fixed"}
        load[1].selectbox(
            LABELS["size_mix"],
            list(mix),
            format_func=mix.__getitem__,
            key=kept(_key("size_mix"), "realistic"),
            on_change=keep,
            args=(_key("size_mix"),),
            help="Realistic: a log-normal mix around the size (most smaller, a long tail).",
        )
    else:
        _number(load[1], "messages_per_session", 10, (1, 1000), 1, "Reads per login.")
    _number(load[2], "concurrency", 20, (1, 500), 1, "Sessions at once (closed loop).")
    _number(
        load[3],
        "messages",
        5000,
        (1, MAX_MESSAGES),
        1000,
        f"The run stops after this many messages or the duration, whichever comes first; "
        f"at most {MAX_MESSAGES:,}.",
    )
    _number(load[4], "duration_s", 10.0, (1.0, MAX_SECONDS), 5.0, f"At most {MAX_SECONDS:g} s.")
    modes: Sequence[DeltaGenerator] = st.columns([1, 1, 3])
    open_loop = modes[0].toggle(
        "Open loop", key=kept(_key("open_loop"), False), on_change=keep, args=(_key("open_loop"),)
    )
    if open_loop:
        _number(
            modes[1],
            "rate_msgs_per_s",
            100.0,
            (1.0, 20_000.0),
            10.0,
            "Sessions arrive at this rate (Poisson) whatever the server does, so latency "
            "under a given load is honest.",
        )
    capacity = modes[2].toggle(
        "Capacity search: the highest rate that meets a p99 target",
        key=kept(_key("capacity"), False),
        on_change=keep,
        args=(_key("capacity"),),
        help="Steps an open-loop rate up until the p99 of the phase that matters "
        "(SMTP: end of DATA to the 250) or the error rate breaks; replaces the load above.",
    )
    if capacity:
        search: Sequence[DeltaGenerator] = st.columns(5)
        _number(search[0], "slo_p99_ms", 250.0, (1.0, 60_000.0), 50.0, "The latency target.")
        _number(search[1], "start_rate", 50.0, (1.0, 20_000.0), 10.0, "Offered msgs/s, step 1.")
        _number(search[2], "max_rate", 5000.0, (1.0, 20_000.0), 100.0, "No step offers more.")
        _number(search[3], "step_duration_s", 3.0, (1.0, 60.0), 1.0, "Measured seconds per step.")
        _number(search[4], "max_steps", 6, (1, 20), 1, "Rising steps at most.")


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
    if not ss.get(_key("open_loop")):
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
        ss[START_PROBLEMS] = list(exc.problems)
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
            st.error(widgets.plain("; ".join(exc.problems)))
        return []


def _detail(result: BenchmarkResult) -> None:
    tiles = bench_views.headline(result)
    for col, (label, value) in zip(st.columns(len(tiles)), tiles, strict=True):
        col.metric(label, value)
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
        changed = cached.with_bench_capacity(state.current(ss), result, option_id)
    except PlannerError as exc:
        ss[APPLIED] = ("error", "; ".join(exc.problems))
        return
    state.use(ss, changed)
    option = next(o for o in changed.onprem if o.id == option_id)
    ss[APPLIED] = (
        "success",
        f"On-prem option '{option_id}' now uses {option.capacity_msgs_per_s:g} msgs/s per "
        f"server ({option.capacity_source}). The scenario in use is now 'edited'; the Costs "
        "and Scale pages show it.",
    )


def _use_capacity(scenario: Scenario, result: BenchmarkResult) -> None:
    st.subheader("Use this capacity")
    try:
        capacity, source = cached.bench_capacity(result)
    except BenchmarkError as exc:
        st.info(widgets.plain("; ".join(exc.problems)))
        return
    onprem = [o.id for o in scenario.onprem]
    if not onprem:
        st.info("The scenario has no on-prem option: add one on the Scenario page.")
        return
    st.markdown(widgets.plain(f"capacity_msgs_per_s = {capacity:g}, capacity_source = “{source}”"))
    widgets.keep_choice(OPTION, onprem)
    cols: Sequence[DeltaGenerator] = st.columns([2, 1])
    option = cols[0].selectbox(
        "On-prem option measured",
        onprem,
        key=OPTION,
        help="A capacity measured for one stack says nothing about another: pick the one "
        "this server stands for.",
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
        request, problems = None, list(exc.problems)
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
