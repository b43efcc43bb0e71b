"""Seat mix (issue #19 item 2): segments of the organisation on their own plans and
profiles, shared mailboxes under the vendor's licence rule, seats by plan in the outputs.
Each hand-computed figure is worked out in the comments."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner import evaluate
from planner.catalog import load_scenario, parse_scenario, scenario_presets
from planner.errors import ScenarioError
from tests.conftest import make_scenario

# Every line but the subscription and storage switched off, so the totals are seats x price.
QUIET_CLOUD = {
    "admin_hours_per_month": 0,
    "admin_hours_per_100_users_month": 0,
    "helpdesk_hours_per_user_year": 0,
    "admin_hourly_cost": 0,
    "per_1000_messages": 0,
}
# 10 people, 4 of them frontline (1 GB mailboxes growing 0.5 GB a year, 5 sent / 20
# received a day); the other 6 keep the organisation's profile (8 GB + 3 GB a year, 30 / 90).
SEGMENT = {
    "name": "shop floor",
    "users": 4,
    "tier": "frontline",
    "messages_sent_per_user_day": 5,
    "messages_received_per_user_day": 20,
    "mailbox_gb_per_user": 1,
    "mailbox_growth_gb_per_user_year": 0.5,
}
ORG = {
    "users": 10,
    "messages_sent_per_user_day": 30,
    "messages_received_per_user_day": 90,
    "mailbox_gb_per_user": 8,
    "mailbox_growth_gb_per_user_year": 3,
    "segments": [SEGMENT],
    # three shared mailboxes of 60 GB: above Microsoft's 50 GB free size
    "shared_mailboxes": {"count": 3, "mailbox_gb": 60},
}


def _mix(**changes: Any) -> Any:
    org = {**copy.deepcopy(ORG), **changes.pop("organization", {})}
    base: dict[str, Any] = {
        "horizon_years": 2,
        "organization": org,
        "cloud": [{"id": "exo", "plan": "exo-plan-1", **QUIET_CLOUD}],
    }
    base.update(changes)
    return make_scenario(**base)


def _years(ev: Any, option_id: str) -> list[dict[str, Any]]:
    found = next(o for o in ev.comparison.options if o.id == option_id)
    return [y.model_dump() for y in found.years]


class TestHandComputed:
    def test_exchange_online_with_kiosk_and_shared_mailboxes(self):
        """Exchange Online Plan 1 with a frontline segment and shared mailboxes over 50 GB,
        against seats x list price worked out by hand."""
        ev = evaluate(_mix())
        # seats a year: 10 people - 4 frontline = 6 on Plan 1 (USD 4), 4 on Kiosk (frontline
        # tier of Plan 1: USD 2), 3 shared mailboxes of 60 GB > 50 GB on Plan 2 (USD 8)
        # subscription = 12 x (6 x 4 + 4 x 2 + 3 x 8) = 12 x 56 = 672 a year
        # storage: Plan 1 mailboxes 8 + 3y <= 100 GB included, Kiosk 1 + 0.5y <= 2 GB: none
        years = _years(ev, "exo")
        assert [y["by_category"]["subscription"] for y in years] == [672.0, 672.0]
        assert [y["by_category"]["storage"] for y in years] == [0.0, 0.0]
        assert ev.total("exo") == pytest.approx(1344.0)  # 2 years x 672
        assert years[0]["seats"] == {"exo-plan-1": 6, "exo-kiosk": 4, "exo-plan-2": 3}
        assert years[0]["users"] == 10  # people, not seats

    def test_shared_mailboxes_within_the_free_size_are_free(self):
        """Shared mailboxes of 10 GB need no licence on Microsoft 365; a negotiated discount
        applies to every plan's seats."""
        ev = evaluate(
            _mix(
                organization={"shared_mailboxes": {"count": 3, "mailbox_gb": 10}},
                cloud=[{"id": "exo", "plan": "exo-plan-1", "discount_pct": 0.1, **QUIET_CLOUD}],
            )
        )
        # 12 x (6 x 4 + 4 x 2) = 384 list; 10 % off: 345.60 a year
        years = _years(ev, "exo")
        assert years[0]["by_category"]["subscription"] == pytest.approx(345.6)
        assert years[0]["seats"] == {"exo-plan-1": 6, "exo-kiosk": 4}

    def test_google_licenses_every_shared_mailbox_on_the_own_plan(self):
        """On Google Workspace a shared mailbox is a licensed account on the option's plan;
        the frontline segment is on Frontline Starter."""
        ev = evaluate(_mix(cloud=[{"id": "gws", "plan": "gws-business-starter", **QUIET_CLOUD}]))
        # Business Starter (USD 7): 6 people + 3 shared = 9 seats; Frontline Starter (USD 2): 4
        # 12 x (9 x 7 + 4 x 2) = 12 x 71 = 852 a year
        years = _years(ev, "gws")
        assert years[0]["by_category"]["subscription"] == pytest.approx(852.0)
        assert years[0]["seats"] == {"gws-business-starter": 9, "gws-frontline-starter": 4}

    def test_explicit_plan_mapping_wins_over_the_tier(self):
        """A segment's ``plans`` mapping names the plan per option; here Plan 2 for all."""
        seg = {**SEGMENT, "plans": {"exo": "exo-plan-2"}}
        ev = evaluate(_mix(organization={"segments": [seg]}))
        # 12 x (6 x 4 + 4 x 8 + 3 x 8) = 12 x 80 = 960 a year
        years = _years(ev, "exo")
        assert years[0]["by_category"]["subscription"] == pytest.approx(960.0)
        assert years[0]["seats"] == {"exo-plan-1": 6, "exo-plan-2": 7}

    def test_on_prem_counts_every_mailbox_and_licenses_people(self):
        """On-prem sizing counts people with their own profiles and shared mailboxes; per-user
        licences count people only."""
        onprem = {
            "id": "box",
            "server_price": 1000,
            "server_watts": 0,
            "capacity_msgs_per_s": 10,
            "storage_tb_per_server": 10,
            "redundancy": "none",
            "refresh_years": 5,
            "target_utilization": 1,
            "electricity_per_kwh": 0,
            "pue": 1,
            "rack_per_server_month": 0,
            "admin_hours_per_month": 0,
            "admin_hours_per_server_month": 0,
            "admin_hours_per_100_users_month": 0,
            "admin_hourly_cost": 0,
            "licence_per_server_year": 0,
            "licence_per_user_year": 10,
            "filtering_per_user_month": 0,
            "backup_per_tb_month": 0,
            "outbound_relay_per_1000": 0,
            "setup_cost": 0,
        }
        ev = evaluate(_mix(onprem=[onprem]))
        d = ev.demand
        # storage, end of year 1: 6 x (8 + 3) + 4 x (1 + 0.5) + 3 x 60 = 66 + 6 + 180 = 252 GB
        # end of year 2: 6 x 14 + 4 x 2 + 3 x 60 = 84 + 8 + 180 = 272 GB
        assert d.storage_tb[0] == pytest.approx([0.252, 0.272])
        # mail a day: 6 x (30 + 90) + 4 x (5 + 20) + 3 shared x 90 received = 720 + 100 + 270
        assert d.messages_per_day[0] == pytest.approx([1090, 1090])
        # licences: 10 people x USD 10 = 100 a year (shared mailboxes need none)
        lines = ev.lines["box"]
        assert lines["software_licences"] == pytest.approx([100.0, 100.0])

    def test_segments_grow_with_the_organisation_and_add_up(self):
        """The 600-user case: 150 frontline grow 5 % a year with everyone; each year's
        segment and rest add up to the yearly total."""
        ev = evaluate(load_scenario(scenario_presets()["seat-mix-600"]))
        d = ev.demand
        # totals floor(600 x 1.05^(y-1) + 0.5): 600, 630, 662 (661.5), 695 (694.58), 729
        assert d.users[0].tolist() == [600, 630, 662, 695, 729]
        # frontline floor(150 x 1.05^(y-1) + 0.5): 150, 158 (157.5), 165 (165.4), 174, 182
        assert d.segment_users[0][0].tolist() == [150, 158, 165, 174, 182]
        assert (d.rest_users[0] + d.segment_users[0][0]).tolist() == d.users[0].tolist()


