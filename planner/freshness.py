"""How old the catalog's figures are: every sourced figure with its path, date and age.

A figure's ``as_of`` may be a year (``2026``, read as 1 January), a month (``2024-05``, read
as the 1st) or a day. Paths name the figure as the catalog file does, with list entries by
their id: ``plans.m365-business-basic.price_per_user_month``,
``plans.m365-business-basic.features.archiving.addon.price_per_user_month``,
``defaults.pue``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict

from planner.models import Catalog

__all__ = ["Figure", "as_of_date", "figures", "oldest", "stale"]


class Figure(BaseModel):
    """One sourced catalog figure."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    value: float | str | None
    source: str
    as_of: str
    estimate: bool
    age_days: int | None = None


def as_of_date(as_of: str) -> dt.date:
    """The day an ``as_of`` stands for: ``2026`` is 1 January, ``2024-05`` the 1st of May."""
    parts = [int(p) for p in as_of.split("-")]
    return dt.date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)


def _walk(node: Any, path: str) -> Iterator[Figure]:
    if isinstance(node, BaseModel):
        fields = type(node).model_fields
        if "source" in fields and "as_of" in fields:
            value = getattr(node, "value", None)
            if value is None and "included" in fields:
                value = "included" if getattr(node, "included", False) else "not included"
            yield Figure(
                path=path,
                value=value,
                source=getattr(node, "source", ""),
                as_of=getattr(node, "as_of", ""),
                estimate=bool(getattr(node, "estimate", False)),
            )
        for name in fields:
            yield from _walk(getattr(node, name), f"{path}.{name}" if path else name)
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list | tuple):
        for i, item in enumerate(node):
            key = getattr(item, "id", None)
            yield from _walk(item, f"{path}.{key if isinstance(key, str) else i}")


def figures(catalog: Catalog) -> list[Figure]:
    """Every sourced figure of the catalog, in file order."""
    return list(_walk(catalog, ""))


def stale(catalog: Catalog, days: int, as_of: dt.date) -> list[Figure]:
    """Figures whose ``as_of`` is more than ``days`` before ``as_of``, oldest first,
    each with its age in days."""
    out = []
    for f in figures(catalog):
        age = (as_of - as_of_date(f.as_of)).days
        if age > days:
            out.append(f.model_copy(update={"age_days": age}))
    return sorted(out, key=lambda f: (-(f.age_days or 0), f.path))


def oldest(dates: Iterable[str | None]) -> str | None:
    """The oldest of some ``as_of`` texts (None when there are none)."""
    known = [d for d in dates if d]
    return min(known, key=as_of_date) if known else None
