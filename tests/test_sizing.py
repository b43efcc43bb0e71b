"""Demand, servers and fleet arithmetic, worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from planner import evaluate
from planner.sizing import Inputs, demand, fleet, servers_needed, users_by_year
from tests.conftest import make_scenario


class TestUsers:
    @pytest.mark.parametrize(
        ("users", "growth", "expected"),
        [
            (250, 0.08, [250, 270, 292, 315, 340]),  # 291.6 -> 292, 314.93 -> 315, 340.12 -> 340
            (10, 0.05, [10, 11, 11, 12, 12]),  # 10.5 -> 11 (half up), 11.025, 11.576, 12.155
            (100, -0.1, [100, 90, 81, 73, 66]),  # 72.9 -> 73, 65.61 -> 66
            (1, 0.0, [1, 1, 1, 1, 1]),
        ],
        ids=["default", "half-up", "shrinking", "single"],
    )
    def test_users_by_year(self, users, growth, expected):
        """users_y = floor(users * (1+g)^(y-1) + 0.5)."""
        org = Inputs({"users": users, "user_growth_per_year": growth})
        assert users_by_year(org, 5)[0].tolist() == expected

    def test_demand(self):
        """Messages a day, peak rate and storage at the end of each year."""
        org = Inputs.of(
            make_scenario(
                organization={
                    "users": 200,
                    "mailbox_gb_per_user": 2,
                    "mailbox_growth_gb_per_user_year": 1.5,
                }
            ).organization
        )
        d = demand(org, 3)
        assert d.messages_per_day[0].tolist() == [6000] * 3  # 200 * (10 + 20)
        assert d.peak_msgs_per_s[0].tolist() == pytest.approx([6000 * 2 / 86400] * 3)
        assert d.storage_tb[0].tolist() == pytest.approx([0.7, 1.0, 1.3])  # 200 * (2 + 1.5y) / 1000


class TestServers:
    @pytest.mark.parametrize(
        ("redundancy", "expected"),
        [(0, [3, 3]), (1, [4, 4]), (2, [6, 6])],
        ids=["none", "n+1", "2n"],
    )
    def test_redundancy(self, redundancy, expected):
        """Redundancy adds one server (n+1) or doubles them (2n)."""
        org = Inputs(
            {
                "users": 1000,
                "user_growth_per_year": 0,
                "messages_sent_per_user_day": 100,
                "messages_received_per_user_day": 332,
                "peak_factor": 3,
                "mailbox_gb_per_user": 1,
                "mailbox_growth_gb_per_user_year": 0,
            }
        )
        d = demand(org, 2)  # peak = 1000 * 432 * 3 / 86400 = 15 msgs/s
        opt = Inputs(
            {
                "capacity_msgs_per_s": 10,
                "target_utilization": 0.5,
                "storage_tb_per_server": 100,
                "redundancy": redundancy,
            }
        )
        assert servers_needed(d, opt)[0].tolist() == expected  # ceil(15 / 5) = 3

    def test_storage_drives_servers(self):
        """Storage can need more servers than the message rate; exact multiples need no extra."""
        org = Inputs(
            {
                "users": 100,
                "user_growth_per_year": 0,
                "messages_sent_per_user_day": 1,
                "messages_received_per_user_day": 1,
                "peak_factor": 1,
                "mailbox_gb_per_user": 21,
                "mailbox_growth_gb_per_user_year": 7,
            }
        )
        d = demand(org, 3)  # storage 2.8, 3.5, 4.2 TB
        opt = Inputs(
            {
                "capacity_msgs_per_s": 100,
                "target_utilization": 0.7,
                "storage_tb_per_server": 1,
                "redundancy": 0,
            }
        )
        assert servers_needed(d, opt)[0].tolist() == [4, 5, 6]  # 2.8/0.7 = 4 exactly

    def test_at_least_one_server(self):
        """An organisation with no mail still needs one server."""
        org = Inputs(
            {
                "users": 1,
                "user_growth_per_year": 0,
                "messages_sent_per_user_day": 0,
                "messages_received_per_user_day": 0,
                "peak_factor": 1,
                "mailbox_gb_per_user": 0,
                "mailbox_growth_gb_per_user_year": 0,
            }
        )
        opt = Inputs(
            {
                "capacity_msgs_per_s": 1,
                "target_utilization": 1,
                "storage_tb_per_server": 1,
                "redundancy": 0,
            }
        )
        assert servers_needed(demand(org, 2), opt)[0].tolist() == [1, 1]


class TestFleet:
    def test_growth_and_refresh(self):
        """New servers are bought as the fleet grows; each is replaced refresh_years later."""
        servers = np.array([[2.0, 2, 3, 3, 4, 4, 4]])
        purchases, residual = fleet(servers, np.array([[3.0]]))
        # year 1: 2 new; year 3: 1 new; year 4: the 2 from year 1 replaced; year 5: 1 new;
        # year 6: the one from year 3 replaced; year 7: the 2 from year 4 replaced.
        assert purchases[0].tolist() == [2, 0, 1, 2, 1, 1, 2]
        # at the end of year 7: bought y5 (1, used 3/3 -> 0), y6 (1, used 2/3 -> 1/3),
        # y7 (2, used 1/3 -> 2/3 each)
        assert residual[0] == pytest.approx(1 / 3 + 2 * 2 / 3)

    def test_shrinking_fleet_retires_oldest_first(self):
        """When fewer servers are needed the oldest retire, and are not replaced."""
        servers = np.array([[2.0, 3, 1, 1]])
        purchases, residual = fleet(servers, np.array([[3.0]]))
        # year 3: keep the newest (bought y2); year 4: nothing due (y2 + 3 = 5)
        assert purchases[0].tolist() == [2, 1, 0, 0]
        assert residual[0] == pytest.approx(0.0)  # bought y2, used 3 of 3 years by end of y4

    def test_vectorised_over_rows(self):
        """Rows with different refresh cycles are handled independently."""
        servers = np.array([[1.0, 1, 1], [1.0, 1, 1]])
        purchases, _ = fleet(servers, np.array([[1.0], [5.0]]))
        assert purchases.tolist() == [[1, 1, 1], [1, 0, 0]]


class TestCapacitySources:
    def test_catalog_capacity_scaled_by_stack(self):
        """Exchange uses the server profile's capacity times its capacity_scale."""
        ev = evaluate(
            make_scenario(onprem=[{"id": "ex", "stack": "exchange-se", "server": "smb-1u"}])
        )
        option = ev.option("ex")
        server = ev.catalog.server("smb-1u")
        stack = ev.catalog.stack("exchange-se")
        assert (
            option.capacity_msgs_per_s
            == server.capacity_msgs_per_s.value * stack.capacity_scale.value
        )
        assert option.capacity_kind == "catalog"
        assert "exchange-se capacity_scale" in option.capacity_source

    def test_with_capacity_names_the_benchmark(self):
        """A measured capacity written with with_capacity reaches the sizing and names its source."""
        from planner import with_capacity

        s = make_scenario(onprem=[{"id": "pd", "stack": "postfix-dovecot", "server": "smb-1u"}])
        s = with_capacity(s, "pd", 12.5, "benchmark 7 (2026-11-29, 75 KB, 2 cores)")
        ev = evaluate(s)
        assert ev.sizing["capacity_msgs_per_s"].tolist() == [12.5] * 3
        assert ev.option("pd").capacity_kind == "benchmark"

    def test_with_capacity_unknown_option(self):
        """with_capacity names the on-prem options when the id is wrong."""
        from planner import ScenarioError, with_capacity

        s = make_scenario(onprem=[{"id": "pd", "stack": "postfix-dovecot", "server": "smb-1u"}])
        with pytest.raises(ScenarioError, match="no on-prem option 'x' \\(on-prem options: pd\\)"):
            with_capacity(s, "x", 1, "manual")