class TestUnchanged:
    @pytest.mark.parametrize("name", ["default", "company-250", "office-25", "org-5000"])
    def test_bundled_scenarios_without_the_new_keys(self, name: str):
        """A scenario without segments or shared mailboxes costs exactly what it did: the
        same file with empty segments gives identical lines, and its seats are its users on
        the plan each year."""
        path = scenario_presets()[name]
        plain = evaluate(load_scenario(path))
        data = json.loads(json.dumps(load_scenario(path).model_dump(mode="json")))
        data["organization"]["segments"] = []
        explicit = evaluate(parse_scenario(data))
        for option_id, lines in plain.lines.items():
            for k, v in lines.items():
                assert np.array_equal(v, explicit.lines[option_id][k]), (option_id, k)
        for o in plain.comparison.options:
            if o.kind == "cloud":
                for y in o.years:
                    assert y.seats == {y.plan: y.users}

    def test_default_totals_pinned(self):
        """The default scenario's NPVs as they were before the seat mix (hand-copied); the
        cloud options since carry the sender_auth line (issue #18: 0.5 h a month and 2
        set-up hours for one sending domain at 66.94 USD, NPV 1,959.71-1,959.72 more)."""
        ev = evaluate(load_scenario(scenario_presets()["default"]))
        assert round(ev.npv("postfix-dovecot"), 2) == 155479.81
        assert round(ev.npv("m365-basic"), 2) == 194655.61
        assert round(ev.npv("gws-starter"), 2) == 274118.79


