"""Fixtures for the dashboard: the app under AppTest from its entrypoint, page switching,
and scenario files to upload."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from streamlit.components.v2.component_manager import BidiComponentManager
from streamlit.runtime.scriptrunner.script_cache import ScriptCache
from streamlit.testing.v1 import AppTest, app_test, local_script_runner

from tests.conftest import BASE_SCENARIO, ROOT

APP = ROOT / "app.py"
PAGES = {
    "scenario": "planner/dashboard/pages/scenario.py",
    "costs": "planner/dashboard/pages/costs.py",
    "risk": "planner/dashboard/pages/risk.py",
    "scale": "planner/dashboard/pages/scale.py",
    "benchmark": "planner/dashboard/pages/benchmark.py",
    "compare": "planner/dashboard/pages/compare.py",
    "report": "planner/dashboard/pages/report.py",
}


def scenario_yaml(**changes: Any) -> bytes:
    """BASE_SCENARIO (100 users, 3 years, a flat 6 USD plan) with changes, as YAML bytes;
    ``organization`` keys are merged."""
    data = copy.deepcopy(BASE_SCENARIO)
    data["organization"].update(changes.pop("organization", {}))
    data.update(changes)
    return yaml.safe_dump(data).encode()


ONPREM = {"id": "postfix", "stack": "postfix-dovecot", "server": "smb-1u"}
"""An on-prem option from the catalog, to add to BASE_SCENARIO."""


def table_rows(at, index=0):
    """A st.table as {row label: {column: text}}, ' (cheapest)' cut from the labels."""
    rows = at.table[index].value.to_dict(orient="index")
    return {str(k).removesuffix(" (cheapest)"): v for k, v in rows.items()}


def find_table(at, *, column=None, row=None):
    """The one st.table with this column (or this row label), as :func:`table_rows` gives it:
    pages draw a varying number of tables, so tests find theirs by what it holds."""
    found = []
    for i, table in enumerate(at.table):
        frame = table.value
        labels = [str(k).removesuffix(" (cheapest)") for k in frame.index]
        if (column is not None and column in frame.columns) or (row is not None and row in labels):
            found.append(i)
    assert len(found) == 1, (column, row, found)
    return table_rows(at, found[0])


def errors(block):
    """The error messages in a block (the page or the sidebar), markdown escapes removed."""
    return [re.sub(r"\\(.)", r"\1", e.value) for e in block.error]


def metric(at, label):
    """The value of the st.metric with this label."""
    return next(m.value for m in at.metric if m.label == label)


def chart_specs(at):
    """Every plotly figure on the page, as its JSON spec."""
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def assert_clean(at):
    """No exception reached the page."""
    assert not at.exception, [e.message for e in at.exception]


@pytest.fixture(name="bench_db", autouse=True)
def _bench_db(tmp_path, monkeypatch) -> Any:
    """Every dashboard test reads and writes benchmark results in a temp store
    (``MAILPLAN_BENCH_DB``, which the Benchmark page and ``mailplan bench`` both use)."""
    path = tmp_path / "bench" / "results.sqlite"
    monkeypatch.setenv("MAILPLAN_BENCH_DB", str(path))
    return path


@pytest.fixture(name="components", scope="session")
def _components() -> BidiComponentManager:
    """Streamlit's registry of the installed packages' components, discovered once per
    worker. A new AppTest scans every installed distribution's files for component
    manifests on its first run (about 0.25 CPU-s, most of a first run); a Streamlit
    server does that once for all its sessions, and so do the tests: the venv does not
    change under them and the app registers no component of its own."""
    manager = BidiComponentManager()
    manager.discover_and_register_components(start_file_watching=False)
    return manager


@pytest.fixture(name="_one_script_cache", scope="session", autouse=True)
def _one_script_cache() -> Iterator[None]:
    """One cache of the app's compiled scripts per worker, as a Streamlit server keeps one
    for all its sessions: AppTest makes a new one for every run, so each run compiled
    app.py and its page again (the Scenario and Benchmark pages, 0.03-0.04 CPU-s)."""
    cache = ScriptCache()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(app_test, "ScriptCache", lambda: cache)
        mp.setattr(local_script_runner, "ScriptCache", lambda: cache)
        yield


@pytest.fixture(name="new_app")
def _new_app(components: BidiComponentManager) -> Callable[[], AppTest]:
    """Start the dashboard in a new session (its own session state) and run it once."""

    def new_app() -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=60)
        # AppTest keeps the registry it discovered here, for its later runs; the one
        # discovered at the start of the session is the same.
        at._bidi_component_manager = components
        return at.run()

    return new_app


@pytest.fixture(name="app")
def _app(new_app: Callable[[], AppTest]) -> AppTest:
    """The dashboard after its first run (the Costs page on the default scenario)."""
    return new_app()


def open_sections(at: AppTest) -> AppTest:
    """Open every option's section of the Scenario page, as a user does to edit one (their
    fields are drawn only while open), and run."""
    from planner.dashboard import state

    for kind in ("onprem", "cloud"):
        for i in range(len(state.draft_value(at.session_state, (kind,)) or [])):
            at.session_state[f"open_{kind}_{i}"] = True  # the expander's key
    return at.run()


@pytest.fixture(name="open_page")
def _open_page() -> Callable[[AppTest, str], AppTest]:
    """Switch the app to a page by name and run it (the Scenario page with every option's
    section open)."""

    def open_page(at: AppTest, name: str) -> AppTest:
        at.switch_page(PAGES[name]).run()
        return open_sections(at) if name == "scenario" else at

    return open_page


@pytest.fixture(name="upload")
def _upload() -> Callable[[AppTest, str, bytes], AppTest]:
    """Upload a file through the sidebar and run."""

    def upload(at: AppTest, name: str, data: bytes) -> AppTest:
        at.file_uploader(key="upload").set_value((name, data, "application/octet-stream"))
        return at.run()

    return upload


def widget_starting(widgets, prefix):
    """The one widget whose key starts with ``prefix`` (editor keys end with a token)."""
    (found,) = [w for w in widgets if (w.key or "").startswith(prefix)]
    return found


def edit_range(at, key, path, form, **params):
    """Set the input at field ``path`` to a ``form`` range ("none": a plain number) in the
    range editor ``key`` (choosing the input in its picker when it has one), then apply."""
    picker = f"{key}:input"
    if any(s.key == picker for s in at.selectbox) and at.selectbox(key=picker).value != path:
        at.selectbox(key=picker).set_value(path).run()
    box = widget_starting(at.selectbox, f"{key}:form:{path}:")
    if box.value != form:
        box.set_value(form).run()
    for param, value in params.items():
        widget_starting(at.number_input, f"{key}:{path}:{form}:{param}:").set_value(value)
    return at.button(key=f"{key}:apply:{path}").click().run()
