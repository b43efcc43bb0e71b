"""The bundled catalog and scenarios: everything validates and every figure is sourced."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from planner import CatalogError, ScenarioError, data_dir, evaluate, load_catalog, load_scenario
from planner.catalog import (
    MAX_FILE_BYTES,
    MAX_PROBLEMS,
    _read_bundled,
    parse_scenario,
    parse_text,
    read_document,
)

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
    @pytest.mark.parametrize("path", CATALOG_FILES, ids=lambda p: p.name)
    def test_bundled_fast_path_reads_what_the_guarded_parser_reads(self, path):
        """The bundled catalog is parsed by libyaml (it is ours, not input); it must give
        exactly what the guarded parser that user files go through gives."""
        assert _read_bundled(path) == read_document(path)

    def test_a_catalog_folder_a_user_names_is_parsed_guarded(self, tmp_path):
        """A copy of the catalog in another folder goes through the guarded parser: an
        alias bomb in it is refused in one line, not expanded."""
        for path in CATALOG_FILES:
            (tmp_path / path.name).write_text(path.read_text())
        (tmp_path / "features.yaml").write_text(_alias_bomb(9))
        with pytest.raises(CatalogError, match="aliases"):
            load_catalog(tmp_path)

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
            "exchange-2019",
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
            ({"cloud": [], "onprem": []}, "scenario: give at least one option"),
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
        assert any(expected in line for line in info.value.lines), info.value.lines

    def test_every_problem_is_reported(self):
        """Several problems give several lines, not just the first."""
        from tests.conftest import make_scenario

        with pytest.raises(ScenarioError) as info:
            make_scenario(organization={"users": 0, "peak_factor": 0.5}, horizon_years=0)
        assert len(info.value.lines) == 3

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("name: [unclosed", "line 1, column 16: not valid YAML"),
            (
                "- a list\n",
                "not a scenario (expected a mapping of keys to values at the top level, got list)",
            ),
            ("", "got empty"),
            ("!!python/object/apply:os.system ['true']", "not valid YAML"),
            ("name: a\x00b\n", "not valid YAML (unacceptable character #x0000"),
        ],
        ids=["syntax", "list", "empty", "unsafe-tag", "control-character"],
    )
    def test_unreadable_yaml_is_one_line(self, tmp_path: Path, text: str, expected: str):
        """Unparseable or unsafe YAML gives one line naming the file; no code runs."""
        path = tmp_path / "bad.yaml"
        path.write_text(text)
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
        assert len(info.value.lines) == 1
        assert expected in info.value.lines[0]
        assert info.value.lines[0].startswith(str(path))

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
                {"id": "x", "server_price": 1000},
                "an option with neither 'stack' nor 'server' must give capacity_msgs_per_s",
            ),
        ],
        ids=["stack", "server", "relay", "no-stack-no-server"],
    )
    def test_unknown_catalog_ids(self, option: dict[str, Any], expected: str):
        """Unknown stack, server or relay ids are reported with the known ones."""
        from tests.conftest import make_scenario

        with pytest.raises(ScenarioError) as info:
            evaluate(make_scenario(onprem=[option]))
        assert any(expected in p for p in info.value.lines), info.value.lines

    def test_a_stack_without_a_server_gets_a_picked_profile(self):
        """A stack with no server and no hardware of its own is sized on the catalog's
        profile with the lowest NPV."""
        from tests.conftest import make_scenario

        ev = evaluate(make_scenario(onprem=[{"id": "x", "stack": "postfix-dovecot"}]))
        assert ev.option("x").server in {s.id for s in load_catalog().servers}

    def test_unknown_plan_and_requirement(self):
        """Unknown plan and requirement ids are both reported."""
        from tests.conftest import make_scenario

        s = make_scenario(
            cloud=[{"id": "c", "plan": "m365-bogus"}],
            qualitative={"requirements": ["made_in_mars"]},
        )
        with pytest.raises(ScenarioError) as info:
            evaluate(s)
        assert any("cloud[0].plan: unknown plan 'm365-bogus'" in p for p in info.value.lines)
        assert any(
            "qualitative.requirements[0]: unknown requirement 'made_in_mars'" in p
            for p in info.value.lines
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


def _alias_bomb(levels: int, width: int = 9) -> str:
    """``levels`` anchored lists, each ``width`` aliases of the one before: width**levels leaves."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nname: x\norganization: {{users: *l{levels - 1}}}\n"


