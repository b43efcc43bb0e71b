"""The Locust users: a real headless master and worker on 127.0.0.1, then import-locust."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from planner.net import free_port
from tests.bench.servers import SmtpSink

pytestmark = pytest.mark.timeout(120)

# The locustfile is never imported here: Locust patches the process with gevent.
LOCUSTFILE = Path(__file__).resolve().parents[2] / "planner" / "bench" / "locustfile.py"


def locust_cmd() -> list[str]:
    """The locust console script of this environment."""
    exe = Path(sys.executable).with_name("locust")
    return [str(exe if exe.exists() else shutil.which("locust"))]


@pytest.fixture(scope="module")
def locust_run(tmp_path_factory):
    """SmtpUser x 4 for 3 s, one master and one worker, into smtp-sink; CSV written."""
    folder = tmp_path_factory.mktemp("locust")
    prefix = folder / "run"
    sink = SmtpSink()
    port = str(free_port())
    common = [*locust_cmd(), "-f", str(LOCUSTFILE), "SmtpUser", "--size-kb", "2"]
    master_args = ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port]
    master_args += ["--expect-workers", "1", "--headless", "-u", "4", "-r", "4", "-t", "3s"]
    master_args += ["--host", sink.address, "--csv", str(prefix), "--csv-full-history"]
    worker_args = ["--worker", "--master-host", "127.0.0.1", "--master-port", port]
    with (folder / "master.log").open("w") as mlog, (folder / "worker.log").open("w") as wlog:
        master = subprocess.Popen(
            [*common, *master_args], stdout=mlog, stderr=subprocess.STDOUT, cwd=folder
        )
        worker = subprocess.Popen(
            [*common, *worker_args], stdout=wlog, stderr=subprocess.STDOUT, cwd=folder
        )
    try:
        master.wait(timeout=90)
        worker.wait(timeout=30)
        received = sink.received()
    finally:
        for proc in (master, worker):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        sink.stop()
    assert master.returncode == 0, (folder / "master.log").read_text()[-2000:]
    return prefix, received, sink.address


class TestLocust:
    def test_import_matches_what_the_sink_received(self, locust_run, bench):
        """Every message Locust counted reached smtp-sink; at most the 4 sessions cut by
        the stop reached the sink without being counted."""
        prefix, received, address = locust_run
        r = bench(
            "import-locust",
            prefix,
            "--target",
            address,
            "--users",
            4,
            "--size-kb",
            2,
            "--format",
            "json",
            "--no-save",
        )
        result = json.loads(r.stdout)

        assert r.returncode == 0, r.stderr
        assert result["messages_ok"] > 0
        assert result["messages_ok"] <= received <= result["messages_ok"] + 4
        assert result["messages_failed"] == 0
        assert result["latency_phase"] == "data"
        assert {"connect", "greeting", "ehlo", "envelope", "data", "message"} <= result[
            "phases"
        ].keys()
        assert result["environment"]["load_generator"].startswith("locust ")
        assert result["msgs_per_s"] > 0
        assert sum(s["messages_ok"] for s in result["timeseries"]) == result["messages_ok"]

    def test_import_saves_into_the_store(self, locust_run, bench, tmp_path):
        """import-locust saves like any run: it is listed afterwards."""
        prefix, _, address = locust_run
        db = tmp_path / "r.sqlite"
        r = bench("import-locust", prefix, "--target", address, "--db", db)
        listed = json.loads(bench("list", "--db", db, "--format", "json").stdout)

        assert r.returncode == 0, r.stderr
        assert [row["target"] for row in listed] == [address]

    def test_wrong_protocol_is_one_line(self, locust_run, bench):
        """Asking for POP3 rows in an SMTP run names what was found."""
        prefix, _, _ = locust_run
        r = bench("import-locust", prefix, "--protocol", "pop3", "--no-save")

        assert r.returncode == 2
        assert r.stderr.splitlines() == [
            f"mailplan: {prefix}_stats.csv: no 'POP3 message' row (request types found: SMTP); "
            "was the run made with planner/bench/locustfile.py and --protocol right?"
        ]