class TestSeatCaps:
    def test_caps_count_seats_on_the_plan(self):
        """400 people, 150 of them on F3: 250 seats on Business Basic stay under its
        300-seat cap, so it does not move to Office 365 E1; without the segment it does."""
        cloud = [{"id": "basic", "plan": "m365-business-basic"}]
        seg = {"name": "frontline", "users": 150, "tier": "frontline"}
        mixed = evaluate(make_scenario(organization={"users": 400, "segments": [seg]}, cloud=cloud))
        plain = evaluate(make_scenario(organization={"users": 400}, cloud=cloud))
        assert mixed.plan_by_year("basic") == ["m365-business-basic"] * 3
        assert plain.plan_by_year("basic") == ["office-365-e1"] * 3
        assert _years(mixed, "basic")[0]["seats"] == {"m365-business-basic": 250, "m365-f3": 150}

    def test_a_move_keeps_the_frontline_seats(self):
        """Once the rest outgrows 300 seats, Business Basic moves to E1 and the segment stays
        on F3 (E1's frontline tier)."""
        cloud = [{"id": "basic", "plan": "m365-business-basic"}]
        seg = {"name": "frontline", "users": 100, "tier": "frontline"}
        ev = evaluate(
            make_scenario(
                organization={"users": 380, "user_growth_per_year": 0.1, "segments": [seg]},
                cloud=cloud,
            )
        )
        # rest: 280, then floor(418 + .5) - floor(110 + .5) = 418 - 110 = 308 > 300 in year 2
        assert ev.plan_by_year("basic") == ["m365-business-basic", "office-365-e1", "office-365-e1"]
        seats = [y["seats"] for y in _years(ev, "basic")]
        assert seats[0] == {"m365-business-basic": 280, "m365-f3": 100}
        assert seats[1] == {"office-365-e1": 308, "m365-f3": 110}