def _shared_lists(levels: int, width: int = 9) -> list[Any]:
    """The Python graph an alias bomb builds: nested lists sharing one child, width**levels leaves."""
    value: list[Any] = ["lol"] * width
    for _ in range(levels - 1):
        value = [value] * width
    return value


class TestHostileFiles:
    """Files built to exhaust time, memory or the stack, or to make errors echo a secret."""

    @pytest.mark.parametrize(
        ("text", "json_only", "expected"),
        [
            (_alias_bomb(9), False, "more than 20,000 values once its YAML aliases expand"),
            (
                _alias_bomb(5, width=8),
                False,
                "more than 20,000 values once its YAML aliases expand",
            ),
            (
                "a: &a [1]\n" + "".join(f"k{i}: *a\n" for i in range(101)),
                False,
                "line 102, column 7: more than 100 YAML aliases",
            ),
            ("[" * 100_000 + "]" * 100_000, False, "line 1, column 101: nested more than 100"),
            ("{a: " * 20_000 + "}" * 20_000, False, "line 1, column 401: nested more than 100"),
            (
                "".join(f"{'  ' * i}- \n" for i in range(150)),
                False,
                "line 101, column 201: nested more than 100 levels deep",
            ),
            (
                "a: &a " + "[" * 60 + "]" * 60 + "\nb: " + "[" * 50 + "*a" + "]" * 50,
                False,
                "nested more than 100 levels deep once its YAML aliases expand",
            ),
            ("a: &a [*a]\n", False, "line 1, column 4: a YAML alias refers to a mapping or list"),
            ("[" + "1, " * 20_001 + "]", False, "more than 20,000 values"),
            ("[" * 100_000 + "]" * 100_000, True, "nested more than 100 levels deep"),
            ("[" * 101 + "]" * 101, True, "nested more than 100 levels deep"),
            ("a: 2001-13-01\n", False, "line 1, column 4: not valid YAML (cannot read this value"),
            ("a: !!timestamp x\n", False, "not valid YAML (cannot read this value as timestamp)"),
            ("a: !!int x\n", False, "not valid YAML (cannot read this value as int)"),
            ("a: " + "9" * 5000, False, "not valid YAML (a number longer than 100 characters)"),
            ("a: " + ":".join(["1"] * 100_000), False, "a number longer than 100 characters"),
            ("[" + "9" * 5000 + "]", True, "not valid JSON ("),
        ],
        ids=[
            "alias-bomb",
            "alias-bomb-small",
            "aliases",
            "deep-flow-list",
            "deep-flow-mapping",
            "deep-block",
            "deep-through-alias",
            "self-reference",
            "many-values",
            "deep-json",
            "json-depth-101",
            "bad-date",
            "bad-timestamp",
            "bad-int",
            "long-int",
            "base-60-int",
            "long-json-int",
        ],
    )
    def test_refused_in_one_line(self, text: str, json_only: bool, expected: str):
        """parse_text, the parser of files and uploads, refuses each with one line naming the
        file, before building the document."""
        with pytest.raises(ScenarioError) as info:
            parse_text(text, name="f", json_only=json_only)

        assert len(info.value.lines) == 1
        assert info.value.lines[0].startswith("f: ")
        assert expected in info.value.lines[0]
        assert len(info.value.lines[0]) < 200

    @pytest.mark.parametrize(
        ("text", "json_only"),
        [
            ("[" * 100 + "]" * 100, False),
            ("[" * 100 + "]" * 100, True),
            ("a: &a [1]\n" + "".join(f"k{i}: *a\n" for i in range(100)), False),
            ("a: &a {x: 1}\nb: {<<: *a, y: 2}\n", False),
        ],
        ids=["depth-100", "json-depth-100", "100-aliases", "merge-key"],
    )
    def test_at_the_limits_is_read(self, text: str, json_only: bool):
        """Nesting 100 deep and 100 aliases are still read."""
        assert parse_text(text, name="f", json_only=json_only) is not None

    @pytest.mark.parametrize(
        "value",
        [_shared_lists(9), 10**5000, {f"k{i}": i for i in range(100_000)}, "x" * 1_000_000],
        ids=["shared-lists", "huge-int", "big-mapping", "long-string"],
    )
    def test_error_lines_show_a_bounded_repr(self, value: Any):
        """Whatever the wrong value, its problem line is short: the formatter never takes the
        repr of the whole value (9**9 leaves would take minutes and GBs)."""
        with pytest.raises(ScenarioError) as info:
            parse_scenario({"name": value, "organization": {"users": 5}})

        (line,) = info.value.lines
        assert line.startswith("scenario: name: ")
        assert "(got " in line
        assert len(line) < 150, line

    @pytest.mark.parametrize(
        ("text", "expected", "secret"),
        [
            (
                "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
                "f: the file is not a scenario (none of its 2 top-level keys is a scenario field",
                "root",
            ),
            (
                "SECRET_TOKEN=hunter2\n",
                "f: the file is not a scenario (expected a mapping of keys to values at the "
                "top level, got str)",
                "hunter2",
            ),
            (
                "name: x\norganization: {users: 5, 'db password: hunter2': 1}\n",
                "f: organization.<key 2>: unknown key, not shown as it is not a plain name",
                "hunter2",
            ),
            (
                "name: x\norganization: {users: 5}\n'-----BEGIN PRIVATE KEY-----': 1\n",
                "f: <key 3>: unknown key, not shown as it is not a plain name",
                "PRIVATE",
            ),
        ],
        ids=["shadow", "env-file", "nested-key", "top-level-key"],
    )
    def test_errors_echo_no_file_content(self, text: str, expected: str, secret: str):
        """A file that is not a scenario, or a key that is not a plain name, is reported without
        echoing the file: no line holds the secret."""
        with pytest.raises(ScenarioError) as info:
            parse_scenario(parse_text(text, name="f"), name="f")

        assert any(line.startswith(expected) for line in info.value.lines), info.value.lines
        assert not any(secret in line for line in info.value.lines)

    def test_plain_unknown_keys_are_still_named(self):
        """A misspelt key that looks like a name is echoed, as before."""
        with pytest.raises(ScenarioError) as info:
            parse_scenario({"name": "x", "organization": {"users": 5, "userz": 1}}, name="f")

        assert info.value.lines == (
            "f: organization.userz: unknown key (check the spelling; see 'mailplan schema')",
        )

    def test_problems_are_capped(self):
        """Thousands of problems are listed up to MAX_PROBLEMS, then counted on one line."""
        data = {"name": "x", "organization": {"users": 5}, **{f"k{i}": 1 for i in range(5000)}}
        with pytest.raises(ScenarioError) as info:
            parse_scenario(data, name="f")

        assert len(info.value.lines) == MAX_PROBLEMS + 1
        assert info.value.lines[-1] == f"f: ... and {5000 - MAX_PROBLEMS:,} more problems"

    @pytest.mark.parametrize(
        ("path", "expected"),
        [
            ("/dev/zero", "/dev/zero: not a regular file"),
            ("/dev/null", "/dev/null: not a regular file"),
            ("/", "/: is a folder, not a file"),
        ],
        ids=["dev-zero", "dev-null", "folder"],
    )
    def test_files_that_are_not_files(self, path: str, expected: str):
        """Devices and folders are refused in one line without being read (stat says 0 bytes
        for /dev/zero, which reads forever)."""
        with pytest.raises(ScenarioError) as info:
            read_document(path)

        assert info.value.lines == (expected,)

    def test_oversized_file(self, tmp_path: Path):
        """A file over MAX_FILE_BYTES is refused by what is read, not by what stat says."""
        path = tmp_path / "big.yaml"
        path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))

        with pytest.raises(ScenarioError) as info:
            read_document(path)

        assert info.value.lines == (f"{path}: larger than 1 MB",)

    def test_pipe_is_read(self, presets):
        """A pipe (``mailplan validate <(...)``) is read like a file."""
        read_fd, write_fd = os.pipe()
        try:
            os.write(write_fd, presets["default"].read_bytes())
            os.close(write_fd)
            data = read_document(f"/dev/fd/{read_fd}")
        finally:
            os.close(read_fd)

        assert data == read_document(presets["default"])
