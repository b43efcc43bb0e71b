"""Readable names for the report's inputs: a field's title from the schema, never its path.

The titles are the dashboard form's (``planner.dashboard.fields``, no Streamlit), so the
report and the dashboard call an input the same: ``User growth (fraction per year)``,
``Admin hours per month (h)``. A field the forms do not list is named from its own name
(``rack_per_u_month`` -> "Rack per U month"). ``path_title`` names a field path as the
risk analysis gives it (``onprem.postfix-dovecot.admin_hours_per_month`` ->
"postfix-dovecot · Admin hours per month (h)"); ``plain`` strips Markdown code marks
from a description written for the schema.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

__all__ = ["SCOPE_TITLES", "field_title", "path_title", "plain", "readable_paths"]

SCOPE_TITLES = {
    "scenario": "Scenario",
    "organization": "Organisation",
    "escalation": "Price changes",
    "migration": "Moving from today's system",
}
_CODE = re.compile(r"`([^`]*)`")
_PATH = re.compile(
    r"(?<![\w/.@-])(?:organization|escalation|migration)\.\w+"
    r"|(?<![\w/.@-])(?:onprem|cloud)\.[\w+-]+\.\w+"
)
_WORDS = {"tb": "TB", "gb": "GB", "kwh": "kWh", "kb": "KB", "mb": "MB", "iops": "IOPS"}
_WORDS |= {"os": "OS", "cal": "CAL", "pue": "PUE", "ram": "RAM", "dr": "DR", "usd": "USD"}
_WORDS |= {"msgs": "messages", "pct": "%", "u": "U", "s": "second"}


def plain(text: str) -> str:
    """``Units of `currency` per USD`` -> ``Units of currency per USD``."""
    return _CODE.sub(r"\1", text)


def _named(name: str) -> str:
    words = [_WORDS.get(w, w) for w in name.split("_")]
    first = words[0]
    return " ".join([first[:1].upper() + first[1:], *words[1:]])


@cache
def _titles() -> dict[tuple[str, str], str]:
    """(scope kind, field name) -> title, from the dashboard's form specs."""
    from planner.dashboard import fields

    groups = {
        "scenario": (*fields.SIDEBAR, *fields.GENERAL, fields.INFLATION, *fields.DOWNTIME),
        "organization": fields.ORGANIZATION,
        "escalation": fields.ESCALATION,
        "migration": fields.MIGRATION,
        "onprem": (*fields.ONPREM_NUMBERS, fields.COPIES),
        "cloud": fields.CLOUD_NUMBERS,
    }
    out = {(kind, s.name): s.title for kind, specs in groups.items() for s in specs}
    for choice in (
        fields.CURRENT,
        fields.CURRENT_SERVERS_BOUGHT,
        fields.LABOUR_COST,
        fields.PRICE_BASIS,
    ):
        title = getattr(choice, "title", None) or choice.label
        out[("scenario", choice.name)] = title
    return out


def field_title(kind: str, name: str) -> str:
    """The title of field ``name`` of ``kind`` (scenario, organization, escalation,
    migration, onprem or cloud); made from the name when no form lists it."""
    title = _titles().get((kind, name))
    if title is None and kind in ("onprem", "cloud"):
        other = "cloud" if kind == "onprem" else "onprem"
        title = _titles().get((other, name))
    return title or _named(name)


def path_title(path: str, option_kinds: Mapping[str, str] | None = None) -> str:
    """A field path in words: ``escalation.cloud_subscription`` -> "Price changes ·
    Cloud subscription price change", ``onprem.x.pue`` -> "x · PUE (ratio)", a top-level
    ``downtime_cost_per_hour`` -> its title. ``option_kinds`` (option id -> onprem/cloud)
    is not needed for paths that name their section."""
    parts = path.split(".")
    if len(parts) == 1:
        return field_title("scenario", path)
    if parts[0] in ("onprem", "cloud") and len(parts) >= 3:
        return f"{'.'.join(parts[1:-1])} · {field_title(parts[0], parts[-1])}"
    if parts[0] in SCOPE_TITLES:
        return f"{SCOPE_TITLES[parts[0]]} · {field_title(parts[0], parts[-1])}"
    if option_kinds and parts[0] in option_kinds:
        return f"{parts[0]} · {field_title(option_kinds[parts[0]], parts[-1])}"
    return _named(parts[-1])


def readable_paths(text: str, option_kinds: Mapping[str, str] | None = None) -> str:
    """``text`` with every field path in it replaced by its title (``path_title``)."""
    return _PATH.sub(lambda m: path_title(m.group(0), option_kinds), text)