class TestValidation:
    def test_segment_users_above_total(self):
        """Segments that add up to more people than the organisation: one line naming the
        field."""
        with pytest.raises(ScenarioError) as info:
            make_scenario(organization={"users": 10, "segments": [{"name": "a", "users": 11}]})
        lines = info.value.lines
        assert len(lines) == 1
        assert "organization.segments" in lines[0], lines
        assert "11" in lines[0], lines

    def test_unknown_plan_id(self):
        """A segment mapping to a plan the catalog lacks: one line naming the field."""
        seg = {"name": "a", "users": 1, "plans": {"flat": "no-such-plan"}}
        with pytest.raises(ScenarioError) as info:
            evaluate(make_scenario(organization={"segments": [seg]}))
        lines = info.value.lines
        assert len(lines) == 1
        assert "organization.segments[0].plans.flat" in lines[0]
        assert "unknown plan 'no-such-plan'" in lines[0]

    def test_unknown_option_id(self):
        """A segment mapping for an option the scenario does not have: one line naming it."""
        seg = {"name": "a", "users": 1, "plans": {"nope": "exo-plan-1"}}
        with pytest.raises(ScenarioError) as info:
            make_scenario(organization={"segments": [seg]})
        lines = info.value.lines
        assert len(lines) == 1
        assert "organization.segments[0].plans" in lines[0], lines
        assert "'nope'" in lines[0], lines


class TestOutputs:
    def test_compare_json_and_report_show_seats_for_the_600_user_case(self):
        """The 600-user case with 150 frontline users and 20 shared mailboxes: compare JSON
        gives seats by plan per year, and the seats frame has them too."""
        ev = evaluate(load_scenario(scenario_presets()["seat-mix-600"]))
        data = ev.comparison.model_dump(mode="json")
        exo = next(o for o in data["options"] if o["id"] == "exo-p1")
        # 600 - 150 = 450 on Plan 1; 150 on Kiosk; 20 shared of 10-20 GB free (<= 50 GB)
        assert exo["years"][0]["seats"] == {"exo-plan-1": 450, "exo-kiosk": 150}
        gws = next(o for o in data["options"] if o["id"] == "gws-starter")
        # 450 + 20 shared = 470 seats > 300: Enterprise Standard from year 1
        assert gws["years"][0]["seats"] == {
            "gws-enterprise-standard": 470,
            "gws-frontline-starter": 150,
        }
        # subscription, year 1: Plan 1 450 x 4 x 12 = 21,600 + Kiosk 150 x 2 x 12 = 3,600
        assert ev.lines["exo-p1"]["subscription"][0] == pytest.approx(25_200)
        # m365-basic moves to Office 365 E1 (450 > 300 seats): 450 x 10 x 12 = 54,000 + F3
        # 150 x 10 x 12 = 18,000; Google: Enterprise Standard 470 x 22 x 12 = 124,080 +
        # Frontline Starter 150 x 2 x 12 = 3,600
        assert ev.lines["m365-basic"]["subscription"][0] == pytest.approx(72_000)
        assert ev.lines["gws-starter"]["subscription"][0] == pytest.approx(127_680)
        # on-prem, year 1: 450 x (8 + 3) + 150 x (1 + 0.2) + 20 x (10 + 2) = 5,370 GB;
        # 450 x 120 + 150 x 25 + 20 shared x 90 = 59,550 messages a day
        assert ev.demand.storage_tb[0][0] == pytest.approx(5.37)
        assert ev.demand.messages_per_day[0][0] == pytest.approx(59_550)
        frame = ev.seats
        assert set(frame.columns) == {"option", "year", "plan", "label", "seats"}
        row = frame[(frame.option == "m365-basic") & (frame.year == 1) & (frame.plan == "m365-f3")]
        assert int(row.seats.iloc[0]) == 150


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def _mixed(draw: Any) -> dict[str, Any]:
    users = draw(st.integers(1, 3000))
    k = draw(st.integers(1, 3))
    left, segments = users, []
    for i in range(k):
        n = draw(st.integers(0, left))
        left -= n
        segments.append(
            {
                "name": f"s{i}",
                "users": n,
                "tier": draw(st.sampled_from([None, "frontline"])),
                "mailbox_gb_per_user": draw(st.floats(0, 20)),
                "messages_received_per_user_day": draw(st.floats(0, 200)),
            }
        )
    shared = {"count": draw(st.integers(0, 50)), "mailbox_gb": draw(st.floats(0, 120))}
    return {
        "name": "mixed",
        "horizon_years": 3,
        "organization": {
            "users": users,
            "user_growth_per_year": draw(st.floats(-0.2, 0.3)),
            "segments": segments,
            "shared_mailboxes": shared,
        },
        "onprem": [{"id": "op", "stack": "postfix-dovecot", "server": "smb-1u"}],
        "cloud": [
            {"id": "basic", "plan": "m365-business-basic"},
            {"id": "exo", "plan": "exo-plan-1"},
            {"id": "gws", "plan": "gws-business-starter"},
        ],
    }


