"""The Benchmark page under AppTest: the form's bounds, real runs against the reference
server and a refused port, Stop, the history, and "use this capacity" reaching the Scale
page. Results go to the temp store of the ``bench_db`` fixture."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from streamlit.testing.v1 import AppTest

from planner.bench.apply import apply_capacity
from planner.bench.peers import SmtpSink
from planner.bench.result import (
    BenchmarkResult,
    SecondSample,
    capacity_figure,
    capacity_from_benchmark,
)
from planner.bench.runner import run
from planner.bench.store import ResultStore
from planner.bench.targets import Target
from planner.bench.workload import Workload
from planner.dashboard import bench_views, state
from planner.dashboard.bench_form import LABELS, NUMBERS, bounds, default
from planner.net import free_port
from tests.dashboard.conftest import assert_clean, errors, metric

WAIT_S = 60


def wait_for(at: AppTest, done: Callable[[AppTest], bool]) -> AppTest:
    """Rerun the app (as the page's one-second fragment would) until ``done``."""
    limit = time.monotonic() + WAIT_S
    while not done(at):
        assert time.monotonic() < limit, "the page never got there"
        time.sleep(0.3)
        at.run()
    return at


def run_button(at: AppTest):
    """The form's Run button."""
    return at.button(key="bench_run")


def texts(elements) -> list[str]:
    """The values of st.info / st.success / st.error elements, markdown escapes removed."""
    return [e.value.replace("\\", "") for e in elements]


@pytest.fixture(name="page")
def _page(app: AppTest, open_page) -> AppTest:
    """The Benchmark page on the default scenario, with an empty results store."""
    return open_page(app, "benchmark")


@pytest.fixture(name="server_form")
def _server_form(page: AppTest) -> Callable[..., AppTest]:
    """Point the form at a server: ``server_form("127.0.0.1:25", protocol="pop3")``."""

    def fill(address: str, protocol: str = "smtp") -> AppTest:
        page.radio(key="bench:target").set_value("server").run()
        page.selectbox(key="bench:protocol").set_value(protocol).run()
        return page.text_input(key="bench:server").set_value(address).run()

    return fill


@pytest.fixture(name="smtp_result")
def _smtp_result(bench_db) -> Iterator[BenchmarkResult]:
    """A real closed-loop SMTP run against Postfix's smtp-sink, saved in the temp store."""
    sink = SmtpSink()
    try:
        target = Target(protocol="smtp", host="127.0.0.1", port=sink.port, server_label="smtp-sink")
        result = run(target, Workload(concurrency=4, messages=200, duration_s=10))
        yield ResultStore(bench_db).save(result)
    finally:
        sink.stop()


def bench_widgets(at: AppTest) -> dict[str, tuple[object, object, object]]:
    """Every keyed widget of the form on the page, by field name: (value, min, max), the
    bounds None for widgets without them."""
    kinds = ("number_input", "text_input", "radio", "selectbox", "toggle")
    return {
        w.key.removeprefix("bench:"): (w.value, getattr(w, "min", None), getattr(w, "max", None))
        for kind in kinds
        for w in getattr(at, kind)
        if w.key and w.key.startswith("bench:")
    }


class TestForm:
    def test_bounds_are_the_fields_limits(self, page):
        """Messages stop at 100,000 and the duration at 300 s in the fields themselves."""
        assert_clean(page)
        limits = {k: page.number_input(key=f"bench:{k}").max for k in ("messages", "duration_s")}

        assert limits == {"messages": 100_000, "duration_s": 300}

    def test_every_widget_is_the_request_models_field(self, page):
        """Every widget of the form, the hidden ones shown too (a server target, open loop,
        a capacity search, POP3), starts at the request model's default and has its
        minimum and maximum; the size starts at the scenario's average instead."""
        seen = bench_widgets(page)
        page.radio(key="bench:target").set_value("server").run()
        page.toggle(key="bench:open_loop").set_value(True).run()
        page.toggle(key="bench:capacity").set_value(True).run()
        seen = bench_widgets(page) | seen
        page.selectbox(key="bench:protocol").set_value("pop3").run()
        seen = bench_widgets(page) | seen

        assert_clean(page)
        assert set(seen) == set(LABELS)
        for name, (value, low, high) in seen.items():
            expected = 75.0 if name == "size_kb" else default(name)
            limits = bounds(name) if name in NUMBERS else (None, None)
            assert (name, value, low, high) == (name, expected, *limits)

    def test_size_starts_at_the_scenario_average(self, page):
        """The message size field starts at the scenario's avg_message_kb and follows it."""
        assert page.number_input(key="bench:size_kb").value == 75.0

        page.sidebar.selectbox(key=state.PICKER).set_value("company-250").run()

        assert page.number_input(key="bench:size_kb").value == 120.0

    def test_capacity_search_beyond_the_time_limit_is_refused(self, page):
        """A capacity search whose steps could outlast 300 s is an error and Run is off."""
        page.toggle(key="bench:capacity").set_value(True).run()
        page.number_input(key="bench:max_steps").set_value(20).run()
        page.number_input(key="bench:step_duration_s").set_value(60.0).run()

        assert errors(page) == [
            "Steps at most: 20 steps of 60 s (plus 2 refining steps and 1 s warm-up each) "
            "could run 1342 s; at most 300 s",
            "Highest rate (msgs/s): 3000 msgs/s for 61 s is 183,000 messages a step; at most 100,000",
        ]
        assert run_button(page).disabled

    @pytest.mark.parametrize(
        ("address", "protocol", "expected"),
        [
            (
                "mail.example.test",
                "smtp",
                "Server (HOST:PORT): 'mail.example.test' is not HOST:PORT (for example 127.0.0.1:2525)",
            ),
            ("127.0.0.1:70000", "smtp", "Server (HOST:PORT): port 70000 is out of range (1-65535)"),
            ("127.0.0.1:110", "pop3", "User: POP3 needs a user and a password"),
        ],
        ids=["no-port", "port-range", "pop3-no-login"],
    )
    def test_bad_target_is_refused_in_the_form(self, server_form, address, protocol, expected):
        """A bad HOST:PORT or a missing login is one line under the form; Run is off."""
        page = server_form(address, protocol)

        assert_clean(page)
        assert errors(page) == [expected]
        assert run_button(page).disabled


class TestRun:
    @pytest.mark.timeout(90)
    def test_embedded_run_completes_and_is_in_the_history(self, page, bench_db):
        """A short SMTP run against the reference server, with fields typed just before
        Run is clicked, is saved with those fields, listed and detailed."""
        page.number_input(key="bench:duration_s").set_value(2.0)
        page.number_input(key="bench:concurrency").set_value(4)
        run_button(page).click().run()

        wait_for(page, lambda at: bool(at.success) or bool(at.error))

        assert_clean(page)
        (saved,) = ResultStore(bench_db).list()
        assert texts(page.success) == [f"Finished: saved as result #{saved.id} (shown below)."]
        row = page.dataframe[0].value.iloc[0]
        assert (row["Id"], row["Protocol"], row["Shared machine"]) == (saved.id, "smtp", "yes")
        assert row["Target"].startswith("embedded mailplan serve (127.0.0.1:")
        assert metric(page, "Messages ok / failed") == f"{saved.messages_ok:,} / 0"
        assert saved.messages_ok > 0
        assert (saved.workload.size_kb, saved.workload.concurrency) == (75.0, 4)
        assert saved.duration_s < 3
        assert any(n.startswith("Server check ok") for n in saved.notes)

    @pytest.mark.timeout(60)
    def test_unreachable_server_gives_a_message(self, server_form, bench_db):
        """A port where nothing listens ends the job with one line, not a traceback."""
        port = free_port()
        page = server_form(f"127.0.0.1:{port}")
        run_button(page).click().run()

        wait_for(page, lambda at: bool(at.error))

        assert_clean(page)
        assert errors(page) == [f"Server 127.0.0.1:{port}: cannot connect (connection refused)"]
        assert not bench_db.exists()

    @pytest.mark.timeout(90)
    def test_stop_ends_the_run_and_discards_it(
        self, page, new_app, bench_db, tmp_path, monkeypatch
    ):
        """Stop ends a 60 s run at once, stops the reference server (its folder is gone)
        and saves nothing; meanwhile another tab cannot start a second run."""
        monkeypatch.setenv("TMPDIR", str(tmp_path))  # where the job's reference server lives
        page.number_input(key="bench:duration_s").set_value(60.0)
        page.number_input(key="bench:concurrency").set_value(2).run()
        run_button(page).click().run()
        wait_for(
            page,
            lambda at: "ok," in (at.get("progress")[0].proto.text if at.get("progress") else ""),
        )
        other = new_app()
        other.switch_page("planner/dashboard/pages/benchmark.py").run()
        assert run_button(other).disabled
        assert texts(other.info)[0].startswith("Another benchmark is running")
        assert list(tmp_path.glob("mailplan-bench-*"))

        page.button(key="bench_stop").click().run()
        wait_for(page, lambda at: bool(at.info) and "stopped" in at.info[0].value)

        assert_clean(page)
        assert texts(page.info)[0] == "The run was stopped; nothing was saved."
        assert not bench_db.exists()
        assert not list(tmp_path.glob("mailplan-bench-*"))
        assert not run_button(other.run()).disabled


class TestUseThisCapacity:
    def test_option_gets_the_capacity_and_scale_names_the_benchmark(
        self, page, smtp_result, open_page
    ):
        """With 'Use it as an indicative figure' ticked, 'Use this capacity' writes what
        `mailplan bench apply --indicative` writes into the chosen option (indicative),
        puts the result in use as 'edited', and the Scale page names the source."""
        page.run()
        scenario = state.current(page.session_state)
        capacity, source = capacity_from_benchmark(smtp_result)
        page.selectbox(key="bench_option").set_value("exchange-se").run()
        page.checkbox(key="bench_use_indicative").check().run()

        page.button(key="bench_use").click().run()

        assert_clean(page)
        assert page.sidebar.selectbox(key=state.PICKER).value == state.EDITED
        changed = state.current(page.session_state)
        assert changed == apply_capacity(scenario, smtp_result, "exchange-se")
        option = next(o for o in changed.onprem if o.id == "exchange-se")
        assert (option.capacity_origin, option.capacity_indicative) == ("benchmark", True)
        assert texts(page.success)[-1].startswith(
            f"On-prem option 'exchange-se' now uses {capacity:g} msgs/s per server (indicative) "
        )
        open_page(page, "scale")
        rows = page.dataframe[1].value.set_index("Option")
        assert rows.loc["exchange-se", "Capacity (msgs/s per server)"] == capacity
        assert (rows.loc["exchange-se", "From"], rows.loc["exchange-se", "How"]) == (
            "benchmark",
            source,
        )
        assert source.startswith(f"benchmark {smtp_result.id}, indicative (")
        assert rows.loc["postfix-dovecot", "From"] == "catalog"

    def test_a_short_run_is_refused_unless_ticked(self, page, smtp_result):
        """Without the box, a run under 30 s is one line saying how to accept it, and the
        scenario in use is unchanged."""
        page.run()

        page.button(key="bench_use").click().run()

        assert_clean(page)
        (line,) = [e for e in errors(page) if e.startswith("result ")]
        assert line.startswith(f"result {smtp_result.id}: measured ")
        assert line.endswith(
            "s, under the 30 s a capacity figure needs; run longer, or tick "
            "'Use it as an indicative figure'"
        )
        assert page.sidebar.selectbox(key=state.PICKER).value == "default"

    def test_list_and_detail_show_one_capacity(self, page, smtp_result):
        """The results list, the detail's tile and the figure 'use this capacity' writes
        are the same number, each labelled indicative."""
        page.run()
        capacity = capacity_figure(smtp_result)
        row = page.dataframe[0].value.iloc[0]

        assert capacity == smtp_result.msgs_per_s
        assert row["Capacity"] == f"{capacity:,.1f} msgs/s (indicative)"
        assert metric(page, "Capacity (indicative)") == f"{capacity:,.1f} msgs/s"
        assert any(w.value.startswith("Indicative: It measured ") for w in page.warning)

    def test_result_without_a_capacity_says_why(self, page, smtp_result, bench_db):
        """An open-loop result offers no button, only the reason."""
        fixed = smtp_result.model_copy(update={"id": None, "mode": "open"})
        saved = ResultStore(bench_db).save(fixed)
        page.run()

        page.selectbox(key="bench_result").set_value(saved.id).run()

        assert_clean(page)
        assert texts(page.info) == [
            f"result {saved.id}: an open-loop run at one fixed rate is not a capacity figure; "
            "use 'mailplan bench capacity' or a closed-loop run"
        ]
        assert not [b for b in page.button if b.key == "bench_use"]

    def test_a_pop3_result_sets_the_client_capacity(self, page, smtp_result, bench_db):
        """A POP3 result's fetch rate goes into client_capacity_fetches_per_s (client load),
        as `mailplan bench apply` writes it; the message rate is left alone."""
        pop3 = smtp_result.model_copy(update={"id": None, "protocol": "pop3"})
        saved = ResultStore(bench_db).save(pop3)
        scenario = state.current(page.session_state)
        page.run()
        page.selectbox(key="bench_result").set_value(saved.id).run()
        page.checkbox(key="bench_use_indicative").check().run()

        page.button(key="bench_use").click().run()

        assert_clean(page)
        changed = state.current(page.session_state)
        assert changed == apply_capacity(scenario, saved, page.selectbox(key="bench_option").value)
        assert texts(page.success)[-1].startswith("On-prem option '")
        assert " fetches/s per server (client load) (indicative) " in texts(page.success)[-1]

    def test_unapplied_form_changes_are_not_lost(self, page, smtp_result, open_page):
        """With a rejected edit pending on the Scenario page, nothing is replaced."""
        open_page(page, "scenario")
        page.number_input(key="f:organization.users").set_value(0).run()
        open_page(page, "benchmark")

        page.button(key="bench_use").click().run()

        assert_clean(page)
        assert errors(page)[-1].startswith("The Scenario page has changes with problems")
        assert page.sidebar.selectbox(key=state.PICKER).value == "default"


def test_result_chart_leaves_out_the_final_part_second(smtp_result):
    """A saved run's chart has one point per whole measured second, none for the last
    fraction of a second (whose count is not a rate)."""
    samples = [
        SecondSample(second=i, messages_ok=n, messages_failed=0)
        for i, n in enumerate((90, 110, 100, 4))
    ]
    result = smtp_result.model_copy(update={"duration_s": 3.05, "timeseries": samples})

    frame = bench_views.timeseries_frame(result)

    assert frame["t_s"].tolist() == [1, 2, 3]
    assert frame["msgs_per_s"].tolist() == [90, 110, 100]
