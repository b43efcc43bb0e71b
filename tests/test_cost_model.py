"""The cost model's lines worked out by hand: every category, today's system and the move,
labour as existing staff, availability and downtime, the nominal price basis, capex/opex
and break-even on NPV. Each figure in the comments was computed on paper."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner import evaluate
from tests.conftest import make_scenario

# Today's system: two servers (copies: 2) bought two years before year 1, every on-prem
# line set inline. 100 users, 10 GB mailboxes (1 TB), no growth.
TODAY = {
    "id": "box",
    "server_price": 6000,
    "server_watts": 200,
    "capacity_msgs_per_s": 50,
    "storage_tb_per_server": 4,
    "redundancy": "none",
    "refresh_years": 3,
    "target_utilization": 0.5,
    "electricity_per_kwh": 0.2,
    "pue": 1.5,
    "rack_per_u_month": 5,
    "rack_units": 2,
    "admin_hours_per_month": 10,
    "admin_hours_per_server_month": 2,
    "admin_hours_per_100_users_month": 1,
    "admin_hourly_cost": 50,
    "licence_per_server_year": 100,
    "licence_per_user_year": 5,
    "filtering_per_user_month": 1,
    "backup_per_tb_month": 6,
    "outbound_relay_per_1000": 0.1,
    "outbound_relay_per_gb": 0,
    "setup_cost": 1000,
    "copies": 2,
    "cores": 8,
    "os_licence_per_core_year": 10,
    "os_cal_per_user_year": 2,
    "warranty_years": 1,
    "support_pct_per_year": 0.1,
    "backup_copies": 3,
    "backup_software_per_server_year": 100,
    "dr": "warm",
    "dr_cold_per_tb_month": 0,
    "network_per_month": 50,
    "monitoring_per_server_month": 5,
    "helpdesk_hours_per_user_year": 0.5,
    "helpdesk_hourly_cost": 50,
    "server_availability": 0.99,
    "sender_auth_hours_per_domain_month": 1,
    "sender_auth_setup_hours_per_domain": 6,
}
# The cloud option it could move to.
CLOUD = {
    "id": "c",
    "plan": "custom",
    "price_per_user_month": 5,
    "admin_hours_per_month": 2,
    "admin_hours_per_100_users_month": 1,
    "helpdesk_hours_per_user_year": 0.25,
    "admin_hourly_cost": 50,
    "migration_per_user": 20,
    "exit_cost": 3000,
    "availability": 0.999,
    "sender_auth_hours_per_domain_month": 0.5,
    "sender_auth_setup_hours_per_domain": 2,
}


def scenario(**changes: Any) -> Any:
    """Today's system and the cloud option, 3 years from 2027-01-01 at 10 %, labour +10 % a
    year, USD 1,000 an hour of outage, a move with a 4 USD tool, 2 months of dual running,
    half an hour of training per user, and mail sent from 2 domains."""
    base: dict[str, Any] = {
        "organization": {"sending_domains": 2},
        "horizon_years": 3,
        "discount_rate": 0.1,
        "start_date": "2027-01-01",
        "current": "box",
        "current_servers_bought": 2025,
        "escalation": {"labour": 0.1},
        "downtime_cost_per_hour": 1000,
        "migration": {
            "tool_per_mailbox": 4,
            "dual_running_months": 2,
            "training_hours_per_user": 0.5,
        },
        "onprem": [TODAY],
        "cloud": [CLOUD],
    }
    base.update(changes)
    return make_scenario(**base)


@pytest.fixture(scope="module")
def ev():
    """The hand-computed scenario, evaluated."""
    return evaluate(scenario())


# Year-1 running cost of today's system (every line that is not a one-off):
# 700 + 520 + 1,200 + 1,051.2 + 240 + 600 + 120 + 9,000 + 2,500 + 1,200 + 416 + 2,645.6
# + 1,200 + 18.25 = 21,411.05; two months of it = 3,568.508333...
DUAL = 21411.05 * 2 / 12


class TestTodaysSystem:
    # servers: storage 1 TB x 2 copies / (4 TB x 0.5) = 1, at least 2 copies -> 2.
    # Bought 2025, 2 years old at the start: replaced at age 3, in year 2. Past the 1-year
    # warranty in years 1 and 3. Residual: the year-2 servers have used 2 of 3 years:
    # -2 x 6,000 x 1/3 = -4,000.
    EXPECTED: ClassVar[dict[str, list[float]]] = {
        "hardware": [0, 12000, 0],
        "residual": [0, 0, -4000],
        "setup": [0, 0, 0],  # it runs today: no set-up
        "software_licences": [700] * 3,  # 2 x 100 + 100 x 5
        "os_licences": [520] * 3,  # 2 servers x 16 licensed cores (minimum) x 10 + 100 x 2
        "hardware_support": [1200, 0, 1200],  # 2 past warranty x 6,000 x 10 %
        "power": [1051.2] * 3,  # 2 x 200 W x 8.76 x 1.5 x 0.2
        "space": [240] * 3,  # 2 servers x 2 U x 5 x 12
        "network": [600] * 3,  # 50 x 12
        "monitoring": [120] * 3,  # 2 x 5 x 12
        "admin_labour": [9000, 9900, 10890],  # (10 + 2 x 2 + 1) x 12 x 50, +10 % a year
        "helpdesk": [2500, 2750, 3025],  # 100 x 0.5 h x 50, +10 % a year
        # 2 domains x 1 h x 12 x 50, +10 % a year; no set-up hours: it runs today
        "sender_auth": [1200, 1320, 1452],
        "backup": [416] * 3,  # 1 TB x 3 copies x 6 x 12 + 2 x 100
        # warm standby: ceil(2 servers / 2 copies) = 1 x (6,000 / 3 + 525.6 power + 120 space)
        "disaster_recovery": [2645.6] * 3,
        "filtering": [1200] * 3,  # 100 x 1 x 12
        "relay": [18.25] * 3,  # 100 x 10 x 0.5 x 365 / 1000 x 0.1
        "feature_addons": [0] * 3,
        "migration": [0] * 3,
        "dual_running": [0] * 3,
        "training": [0] * 3,
        "exit": [0] * 3,
        # availability 1 - 0.01^(2 copies + 1 warm standby) = 0.999999: 0.00876 h x 1,000
        "downtime": [8.76] * 3,
    }

    @pytest.mark.parametrize("category", EXPECTED)
    def test_line(self, ev, category):
        """Each of today's system's lines, by hand."""
        assert ev.lines["box"][category].tolist() == pytest.approx(self.EXPECTED[category])

    def test_availability(self, ev):
        """Availability from copies and standby, and the hours down a year it implies."""
        box = next(o for o in ev.comparison.options if o.id == "box")
        assert box.availability == pytest.approx(0.999999)
        assert box.downtime_hours_per_year == pytest.approx(0.01)  # 0.00876 rounded


class TestTheMove:
    EXPECTED: ClassVar[dict[str, list[float]]] = {
        "subscription": [6000] * 3,  # 100 x 5 x 12
        "admin_labour": [1800, 1980, 2178],  # (2 + 1 x 100/100) x 12 x 50, +10 %
        "helpdesk": [1250, 1375, 1512.5],  # 100 x 0.25 x 50, +10 %
        # 2 domains x (0.5 h x 12 + 2 set-up hours in year 1) x 50 = 800; then 600, +10 %
        "sender_auth": [800, 660, 726],
        "migration": [2400, 0, 0],  # 100 x (20 own + 4 tool)
        "training": [2500, 0, 0],  # 100 x 0.5 h x 50
        "dual_running": [DUAL, 0, 0],
        "exit": [0, 0, 3630],  # 3,000 in year 3, labour +10 % a year
        "downtime": [8760] * 3,  # (1 - 0.999) x 8,760 h x 1,000
    }

    @pytest.mark.parametrize("category", EXPECTED)
    def test_line(self, ev, category):
        """Each line of the move to the cloud option, by hand."""
        assert ev.lines["c"][category].tolist() == pytest.approx(self.EXPECTED[category])

    def test_vs_current_capex_opex(self, ev):
        """vs_current is the difference from today's system; capex is hardware, residual,
        set-up and migration, opex the rest."""
        cmp = {o.id: o for o in ev.comparison.options}
        assert cmp["c"].vs_current.total == pytest.approx(ev.total("c") - ev.total("box"), abs=0.01)
        assert cmp["box"].vs_current.npv == 0
        assert [y.capex for y in cmp["c"].years] == pytest.approx([2400, 0, 0])
        assert [y.capex for y in cmp["box"].years] == pytest.approx([0, 12000, -4000])
        for o in cmp.values():
            for y in o.years:
                assert y.capex + y.opex == pytest.approx(y.cost, abs=0.02)


class TestFinance:
    def test_residual_is_end_of_year_money(self, ev):
        """NPV: costs at the start of each year, the residual at the end of year 3."""
        yearly = ev.yearly("box") - ev.lines["box"]["residual"]
        expected = yearly[0] + yearly[1] / 1.1 + yearly[2] / 1.21 - 4000 / 1.331
        assert ev.npv("box") == pytest.approx(expected)

    def test_nominal_basis(self):
        """Nominal: inflation (2 %) is added to every escalation rate and combined with the
        discount rate by Fisher: (1.1 x 1.02) - 1 = 12.2 %."""
        ev = evaluate(scenario(price_basis="nominal", inflation=0.02))
        assert ev.lines["c"]["subscription"].tolist() == pytest.approx([6000, 6120, 6242.4])
        assert ev.lines["c"]["admin_labour"].tolist() == pytest.approx(
            [1800, 1800 * 1.12, 1800 * 1.12**2]
        )
        assert ev.discount.tolist() == pytest.approx([1, 1 / 1.122, 1 / 1.122**2])

    def test_break_even_on_npv(self, ev):
        """break_even[].year_npv is the first year whose cumulative discounted on-prem cost is
        at or below the cloud's."""
        be = ev.comparison.break_even[0]
        a = ev.discounted_yearly("box").cumsum()
        c = ev.discounted_yearly("c").cumsum()
        first = next((i + 1 for i in range(3) if a[i] <= c[i]), None)
        assert be.year_npv == first
        assert ev.discounted_yearly("box").sum() == pytest.approx(ev.npv("box"))


