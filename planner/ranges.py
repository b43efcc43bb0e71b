"""Ranges on scenario inputs: the four range forms, their typical values and their checks.

Any numeric field of ``organization``, ``escalation`` or an on-prem or cloud option may be
written as a range instead of a number::

    {low: 2, typical: 5, high: 20}          triangular; low = typical = high is that number
    {dist: uniform, low: 2, high: 20}       uniform
    {dist: normal, mean: 5, sd: 1.5}        normal
    {dist: lognormal, median: 5, p90: 12}   lognormal (p10 = median² / p90)

The scenario keeps its fields numeric: each range is replaced by its typical value
(triangular: typical; uniform: the midpoint; normal: the mean; lognormal: the median;
integer fields rounded half up), so ``evaluate()`` of a ranged scenario is the typical
case, and the ranges are kept beside the fields, keyed by field path
(``organization.user_growth_per_year``, ``onprem.<id>.pue``, ``cloud.<id>.price_per_user_month``,
``escalation.labour``). Low, typical and high (for normal and lognormal: p10, the centre
and p90) must lie within the field's own bounds.

This module knows the range forms and the data layout of a scenario; ``planner.models``
calls it while validating a Scenario, ``planner.risk`` draws from the ranges.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, Self, TypeAlias

import annotated_types
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = [
    "RANGED_SECTIONS",
    "Z90",
    "Distribution",
    "FieldSpec",
    "LogNormal",
    "Normal",
    "RangeExtraction",
    "Triangular",
    "Uniform",
    "add_range_forms",
    "correlation_problems",
    "distribution_from",
    "extract_ranges",
    "field_spec",
    "inject_ranges",
    "numeric_fields",
    "round_half_up",
    "split_path",
]

Z90 = 1.2815515655446004
"""The standard normal's 90th percentile: p10 and p90 sit Z90 standard deviations from the mean."""

Finite = Annotated[float, Field(allow_inf_nan=False)]


def round_half_up(x: float) -> int:
    """Round to the nearest integer, halves up (2.5 -> 3), as integer fields are after drawing."""
    return math.floor(x + 0.5)


