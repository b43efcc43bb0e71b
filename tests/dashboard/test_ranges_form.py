"""What the range editor offers and builds, and the Risk page's tables (no Streamlit)."""

from __future__ import annotations

import re

import pytest

from planner import evaluate, load_catalog, load_scenario, risk, scenario_presets
from planner.dashboard import ranges_form, risk_views
from planner.models import RANGED_MODELS
from planner.ranges import (
    SINGLE_SECTIONS,
    Z90,
    LogNormal,
    Normal,
    Triangular,
    Uniform,
    numeric_fields,
)

TRI = Triangular(low=2.0, typical=5.0, high=20.0)


def ranged():
    """The bundled scenario with sourced ranges."""
    return load_scenario(scenario_presets()["default-ranges"])


class TestStartingParams:
    @pytest.mark.parametrize(
        ("form", "expected"),
        [
            ("triangular", {"low": 2.0, "typical": 5.0, "high": 20.0}),
            ("uniform", {"low": 2.0, "high": 20.0}),
            ("normal", {"mean": 5.0, "sd": 18.0 / (2 * Z90)}),
            ("lognormal", {"median": 5.0, "p90": 20.0}),
        ],
        ids=["same-form", "uniform", "normal", "lognormal"],
    )
    def test_keeps_the_centre_and_swing_points(self, form, expected):
        """A new form starts from the old range's centre and low/high points."""
        assert ranges_form.starting_params(form, TRI, 99.0) == pytest.approx(expected)

    @pytest.mark.parametrize("form", list(ranges_form.FORMS))
    def test_plain_number_starts_with_zero_width(self, form):
        """A plain number becomes a range of zero width around itself, valid in every form."""
        params = ranges_form.starting_params(form, None, 7.5)
        dist = {"triangular": Triangular, "uniform": Uniform, "normal": Normal}.get(form, LogNormal)
        made = dist.model_validate(ranges_form.range_data(form, params))
        assert made.swing_points() == pytest.approx((7.5, 7.5))
        assert made.center() == pytest.approx(7.5)

    def test_normal_round_trips_its_swing_points(self):
        """normal -> triangular -> normal gives back the same mean and sd."""
        normal = Normal(dist="normal", mean=10.0, sd=2.0)
        tri = Triangular(**ranges_form.starting_params("triangular", normal, 0.0))
        assert ranges_form.starting_params("normal", tri, 0.0) == pytest.approx(
            {"mean": 10.0, "sd": 2.0}
        )


class TestRangeData:
    @pytest.mark.parametrize(
        ("form", "params", "expected"),
        [
            (
                "triangular",
                {"low": 1, "typical": 2, "high": 3},
                {"low": 1, "typical": 2, "high": 3},
            ),
            ("uniform", {"low": 1, "high": 3}, {"dist": "uniform", "low": 1, "high": 3}),
            ("lognormal", {"median": 4, "p90": None}, {"dist": "lognormal", "median": 4}),
            ("none", {}, None),
        ],
        ids=["triangular-has-no-dist", "uniform", "empty-left-out", "none"],
    )
    def test_written_as_in_a_scenario_file(self, form, params, expected):
        """The data is the scenario file's range form."""
        assert ranges_form.range_data(form, params) == expected


class TestInputs:
    def test_every_numeric_input_is_offered(self):
        """Every numeric field of the organisation, the price changes, the move and every
        option, ranged ones too: exactly the fields the scenario can hold a range on."""
        scenario = ranged()
        labels = ranges_form.input_labels(scenario)
        expected = [
            f"{section}.{name}"
            for section in SINGLE_SECTIONS
            for name in numeric_fields(RANGED_MODELS[section])
        ]
        for section, options in (("onprem", scenario.onprem), ("cloud", scenario.cloud)):
            fields = numeric_fields(RANGED_MODELS[section])
            expected += [f"{section}.{o.id}.{name}" for o in options for name in fields]
        assert sorted(labels) == sorted(expected)
        assert set(scenario.ranges) <= set(labels)
        assert labels["migration.dual_running_months"] == (
            "Moving from today's system · Dual running (months)"
        )
        assert (
            labels["onprem.postfix-dovecot.pue"]
            == "postfix-dovecot · PUE (facility power / IT power)"
        )

    @pytest.mark.parametrize(
        ("path", "expected"),
        [
            (("organization", "users"), "organization.users"),
            (("onprem", 1, "pue"), "onprem.exchange-se.pue"),
            (("cloud", 0, "migration_per_user"), "cloud.m365-basic.migration_per_user"),
            (("cloud", 9, "migration_per_user"), None),
            (("migration", "per_mailbox"), "migration.per_mailbox"),
            (("name",), None),
        ],
        ids=["organisation", "on-prem", "cloud", "no-such-option", "migration", "not-an-input"],
    )
    def test_form_path_to_field_path(self, path, expected):
        """Form paths name options by index, field paths by id."""
        draft = ranged().model_dump(mode="json", exclude_unset=True)
        assert ranges_form.field_path(draft, path) == expected

    def test_unset_migration_field_takes_the_catalog_default(self):
        """A move field left to the catalog starts from the catalog's default, as the engine
        takes it."""
        scenario = load_scenario(scenario_presets()["default"])
        ev = evaluate(scenario)
        fact = load_catalog().defaults.dual_running_months
        assert scenario.field_value("migration.dual_running_months") is None
        assert ranges_form.current_value(scenario, ev, "migration.dual_running_months") == (
            fact.value
        )
        assert ranges_form.input_spec("migration.dual_running_months").unit == "months"

    def test_unset_option_field_takes_the_catalog_value(self):
        """An option field left to the catalog starts from the catalog's number."""
        scenario = load_scenario(scenario_presets()["default"])
        ev = evaluate(scenario)
        path = "onprem.postfix-dovecot.pue"
        assert scenario.field_value(path) is None
        assert ranges_form.current_value(scenario, ev, path) == ev.resolved.onprem[0].pue


