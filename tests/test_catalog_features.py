"""The feature-parity table and upgrade paths: every plan and stack answers every feature, and
unknown ids, cycles and clashes are one-line CatalogErrors naming the path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner import CatalogError, load_catalog
from tests.test_catalog import CATALOG_FILES

Docs = dict[str, Any]


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's: the same text, faster


@cache
def _bundled_docs() -> Docs:
    """The bundled catalog files, parsed once (pure-Python YAML takes about half a second)."""
    return {f.stem: yaml.safe_load(f.read_text()) for f in CATALOG_FILES}


def edited_catalog(tmp_path: Path, edit: Callable[[Docs], None]) -> Path:
    """A copy of the bundled catalog folder with ``edit`` applied to its parsed files."""
    docs = copy.deepcopy(_bundled_docs())
    edit(docs)
    for stem, doc in docs.items():
        (tmp_path / f"{stem}.yaml").write_text(yaml.dump(doc, Dumper=_DUMPER, sort_keys=False))
    return tmp_path


def entry(docs: Docs, kind: str, entry_id: str) -> dict[str, Any]:
    """The plan or stack with this id in the parsed documents."""
    doc = docs["cloud_plans"] if kind == "plans" else docs["onprem"]
    return next(e for e in doc[kind] if e["id"] == entry_id)


def index(docs: Docs, kind: str, entry_id: str) -> int:
    """The position of a plan or stack, as error paths name it."""
    doc = docs["cloud_plans"] if kind == "plans" else docs["onprem"]
    return [e["id"] for e in doc[kind]].index(entry_id)


def one_problem(folder: Path) -> str:
    """Load the catalog and return its single problem line."""
    with pytest.raises(CatalogError) as info:
        load_catalog(folder)
    assert len(info.value.lines) == 1, info.value.lines
    return info.value.lines[0]


class TestBundledTable:
    def test_every_plan_and_stack_answers_every_feature(self):
        """The parity table has no holes: each plan and stack gives each feature id."""
        catalog = load_catalog()
        ids = [f.id for f in catalog.features]
        assert {
            "calendar_contacts",
            "mobile_sync",
            "webmail",
            "archiving",
            "ediscovery_legal_hold",
            "dlp",
            "backup_restore",
            "advanced_threat_filtering",
            "data_residency_eu",
        } <= set(ids)
        for entry_ in [*catalog.plans, *catalog.stacks]:
            assert list(entry_.features) == ids, entry_.id

    def test_every_feature_entry_is_sourced_and_dated(self):
        """Each feature entry has a URL, a date, and a note (when it was read)."""
        catalog = load_catalog()
        for entry_ in [*catalog.plans, *catalog.stacks]:
            for fid, feature in entry_.features.items():
                assert feature.source.startswith("https://"), (entry_.id, fid)
                assert feature.as_of[:4].isdigit()
                assert feature.note, (entry_.id, fid)
                assert feature.addon is None or not feature.included, (entry_.id, fid)

    def test_upgrade_paths(self):
        """Capped plans name a bigger like-for-like plan; Exchange 2019 upgrades to SE."""
        catalog = load_catalog()
        expected = {
            "m365-business-basic": "office-365-e1",
            "m365-business-standard": "office-365-e3",
            "m365-business-premium": "m365-e3",
            "gws-business-starter": "gws-enterprise-standard",
            "gws-business-standard": "gws-enterprise-standard",
            "gws-business-plus": "gws-enterprise-plus",
        }
        for plan_id, successor in expected.items():
            plan = catalog.plan(plan_id)
            assert plan is not None
            assert plan.upgrade_to == successor
            assert plan.max_users is not None
            assert plan.max_users.value == 300
            assert catalog.plan(successor) is not None
        stack = catalog.stack("exchange-2019")
        assert stack is not None
        assert stack.upgrade_to == "exchange-se"
        assert stack.end_of_life is not None
        assert stack.end_of_life.value == "2025-10-14"
        assert not stack.available_to_new_customers

    def test_premium_needs_no_archiving_addon(self):
        """Business Premium includes Exchange Online Archiving, so it has no storage add-on."""
        plan = load_catalog().plan("m365-business-premium")
        assert plan is not None
        assert plan.storage_addon is None
        assert plan.features["archiving"].included

    def test_workmail_is_closed_to_new_customers(self):
        """WorkMail is not sold to new customers; the old name still reads the same flag."""
        plan = load_catalog().plan("amazon-workmail")
        assert plan is not None
        assert plan.available_to_new_customers is False
        assert plan.selectable is False
        assert plan.upgrade_to is None


class TestBrokenCatalogs:
    def test_unknown_feature_id(self, tmp_path: Path):
        """A feature key that features.yaml does not define is named with its path."""
        i = {}

        def edit(docs: Docs) -> None:
            i["n"] = index(docs, "plans", "zoho-mail-lite")
            feats = entry(docs, "plans", "zoho-mail-lite")["features"]
            feats["telepathy"] = dict(feats["webmail"])

        line = one_problem(edited_catalog(tmp_path, edit))
        assert f"plans[{i['n']}].features.telepathy: unknown feature 'telepathy'" in line

    def test_missing_feature(self, tmp_path: Path):
        """A stack that leaves out a feature is named with the feature it lacks."""
        i = {}

        def edit(docs: Docs) -> None:
            i["n"] = index(docs, "stacks", "postfix-dovecot")
            del entry(docs, "stacks", "postfix-dovecot")["features"]["webmail"]

        line = one_problem(edited_catalog(tmp_path, edit))
        assert (
            f"stacks[{i['n']}].features: postfix-dovecot does not say whether it includes: webmail"
            in line
        )

    def test_unknown_upgrade_to(self, tmp_path: Path):
        """An upgrade_to naming no plan is reported at its path."""
        i = {}

        def edit(docs: Docs) -> None:
            i["n"] = index(docs, "plans", "gws-business-starter")
            entry(docs, "plans", "gws-business-starter")["upgrade_to"] = "gws-galactic"

        line = one_problem(edited_catalog(tmp_path, edit))
        assert f"plans[{i['n']}].upgrade_to: unknown plan 'gws-galactic'" in line

    def test_upgrade_cycle(self, tmp_path: Path):
        """Upgrade paths that loop back are one problem, naming the whole cycle."""

        def edit(docs: Docs) -> None:
            entry(docs, "stacks", "exchange-se")["upgrade_to"] = "exchange-2019"

        line = one_problem(edited_catalog(tmp_path, edit))
        assert "upgrade_to forms a cycle: exchange-se -> exchange-2019 -> exchange-se" in line
        assert "stacks[" in line

    def test_feature_id_clashes_with_requirement(self, tmp_path: Path):
        """Feature and requirement ids share a namespace; a clash names the feature's path."""

        def edit(docs: Docs) -> None:
            docs["qualitative"]["requirements"].append(
                {"id": "webmail", "label": "Webmail", "description": "Has webmail."}
            )

        line = one_problem(edited_catalog(tmp_path, edit))
        assert "features[2].id: feature id 'webmail' is also a requirement id" in line

    def test_old_selectable_key_still_loads(self, tmp_path: Path):
        """``selectable: false`` (the old key) loads as available_to_new_customers false."""

        def edit(docs: Docs) -> None:
            plan = entry(docs, "plans", "amazon-workmail")
            del plan["available_to_new_customers"]
            plan["selectable"] = False

        plan = load_catalog(edited_catalog(tmp_path, edit)).plan("amazon-workmail")
        assert plan is not None
        assert plan.available_to_new_customers is False
        assert plan.selectable is False
        assert "selectable" not in plan.model_dump()