class TestLabourAsExistingStaff:
    def test_labour_is_opportunity_cost(self, ev):
        """existing_staff: admin, helpdesk and sender-authentication labour leave total and
        NPV and are reported as opportunity cost; dual running no longer pays today's staff
        either (9,000 + 2,500 + 1,200 in year 1, two months of it); everything else is
        unchanged."""
        staff = evaluate(scenario(labour_cost="existing_staff"))
        dual_labour = {"box": 0.0, "c": (9000 + 2500 + 1200) * 2 / 12}
        for option in ("box", "c"):
            labour = sum(
                ev.lines[option][k].sum() for k in ("admin_labour", "helpdesk", "sender_auth")
            )
            expected = ev.total(option) - labour - dual_labour[option]
            assert staff.total(option) == pytest.approx(expected)
            summary = next(o for o in staff.comparison.options if o.id == option)
            assert summary.opportunity_cost == pytest.approx(labour, abs=0.01)
        assert next(o for o in ev.comparison.options if o.id == "c").opportunity_cost == 0


class TestNewInstallation:
    def test_no_current_no_migration_and_setup_paid(self):
        """Without 'current' every on-prem option pays set-up and buys its servers in year 1,
        and no option pays migration, dual running or training."""
        ev = evaluate(scenario(current=None, current_servers_bought=None))
        assert ev.lines["box"]["setup"].tolist() == [1000, 0, 0]
        assert ev.lines["box"]["hardware"].tolist() == [12000, 0, 0]
        for category in ("migration", "dual_running", "training"):
            assert ev.lines["c"][category].tolist() == [0, 0, 0]


