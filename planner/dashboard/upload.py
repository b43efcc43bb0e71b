"""An uploaded scenario file: size-capped, parsed safely, validated like ``mailplan validate``.

The bytes never touch the disk and the file name is only used in messages. YAML goes
through the safe loader after a cap on its size and on alias use (an alias "bomb" is small
text that expands into a huge object graph); JSON through ``json``. Every problem is a
:class:`~planner.errors.ScenarioError` line naming the file and the field. No Streamlit here.
"""

from __future__ import annotations

import yaml

from planner.catalog import parse_scenario, parse_text
from planner.errors import ScenarioError
from planner.models import Catalog, Scenario
from planner.resolution import resolve

__all__ = ["MAX_ALIASES", "MAX_UPLOAD_BYTES", "read_upload"]

MAX_UPLOAD_BYTES = 1024 * 1024  # the same 1 MB as server.maxUploadSize
"""Largest scenario file accepted (a scenario is a few KB)."""
MAX_ALIASES = 100
"""Most YAML aliases (``*name``) accepted in one file."""


def _count_aliases(text: str, limit: int) -> int:
    count = 0
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, yaml.AliasToken):
            count += 1
            if count > limit:
                break
    return count


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
    if not json_only:
        try:
            aliases = _count_aliases(text, MAX_ALIASES)
        except yaml.YAMLError:
            aliases = 0  # parse_text reports the syntax error with its line
        if aliases > MAX_ALIASES:
            raise ScenarioError(f"{name}: more than {MAX_ALIASES} YAML aliases")
    scenario = parse_scenario(parse_text(text, name=name, json_only=json_only), name=name)
    try:
        resolve(scenario, catalog)
    except ScenarioError as exc:
        raise ScenarioError([f"{name}: {line}" for line in exc.problems]) from None
    return scenario
