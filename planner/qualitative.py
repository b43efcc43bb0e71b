"""The decision matrix: weighted qualitative scores and the requirements that rule options out.

score(option) = sum(weight_c * score_c) / sum(weight_c) over the criteria with a weight
above zero. A score comes from the scenario's ``qualitative.scores``, else the catalog's
default for the option's stack or plan, else 3 (neutral). An option is ruled out by a
requirement it lacks: ``vendor_supported`` fails when the end of life falls within the
horizon; any other requirement fails when the stack or plan lacks the property of that id.
Requirements that name a catalog feature (``features.yaml``) are not checked here: an
option buys the feature's add-on or is ruled out by ``planner.evaluation``.

The service-levels criterion is scored from the option's availability where it is known
(``availability_score``), unless the scenario sets that score itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict

from planner.models import CRITERIA, Catalog, Criterion
from planner.resolution import ResolvedCloud, ResolvedOnPrem, ResolvedScenario, eol_within

__all__ = ["NEUTRAL_SCORE", "Assessment", "CriterionScore", "assess", "availability_score"]

# (availability at least, score) for the service-levels criterion, best first
_SERVICE_LEVELS = ((0.9999, 5), (0.999, 4), (0.995, 3), (0.99, 2))


def availability_score(availability: float) -> int:
    """5 at >= 99.99 %, 4 at >= 99.9 %, 3 at >= 99.5 %, 2 at >= 99 %, else 1."""
    return next((score for floor, score in _SERVICE_LEVELS if availability >= floor), 1)


NEUTRAL_SCORE = 3


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CriterionScore(_Frozen):
    """One cell of the decision matrix."""

    criterion: Criterion
    weight: float
    score: int
    reason: str
    origin: Literal["scenario", "catalog", "neutral"]


class Assessment(_Frozen):
    """An option's weighted score (None when every weight is 0) and why it may be ruled out."""

    id: str
    score: float | None
    criteria: tuple[CriterionScore, ...]
    ruled_out_by: tuple[str, ...]
    reasons: tuple[str, ...]


def _catalog_key(option: ResolvedOnPrem | ResolvedCloud) -> str | None:
    return option.stack if isinstance(option, ResolvedOnPrem) else option.plan


def assess(
    resolved: ResolvedScenario,
    catalog: Catalog,
    start: dt.date | None = None,
    availability: Mapping[str, float | None] | None = None,
) -> dict[str, Assessment]:
    """Score every option of ``resolved`` and check the scenario's requirements.

    ``availability`` (fraction per option id) scores the service-levels criterion.
    """
    scenario = resolved.scenario
    qual = scenario.qualitative
    start = start or scenario.start_date or dt.date.today()
    weights = {c: 1.0 for c in CRITERIA}
    if qual is not None:
        weights.update(qual.weights)
    features = {f.id for f in catalog.features}
    requirements = [r for r in (qual.requirements if qual else []) if r not in features]
    labels = {r.id: r.label for r in catalog.qualitative.requirements}
    out = {}
    for option in resolved.options:
        given = qual.scores.get(option.id, {}) if qual is not None else {}
        key = _catalog_key(option)
        defaults = catalog.qualitative.scores.get(key, {}) if key else {}
        cells = []
        for c in CRITERIA:
            known = (availability or {}).get(option.id)
            if c in given:
                cell = CriterionScore(
                    criterion=c,
                    weight=weights[c],
                    score=given[c],
                    reason="set in the scenario",
                    origin="scenario",
                )
            elif c == "service_levels" and known is not None:
                cell = CriterionScore(
                    criterion=c,
                    weight=weights[c],
                    score=availability_score(known),
                    reason=f"expected availability {known:.3%} "
                    "(5 at >= 99.99 %, 4 at >= 99.9 %, 3 at >= 99.5 %, 2 at >= 99 %)",
                    origin="catalog",
                )
            elif c in defaults:
                d = defaults[c]
                cell = CriterionScore(
                    criterion=c, weight=weights[c], score=d.score, reason=d.reason, origin="catalog"
                )
            else:
                cell = CriterionScore(
                    criterion=c,
                    weight=weights[c],
                    score=NEUTRAL_SCORE,
                    reason="no catalog default for this option",
                    origin="neutral",
                )
            cells.append(cell)
        total_weight = sum(cell.weight for cell in cells)
        score = (
            sum(cell.weight * cell.score for cell in cells) / total_weight if total_weight else None
        )
        failed, reasons = [], []
        for req in requirements:
            if req == "vendor_supported":
                if eol_within(option.end_of_life, scenario.horizon_years, start):
                    failed.append(req)
                    reasons.append(f"end of life {option.end_of_life} falls within the horizon")
            elif req not in option.properties:
                failed.append(req)
                reasons.append(f"does not meet '{labels.get(req, req)}'")
        out[option.id] = Assessment(
            id=option.id,
            score=score,
            criteria=tuple(cells),
            ruled_out_by=tuple(failed),
            reasons=tuple(reasons),
        )
    return out