class _Range(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def center(self) -> float:
        """The typical value: what the deterministic engine uses."""
        raise NotImplementedError

    def swing_points(self) -> tuple[float, float]:
        """The low and high values of a one-at-a-time sensitivity swing."""
        raise NotImplementedError

    def checked_points(self) -> Iterator[tuple[str, str, float]]:
        """(key to blame, what it is, value) for every value that must lie in the field's bounds."""
        raise NotImplementedError

    def as_data(self) -> dict[str, Any]:
        """The range as written in a scenario file."""
        return self.model_dump(mode="json")

    def describe(self) -> str:
        """One short line: ``triangular 2 / 5 / 20``."""
        raise NotImplementedError


class Triangular(_Range):
    """Triangular distribution from ``low`` through ``typical`` (the mode) to ``high``."""

    dist: Literal["triangular"] = "triangular"
    low: Finite
    typical: Finite
    high: Finite

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.low <= self.typical <= self.high:
            raise ValueError(
                f"needs low <= typical <= high (got {self.low:g}, {self.typical:g}, {self.high:g})"
            )
        return self

    def center(self) -> float:
        """The typical value (the mode)."""
        return self.typical

    def swing_points(self) -> tuple[float, float]:
        """Low and high."""
        return self.low, self.high

    def checked_points(self) -> Iterator[tuple[str, str, float]]:
        """Low, typical and high."""
        yield "low", "low", self.low
        yield "typical", "typical", self.typical
        yield "high", "high", self.high

    def as_data(self) -> dict[str, Any]:
        """``{low, typical, high}``: triangular is the form without ``dist``."""
        return {"low": self.low, "typical": self.typical, "high": self.high}

    def describe(self) -> str:
        """``triangular low / typical / high``."""
        return f"triangular {self.low:g} / {self.typical:g} / {self.high:g}"


class Uniform(_Range):
    """Uniform distribution between ``low`` and ``high``."""

    dist: Literal["uniform"]
    low: Finite
    high: Finite

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.low <= self.high:
            raise ValueError(f"needs low <= high (got {self.low:g}, {self.high:g})")
        return self

    def center(self) -> float:
        """The midpoint."""
        return (self.low + self.high) / 2.0

    def swing_points(self) -> tuple[float, float]:
        """Low and high."""
        return self.low, self.high

    def checked_points(self) -> Iterator[tuple[str, str, float]]:
        """Low and high."""
        yield "low", "low", self.low
        yield "high", "high", self.high

    def describe(self) -> str:
        """``uniform low to high``."""
        return f"uniform {self.low:g} to {self.high:g}"


class Normal(_Range):
    """Normal distribution; draws outside the field's bounds are clipped to them."""

    dist: Literal["normal"]
    mean: Finite
    sd: Annotated[float, Field(ge=0, allow_inf_nan=False)]

    def center(self) -> float:
        """The mean."""
        return self.mean

    def swing_points(self) -> tuple[float, float]:
        """p10 and p90: mean ∓ 1.2816 sd."""
        return self.mean - Z90 * self.sd, self.mean + Z90 * self.sd

    def checked_points(self) -> Iterator[tuple[str, str, float]]:
        """p10, the mean and p90."""
        p10, p90 = self.swing_points()
        yield "sd", "p10 (mean - 1.2816 sd)", p10
        yield "mean", "mean", self.mean
        yield "sd", "p90 (mean + 1.2816 sd)", p90

    def describe(self) -> str:
        """``normal mean ± sd``."""
        return f"normal {self.mean:g} ± {self.sd:g}"


class LogNormal(_Range):
    """Lognormal distribution given by its median and 90th percentile (p90 >= median > 0)."""

    dist: Literal["lognormal"]
    median: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    p90: Annotated[float, Field(gt=0, allow_inf_nan=False)]

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.p90 >= self.median:
            raise ValueError(f"needs p90 >= median (got {self.median:g}, {self.p90:g})")
        return self

    @property
    def sigma(self) -> float:
        """Standard deviation of the logarithm: ln(p90 / median) / 1.2816."""
        return math.log(self.p90 / self.median) / Z90

    def center(self) -> float:
        """The median."""
        return self.median

    def swing_points(self) -> tuple[float, float]:
        """p10 (median² / p90) and p90."""
        return self.median * self.median / self.p90, self.p90

    def checked_points(self) -> Iterator[tuple[str, str, float]]:
        """p10, the median and p90."""
        yield "p90", "p10 (median² / p90)", self.swing_points()[0]
        yield "median", "median", self.median
        yield "p90", "p90", self.p90

    def describe(self) -> str:
        """``lognormal median m, p90 x``."""
        return f"lognormal median {self.median:g}, p90 {self.p90:g}"


Distribution: TypeAlias = Triangular | Uniform | Normal | LogNormal
_FORMS: dict[str, type[Triangular] | type[Uniform] | type[Normal] | type[LogNormal]] = {
    "triangular": Triangular,
    "uniform": Uniform,
    "normal": Normal,
    "lognormal": LogNormal,
}
_FORM_NAMES = "'triangular', 'uniform', 'normal' or 'lognormal'"


def distribution_from(data: Mapping[str, Any]) -> Distribution:
    """The range written as ``data`` (raises pydantic's ValidationError when malformed)."""
    kind = data.get("dist", "triangular")
    form = _FORMS.get(kind) if isinstance(kind, str) else None
    if form is None:
        raise ValidationError.from_exception_data(
            "Range",
            [
                InitErrorDetails(
                    type="literal_error", loc=("dist",), input=kind, ctx={"expected": _FORM_NAMES}
                )
            ],
        )
    return form.model_validate(dict(data))


# region #### the fields that take ranges ####


@dataclass(frozen=True)
class FieldSpec:
    """What a numeric field accepts: integer or not, and its bounds (None: unbounded)."""

    name: str
    integer: bool
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def violations(self, value: float) -> Iterator[tuple[str, dict[str, Any]]]:
        """pydantic error types (with their context) that ``value`` breaks."""
        if self.ge is not None and not value >= self.ge:
            yield "greater_than_equal", {"ge": self.ge}
        if self.gt is not None and not value > self.gt:
            yield "greater_than", {"gt": self.gt}
        if self.le is not None and not value <= self.le:
            yield "less_than_equal", {"le": self.le}
        if self.lt is not None and not value < self.lt:
            yield "less_than", {"lt": self.lt}

    def lower(self) -> float:
        """The smallest value a draw may take (just above ``gt`` for a strict bound)."""
        lows = [-math.inf]
        if self.ge is not None:
            lows.append(float(self.ge))
        if self.gt is not None:
            lows.append(float(np.nextafter(self.gt, math.inf)))
        return max(lows)

    def upper(self) -> float:
        """The largest value a draw may take (just below ``lt`` for a strict bound)."""
        highs = [math.inf]
        if self.le is not None:
            highs.append(float(self.le))
        if self.lt is not None:
            highs.append(float(np.nextafter(self.lt, -math.inf)))
        return min(highs)


def _metadata(annotation: Any) -> Iterator[Any]:
    """Constraint objects inside ``Annotated[...]`` and ``X | None`` annotations."""
    if typing.get_origin(annotation) is Annotated:
        for item in annotation.__metadata__:
            if isinstance(item, FieldInfo):
                yield from item.metadata
            else:
                yield item
        yield from _metadata(typing.get_args(annotation)[0])
    elif typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            yield from _metadata(arg)


def _base_types(annotation: Any) -> set[Any]:
    if typing.get_origin(annotation) is Annotated:
        return _base_types(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return set().union(*(_base_types(a) for a in typing.get_args(annotation)))
    return {annotation}


def field_spec(name: str, info: FieldInfo) -> FieldSpec | None:
    """The FieldSpec of a numeric (int or float) field, or None for any other field."""
    bases = _base_types(info.annotation) - {type(None)}
    if not bases or not bases <= {int, float}:
        return None
    bounds: dict[str, Any] = {}
    for item in [*info.metadata, *_metadata(info.annotation)]:
        for key, kind in (
            ("ge", annotated_types.Ge),
            ("gt", annotated_types.Gt),
            ("le", annotated_types.Le),
            ("lt", annotated_types.Lt),
        ):
            if isinstance(item, kind):
                bounds[key] = getattr(item, key)
    return FieldSpec(name=name, integer=bases == {int}, **bounds)


@cache
def numeric_fields(model: type[BaseModel]) -> dict[str, FieldSpec]:
    """Every numeric field of ``model`` that may hold a range, by name."""
    out = {}
    for name, info in model.model_fields.items():
        spec = field_spec(name, info)
        if spec is not None:
            out[name] = spec
    return out


# "" is the scenario's own top level (the downtime costs): its paths are the bare key.
RANGED_SECTIONS = ("", "organization", "escalation", "migration", "onprem", "cloud")
SINGLE_SECTIONS = ("organization", "escalation", "migration")  # one model, not a list


def split_path(path: str) -> tuple[str, str | None, str]:
    """``onprem.<id>.pue`` -> ("onprem", id, "pue"); ``organization.users`` -> (.., None, ..);
    a top-level key, ``downtime_cost_per_hour``, -> ("", None, key).

    Option ids may contain dots; the section is the first part and the field the last.
    """
    if "." not in path:
        return "", None, path
    head, _, rest = path.partition(".")
    if head in ("onprem", "cloud"):
        option_id, _, field = rest.rpartition(".")
        return head, option_id, field
    return head, None, rest


# endregion
# region #### reading ranges out of scenario data ####


@dataclass
class RangeExtraction:
    """Scenario data with every range replaced by its typical value, the ranges by path,
    the problems found (as pydantic error details) and the locations they concern."""

    data: dict[str, Any]
    ranges: dict[str, Distribution]
    problems: list[InitErrorDetails]
    bad_locs: set[tuple[int | str, ...]]


def _problem(
    loc: tuple[int | str, ...], kind: str, value: Any, ctx: dict[str, Any] | None = None
) -> InitErrorDetails:
    if ctx is None:
        return InitErrorDetails(type=kind, loc=loc, input=value)
    return InitErrorDetails(type=kind, loc=loc, input=value, ctx=ctx)


def _value_problem(loc: tuple[int | str, ...], message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError("value_error", message.replace("{", "{{").replace("}", "}}")),
        loc=loc,
        input=value,
    )


def _check_range(
    spec: FieldSpec, raw: Mapping[str, Any], loc: tuple[int | str, ...], out: RangeExtraction
) -> Distribution | None:
    try:
        dist = distribution_from(raw)
    except ValidationError as exc:
        for e in exc.errors(include_url=False):
            inner = tuple(e["loc"])
            if e["type"] == "value_error":
                msg = str(e["msg"]).removeprefix("Value error, ")
                out.problems.append(_value_problem(loc + inner, msg, e["input"]))
            else:
                out.problems.append(_problem(loc + inner, e["type"], e["input"], e.get("ctx")))
        return None
    ok = True
    for key, what, value in dist.checked_points():
        for kind, ctx in spec.violations(value):
            ok = False
            if what == key:
                out.problems.append(_problem((*loc, key), kind, value, ctx))
            else:
                bound = next(iter(ctx.values()))
                words = {
                    "greater_than_equal": "greater than or equal to",
                    "greater_than": "greater than",
                    "less_than_equal": "less than or equal to",
                    "less_than": "less than",
                }[kind]
                out.problems.append(
                    _value_problem(
                        (*loc, key), f"{what} is {value:.4g}; it should be {words} {bound}", value
                    )
                )
    return dist if ok else None


def extract_ranges(
    data: Mapping[str, Any], models: Mapping[str, type[BaseModel]]
) -> RangeExtraction:
    """Replace every range in scenario ``data`` by its typical value and collect the ranges.

    ``models`` maps each section of ``RANGED_SECTIONS`` to its model class. Data that is not
    laid out as expected is left for pydantic to report.
    """
    out = RangeExtraction(data=dict(data), ranges={}, problems=[], bad_locs=set())

    def walk(
        section: dict[str, Any], model: type[BaseModel], loc: tuple[int | str, ...], path: str
    ) -> None:
        fields = numeric_fields(model)
        for name, raw in list(section.items()):
            spec = fields.get(name)
            if spec is None or not isinstance(raw, Mapping):
                continue
            field_loc = (*loc, name)
            dist = _check_range(spec, raw, field_loc, out)
            if dist is None:
                out.bad_locs.add(field_loc)
                del section[name]
                continue
            center = dist.center()
            section[name] = round_half_up(center) if spec.integer else center
            out.ranges[f"{path}.{name}" if path else name] = dist

    if "" in models:
        walk(out.data, models[""], (), "")
    for key in SINGLE_SECTIONS:
        section = out.data.get(key)
        if isinstance(section, Mapping):
            out.data[key] = dict(section)
            walk(out.data[key], models[key], (key,), key)
    for key in ("onprem", "cloud"):
        options = out.data.get(key)
        if not isinstance(options, list):
            continue
        out.data[key] = copied = [dict(o) if isinstance(o, Mapping) else o for o in options]
        for i, option in enumerate(copied):
            if isinstance(option, dict):
                oid = option.get("id")
                path = f"{key}.{oid}" if isinstance(oid, str) else f"{key}[{i}]"
                walk(option, models[key], (key, i), path)
    return out


# endregion
# region #### correlations ####


def correlation_problems(
    correlations: Sequence[tuple[str, str, float]],
    ranges: Mapping[str, Distribution],
    known_field: typing.Callable[[str], bool],
) -> list[InitErrorDetails]:
    """Problems with ``correlations``: unknown or unranged paths, repeats, and a matrix that
    is not positive semi-definite. ``known_field(path)`` says whether a path names a field."""
    problems: list[InitErrorDetails] = []
    seen: dict[frozenset[str], int] = {}
    ranged = ", ".join(ranges) or "none"
    for i, (a, b, rho) in enumerate(correlations):
        bad = False
        for j, path in enumerate((a, b)):
            if path in ranges:
                continue
            bad = True
            if known_field(path):
                msg = f"{path} has no range; give it a range to correlate it"
            else:
                msg = f"unknown field path '{path}' (ranged inputs: {ranged})"
            problems.append(_value_problem(("correlations", i, j), msg, path))
        if bad:
            continue
        if a == b:
            problems.append(_value_problem(("correlations", i), f"{a} is paired with itself", a))
            continue
        pair = frozenset((a, b))
        if pair in seen:
            problems.append(
                _value_problem(
                    ("correlations", i),
                    f"repeats the pair {a}, {b} (first given as correlations[{seen[pair]}])",
                    [a, b, rho],
                )
            )
            continue
        seen[pair] = i
    if problems or not correlations:
        return problems
    paths = sorted({p for a, b, _ in correlations for p in (a, b)})
    index = {p: k for k, p in enumerate(paths)}
    matrix = np.eye(len(paths))
    for a, b, rho in correlations:
        matrix[index[a], index[b]] = matrix[index[b], index[a]] = rho
    smallest = float(np.linalg.eigvalsh(matrix).min())
    if smallest < -1e-9:
        problems.append(
            _value_problem(
                ("correlations",),
                "these correlations contradict each other: the correlation matrix is not "
                f"positive semi-definite (smallest eigenvalue {smallest:.3g})",
                [list(c) for c in correlations],
            )
        )
    return problems


# endregion
# region #### writing ranges back, and the schema ####


def inject_ranges(data: dict[str, Any], ranges: Mapping[str, Distribution]) -> dict[str, Any]:
    """Put each range back in place of its typical value in dumped scenario ``data``."""
    for path, dist in ranges.items():
        section, option_id, field = split_path(path)
        target: dict[str, Any] | None
        if section == "":
            target = data
        elif option_id is None:
            target = data.setdefault(section, {})
        else:
            target = next(
                (
                    o
                    for o in data.get(section) or []
                    if isinstance(o, dict) and o.get("id") == option_id
                ),
                None,
            )
        if isinstance(target, dict):
            target[field] = dist.as_data()
    return data


def add_range_forms(
    schema: dict[str, Any], models: Mapping[str, type[BaseModel]]
) -> dict[str, Any]:
    """The scenario JSON Schema with the range forms allowed on every numeric field of the
    ranged sections (``models``: section -> model class, whose title names its $defs entry)."""
    defs = schema.setdefault("$defs", {})
    refs = []
    for name, form in (
        ("RangeTriangular", Triangular),
        ("RangeUniform", Uniform),
        ("RangeNormal", Normal),
        ("RangeLogNormal", LogNormal),
    ):
        sub = form.model_json_schema()
        sub["title"] = name
        defs[name] = sub
        refs.append({"$ref": f"#/$defs/{name}"})
    defs["RangeTriangular"].pop("required", None)
    defs["RangeTriangular"]["required"] = ["low", "typical", "high"]
    for section, model in models.items():
        entry = schema if section == "" else defs.get(model.__name__)
        if entry is None or "properties" not in entry:
            continue
        for name in numeric_fields(model):
            prop = entry["properties"][name]
            keep = {k: prop.pop(k) for k in ("title", "description", "default") if k in prop}
            forms = prop.pop("anyOf", None) or [prop]
            entry["properties"][name] = {"anyOf": [*forms, *refs], **keep}
    return schema


# endregion