@pytest.mark.timeout(300)
class TestProperty:
    @SETTINGS
    @given(data=_mixed(), extra=st.integers(1, 5000))
    def test_cost_never_falls_as_users_rise_with_segments(self, data, extra):
        """With segments and shared mailboxes present, more people never make an option
        cheaper, in total or in NPV (segments keep their head count, clipped to the total)."""
        ev = evaluate(parse_scenario(data))
        u = data["organization"]["users"]
        sweep = ev.sweep([u, u + extra])
        for _, rows in sweep.groupby("option"):
            small, large = rows.iloc[0], rows.iloc[1]
            assert large["total"] >= small["total"] - 1e-6 * abs(small["total"])
            assert large["npv"] >= small["npv"] - 1e-6 * abs(small["npv"])


class TestNotes:
    def test_assumptions_name_each_segment_plan_and_the_shared_rule(self):
        """The assumptions list each segment's plan and price with its catalog source, and
        the shared-mailbox rule with Microsoft's page."""
        ev = evaluate(_mix())
        a = ev.assumptions
        seg = a[(a.scope == "exo") & (a.field == "seats: shop floor")].iloc[0]
        assert seg.value == "Exchange Online Kiosk: 2 USD/user-month"
        assert seg.origin == "plan exo-kiosk (frontline tier)"
        assert seg.source
        shared = a[(a.scope == "exo") & (a.field == "seats: shared mailboxes")].iloc[0]
        assert "no licence up to 50 GB" in shared.value
        assert "learn.microsoft.com" in shared.source

    def test_warnings_for_a_full_frontline_mailbox_and_a_missing_tier(self):
        """A frontline mailbox above its plan's 2 GB is a warning; so is a vendor whose plan
        names no frontline plan (its people stay on the option's plan)."""
        seg = {**SEGMENT, "mailbox_gb_per_user": 3}
        ev = evaluate(
            _mix(
                organization={"segments": [seg]},
                cloud=[
                    {"id": "exo", "plan": "exo-plan-1", **QUIET_CLOUD},
                    {"id": "zoho", "plan": "zoho-mail-premium", **QUIET_CLOUD},
                ],
            )
        )
        exo = next(o for o in ev.comparison.options if o.id == "exo")
        assert any("above the 2 GB of Exchange Online Kiosk" in w for w in exo.warnings)
        zoho = next(o for o in ev.comparison.options if o.id == "zoho")
        assert any("names no plan of its tier" in w for w in zoho.warnings)
        # Zoho: the 4 frontline people and 3 shared mailboxes are seats on the option's plan
        assert _years(ev, "zoho")[0]["seats"] == {"zoho-mail-premium": 13}

    def test_a_segment_plan_over_its_seat_cap_is_a_warning(self):
        """A segment mapped to a capped plan (Business Basic, 300 seats) with more people
        than the cap: a warning naming the seats and the limit (the option itself is on
        Exchange Online and does not move)."""
        seg = {"name": "office", "users": 350, "plans": {"exo": "m365-business-basic"}}
        ev = evaluate(
            _mix(organization={"users": 400, "segments": [seg], "shared_mailboxes": None})
        )
        exo = next(o for o in ev.comparison.options if o.id == "exo")
        assert any("350 seats on Microsoft 365 Business Basic in year 1" in w for w in exo.warnings)
        assert ev.plan_by_year("exo") == ["exo-plan-1", "exo-plan-1"]
