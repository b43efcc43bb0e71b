"""The primary-source rule: a figure that is not marked an estimate cites its vendor's (or a
statistics office's) own page, one of the catalog's ``primary_hosts``."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from planner import data_dir, load_catalog
from tests.test_catalog import CATALOG_FILES

BENCHMARK_PREFIX = "data/benchmarks/"


def host_is_primary(url: str, hosts: list[str]) -> bool:
    """True when the URL's host is a listed host or a subdomain of one."""
    host = (urlsplit(url).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in (h.lower() for h in hosts))


def figures(node: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
    """Every mapping with a source and an as-of date (a price, cap, date or feature entry)."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if "source" in node and "as_of" in node:
            found.append((path, node))
        for key, value in node.items():
            found += figures(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            label = value.get("id", i) if isinstance(value, dict) else i
            found += figures(value, f"{path}[{label}]")
    return found


def non_primary_figures(folder: Path) -> list[str]:
    """Paths of figures in a catalog folder that are not estimates yet cite a host outside
    primary_hosts (the top-level key of cloud_plans.yaml)."""
    docs = {f.stem: yaml.safe_load(f.read_text()) for f in sorted(folder.glob("*.yaml"))}
    return non_primary(docs, docs["cloud_plans"]["primary_hosts"])


def non_primary(docs: dict[str, Any], hosts: list[str]) -> list[str]:
    """Paths of figures in parsed documents that break the primary-source rule."""
    bad = []
    for stem, doc in docs.items():
        for path, fact in figures(doc, stem):
            source = str(fact["source"])
            if fact.get("estimate") or source.startswith(BENCHMARK_PREFIX):
                continue
            if not host_is_primary(source, hosts):
                bad.append(f"{path}: {source}")
    return bad


def copy_catalog(tmp_path: Path) -> Path:
    """A writable copy of the bundled catalog folder."""
    for f in CATALOG_FILES:
        (tmp_path / f.name).write_text(f.read_text())
    return tmp_path


def test_bundled_catalog_cites_primary_sources():
    """Every non-estimate figure in data/catalog cites a host in primary_hosts."""
    folder = data_dir() / "catalog"
    checked = [
        fact
        for f in folder.glob("*.yaml")
        for _, fact in figures(yaml.safe_load(f.read_text()), f.stem)
        if not fact.get("estimate")
    ]
    assert len(checked) > 50, "the rule would pass vacuously"
    assert non_primary_figures(folder) == []


def test_rule_catches_a_third_party_source(tmp_path: Path):
    """A non-estimate figure citing a third-party page is reported with its path."""
    folder = copy_catalog(tmp_path)
    doc = yaml.safe_load((folder / "cloud_plans.yaml").read_text())
    premium = next(p for p in doc["plans"] if p["id"] == "m365-business-premium")
    premium["price_per_user_month"]["source"] = "https://reseller.example.com/m365-prices"
    (folder / "cloud_plans.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    assert non_primary_figures(folder) == [
        "cloud_plans.plans[m365-business-premium].price_per_user_month: "
        "https://reseller.example.com/m365-prices"
    ]


def test_rule_catches_a_feature_entry(tmp_path: Path):
    """Feature entries are figures too: a third-party source needs estimate: true."""
    folder = copy_catalog(tmp_path)
    doc = yaml.safe_load((folder / "cloud_plans.yaml").read_text())
    plan = next(p for p in doc["plans"] if p["id"] == "gws-business-plus")
    plan["features"]["dlp"]["source"] = "https://blog.example.org/gws-dlp"
    (folder / "cloud_plans.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    bad = non_primary_figures(folder)
    assert bad == [
        "cloud_plans.plans[gws-business-plus].features.dlp: https://blog.example.org/gws-dlp"
    ]


def test_estimates_and_benchmarks_are_exempt():
    """Estimates may cite any page and measured results in data/benchmarks are allowed; a
    plain third-party figure beside them is still caught."""
    docs = {
        "doc": {
            "a": {
                "value": 1,
                "source": "https://blog.example.com/x",
                "as_of": "2026",
                "estimate": True,
            },
            "b": {"value": 2, "source": "data/benchmarks/run.json", "as_of": "2026"},
            "c": {"included": True, "source": "https://support.google.com/a/1", "as_of": "2026"},
            "d": {"value": 3, "source": "https://blog.example.com/y", "as_of": "2026"},
        }
    }
    assert non_primary(docs, ["google.com"]) == ["doc.d: https://blog.example.com/y"]


@pytest.mark.parametrize(
    ("url", "primary"),
    [
        ("https://learn.microsoft.com/en-us/x", True),
        ("https://microsoft.com/x", True),
        ("https://www.eia.gov/electricity/", True),
        ("https://notmicrosoft.com/x", False),
        ("https://microsoft.com.evil.example/x", False),
        ("https://raw.githubusercontent.com/x", False),
    ],
)
def test_host_matching(url: str, primary: bool):
    """A host matches a listed host exactly or as a subdomain, never as a suffix of a name."""
    assert host_is_primary(url, ["microsoft.com", "eia.gov"]) is primary


def test_catalog_model_carries_review_date_and_hosts():
    """The loaded catalog has its review date and the primary hosts the rule uses."""
    catalog = load_catalog()
    assert catalog.as_of == "2026-12-03"
    assert {"microsoft.com", "support.google.com", "aws.amazon.com", "eia.gov", "bls.gov"} <= set(
        catalog.primary_hosts
    )
