"""Freshness: every sourced catalog figure with its path, and which are older than N days."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from planner.freshness import as_of_date, figures, oldest, stale
from tests.cli.test_plan import mailplan


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026", dt.date(2026, 1, 1)),
        ("2024-05", dt.date(2024, 5, 1)),
        ("2025-10-14", dt.date(2025, 10, 14)),
    ],
    ids=["year", "month", "day"],
)
def test_as_of_date(text, day):
    """A year counts as 1 January and a month as its 1st."""
    assert as_of_date(text) == day


def test_paths_name_entries_by_id(catalog):
    """Figures are named by their path with list entries by id, as the catalog file reads."""
    paths = {f.path for f in figures(catalog)}
    assert "plans.m365-business-basic.price_per_user_month" in paths
    assert "defaults.pue" in paths
    assert any(p.startswith("stacks.postfix-dovecot.features.") for p in paths)


def test_stale_counts_days_to_the_given_day(catalog):
    """A figure dated D is stale on D + N + 1 days and not on D + N; oldest first."""
    price = catalog.plan("m365-business-basic").price_per_user_month
    day = as_of_date(price.as_of)
    path = "plans.m365-business-basic.price_per_user_month"
    assert path not in {f.path for f in stale(catalog, 10, day + dt.timedelta(days=10))}
    old = stale(catalog, 10, day + dt.timedelta(days=11))
    hit = next(f for f in old if f.path == path)
    assert hit.age_days >= 11
    ages = [f.age_days for f in old]
    assert ages == sorted(ages, reverse=True)


def test_oldest():
    """The oldest of some as-of texts, reading years and months as their first day."""
    assert oldest(["2026-03-02", "2026", None, "2026-01-15"]) == "2026"
    assert oldest([None]) is None


class TestCli:
    def test_none_stale_exits_0(self):
        """Nothing older than 100 years: exit 0 and one line saying so."""
        r = mailplan("catalog", "--stale", "36500")
        assert r.returncode == 0, r.stderr
        assert "No catalog figure is older than 36500 days" in r.stdout

    def test_some_stale_exits_1_with_json(self, catalog):
        """Figures older than the cut-off: exit 1, and JSON lists path, value, source, age."""
        r = mailplan("catalog", "--stale", "0", "--as-of", "2030-01-01", "--format", "json")
        assert r.returncode == 1, r.stderr
        data = json.loads(r.stdout)
        assert data["as_of"] == "2030-01-01"
        first = data["stale"][0]
        assert set(first) >= {"path", "value", "source", "as_of", "age_days"}
        assert len(data["stale"]) == len(figures(catalog))

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--stale", "30", "--as-of", "yesterday"], "--as-of: not a date YYYY-MM-DD"),
            (["--stale", "-1"], "--stale"),
            (["--stale", "many"], "--stale"),
            (["--as-of", "2026-01-01"], "--as-of: only used with --stale DAYS"),
        ],
        ids=["bad-date", "negative", "not-a-number", "as-of-alone"],
    )
    def test_bad_input_is_one_line_exit_2(self, args, message):
        """Bad --stale or --as-of: one line naming the option, exit 2, no traceback."""
        r = mailplan("catalog", *args)
        assert r.returncode == 2
        assert message in r.stderr
        assert "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
