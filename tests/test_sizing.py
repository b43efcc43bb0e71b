"""Demand, servers and fleet arithmetic, worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from planner import evaluate
from planner.sizing import Inputs, demand, fleet, fleet_of, servers_needed, users_by_year
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

    def test_servers_in_service_today_earn_no_residual(self):
        """Today's servers cost nothing in the model (sunk), so they earn no residual credit;
        the servers bought during the horizon do."""
        servers = np.array([[2.0, 3, 3]])
        f = fleet_of(servers, np.array([[5.0]]), initial_age=np.array([[1.0]]))
        # the 2 of today are not bought and not due (age 1..3 < 5); 1 bought in year 2,
        # used 2 of 5 years by the end of year 3 -> 3/5
        assert f.purchases[0].tolist() == [0, 1, 0]
        assert f.residual_units[0] == pytest.approx(3 / 5)

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


# A standalone option whose hardware comes from a profile; nothing else from the catalog
# matters to the server count.
SIZED = {
    "id": "box",
    "target_utilization": 0.5,
    "redundancy": "none",
    "copies": 2,
    "storage_index_overhead": 0.1,
    "storage_retention_overhead": 0.1,
    "storage_filesystem_overhead": 0.0,
}


def _profiles(catalog):
    """The bundled catalog with two hand-checkable profiles: 'small', 2 x 4 TB in RAID 1
    (4 TB usable) at 4,000 USD, and 'big', 8 x 4 TB in RAID 6 (24 TB) at 9,000 USD."""
    from planner.models import Sourced

    src = "https://www.dell.com/en-us/shop/servers-storage-and-networking/sf/poweredge"

    def fact(v):
        return Sourced(value=v, source=src, as_of="2026-12-01")

    base = catalog.servers[0]
    small = base.model_copy(
        update={
            "id": "small",
            "server_price": fact(4000),
            "storage_tb_per_server": None,
            "disks": fact(2),
            "disk_tb": fact(4),
            "raid": "raid1",
            "capacity_msgs_per_s": fact(100),
        }
    )
    big = small.model_copy(
        update={"id": "big", "server_price": fact(9000), "disks": fact(8), "raid": "raid6"}
    )
    return catalog.model_copy(update={"servers": [small, big]})


class TestProfilesCopiesOverheads:
    def test_usable_tb_after_raid(self, catalog):
        """Usable TB: RAID 1 keeps half of 2 x 4 TB (4), RAID 6 all but two of 8 x 4 TB (24)."""
        cat = _profiles(catalog)
        assert [s.usable_tb() for s in cat.servers] == [4.0, 24.0]

    def test_pick_copies_and_overheads_by_hand(self, catalog):
        """600 users x 10 GB = 6 TB, x (1 + 0.1 index + 0.1 retention) x 2 copies = 14.4 TB.
        small: 14.4 / (4 TB x 0.5) = 7.2 -> 8 servers (32,000 USD); big: 14.4 / (24 x 0.5)
        = 1.2 -> 2 servers (18,000 USD). Sizing picks big, bound by storage at 14.4 / 48 TB."""
        cat = _profiles(catalog)
        scenario = make_scenario(
            organization={"users": 600, "mailbox_gb_per_user": 10},
            onprem=[
                {**SIZED, "server": "auto"},
                {**SIZED, "id": "pinned", "server": "small"},
            ],
            cloud=[],
        )
        ev = evaluate(scenario, cat)
        picked = ev.option("box")
        assert picked.server == "big"
        assert ev.servers["box"].tolist() == [2, 2, 2]
        assert ev.servers["pinned"].tolist() == [8, 8, 8]
        assert ev.npv("box") < ev.npv("pinned")
        rows = ev.sizing[ev.sizing["option"] == "box"]
        assert rows["binding"].tolist() == ["storage"] * 3
        assert rows["storage_utilisation"].tolist() == pytest.approx([14.4 / 48] * 3)
        assert ev.binding_sentence("box", 3).startswith(
            "Year 3: 2 servers, set by storage (14.4 of 48.0 TB)"
        )


class TestClientLoad:
    def test_heavy_imap_users_are_set_by_client_load(self):
        """1,000 users fetching 600 messages an hour = 166.7 fetches/s; a server serves 50 at
        most, 35 at 70 % utilisation: ceil(166.7 / 35) = 5 servers, more than storage (1 TB on
        10 TB) or the message rate need, so client load sets the count."""
        box = {
            "id": "box",
            "server_price": 5000,
            "capacity_msgs_per_s": 500,
            "storage_tb_per_server": 10,
            "client_capacity_fetches_per_s": 50,
            "redundancy": "none",
            "target_utilization": 0.7,
        }
        ev = evaluate(
            make_scenario(
                organization={
                    "users": 1000,
                    "mailbox_gb_per_user": 1,
                    "client_fetches_per_user_hour": 600,
                },
                onprem=[box],
                cloud=[],
            )
        )
        rows = ev.sizing
        assert rows["servers"].tolist() == [5, 5, 5]
        assert rows["binding"].tolist() == ["client_load"] * 3
        assert rows["client_load_utilisation"].iloc[0] == pytest.approx(
            1000 * 600 / 3600 / (5 * 50)
        )

    def test_without_client_figures_client_load_sets_nothing(self):
        """Without a user profile or fetch rate, client load needs no server (today's sizing)."""
        ev = evaluate(
            make_scenario(
                onprem=[
                    {
                        "id": "box",
                        "server_price": 1,
                        "capacity_msgs_per_s": 500,
                        "storage_tb_per_server": 10,
                    }
                ],
                cloud=[],
            )
        )
        assert ev.sizing["client_load_utilisation"].tolist() == [0, 0, 0]


def test_2n_is_read_as_two_copies():
    """redundancy: 2n means a second copy of every mailbox now: copies 2, no spare, and a
    one-line warning says so."""
    box = {"id": "box", "server_price": 1, "capacity_msgs_per_s": 500, "storage_tb_per_server": 10}
    ev = evaluate(make_scenario(onprem=[{**box, "redundancy": "2n"}], cloud=[]))
    option = ev.option("box")
    assert (option.copies, option.redundancy) == (2, "none")
    warnings = ev.comparison.options[0].warnings
    assert "redundancy: 2n is read as copies: 2 (a second copy of every mailbox)" in warnings
