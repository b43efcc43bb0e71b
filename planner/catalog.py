"""Reading files: the price catalog in ``data/catalog/`` and scenario files (YAML or JSON).

This is the only module that knows the layout of ``data/``. YAML is read with a safe
loader only. Validation problems become :class:`~planner.errors.ScenarioError` (or
:class:`~planner.errors.CatalogError`) with one line per problem naming the field path.

Files are treated as hostile: :func:`read_document` reads at most :data:`MAX_FILE_BYTES`
from a regular file, and :func:`parse_text` (which the dashboard upload uses too) refuses,
while composing and before any Python object is built, YAML with more than
:data:`MAX_ALIASES` aliases, nesting deeper than :data:`MAX_DEPTH`, or more than
:data:`MAX_VALUES` values once its aliases are expanded (an alias "bomb"). Error lines
echo no file content beyond short values and keys that look like names.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import reprlib
import stat
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import ValidationError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from planner.errors import CatalogError, Problem, ScenarioError
from planner.models import Catalog, Scenario

__all__ = [
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_PROBLEMS",
    "MAX_VALUES",
    "data_dir",
    "dump_scenario",
    "format_validation_error",
    "load_catalog",
    "load_scenario",
    "parse_scenario",
    "parse_text",
    "read_document",
    "scenario_presets",
]

MAX_FILE_BYTES = 1024 * 1024
"""Largest file read (a scenario is a few KB; the catalog's largest file 13 KB)."""
MAX_ALIASES = 100
"""Most YAML aliases (``*name``) accepted in one document."""
MAX_DEPTH = 100
"""Deepest nesting of mappings and lists accepted (a scenario nests 5 deep)."""
MAX_VALUES = 20_000
"""Most values (scalars, mappings, lists) in a YAML document with its aliases expanded;
the catalog's largest file has 600. Pure-Python YAML composes about 20,000 a second."""
MAX_PROBLEMS = 100
"""Most problems listed for one file; the rest are counted on one more line."""
_MAX_NUMBER_CHARS = 100
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}")


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


class _BoundedRepr(reprlib.Repr):
    """``repr`` that looks at no more than a few items two levels down, whatever the value.

    A value from a hostile file may be a shared-alias graph of 10**9 leaves, a dict of
    20,000 keys or an integer of 4,000 digits; its full ``repr`` may take minutes and GBs.
    """

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 2
        self.maxstring = self.maxother = self.maxlong = 40
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = self.maxdict = 4

    def repr_int(self, x: int, level: int) -> str:
        # Decimal text of a huge int is quadratic, and refused past 4300 digits.
        return repr(x) if x.bit_length() <= 128 else "a number with over 38 digits"

    def repr_dict(self, x: dict[Any, Any], level: int) -> str:
        # reprlib's own sorts every key first.
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        items = [
            f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}"
            for k, v in itertools.islice(x.items(), self.maxdict)
        ]
        return "{" + ", ".join(items) + (", ...}" if len(x) > self.maxdict else "}")


_REPR = _BoundedRepr()


