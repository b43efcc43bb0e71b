"""Run the dashboard in a child process and drive it from a browser: ``streamlit run
app.py`` on a free loopback port, and the Chromium flags that keep a browser on loopback.
No Streamlit here (it runs in the child), so the browser tests and
``benchmarks/dashboard.py`` share this without loading it.

Usage::

    with running() as url:          # http://127.0.0.1:<port>, healthy
        ...                          # Playwright: launch(executable_path=str(find_chromium()),
                                     #   args=BROWSER_ARGS)
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

from planner.net import free_port
from planner.report.chromium import OFFLINE_FLAGS

__all__ = ["APP", "BROWSER_ARGS", "command", "running", "wait_healthy"]

APP = Path(__file__).resolve().parents[2] / "app.py"
"""The dashboard's entrypoint."""

BROWSER_ARGS: tuple[str, ...] = ("--no-sandbox", "--disable-gpu", *OFFLINE_FLAGS)
"""Headless Chromium flags for Playwright: no sandbox (no user namespaces as root), no
GPU, and no way off loopback (the report's offline flags)."""

START_TIMEOUT_S = 60.0


def command(port: int) -> list[str]:
    """``streamlit run app.py`` on 127.0.0.1:``port``, headless, no usage statistics, no
    file watcher."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until ``url/_stcore/health`` answers ``ok``; RuntimeError with the server's log
    when it exits or is not healthy within START_TIMEOUT_S."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.read() == b"ok":
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit is not healthy:\n{log.read_text()}") from None
            time.sleep(0.2)


@contextlib.contextmanager
def running(folder: Path | None = None, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """The dashboard on a free loopback port; yields its URL once healthy, stops it after.

    Its log and benchmark store (``MAILPLAN_BENCH_DB``) go to ``folder`` (default: a new
    temporary folder); ``env`` is added to this process's environment."""
    folder = folder or Path(tempfile.mkdtemp(prefix="mailplan-dashboard-"))
    port = free_port()
    log = folder / "streamlit.log"
    child_env = {**os.environ, "MAILPLAN_BENCH_DB": str(folder / "bench.sqlite"), **(env or {})}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command(port), cwd=APP.parent, stdout=out, stderr=subprocess.STDOUT, env=child_env
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
