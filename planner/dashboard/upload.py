"""An uploaded scenario file: size-capped, parsed safely, validated like ``mailplan validate``.

The bytes never touch the disk and the file name is only used in messages. After a cap on
its size, the text goes through :func:`planner.catalog.parse_text`, the parser of
``mailplan validate`` too, which caps YAML aliases, nesting depth and the number of values
once aliases expand (an alias "bomb" is small text that expands into a huge object graph).
Every problem is a :class:`~planner.errors.ScenarioError` line naming the file and the
field. No Streamlit here.
"""

from __future__ import annotations

from dataclasses import replace

from planner.catalog import MAX_ALIASES, MAX_DEPTH, parse_scenario, parse_text
from planner.errors import ScenarioError
from planner.models import Catalog, Scenario
from planner.resolution import resolve

__all__ = ["MAX_ALIASES", "MAX_DEPTH", "MAX_UPLOAD_BYTES", "read_upload"]

MAX_UPLOAD_BYTES = 1024 * 1024  # the same 1 MB as server.maxUploadSize
"""Largest scenario file accepted (a scenario is a few KB)."""


def read_upload(name: str, data: bytes, catalog: Catalog) -> Scenario:
    """The scenario in an uploaded YAML or JSON file, checked against ``catalog``.

    Raises ScenarioError (one line per problem) when the file is too large, not UTF-8,
    not valid YAML/JSON, or not a valid scenario.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise ScenarioError(
            f"{name}: {len(data):,} bytes is larger than the {MAX_UPLOAD_BYTES // 1024} KB limit"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{name}: not UTF-8 text") from None
    json_only = name.lower().endswith(".json")
    scenario = parse_scenario(parse_text(text, name=name, json_only=json_only), name=name)
    try:
        resolve(scenario, catalog)
    except ScenarioError as exc:
        raise ScenarioError([replace(p, source=name) for p in exc.problems]) from None
    return scenario