def _one_line(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short(value: Any) -> str:
    return _one_line(_REPR.repr(value), 60)


def _child(data: Any, part: int | str) -> Any:
    """``data[part]`` when ``data`` is a mapping or list that has it, else None."""
    if isinstance(data, Mapping):
        return data.get(part)
    if isinstance(data, list) and isinstance(part, int) and -len(data) <= part < len(data):
        return data[part]
    return None


def _is_shown(part: int | str) -> bool:
    return isinstance(part, int) or part == "[key]" or bool(_PLAIN_NAME.fullmatch(part))


class _KeyPositions:
    """1-based positions of keys in the mappings of the validated data, by mapping."""

    def __init__(self) -> None:
        self._by_mapping: dict[int, dict[Any, int]] = {}

    def __call__(self, mapping: Mapping[Any, Any], key: Any) -> int | None:
        positions = self._by_mapping.get(id(mapping))
        if positions is None:
            positions = {k: i for i, k in enumerate(mapping, 1)}
            self._by_mapping[id(mapping)] = positions
        return positions.get(key)


def _loc_to_path(
    loc: Sequence[int | str], data: Any = None, positions: _KeyPositions | None = None
) -> str:
    """``a.b[0].c``; a key that is not a plain name shows as ``<key N>``, its position in
    its mapping, so that the error line echoes none of the file (a file that is not a
    scenario at all, ``/etc/shadow`` say, has keys full of content)."""
    positions = positions or _KeyPositions()
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            if _is_shown(part):
                text = part
            else:
                where = positions(data, part) if isinstance(data, Mapping) else None
                text = f"<key {where}>" if where else "<key>"
            path += f".{text}" if path else text
        data = _child(data, part)
    return path


def format_validation_error(
    err: ValidationError, source: str = "", data: Any = None
) -> list[Problem]:
    """One :class:`~planner.errors.Problem` per error: the field's path (``""`` for the
    input as a whole) and ``reason (got value)``, in ``source`` (the input's name); at
    most MAX_PROBLEMS of them, and one more saying how many were left out.

    ``data``, the input that was validated, lets a key that is not shown (see
    :func:`_loc_to_path`) be named by its position instead. No line echoes more than a
    short ``repr`` of a value.
    """
    errors = err.errors(include_url=False)
    positions = _KeyPositions()
    problems = []
    for e in errors[:MAX_PROBLEMS]:
        loc = [p for p in e["loc"] if p not in ("function-after", "function-before")]
        path = _loc_to_path(loc, data, positions)
        kind = e["type"]
        msg = e["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        msg = _one_line(msg, 300)
        if kind == "extra_forbidden" and loc and not _is_shown(loc[-1]):
            msg = "unknown key, not shown as it is not a plain name (see 'mailplan schema')"
        elif kind == "extra_forbidden":
            msg = "unknown key (check the spelling; see 'mailplan schema')"
        elif kind == "missing":
            msg = "required"
        elif "input" in e and kind not in ("value_error", "model_type", "dict_type"):
            msg = f"{msg} (got {_short(e['input'])})"
        elif kind in ("model_type", "dict_type"):
            msg = f"should be a mapping of keys to values (got {_short(e.get('input'))})"
        problems.append(Problem(path, msg, source))
    if len(errors) > MAX_PROBLEMS:
        more = f"... and {len(errors) - MAX_PROBLEMS:,} more problems"
        problems.append(Problem("", more, source))
    return problems


def _read_bytes(path: Path) -> bytes:
    """Up to ``MAX_FILE_BYTES + 1`` bytes of a regular file or a pipe.

    The size ``stat`` gives is no guide: it is 0 for ``/dev/zero`` and for a pipe. Devices
    and sockets are refused, and ``open`` does not wait for a writer of a named pipe.
    """
    nonblock = getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, os.O_RDONLY | nonblock | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ScenarioError(Problem("", "is a folder, not a file", str(path)))
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            raise ScenarioError(Problem("", "not a regular file", str(path)))
        if nonblock:
            os.set_blocking(fd, True)
        chunks, left = [], MAX_FILE_BYTES + 1
        while left > 0 and (chunk := os.read(fd, left)):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_document(path: str | Path) -> Any:
    """Parse a YAML or JSON file (by extension; YAML otherwise) with :func:`parse_text`.

    Raises ScenarioError with one line when the file is missing, unreadable, not a regular
    file, larger than :data:`MAX_FILE_BYTES`, or refused by :func:`parse_text`.
    """
    p = Path(path)
    try:
        data = _read_bytes(p)
    except FileNotFoundError:
        raise ScenarioError(Problem("", "no such file", str(p))) from None
    except PermissionError:
        raise ScenarioError(Problem("", "permission denied", str(p))) from None
    except IsADirectoryError:
        raise ScenarioError(Problem("", "is a folder, not a file", str(p))) from None
    except OSError as exc:
        raise ScenarioError(Problem("", f"cannot read ({exc.strerror})", str(p))) from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(
            Problem("", f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB", str(p))
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(Problem("", "not UTF-8 text", str(p))) from None
    return parse_text(text, name=str(p), json_only=p.suffix.lower() == ".json")


class _Position(Protocol):
    """Where in the text: a PyYAML ``Mark``, from the Python or the C parser (0-based)."""

    line: int
    column: int


class _Refused(Exception):
    """A document refused before it is built: too many aliases or values, or too deep."""

    def __init__(self, reason: str, mark: _Position | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.mark = mark


# What PyYAML's constructors raise, besides ConstructorError, for a malformed scalar:
# ``!!int x`` (ValueError), ``2001-13-01`` (ValueError), ``!!timestamp x`` (AttributeError).
_CONSTRUCT_ERRORS = (ValueError, TypeError, AttributeError, LookupError, OverflowError)


class _GuardedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, counting aliases, values and depth while it composes.

    PyYAML composes the node graph recursively and builds Python objects only afterwards,
    so counting in :meth:`compose_node` stops a deep or huge document before either a
    ``RecursionError`` or the cost of building it. An alias bomb is small as a graph
    (73 aliases, nine levels of nine) but 9**9 values once expanded: :func:`_check_expanded`
    measures the graph before anything walks it.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0
        self._values = 0
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in the stubs
        self._values += 1
        if self._values > MAX_VALUES:
            raise _Refused(f"more than {MAX_VALUES:,} values", event.start_mark)
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _Refused(f"more than {MAX_ALIASES} YAML aliases", event.start_mark)
        if not isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def fetch_flow_collection_start(self, TokenClass: type[yaml.Token]) -> None:
        # The scanner reads ahead up to 1024 characters on a line while it has a possible
        # simple key open, and each ``[`` or ``{`` opens one: refuse here, before it scans
        # a line of 100,000 brackets in quadratic time.
        if self.flow_level >= MAX_DEPTH:
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep", self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except _CONSTRUCT_ERRORS:
            kind = node.tag.rsplit(":", 1)[-1]
            raise ConstructorError(
                None, None, f"cannot read this value as {_one_line(kind, 40)}", node.start_mark
            ) from None

    def construct_yaml_int(self, node: ScalarNode) -> int:
        # ``1:2:3:...`` (base 60) costs quadratic time in its length; nobody writes 100 digits.
        if len(node.value) > _MAX_NUMBER_CHARS:
            raise ConstructorError(
                None, None, f"a number longer than {_MAX_NUMBER_CHARS} characters", node.start_mark
            )
        return super().construct_yaml_int(node)


_GuardedLoader.add_constructor("tag:yaml.org,2002:int", _GuardedLoader.construct_yaml_int)


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, SequenceNode):
        yield from node.value
    elif isinstance(node, MappingNode):
        for key, value in node.value:
            yield key
            yield value


def _check_expanded(root: Node) -> None:
    """Refuse a graph that, with its aliases expanded, has more than MAX_VALUES values or
    nests deeper than MAX_DEPTH, or that contains itself (``&a [*a]``). Iterative, and
    linear in the size of the graph, not of its expansion."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            kids = [id(kid) for kid in _children(node)]
            size[key] = 1 + sum(size[k] for k in kids)
            depth[key] = (not isinstance(node, ScalarNode)) + max(
                (depth[k] for k in kids), default=0
            )
            if size[key] > MAX_VALUES:
                raise _Refused(f"more than {MAX_VALUES:,} values once its YAML aliases expand")
            if depth[key] > MAX_DEPTH:
                raise _Refused(
                    f"nested more than {MAX_DEPTH} levels deep once its YAML aliases expand"
                )
            continue
        if key in size:
            continue
        open_nodes.add(key)
        stack.append((node, True))
        for kid in _children(node):
            if id(kid) in open_nodes:
                raise _Refused(
                    "a YAML alias refers to a mapping or list that contains it", kid.start_mark
                )
            if id(kid) not in size:
                stack.append((kid, False))


def _too_deep(data: Any) -> bool:
    """Whether parsed JSON nests mappings and lists deeper than MAX_DEPTH (iteratively)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            if level > MAX_DEPTH:
                return True
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, level + 1) for item in items)
    return False


def _where(mark: _Position | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""


def parse_text(text: str, *, name: str, json_only: bool = False) -> Any:
    """Parse YAML (safe loader) or, with ``json_only``, strict JSON; one-line errors.

    The one parser of files and uploads: it refuses, with one line, a document with more
    than :data:`MAX_ALIASES` aliases, nested deeper than :data:`MAX_DEPTH`, or with more
    than :data:`MAX_VALUES` values once its aliases are expanded.
    """
    if json_only:
        return _parse_json(text, name)
    loader: _GuardedLoader | None = None
    try:
        loader = _GuardedLoader(text)  # its reader refuses control characters right away
        node = loader.get_single_node()
        if node is None:
            return None
        if loader.aliases:
            _check_expanded(node)
        return loader.construct_document(node)
    except _Refused as exc:
        raise ScenarioError(Problem("", f"{_where(exc.mark)}{exc.reason}", name)) from None
    except yaml.MarkedYAMLError as exc:
        problem = _one_line(exc.problem or "malformed", 100)
        where = _where(exc.problem_mark)
        raise ScenarioError(Problem("", f"{where}not valid YAML ({problem})", name)) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(
            Problem("", f"not valid YAML ({_one_line(str(exc), 100)})", name)
        ) from None
    except _CONSTRUCT_ERRORS:
        raise ScenarioError(Problem("", "not valid YAML (a value cannot be read)", name)) from None
    finally:
        if loader is not None:
            loader.dispose()


def _parse_json(text: str, name: str) -> Any:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise ScenarioError(Problem("", f"{where}: not valid JSON ({exc.msg})", name)) from None
    except RecursionError:  # the C decoder stops at the interpreter's recursion limit
        raise ScenarioError(
            Problem("", f"nested more than {MAX_DEPTH} levels deep", name)
        ) from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise ScenarioError(
            Problem("", f"not valid JSON ({_one_line(str(exc), 100)})", name)
        ) from None
    if _too_deep(data):
        raise ScenarioError(Problem("", f"nested more than {MAX_DEPTH} levels deep", name))
    return data


_SCENARIO_KEYS = frozenset(
    key
    for field_name, field in Scenario.model_fields.items()
    for key in (field_name, field.alias)
    if key
)


def parse_scenario(data: Any, *, name: str = "scenario") -> Scenario:
    """Validate already-parsed data as a Scenario; ScenarioError lists every problem.

    Data that is not a mapping, or a mapping none of whose keys is a scenario field, is
    refused as "not a scenario" in one line that echoes none of it.
    """
    if not isinstance(data, Mapping):
        kind = "empty" if data is None else type(data).__name__
        raise ScenarioError(
            Problem(
                "",
                "the file is not a scenario (expected a mapping of keys to values "
                f"at the top level, got {kind})",
                name,
            )
        )
    if data and not any(isinstance(key, str) and key in _SCENARIO_KEYS for key in data):
        raise ScenarioError(
            Problem(
                "",
                f"the file is not a scenario (none of its {len(data)} top-level keys "
                "is a scenario field; see 'mailplan schema')",
                name,
            )
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc, source=name, data=data)) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (YAML or JSON)."""
    return parse_scenario(read_document(path), name=str(path))


def dump_scenario(scenario: Scenario, fmt: str = "yaml") -> str:
    """The scenario as YAML or JSON text, without defaults that were not set."""
    data = scenario.model_dump(mode="json", exclude_unset=True)
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _read_bundled(path: Path) -> Any:
    """A file of the catalog that ships with mailplan, parsed by libyaml when PyYAML has it.

    The bundled files are ours, not input: they skip the guarded pure-Python parser that
    every user-supplied file goes through, which takes about ten times as long on them
    (0.5 s of every command's start). A catalog folder a user names is parsed guarded.
    """
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(
            Problem("", f"cannot read ({_one_line(str(exc), 100)})", str(path))
        ) from None


def _load_catalog_files(folder: Path) -> dict[str, Any]:
    read = _read_bundled if folder == (data_dir() / "catalog").resolve() else read_document
    merged: dict[str, Any] = {}
    for name in ("cloud_plans.yaml", "onprem.yaml", "features.yaml"):
        doc = read(folder / name)
        if not isinstance(doc, dict):
            raise CatalogError(Problem("", "expected a mapping at the top", str(folder / name)))
        merged.update(doc)
    merged["qualitative"] = read(folder / "qualitative.yaml")
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
        raise CatalogError(format_validation_error(exc, source=str(path))) from None


def load_catalog(folder: str | Path | None = None) -> Catalog:
    """The price catalog (cached per folder); defaults to the bundled ``data/catalog``."""
    target = Path(folder) if folder is not None else data_dir() / "catalog"
    return _load_catalog_cached(str(target.resolve()))
