"""The bundled catalog and scenarios: everything validates and every figure is sourced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from planner import CatalogError, ScenarioError, data_dir, evaluate, load_catalog, load_scenario
from planner.catalog import parse_scenario, read_document

CATALOG_FILES = sorted((data_dir() / "catalog").glob("*.yaml"))
SCENARIO_FILES = sorted((data_dir() / "scenarios").glob("*.yaml"))
SOURCED_KEYS = {"value", "source", "as_of"}
# Numbers that are not prices or figures: scores 1-5 of the decision matrix.
UNSOURCED_NUMBER_KEYS = {"score"}


def _numbers_outside_sourced(node: Any, path: str) -> list[str]:
    """Paths of numeric leaves that do not sit in a mapping with value, source and as_of."""
    found = []
    if isinstance(node, dict):
        if node.keys() >= SOURCED_KEYS:
            return []
        for key, value in node.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                if key not in UNSOURCED_NUMBER_KEYS:
                    found.append(f"{path}.{key}")
            else:
                found += _numbers_outside_sourced(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _numbers_outside_sourced(value, f"{path}[{i}]")
    return found


class TestCatalogFiles:
    def test_catalog_validates(self):
        """The bundled catalog loads into the Catalog model."""
        catalog = load_catalog()
        assert {p.id for p in catalog.plans} >= {
            "m365-business-basic",
            "m365-business-standard",
            "m365-business-premium",
            "exo-plan-1",
            "exo-plan-2",
            "gws-business-starter",
            "gws-business-standard",
            "gws-business-plus",
            "zoho-mail-lite",
            "zoho-mail-premium",
            "amazon-workmail",
        }
        assert {s.id for s in catalog.stacks} == {
            "postfix-dovecot",
            "opensmtpd-dovecot",
            "exchange-se",
        }
        assert {r.id for r in catalog.relays} >= {"amazon-ses"}

    @pytest.mark.parametrize("path", CATALOG_FILES, ids=lambda p: p.name)
    def test_every_number_carries_source_and_date(self, path: Path):
        """No price or figure in data/catalog lacks a source URL and an as-of date."""
        assert _numbers_outside_sourced(yaml.safe_load(path.read_text()), path.stem) == []

    def test_every_sourced_figure_has_url_and_date(self):
        """Each value/source/as_of mapping has an http(s) URL and a date."""
        catalog = load_catalog()
        facts = []

        def walk(model: Any) -> None:
            if hasattr(model, "source") and hasattr(model, "as_of"):
                facts.append(model)
            elif isinstance(model, BaseModel):
                for name in type(model).model_fields:
                    walk(getattr(model, name))
            elif isinstance(model, list | tuple):
                for item in model:
                    walk(item)
            elif isinstance(model, dict):
                for item in model.values():
                    walk(item)

        walk(catalog)
        assert len(facts) > 50
        for fact in facts:
            assert fact.source.startswith(("http://", "https://", "data/benchmarks/"))
            assert fact.as_of[:4].isdigit()
            assert not fact.estimate or fact.note

    def test_workmail_is_flagged_end_of_life(self):
        """Amazon WorkMail carries its 2027-03-31 end of life and is not selectable."""
        plan = load_catalog().plan("amazon-workmail")
        assert plan is not None
        assert plan.end_of_life is not None
        assert plan.end_of_life.value == "2027-03-31"
        assert not plan.selectable

    def test_every_stack_and_plan_has_default_scores(self):
        """The decision matrix has a default score with a reason for every catalog entry."""
        catalog = load_catalog()
        for entry in [*catalog.plans, *catalog.stacks]:
            scores = catalog.qualitative.scores[entry.id]
            assert len(scores) == 8
            assert all(s.reason for s in scores.values())

    def test_broken_catalog_is_reported(self, tmp_path: Path):
        """A catalog entry without a source is a CatalogError naming the field."""
        for f in CATALOG_FILES:
            (tmp_path / f.name).write_text(f.read_text())
        text = (tmp_path / "onprem.yaml").read_text()
        (tmp_path / "onprem.yaml").write_text(
            text.replace(
                "    source: https://leanopstech.com/blog/backblaze-b2-pricing-2026/\n", "", 1
            )
        )
        with pytest.raises(CatalogError, match=r"defaults\.backup_per_tb_month\.source: required"):
            load_catalog(tmp_path)


class TestScenarioFiles:
    @pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.name)
    def test_bundled_scenario_validates_and_evaluates(self, path: Path):
        """Every bundled scenario validates and every option resolves against the catalog."""
        ev = evaluate(load_scenario(path))
        assert len(ev.comparison.options) == len(ev.scenario.option_ids())

    def test_presets_cover_three_sizes(self, presets):
        """Presets exist for a 25-person office, a 250-person company and a 5,000-person org."""
        users = {load_scenario(p).organization.users for p in presets.values()}
        assert {25, 250, 5000} <= users

    def test_json_scenario_reads_like_yaml(self, tmp_path: Path, presets):
        """A scenario saved as JSON evaluates to the same totals as its YAML original."""
        import json

        original = read_document(presets["default"])
        path = tmp_path / "s.json"
        path.write_text(json.dumps(original, default=str))
        a, b = evaluate(load_scenario(path)), evaluate(load_scenario(presets["default"]))
        assert a.summary["npv"].tolist() == b.summary["npv"].tolist()


class TestScenarioErrors:
    @pytest.mark.parametrize(
        ("change", "expected"),
        [
            (
                {"organization": {"users": 0}},
                "organization.users: Input should be greater than or equal to 1 (got 0)",
            ),
            ({"organization": {"bogus": 1}}, "organization.bogus: unknown key"),
            (
                {"horizon_years": 16},
                "horizon_years: Input should be less than or equal to 15 (got 16)",
            ),
            ({"discount_rate": -0.1}, "discount_rate: Input should be greater than or equal to 0"),
            (
                {"onprem": [{"id": "x", "stack": "postfix-dovecot", "pue": 0.9}]},
                "onprem[0].pue: Input should be greater than or equal to 1",
            ),
            (
                {"onprem": [{"id": "x", "server": "smb-1u", "target_utilization": 0}]},
                "onprem[0].target_utilization: Input should be greater than 0",
            ),
            (
                {"onprem": [{"id": "x"}]},
                "onprem[0]: an option with neither 'stack' nor 'server' must give server_price, capacity_msgs_per_s, storage_tb_per_server",
            ),
            (
                {"cloud": [{"id": "x", "plan": "custom"}]},
                "cloud[0]: plan 'custom' needs price_per_user_month",
            ),
            ({"cloud": [], "onprem": []}, "(top level): give at least one option"),
            (
                {
                    "cloud": [
                        {"id": "a", "plan": "custom", "price_per_user_month": 1},
                        {"id": "a", "plan": "custom", "price_per_user_month": 2},
                    ]
                },
                "option ids must be unique; repeated: a",
            ),
            (
                {"onprem": [{"id": "x", "stack": "postfix-dovecot", "redundancy": "3n"}]},
                "onprem[0].redundancy: Input should be 'none', 'n+1' or '2n'",
            ),
        ],
        ids=[
            "users-zero",
            "unknown-key",
            "horizon",
            "discount",
            "pue",
            "utilisation",
            "standalone",
            "custom-price",
            "no-options",
            "duplicate-ids",
            "redundancy",
        ],
    )
    def test_validation_line_names_field_and_reason(self, change: dict[str, Any], expected: str):
        """Each problem is one line: the field path and the reason."""
        from tests.conftest import make_scenario

        with pytest.raises(ScenarioError) as info:
            make_scenario(**change)
        assert any(expected in line for line in info.value.problems), info.value.problems

    def test_every_problem_is_reported(self):
        """Several problems give several lines, not just the first."""
        from tests.conftest import make_scenario

        with pytest.raises(ScenarioError) as info:
            make_scenario(organization={"users": 0, "peak_factor": 0.5}, horizon_years=0)
        assert len(info.value.problems) == 3

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("name: [unclosed", "line 1, column 16: not valid YAML"),
            ("- a list\n", "expected a mapping of keys to values at the top, got list"),
            ("", "got empty"),
            ("!!python/object/apply:os.system ['true']", "not valid YAML"),
        ],
        ids=["syntax", "list", "empty", "unsafe-tag"],
    )
    def test_unreadable_yaml_is_one_line(self, tmp_path: Path, text: str, expected: str):
        """Unparseable or unsafe YAML gives one line naming the file; no code runs."""
        path = tmp_path / "bad.yaml"
        path.write_text(text)
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
        assert len(info.value.problems) == 1
        assert expected in info.value.problems[0]
        assert info.value.problems[0].startswith(str(path))

    def test_missing_file(self, tmp_path: Path):
        """A missing file is named in the error."""
        with pytest.raises(ScenarioError, match="no such file"):
            load_scenario(tmp_path / "nope.yaml")

    @pytest.mark.parametrize(
        ("option", "expected"),
        [
            ({"id": "x", "stack": "sendmail"}, "onprem[0].stack: unknown stack 'sendmail'"),
            (
                {"id": "x", "server": "mainframe"},
                "onprem[0].server: unknown server profile 'mainframe'",
            ),
            (
                {"id": "x", "stack": "postfix-dovecot", "relay": "pigeon"},
                "onprem[0].relay: unknown relay 'pigeon'",
            ),
            (
                {"id": "x", "stack": "postfix-dovecot"},
                "onprem[0].server_price: not set inline and no server profile gives it",
            ),
        ],
        ids=["stack", "server", "relay", "stack-without-server"],
    )
    def test_unknown_catalog_ids(self, option: dict[str, Any], expected: str):
        """Unknown stack, server or relay ids are reported with the known ones."""
        from tests.conftest import make_scenario

        with pytest.raises(ScenarioError) as info:
            evaluate(make_scenario(onprem=[option]))
        assert any(expected in p for p in info.value.problems), info.value.problems

    def test_unknown_plan_and_requirement(self):
        """Unknown plan and requirement ids are both reported."""
        from tests.conftest import make_scenario

        s = make_scenario(
            cloud=[{"id": "c", "plan": "m365-bogus"}],
            qualitative={"requirements": ["made_in_mars"]},
        )
        with pytest.raises(ScenarioError) as info:
            evaluate(s)
        assert any("cloud[0].plan: unknown plan 'm365-bogus'" in p for p in info.value.problems)
        assert any(
            "qualitative.requirements[0]: unknown requirement 'made_in_mars'" in p
            for p in info.value.problems
        )

    def test_billing_term_the_vendor_lacks(self):
        """A billing term the catalog has no price for is an error, not a silent default."""
        from tests.conftest import make_scenario

        with pytest.raises(ScenarioError, match="no 'monthly' price for Zoho plans"):
            evaluate(
                make_scenario(cloud=[{"id": "z", "plan": "zoho-mail-lite", "billing": "monthly"}])
            )

    def test_scores_for_unknown_options(self):
        """Qualitative scores may only name options of the scenario."""
        with pytest.raises(
            ScenarioError,
            match=r"qualitative\.scores names options that are not in the scenario: ghost",
        ):
            parse_scenario(
                {
                    "name": "x",
                    "organization": {"users": 1},
                    "cloud": [{"id": "c", "plan": "custom", "price_per_user_month": 1}],
                    "qualitative": {"scores": {"ghost": {"control": 3}}},
                }
            )


def test_benchmark_sources_are_shipped_results():
    """A figure whose source is a benchmark result names a file in data/benchmarks that
    parses as a BenchmarkResult with a capacity figure."""
    import json

    from planner.bench.result import BenchmarkResult

    catalog = load_catalog()
    facts = [
        *(s.capacity_msgs_per_s for s in catalog.servers),
        *(s.capacity_scale for s in catalog.stacks),
    ]
    cited = {f.source for f in facts if f.source.startswith("data/benchmarks/")}
    assert cited, "the catalog cites no measured result"
    for source in cited:
        result = BenchmarkResult.model_validate(
            json.loads((data_dir().parent / source).read_text())
        )
        assert result.capacity_msgs_per_s is not None