def test_downtime_per_user_hour():
    """A cost per user-hour scales with the users: 8.76 h x 2 USD x 100 users."""
    ev = evaluate(scenario(downtime_cost_per_hour=None, downtime_cost_per_user_hour=2))
    assert ev.lines["c"]["downtime"].tolist() == pytest.approx([1752] * 3)


def test_downtime_left_out_without_a_cost():
    """Without a downtime cost the line is zero, and the hours are still reported."""
    ev = evaluate(scenario(downtime_cost_per_hour=None))
    assert ev.lines["c"]["downtime"].tolist() == [0, 0, 0]
    assert next(
        o for o in ev.comparison.options if o.id == "c"
    ).downtime_hours_per_year == pytest.approx(8.76)


def test_service_levels_scored_from_availability(ev):
    """The service-levels criterion follows availability: 99.9999 % scores 5, 99.9 % 4."""
    cells = {o: {c.criterion: c for c in ev.assessments[o].criteria} for o in ("box", "c")}
    assert cells["box"]["service_levels"].score == 5
    assert cells["c"]["service_levels"].score == 4


def test_servers_bought_after_the_start_is_one_line():
    """Today's servers cannot have been bought after year 1 starts: one line naming the key."""
    from planner.errors import ScenarioError

    with pytest.raises(ScenarioError) as err:
        evaluate(scenario(current_servers_bought=2030))
    assert err.value.lines == (
        "current_servers_bought: 2030 is after the start of year 1 (2027-01-01); give the "
        "year today's servers were bought",
    )


