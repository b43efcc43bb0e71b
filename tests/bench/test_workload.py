"""Workloads and the messages they make."""

from __future__ import annotations

import pytest

from planner.bench.workload import MessageFactory, Workload, mix_sizes_kb, workload_from_scenario
from planner.errors import BenchmarkError
from tests.conftest import make_scenario


class TestMessages:
    @pytest.mark.parametrize("size_kb", [0.5, 1, 10, 75], ids=["0.5KB", "1KB", "10KB", "75KB"])
    def test_size_is_what_was_asked(self, size_kb):
        """A fixed-size message is size_kb x 1024 bytes (to 2 bytes), terminator aside."""
        msg = MessageFactory(Workload(size_kb=size_kb), "run").next()

        assert size_kb * 1024 - 2 <= msg.size_bytes <= size_kb * 1024
        assert len(msg.data) == msg.size_bytes + 3

    def test_wire_format(self):
        """CRLF line ends, no line starting with a dot, ends with CRLF.CRLF."""
        msg = MessageFactory(Workload(size_kb=5), "run").next()
        lines = msg.data[:-3].split(b"\r\n")

        assert msg.data.endswith(b"\r\n.\r\n")
        assert b"\n" not in msg.data.replace(b"\r\n", b"")
        assert not any(line.startswith(b".") for line in lines)
        assert all(len(line) <= 78 for line in lines)

    def test_ids_are_unique_and_in_the_headers(self):
        """Each message has its own id, in X-Mailplan-Bench-Id and Message-ID."""
        factory = MessageFactory(Workload(), "abc", worker=3)
        msgs = [factory.next() for _ in range(100)]

        assert len({m.bench_id for m in msgs}) == 100
        assert msgs[0].bench_id == "abc.3.00000001"
        assert b"X-Mailplan-Bench-Id: abc.3.00000001\r\n" in msgs[0].data
        assert b"Message-ID: <abc.3.00000001@bench.mailplan.test>\r\n" in msgs[0].data

    def test_recipient_mix(self):
        """With local_share 0.7 about 70 % of recipients are local (seeded)."""
        wl = Workload(local_share=0.7, recipients_per_message=2, seed=4)
        factory = MessageFactory(wl, "run")
        rcpts = [r for _ in range(2000) for r in factory.next().rcpt_lines]

        assert len(rcpts) == 4000
        assert rcpts.count(b"RCPT TO:<user@bench.test>\r\n") / 4000 == pytest.approx(0.7, abs=0.03)


class TestSizeMix:
    def test_realistic_mix_keeps_the_mean(self):
        """The mix's equally likely sizes average exactly size_kb and spread widely."""
        sizes = mix_sizes_kb(75, "realistic")

        assert sum(sizes) / len(sizes) == pytest.approx(75)
        assert min(sizes) < 25 < 200 < max(sizes)
        assert sizes == sorted(sizes)

    def test_fixed(self):
        """A fixed mix is the one size."""
        assert mix_sizes_kb(10, "fixed") == [10]


class TestFromScenario:
    def test_hand_computed(self):
        """Sent 10, received 20, 50 % outbound: 1 - 10 x 0.5 / 30 = 0.8333 local."""
        wl = workload_from_scenario(make_scenario())

        assert wl.size_kb == 50
        assert wl.size_mix == "realistic"
        assert wl.local_share == pytest.approx(0.8333)


class TestBounds:
    def test_defaults_bound_count_and_time(self):
        """Without flags a run stops at 1000 messages and within an hour."""
        wl = Workload()

        assert wl.message_budget == 1000
        assert wl.time_limit_s == 3600

    def test_duration_alone_bounds_by_time(self):
        """With only a duration, time is the bound."""
        wl = Workload(duration_s=5)

        assert (wl.message_budget, wl.time_limit_s) == (None, 5)

    def test_shares_add_up(self):
        """Three workers' shares add up to the whole count, sessions and rate."""
        wl = Workload(messages=1001, concurrency=50, rate_msgs_per_s=300, workers=3)
        parts = [wl.share(i, 3) for i in range(3)]

        assert sum(p.messages for p in parts) == 1001
        assert sum(p.concurrency for p in parts) == 50
        assert sum(p.rate_msgs_per_s for p in parts) == pytest.approx(300)

    def test_malformed_sender(self):
        """A sender that is not an address is refused naming the flag."""
        with pytest.raises(BenchmarkError, match="--from: 'a b' is not an address"):
            Workload(sender="a b")
