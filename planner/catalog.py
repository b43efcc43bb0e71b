"""Reading files: the price catalog in ``data/catalog/`` and scenario files (YAML or JSON).

This is the only module that knows the layout of ``data/``. YAML is read with a safe
loader only. Validation problems become :class:`~planner.errors.ScenarioError` (or
:class:`~planner.errors.CatalogError`) with one line per problem naming the field path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from planner.errors import CatalogError, ScenarioError
from planner.models import Catalog, Scenario

__all__ = [
    "data_dir",
    "dump_scenario",
    "format_validation_error",
    "load_catalog",
    "load_scenario",
    "parse_scenario",
    "read_document",
    "scenario_presets",
]

_MAX_FILE_BYTES = 5 * 1024 * 1024


def data_dir() -> Path:
    """The bundled ``data/`` folder: inside the installed package, or beside it in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "data", here.parent / "data"):
        if (candidate / "catalog").is_dir():
            return candidate
    raise CatalogError(f"data folder not found next to {here}")


def scenario_presets() -> dict[str, Path]:
    """The bundled scenario files by stem (``default``, ``office-25``, ...), sorted."""
    return {p.stem: p for p in sorted((data_dir() / "scenarios").glob("*.yaml"))}


def _loc_to_path(loc: Sequence[int | str]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def format_validation_error(err: ValidationError, prefix: str = "") -> list[str]:
    """One line per problem: ``field.path: reason (got value)``."""
    lines = []
    for e in err.errors(include_url=False):
        loc = [p for p in e["loc"] if p not in ("function-after", "function-before")]
        path = _loc_to_path(loc) or "(top level)"
        kind = e["type"]
        msg = e["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if kind == "extra_forbidden":
            msg = "unknown key (check the spelling; see 'mailplan schema')"
        elif kind == "missing":
            msg = "required"
        elif "input" in e and kind not in ("value_error", "model_type", "dict_type"):
            msg = f"{msg} (got {_short(e['input'])})"
        elif kind in ("model_type", "dict_type"):
            msg = f"should be a mapping of keys to values (got {_short(e.get('input'))})"
        lines.append(f"{prefix}{path}: {msg}")
    return lines


def read_document(path: str | Path) -> Any:
    """Parse a YAML or JSON file (by extension; YAML otherwise) with a safe loader.

    Raises ScenarioError with one line when the file is missing, unreadable or malformed.
    """
    p = Path(path)
    try:
        if p.is_dir():
            raise ScenarioError(f"{p}: is a folder, not a file")
        if p.stat().st_size > _MAX_FILE_BYTES:
            raise ScenarioError(f"{p}: larger than {_MAX_FILE_BYTES // (1024 * 1024)} MB")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{p}: no such file") from None
    except PermissionError:
        raise ScenarioError(f"{p}: permission denied") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{p}: not UTF-8 text") from None
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read ({exc.strerror})") from None
    return parse_text(text, name=str(p), json_only=p.suffix.lower() == ".json")


def parse_text(text: str, *, name: str, json_only: bool = False) -> Any:
    """Parse YAML (safe loader) or, with ``json_only``, strict JSON; one-line errors."""
    if json_only:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScenarioError(
                f"{name}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})"
            ) from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ScenarioError(f"{name}: {where}not valid YAML ({exc.problem})") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{name}: not valid YAML ({exc})") from None


def parse_scenario(data: Any, *, name: str = "scenario") -> Scenario:
    """Validate already-parsed data as a Scenario; ScenarioError lists every problem."""
    if not isinstance(data, Mapping):
        kind = "empty" if data is None else type(data).__name__
        raise ScenarioError(f"{name}: expected a mapping of keys to values at the top, got {kind}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc, prefix=f"{name}: ")) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (YAML or JSON)."""
    return parse_scenario(read_document(path), name=str(path))


def dump_scenario(scenario: Scenario, fmt: str = "yaml") -> str:
    """The scenario as YAML or JSON text, without defaults that were not set."""
    data = scenario.model_dump(mode="json", exclude_unset=True)
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _load_catalog_files(folder: Path) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name in ("cloud_plans.yaml", "onprem.yaml", "features.yaml"):
        doc = read_document(folder / name)
        if not isinstance(doc, dict):
            raise CatalogError(f"{folder / name}: expected a mapping at the top")
        merged.update(doc)
    merged["qualitative"] = read_document(folder / "qualitative.yaml")
    return merged


@lru_cache(maxsize=8)
def _load_catalog_cached(folder: str) -> Catalog:
    path = Path(folder)
    try:
        data = _load_catalog_files(path)
    except ScenarioError as exc:
        raise CatalogError(exc.problems) from None
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(format_validation_error(exc, prefix=f"{path}: ")) from None


def load_catalog(folder: str | Path | None = None) -> Catalog:
    """The price catalog (cached per folder); defaults to the bundled ``data/catalog``."""
    target = Path(folder) if folder is not None else data_dir() / "catalog"
    return _load_catalog_cached(str(target.resolve()))