class TestNegotiatedPricesAndTax:
    def test_discounts_by_hand(self):
        """10 % off the server (6,000 -> 5,400: hardware, residual, support and the warm
        standby), 20 % off licences (700 -> 560, 520 -> 416) and 15 % off the cloud plan
        (6,000 -> 5,100)."""
        box = {**TODAY, "hardware_discount_pct": 0.1, "discount_pct": 0.2}
        ev = evaluate(scenario(onprem=[box], cloud=[{**CLOUD, "discount_pct": 0.15}]))
        lines = ev.lines
        assert lines["box"]["hardware"].tolist() == pytest.approx([0, 10800, 0])
        assert lines["box"]["residual"].tolist() == pytest.approx([0, 0, -3600])
        assert lines["box"]["hardware_support"].tolist() == pytest.approx([1080, 0, 1080])
        assert lines["box"]["software_licences"].tolist() == pytest.approx([560] * 3)
        assert lines["box"]["os_licences"].tolist() == pytest.approx([416] * 3)
        assert lines["box"]["disaster_recovery"].tolist() == pytest.approx([1800 + 525.6 + 120] * 3)
        assert lines["c"]["subscription"].tolist() == pytest.approx([5100] * 3)

    @pytest.mark.parametrize(
        ("lock", "expected"), [(0, [6000, 6600, 7260]), (2, [6000, 6000, 6600])]
    )
    def test_price_lock(self, lock, expected):
        """A 2-year price lock keeps the subscription flat through year 2; +10 % a year after."""
        cloud = {**CLOUD, "price_lock_years": lock}
        ev = evaluate(scenario(cloud=[cloud], escalation={"cloud_subscription": 0.1}))
        assert ev.lines["c"]["subscription"].tolist() == pytest.approx(expected)

    def test_tax_on_purchases(self):
        """20 % tax on capex (hardware, set-up, migration) and 10 % on the rest of what is
        bought; not on staff time, outages, the residual credit or dual running."""
        ev = evaluate(scenario(tax_pct={"capex": 0.2, "opex": 0.1}))
        untaxed = (
            "admin_labour",
            "helpdesk",
            "sender_auth",
            "training",
            "downtime",
            "residual",
            "dual_running",
            "tax",
        )
        capex = ("hardware", "setup", "migration")
        for option in ("box", "c"):
            lines = ev.lines[option]
            expected = sum(
                v * (0.2 if k in capex else 0.1) for k, v in lines.items() if k not in untaxed
            )
            assert lines["tax"].tolist() == pytest.approx(expected.tolist())
        assert ev.lines["box"]["tax"][1] == pytest.approx(
            12000 * 0.2 + 0.1 * (700 + 520 + 1051.2 + 240 + 600 + 120 + 416 + 2645.6 + 1200 + 18.25)
        )


def test_downtime_cost_takes_a_range():
    """A top-level number of the cost model, the cost of an hour down, can carry a range:
    its path is the bare key, the typical value is what the deterministic figures use, the
    draws move the downtime line, and a dump writes the range back in place."""
    from planner import parse_scenario
    from planner.risk import simulate

    data = scenario().model_dump(mode="json")
    data["downtime_cost_per_hour"] = {"low": 0, "typical": 1000, "high": 4000}
    ranged = parse_scenario(data)
    assert list(ranged.ranges) == ["downtime_cost_per_hour"]
    assert evaluate(ranged).lines["c"]["downtime"].tolist() == pytest.approx([8760] * 3)
    sim = simulate(ranged, draws=300, seed=2)
    spread = sim.npv("c").max() - sim.npv("c").min()
    assert spread > 8760  # the downtime line moves with the draws
    assert ranged.model_dump(mode="json")["downtime_cost_per_hour"]["high"] == 4000


