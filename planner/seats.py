"""Seats that are not heads: which plan each segment of the organisation and each shared
mailbox is licensed on, per cloud option (issue #19, seat mix).

The rules (``planner/report/formulas.md``, "Seat mix"):

- ``organization.users`` counts every person. Each segment (``organization.segments``)
  carves its ``users`` out of that total; the rest keep the organisation's profile and the
  option's own plan.
- A segment's plan for a cloud option: ``plans[option id]`` when given, else the catalog's
  plan for the segment's ``tier`` beside the option's plan (``tiers`` of the plan in
  cloud_plans.yaml; after a move to an ``upgrade_to`` plan, that plan's tier), else the
  option's own plan. A segment on the option's own plan is priced exactly as the option
  (inline prices, ranges and all); a segment on another plan pays that plan's list price
  with the option's billing surcharge and negotiated discount.
- Shared mailboxes follow the vendor's rule (``shared_mailboxes`` in cloud_plans.yaml): no
  licence up to ``free_up_to_gb``; above it (or where the free size is 0) each is a seat on
  ``over_limit_plan`` (default: the option's own plan). A vendor without a rule, and a
  custom plan: every shared mailbox is a seat on the option's own plan.

The resolved terms ride on the cloud option as :class:`SeatedCloud` (a ``ResolvedCloud``
with ``seats``), so every costing of the option (a sweep, a Monte Carlo draw) sees them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from planner.errors import Problem
from planner.models import CUSTOM_PLAN, Catalog, CloudPlan, Scenario
from planner.resolution import ResolvedCloud, ResolvedScenario
from planner.sizing import Demand, FloatArray

__all__ = [
    "SeatPlan",
    "SeatTerms",
    "SeatedCloud",
    "attach_seats",
    "own_seats",
    "seat_inputs",
    "seat_problems",
    "seats_by_plan",
]

_EPS = 1e-9


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SeatPlan(_Frozen):
    """The plan one group of seats is bought on (USD list prices, billing surcharge in)."""

    plan: str
    label: str
    own: bool  # the option's own plan: priced as the option
    price_per_user_month: float = 0.0
    included_gb_per_user: float = 0.0
    addon_price_per_user_month: float = 0.0
    addon_gb_per_user: float = 0.0
    extra_storage_per_gb_month: float = 0.0
    mailbox_cap_gb: float | None = None
    how: str = ""  # why this plan: "plans mapping", "frontline tier", "own plan"
    source: str | None = None  # where the plan's price comes from
    as_of: str | None = None
    estimate: bool = False
    note: str | None = None


class SeatTerms(_Frozen):
    """Per segment (in the scenario's order) its seat plan; the shared mailboxes' rule."""

    segments: tuple[SeatPlan, ...] = ()
    shared: SeatPlan | None = None
    shared_free_up_to_gb: float = 0.0
    shared_rule: str = ""
    shared_source: str | None = None
    shared_as_of: str | None = None
    shared_estimate: bool = False
    shared_note: str | None = None
    unmapped: tuple[str, ...] = ()  # segments whose tier this plan has no plan for


class SeatedCloud(ResolvedCloud):
    """A resolved cloud option with the plans its seats are bought on."""

    seats: SeatTerms


def _surcharge(catalog: Catalog, vendor: str, billing: str) -> float:
    fact = catalog.billing_surcharges.get(vendor, {}).get(billing)  # type: ignore[call-overload]
    return fact.value if fact is not None else 0.0


def _seat_plan(plan: CloudPlan, catalog: Catalog, billing: str, how: str) -> SeatPlan:
    addon = plan.storage_addon
    return SeatPlan(
        plan=plan.id,
        label=plan.label,
        own=False,
        price_per_user_month=plan.price_per_user_month.value
        * (1.0 + _surcharge(catalog, plan.vendor, billing)),
        included_gb_per_user=plan.included_gb_per_user.value,
        addon_price_per_user_month=addon.price_per_user_month.value if addon else 0.0,
        addon_gb_per_user=addon.gb_per_user.value if addon else 0.0,
        extra_storage_per_gb_month=plan.extra_storage_per_gb_month.value
        if plan.extra_storage_per_gb_month
        else 0.0,
        mailbox_cap_gb=plan.mailbox_cap_gb.value if plan.mailbox_cap_gb else None,
        how=how,
        source=plan.price_per_user_month.source,
        as_of=plan.price_per_user_month.as_of,
        estimate=plan.price_per_user_month.estimate,
        note=plan.price_per_user_month.note,
    )


def seat_problems(scenario: Scenario, catalog: Catalog) -> list[Problem]:
    """One problem per unknown plan id in a segment's ``plans`` (unknown option ids are
    refused when the scenario is read)."""
    known = {p.id for p in catalog.plans}
    out = []
    for i, seg in enumerate(scenario.organization.segments):
        for option_id, plan_id in seg.plans.items():
            if plan_id not in known:
                out.append(
                    Problem(
                        f"organization.segments[{i}].plans.{option_id}",
                        f"unknown plan '{plan_id}' "
                        f"(known: {', '.join(p.id for p in catalog.plans)})",
                    )
                )
    return out


def _terms(option: ResolvedCloud, scenario: Scenario, catalog: Catalog) -> SeatTerms:
    """The seat plans of one resolved cloud option (one plan of its chain)."""
    billing = next((c.billing for c in scenario.cloud if c.id == option.id), None) or "annual"
    own = SeatPlan(plan=option.plan, label=option.label, own=True, how="own plan")
    plan = catalog.plan(option.plan) if option.plan != CUSTOM_PLAN else None
    segments = []
    unmapped = []
    for seg in scenario.organization.segments:
        chosen = own
        mapped = seg.plans.get(option.id)
        if mapped is not None and mapped != option.plan:
            target = catalog.plan(mapped)
            if target is not None:
                chosen = _seat_plan(target, catalog, billing, "plans mapping")
        elif mapped is None and seg.tier is not None and plan is not None:
            tier_id = plan.tiers.get(seg.tier)
            target = catalog.plan(tier_id) if tier_id else None
            if target is not None and target.id != option.plan:
                chosen = _seat_plan(target, catalog, billing, f"{seg.tier} tier")
            elif target is None:
                unmapped.append(seg.name)
        elif mapped is None and seg.tier is not None:
            unmapped.append(seg.name)
        segments.append(chosen)
    rule = catalog.shared_mailboxes.get(option.vendor or "") if plan is not None else None
    shared, free, text = own, 0.0, "a seat on the option's own plan (no vendor rule)"
    fact = rule.free_up_to_gb if rule is not None else None
    if rule is not None:
        free = rule.free_up_to_gb.value
        target = catalog.plan(rule.over_limit_plan) if rule.over_limit_plan else None
        if target is not None and target.id != option.plan:
            shared = _seat_plan(target, catalog, billing, "shared mailbox rule")
        over = "the option's own plan" if shared.own else shared.label
        text = (
            f"no licence up to {free:g} GB, above it a seat on {over}"
            if free > 0
            else f"a seat on {over}"
        )
    return SeatTerms(
        segments=tuple(segments),
        shared=shared,
        shared_free_up_to_gb=free,
        shared_rule=text,
        shared_source=fact.source if fact else None,
        shared_as_of=fact.as_of if fact else None,
        shared_estimate=fact.estimate if fact else False,
        shared_note=fact.note if fact else None,
        unmapped=tuple(unmapped),
    )


def _seated(option: ResolvedCloud, scenario: Scenario, catalog: Catalog) -> SeatedCloud:
    fields = {k: getattr(option, k) for k in type(option).model_fields if k != "seats"}
    return SeatedCloud(**fields, seats=_terms(option, scenario, catalog))


def attach_seats(resolved: ResolvedScenario, catalog: Catalog) -> ResolvedScenario:
    """Every cloud option (and every plan it may move to) with its seat plans; unchanged
    when the scenario has no segments and no shared mailboxes."""
    sc = resolved.scenario
    org = sc.organization
    if not org.segments and org.shared_mailboxes is None:
        return resolved
    cloud = tuple(_seated(c, sc, catalog) for c in resolved.cloud)
    successors = {
        k: tuple(_seated(o, sc, catalog) if isinstance(o, ResolvedCloud) else o for o in chain)
        for k, chain in resolved.successors.items()
    }
    return resolved.model_copy(update={"cloud": cloud, "successors": successors})


def seat_inputs(option: Any) -> dict[str, float]:
    """The option's seat terms as numeric inputs for ``planner.costs.cloud_lines``:
    ``seg{i}_own`` (1: the option's own plan) and, for another plan, ``seg{i}_price``,
    ``seg{i}_included_gb``, ``seg{i}_addon_price``, ``seg{i}_addon_gb``, ``seg{i}_extra``;
    ``shared_free_gb`` and the same for ``shared_``."""
    terms: SeatTerms | None = getattr(option, "seats", None)
    if terms is None:
        return {}
    out: dict[str, float] = {}

    def put(prefix: str, sp: SeatPlan) -> None:
        out[f"{prefix}_own"] = 1.0 if sp.own else 0.0
        if not sp.own:
            out[f"{prefix}_price"] = sp.price_per_user_month
            out[f"{prefix}_included_gb"] = sp.included_gb_per_user
            out[f"{prefix}_addon_price"] = sp.addon_price_per_user_month
            out[f"{prefix}_addon_gb"] = sp.addon_gb_per_user
            out[f"{prefix}_extra"] = sp.extra_storage_per_gb_month

    for i, sp in enumerate(terms.segments):
        put(f"seg{i}", sp)
    if terms.shared is not None:
        put("shared", terms.shared)
        out["shared_free_gb"] = terms.shared_free_up_to_gb
    return out


def shared_seats(d: Demand, free_gb: float | FloatArray) -> FloatArray:
    """Shared mailboxes that need a licence each year: all of them in a year whose size is
    above the free limit, else none."""
    if d.shared is None or d.shared_gb is None:
        return np.zeros_like(d.users)
    return np.asarray(d.shared * (d.shared_gb > np.asarray(free_gb) + _EPS), dtype=np.float64)


def own_seats(option: Any, d: Demand) -> FloatArray:
    """Seats on the option's own plan (N, H): people not carved out onto another plan (the
    rest, plus segments on the option's plan), plus shared mailboxes licensed on it."""
    terms: SeatTerms | None = getattr(option, "seats", None)
    if terms is None:
        return d.users
    seats = d.users
    for sp, users in zip(terms.segments, d.segment_users, strict=False):
        if not sp.own:
            seats = seats - users
    if terms.shared is not None and terms.shared.own:
        seats = seats + shared_seats(d, terms.shared_free_up_to_gb)
    return np.asarray(seats, dtype=np.float64)


def seats_by_plan(option: Any, d: Demand, point: int = 0) -> dict[str, FloatArray]:
    """Seats per plan id (H,) for one point of ``d``, the option's own plan first."""
    terms: SeatTerms | None = getattr(option, "seats", None)
    out: dict[str, FloatArray] = {option.plan: own_seats(option, d)[point]}
    if terms is None:
        return out
    for sp, users in zip(terms.segments, d.segment_users, strict=False):
        if not sp.own:
            out[sp.plan] = out.get(sp.plan, 0.0) + users[point]
    if terms.shared is not None and not terms.shared.own:
        extra = shared_seats(d, terms.shared_free_up_to_gb)[point]
        if extra.any():
            out[terms.shared.plan] = out.get(terms.shared.plan, 0.0) + extra
    return out
