"""The embedded target's side of the contract with the reference server's files.

(Starting ``mailplan serve`` itself is covered by test_cli.TestEmbedded once the server
is installed.)"""

from __future__ import annotations

import json
import re

import pytest

from planner.bench.embedded import DOMAIN, EmbeddedServer
from planner.bench.workload import Workload

NAME = re.compile(r"^\d+\.M\d+P\d+Q\d+\.[^/:]+,S=(\d+),W=(\d+)$")


@pytest.fixture
def server():
    """An EmbeddedServer that is never started: its data folder and users only."""
    srv = EmbeddedServer(users=2)
    yield srv
    srv.close()


class TestSeed:
    def test_maildir_names_and_sizes(self, server):
        """Seeded files sit in DATA_DIR/mailboxes/<domain>/<local>/new with LF line ends,
        named <sec>.M<usec>P<pid>Q<n>.<host>,S=<size>,W=<size with CRLF>."""
        written = server.seed(3, Workload(size_kb=2))
        files = sorted((server.mailbox(f"user1@{DOMAIN}") / "new").iterdir())

        assert written == 6
        assert len(files) == 3
        for f in files:
            m = NAME.match(f.name)
            data = f.read_bytes()
            assert m is not None, f.name
            assert b"\r\n" not in data
            assert int(m.group(1)) == len(data)
            assert int(m.group(2)) == len(data) + data.count(b"\n")
        assert all((server.mailbox("user2@bench.test") / d).is_dir() for d in ("tmp", "new", "cur"))
        assert server.delivered_files() == 6

    def test_close_removes_the_data_dir(self):
        """close() removes the temporary data folder."""
        srv = EmbeddedServer()
        srv.seed(1, Workload())
        srv.close()

        assert not srv.data_dir.exists()


class TestCounters:
    def test_reads_stats_json(self, server):
        """counters() is DATA_DIR/stats.json as written by the server; None before it exists."""
        assert server.counters() is None
        stats = {"accepted": 5, "delivered_local": 5, "queued": 0, "rejected": {"relay_denied": 0}}
        (server.data_dir / "stats.json").write_text(json.dumps(stats))

        assert server.counters() == stats