class TestSenderAuth:
    """Sender authentication and reputation (issue #18): hours per sending domain a month,
    plus first-time set-up hours in year 1, at the admin rate, escalated as labour."""

    def test_new_installation_pays_setup_hours(self):
        """Without 'current' the on-prem option pays its set-up hours in year 1:
        2 domains x (1 h x 12 + 6 h) x 50 = 1,800; then 1,200 +10 % a year."""
        ev = evaluate(scenario(current=None, current_servers_bought=None))
        assert ev.lines["box"]["sender_auth"].tolist() == pytest.approx([1800, 1320, 1452])

    def test_one_domain_by_default(self):
        """sending_domains defaults to 1: half of the two-domain figures."""
        data = scenario().model_dump(mode="json", exclude_unset=True)
        del data["organization"]["sending_domains"]
        from planner import parse_scenario

        ev = evaluate(parse_scenario(data))
        assert ev.lines["box"]["sender_auth"].tolist() == pytest.approx([600, 660, 726])
        assert ev.lines["c"]["sender_auth"].tolist() == pytest.approx([400, 330, 363])

    def test_cash_against_existing_staff(self):
        """Cash: the line is in the total. Existing staff: it is zero and counted in the
        opportunity cost instead, exactly as admin labour is."""
        cash = evaluate(scenario())
        staff = evaluate(scenario(labour_cost="existing_staff"))
        assert staff.lines["c"]["sender_auth"].tolist() == [0, 0, 0]
        opp = next(o for o in staff.comparison.options if o.id == "c").opportunity_cost
        labour = sum(cash.lines["c"][k].sum() for k in ("admin_labour", "helpdesk", "sender_auth"))
        assert opp == pytest.approx(labour, abs=0.01)

    def test_catalog_defaults_per_kind(self):
        """An option that leaves the hours to the catalog takes the defaults: 2 h a month and
        8 set-up hours on premises, 0.5 h and 2 set-up hours in the cloud, at the catalog's
        admin rate, 66.94 USD an hour (one domain, no escalation)."""
        from planner import load_scenario, scenario_presets

        ev = evaluate(load_scenario(scenario_presets()["default"]))
        rate = 66.94
        assert ev.lines["postfix-dovecot"]["sender_auth"][0] == pytest.approx((2 * 12 + 8) * rate)
        assert ev.lines["postfix-dovecot"]["sender_auth"][1] == pytest.approx(2 * 12 * rate)
        assert ev.lines["m365-basic"]["sender_auth"][0] == pytest.approx((0.5 * 12 + 2) * rate)
        # today's system (exchange-2019) pays no set-up hours
        assert ev.lines["exchange-2019"]["sender_auth"][0] == pytest.approx(2 * 12 * rate)

    def test_range_on_domains_and_hours(self):
        """organization.sending_domains and an option's hours per domain take ranges."""
        from planner import parse_scenario

        data = scenario().model_dump(mode="json")
        data["organization"]["sending_domains"] = {"low": 1, "typical": 2, "high": 5}
        data["onprem"][0]["sender_auth_hours_per_domain_month"] = {
            "low": 0.5,
            "typical": 1,
            "high": 4,
        }
        ranged = parse_scenario(data)
        assert set(ranged.ranges) == {
            "organization.sending_domains",
            "onprem.box.sender_auth_hours_per_domain_month",
        }
        assert evaluate(ranged).lines["box"]["sender_auth"].tolist() == pytest.approx(
            [1200, 1320, 1452]
        )

    @given(st.integers(1, 50), st.integers(0, 50))
    @settings(max_examples=15, deadline=None)
    def test_cost_never_falls_as_domains_rise(self, domains, more):
        """Every option's total and NPV never fall when the organisation sends from more
        domains."""
        few = evaluate(scenario(organization={"sending_domains": domains}))
        many = evaluate(scenario(organization={"sending_domains": domains + more}))
        for option in ("box", "c"):
            assert many.total(option) >= few.total(option) - 1e-6
            assert many.npv(option) >= few.npv(option) - 1e-6

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            (0, "Input should be greater than or equal to 1 (got 0)"),
            (2.5, "Input should be a valid integer, got a number with a fractional part (got 2.5)"),
        ],
        ids=["zero", "fraction"],
    )
    def test_bad_sending_domains_is_one_line(self, tmp_path, value, message):
        """A bad sending_domains is one line naming the field, exit 2 (the CLI, as run)."""
        import subprocess
        import sys

        path = tmp_path / "s.yaml"
        path.write_text(
            "name: Domains\n"
            f"organization: {{users: 50, sending_domains: {value}}}\n"
            "cloud:\n  - {id: c, plan: m365-business-basic}\n"
        )
        r = subprocess.run(
            [sys.executable, "-m", "planner", "compare", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert r.returncode == 2
        assert r.stderr.strip().splitlines() == [
            f"mailplan: {path}: organization.sending_domains: {message}"
        ]