class TestRiskTables:
    def test_percentiles_table_formats_the_summary(self):
        """One row per option, the summary's figures with thousands separators."""
        summary = risk.simulate(ranged(), draws=500, seed=1).summary
        table = risk_views.percentiles_table(summary, load_catalog())
        first = summary.options[0]
        assert list(table.index) == [
            o.id + (" (cheapest)" if o.id == summary.cheapest else "") for o in summary.options
        ]
        row = table.iloc[0]
        assert row["NPV P10 (USD)"] == f"{first.npv.p10:,.0f}"
        assert row["Cheapest in"] == f"{first.p_cheapest:.0%}"

    def test_tornado_table_keeps_the_engines_order(self):
        """Largest swing first, inputs by their form label."""
        sens = risk.sensitivity(ranged())
        labels = ranges_form.input_labels(ranged())
        table = risk_views.tornado_table(sens.summary, labels)
        assert list(table["Input"]) == [labels[r.input] for r in sens.swings]
        assert list(table["Swing (USD)"]) == [f"{r.swing:,.0f}" for r in sens.swings]


class TestOneLabeller:
    def test_input_labels_are_the_reports(self):
        """The dashboard names every input as the report does (``path_title``)."""
        from planner.report.labels import field_title, path_title

        labels = ranges_form.input_labels(ranged())

        assert labels == {path: path_title(path) for path in labels}
        assert labels["onprem.postfix-dovecot.admin_hours_per_month"] == (
            f"postfix-dovecot · {field_title('onprem', 'admin_hours_per_month')}"
        )

    def test_tornado_chart_shows_titles_not_field_paths(self):
        """The Risk page's tornado names its bars by the inputs' titles (the option or
        section on one line, the title below), never by field path."""
        scenario = ranged()
        sens = risk.sensitivity(scenario)

        from planner.report.labels import field_title

        fig = risk.charts.tornado(sens, labels=ranges_form.input_labels(scenario))

        names = [str(y) for trace in fig.data for y in trace.y]
        title = field_title("onprem", "admin_hours_per_month")
        assert f"postfix-dovecot<br>{title}" in names
        assert not [n for n in names if re.search(r"(organization|escalation|onprem|cloud)\.", n)]


class TestAddRanges:
    @pytest.mark.parametrize(
        ("dist", "value", "expected"),
        [
            (Triangular(low=20, typical=30, high=60), 30.0, {"low": 20, "typical": 30, "high": 60}),
            (
                Triangular(low=50, typical=90, high=150),
                120.0,
                {"low": 200 / 3, "typical": 120, "high": 200},
            ),
            (
                Triangular(low=0.0, typical=0.0, high=0.04),
                0.02,
                {"low": 0.02, "typical": 0.02, "high": 0.06},
            ),
            (
                LogNormal(dist="lognormal", median=16, p90=40),
                8.0,
                {"dist": "lognormal", "median": 8, "p90": 20},
            ),
            (Normal(dist="normal", mean=10, sd=2), 5.0, {"dist": "normal", "mean": 5, "sd": 1}),
        ],
        ids=["same-value", "scaled", "shifted-from-zero", "lognormal", "normal"],
    )
    def test_recentred_keeps_the_relative_spread(self, dist, value, expected):
        """A range moved to a new typical value keeps its spread relative to it (or, from
        zero, its absolute spread)."""
        moved = ranges_form.recentred(dist, value)

        assert moved == pytest.approx(expected)

    def test_default_ranges_join_the_scenario_without_changing_it(self):
        """The default scenario with 600 users gets the default ranges, each centred on
        its own value: the typical case's NPVs are unchanged, and the users stay 600."""
        base = load_scenario(scenario_presets()["default"])
        org = base.organization.model_copy(update={"users": 600})
        scenario = base.model_copy(update={"organization": org})
        ev = evaluate(scenario)

        done = ranges_form.add_ranges(scenario, ev, ranged())

        after = evaluate(done.scenario)
        assert done.scenario.organization.users == 600
        assert len(done.added) >= 20
        assert set(done.added) <= set(done.scenario.ranges)
        assert {o.id: round(o.npv, 2) for o in after.comparison.options} == {
            o.id: round(o.npv, 2) for o in ev.comparison.options
        }
        assert done.scenario.correlations
