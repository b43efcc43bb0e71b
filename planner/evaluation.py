"""Evaluate a scenario: costs per option and year, sizing, totals, NPV, break-even points.

``evaluate(scenario)`` resolves the options against the catalog, computes every cost line
once (array-first, see ``planner.costs``) and exposes the results as tidy DataFrames and
plain models. Amounts are in the scenario's display currency: USD figures times
``usd_exchange_rate``.

- total = sum of every yearly amount over the horizon (undiscounted)
- NPV = sum over years of cost_y / (1 + discount_rate)^(y-1) (costs at the start of each year)
- per_user_month = total / sum over years of (users_y * 12)
- break-even year: the first year whose cumulative on-prem cost is at or below the
  cumulative cloud cost (undiscounted)
- break-even users: the smallest starting user count, from 10 to 100,000, at which on-prem
  NPV is at or below cloud NPV with everything else unchanged

Each option runs on its plan until a feasibility rule (``planner.feasibility``) moves it to
the plan its catalog entry names as ``upgrade_to``, or rules it out; its yearly cost lines
are those of the plan it runs on that year. A ruled-out option is never the cheapest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict

from planner.catalog import load_catalog
from planner.costs import (
    CAPEX_CATEGORIES,
    CLOUD_CATEGORIES,
    HOURS_PER_YEAR,
    LABOUR_CATEGORIES,
    ONE_OFF_CATEGORIES,
    ONPREM_CATEGORIES,
    UNTAXED_CATEGORIES,
    Terms,
    availability,
    cloud_lines,
    discount_factors,
    npv,
    onprem_lines,
)
from planner.errors import Problem, ScenarioError
from planner.feasibility import Path, add_years, path
from planner.freshness import oldest
from planner.models import Catalog, Organization, Scenario
from planner.qualitative import Assessment, assess
from planner.resolution import (
    PLAN_PRICED,
    Candidate,
    ResolvedCloud,
    ResolvedOnPrem,
    ResolvedScenario,
    resolve,
)
from planner.seats import attach_seats, own_seats, seat_inputs, seat_problems, seats_by_plan
from planner.sizing import DIMENSIONS, Demand, FloatArray, Inputs, Sizing, demand, size

__all__ = [
    "SWEEP_MAX_USERS",
    "SWEEP_MIN_USERS",
    "BreakEven",
    "Comparison",
    "Evaluation",
    "OptionSummary",
    "VsCurrent",
    "YearCost",
    "evaluate",
    "option_costs",
    "path_costs",
]

SWEEP_MIN_USERS = 10
SWEEP_MAX_USERS = 100_000
_GRID_STEP = 1.02  # geometric step of the coarse break-even grid
_CHUNK = 20_000  # most user counts a pair adds to one round of the exact break-even scan
# User counts a pair's first round of the exact scan takes (whole intervals, at least one).
# Chosen for speed: a pass of ~100 rows costs little more than a pass of one, so a first
# round of a few intervals saves the second pass that one interval alone usually needed
# (default scenario: min 34.8 -> 30.4 ms; 512 was no faster than 1, rows cost too).
_FIRST_ROUND = 64

Option = ResolvedOnPrem | ResolvedCloud


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class YearCost(_Frozen):
    """One year of one option: users, cost and cost per category (display currency), and
    the catalog plan (or stack) it runs on that year."""

    year: int
    users: int
    cost: float
    by_category: dict[str, float]
    plan: str | None = None
    capex: float = 0.0
    opex: float = 0.0
    seats: dict[str, int] | None = None  # cloud: licensed seats per plan id


class VsCurrent(_Frozen):
    """An option's cost minus that of the system that runs today (display currency)."""

    total: float
    npv: float


class OptionSummary(_Frozen):
    """Totals for one option (display currency, rounded to cents)."""

    id: str
    kind: Literal["onprem", "cloud"]
    label: str
    total: float
    npv: float
    per_user_month: float
    qualitative_score: float | None
    ruled_out_by: list[str]
    warnings: list[str]
    years: list[YearCost]
    availability: float | None = None
    downtime_hours_per_year: float | None = None
    vs_current: VsCurrent | None = None
    opportunity_cost: float = 0.0


class BreakEven(_Frozen):
    """Where an on-prem option catches up with a cloud option (None: not within range)."""

    onprem: str
    cloud: str
    year: int | None
    users: int | None
    year_npv: int | None = None


class Comparison(_Frozen):
    """The comparison, in the shape of ``mailplan compare --format json``."""

    scenario: str
    currency: str
    horizon_years: int
    discount_rate: float
    cheapest: str | None
    options: list[OptionSummary]
    break_even: list[BreakEven]
    warnings: list[str]


# id of a resolved option -> (the option, its inputs): every costing pass (the profile
# pick, the break-even grid and scan, a sweep) reads the same frozen options again. The
# option is kept with its inputs so a reused id never matches; emptied past _INPUTS_MAX.
_INPUTS: dict[int, tuple[Option, Inputs]] = {}
_INPUTS_MAX = 1024


def _option_inputs(option: Option) -> Inputs:
    """The option's numeric fields and seat terms as inputs, built once per option."""
    hit = _INPUTS.get(id(option))
    if hit is not None and hit[0] is option:
        return hit[1]
    inputs = Inputs.of(option, **seat_inputs(option))
    if len(_INPUTS) >= _INPUTS_MAX:
        _INPUTS.clear()
    _INPUTS[id(option)] = (option, inputs)
    return inputs


def option_costs(
    option: Option,
    org: Inputs,
    esc: Inputs,
    d: Demand,
    sc: Inputs | None = None,
    terms: Terms = Terms(),  # noqa: B008 - frozen, so a shared default is safe
    **overrides: Any,
) -> tuple[dict[str, FloatArray], FloatArray | None]:
    """Yearly USD cost lines (N, H) of one option, and its servers (None for cloud).

    ``org``, ``esc``, ``sc`` (the scenario's migration and downtime terms) and ``overrides``
    (fields of the resolved option) may hold (N,) arrays; ``d`` must be
    ``demand(org, horizon)``; ``terms`` says how the option stands to today's system.
    """
    inputs = _option_inputs(option)
    if overrides:
        inputs = inputs.replace(**overrides)
    return _costs_of(option, inputs, org, esc, d, sc, terms)


def _costs_of(
    option: Option,
    inputs: Inputs,
    org: Inputs,
    esc: Inputs,
    d: Demand,
    sc: Inputs | None,
    terms: Terms,
) -> tuple[dict[str, FloatArray], FloatArray | None]:
    """``option_costs`` with the option's inputs given."""
    if isinstance(option, ResolvedOnPrem):
        return onprem_lines(org, inputs, esc, d, sc, terms)
    return cloud_lines(org, inputs, esc, d, sc, terms), None


def path_costs(
    chain: tuple[Option, ...],
    org: Inputs,
    esc: Inputs,
    d: Demand,
    start: dt.date,
    *,
    current: bool = False,
    sc: Inputs | None = None,
    terms: Terms = Terms(),  # noqa: B008 - frozen, so a shared default is safe
    **overrides: Any,
) -> tuple[dict[str, FloatArray], FloatArray | None, Path]:
    """Yearly USD cost lines (N, H) of an option that moves along ``chain`` (itself, then
    its successors), its servers (None for cloud) and its path.

    Each year takes the lines of the plan the option runs on that year (the last plan,
    where it is ruled out). ``overrides`` apply to every plan of the chain, except the
    inline prices of the first plan (``PLAN_PRICED``), which stay with it.
    """
    carried = {k: v for k, v in overrides.items() if k not in PLAN_PRICED}

    def inputs(k: int) -> Inputs:
        given = overrides if k == 0 else carried
        return _option_inputs(chain[k]).replace(**given) if given else _option_inputs(chain[k])

    return _path_costs(chain, inputs, org, esc, d, start, current, sc, terms)


def _path_costs(
    chain: tuple[Option, ...],
    inputs: Callable[[int], Inputs],
    org: Inputs,
    esc: Inputs,
    d: Demand,
    start: dt.date,
    current: bool,
    sc: Inputs | None,
    terms: Terms,
) -> tuple[dict[str, FloatArray], FloatArray | None, Path]:
    """``path_costs`` with the inputs of each plan of the chain given (``inputs(k)``)."""
    # seat caps and minimums count the seats on the plan itself (segments on other plans
    # and unlicensed shared mailboxes are not on it)
    mixed = bool(d.segment_users) or d.shared is not None
    seated = replace(d, users=own_seats(chain[0], d)) if mixed else d
    p = path(chain, seated, start, current=current)
    stages = np.minimum(p.stage, len(chain) - 1)
    used = [int(k) for k in np.unique(stages)]  # only the plans some point runs on
    costed = {k: _costs_of(chain[k], inputs(k), org, esc, d, sc, terms) for k in used}
    if len(used) == 1:  # every point runs on one plan all along
        lines, servers = costed[used[0]]
        return lines, servers, p
    shape = np.broadcast_shapes(
        stages.shape, *(v.shape for c in costed.values() for v in c[0].values())
    )
    pick = np.broadcast_to(stages, shape)
    masks = {k: pick == k for k in used[:-1]}

    def choose(arrays: dict[int, FloatArray]) -> FloatArray:
        last = arrays[used[-1]]
        out = last if last.shape == shape else np.broadcast_to(last, shape)
        for k in reversed(used[:-1]):
            out = np.where(masks[k], arrays[k], out)
        return np.asarray(out, dtype=np.float64)

    first = costed[used[0]]
    lines = {c: choose({k: v[0][c] for k, v in costed.items()}) for c in first[0]}
    servers = None
    if first[1] is not None:
        servers = choose({k: v[1] for k, v in costed.items() if v[1] is not None})
    return lines, servers, p


# What the feasibility rules read from an option (``planner.feasibility``): profiles of one
# option costed as rows of one pass must agree on these, as they share one path.
_RULE_FIELDS = ("end_of_life", "available_to_new_customers", "kind")


def _stack_chains(chains: list[tuple[Option, ...]]) -> tuple[Inputs, ...] | None:
    """The inputs of each plan of several on-prem chains (one per hardware profile), one
    row per chain; None when they cannot share a pass (different lengths, a cloud plan,
    different rules or fields)."""
    if len({len(c) for c in chains}) != 1:
        return None
    out = []
    for plans in zip(*chains, strict=True):
        if not all(isinstance(o, ResolvedOnPrem) for o in plans):
            return None
        rules = {tuple(getattr(o, f) for f in _RULE_FIELDS) for o in plans}
        rows = Inputs.stack([_option_inputs(o) for o in plans])
        if len(rules) != 1 or rows is None:
            return None
        out.append(rows)
    return tuple(out)


@dataclass(frozen=True)
class Costed:
    """One option's yearly USD cost lines (N, H), servers, path, and the admin and helpdesk
    labour left out of the lines as opportunity cost (zero when labour is paid in cash)."""

    lines: dict[str, FloatArray]
    servers: FloatArray | None
    path: Path
    opportunity: FloatArray


def _share(x: float) -> str:
    """A fraction as a percentage, with a decimal below 1 %."""
    return f"{x:.1%}" if x < 0.01 else f"{x:.0%}"


def _round(x: float) -> float:
    return round(float(x), 2)


def _seat_rows(option: Any, scenario: Scenario) -> list[dict[str, Any]]:
    """Assumption rows for a seat mix: each segment's plan and price, the shared-mailbox
    rule, with their catalog sources."""
    terms = getattr(option, "seats", None)
    if terms is None:
        return []
    rows = []
    for seg, sp in zip(scenario.organization.segments, terms.segments, strict=False):
        rows.append(
            {
                "scope": option.id,
                "field": f"seats: {seg.name}",
                "value": sp.label
                if sp.own
                else f"{sp.label}: {sp.price_per_user_month:g} USD/user-month",
                "origin": f"{sp.how}" if sp.own else f"plan {sp.plan} ({sp.how})",
                "source": sp.source,
                "as_of": sp.as_of,
                "estimate": sp.estimate,
                "note": sp.note,
            }
        )
    if scenario.organization.shared_mailboxes is not None:
        rows.append(
            {
                "scope": option.id,
                "field": "seats: shared mailboxes",
                "value": terms.shared_rule,
                "origin": "catalog shared_mailboxes" if terms.shared_source else "mailplan rule",
                "source": terms.shared_source,
                "as_of": terms.shared_as_of,
                "estimate": terms.shared_estimate,
                "note": terms.shared_note,
            }
        )
    return rows


def _seat_mix_text(org: Organization, field: str) -> str:
    """Segments or shared mailboxes in one line, for the assumptions table."""
    if field == "segments":
        parts = []
        for seg in org.segments:
            plan = f"tier {seg.tier}" if seg.tier else "own plan"
            if seg.plans:
                plan = ", ".join(f"{k}: {v}" for k, v in seg.plans.items()) + (
                    f"; else tier {seg.tier}" if seg.tier else ""
                )
            parts.append(f"{seg.name}: {seg.users:,} users ({plan})")
        return "; ".join(parts) or "none"
    shared = org.shared_mailboxes
    if shared is None:
        return "none"
    return f"{shared.count:,} of {shared.mailbox_gb:g} GB (+{shared.growth_gb_per_year:g} GB/yr)"


class Evaluation:
    """A scenario evaluated against a catalog: every cost line and the break-even grid are
    costed when it is built; frames are made on demand."""

    def __init__(
        self, scenario: Scenario, catalog: Catalog | None = None, start: dt.date | None = None
    ) -> None:
        self.scenario = scenario
        self.catalog = catalog if catalog is not None else load_catalog()
        self.start = start or scenario.start_date or dt.date.fromisoformat(self.catalog.as_of)
        bought = scenario.current_servers_bought
        if bought is not None and bought > self.start.year:
            raise ScenarioError(
                Problem(
                    "current_servers_bought",
                    f"{bought} is after the start of year 1 ({self.start.isoformat()}); "
                    "give the year today's servers were bought",
                )
            )
        self.resolved: ResolvedScenario = resolve(scenario, self.catalog)
        problems = seat_problems(scenario, self.catalog)
        if problems:
            raise ScenarioError(problems)
        self.resolved = attach_seats(self.resolved, self.catalog)
        self.horizon = scenario.horizon_years
        self.rate = scenario.usd_exchange_rate
        nominal = scenario.price_basis == "nominal"
        inflation = scenario.inflation if nominal else 0.0
        # nominal: the real discount rate combined with inflation (Fisher)
        self.discount_rate = (1.0 + scenario.discount_rate) * (1.0 + inflation) - 1.0
        self.discount = discount_factors(self.discount_rate, self.horizon)[0]
        self.end_discount = float(1.0 / (1.0 + self.discount_rate) ** self.horizon)
        self._org = self.organization_inputs()
        self._inflation = inflation
        self._esc = self.escalation_inputs()
        self._sc = self.scenario_terms()
        self.demand = demand(self._org, self.horizon)
        for option_id, found in self.resolved.candidates.items():
            self.resolved = self.resolved.with_pick(option_id, self._cheapest_profile(found))
        self.lines: dict[str, dict[str, FloatArray]] = {}  # option -> category -> (H,) display
        self._yearly: dict[str, tuple[dict[str, FloatArray], FloatArray]] = {}  # see yearly
        self._npv: dict[str, tuple[dict[str, FloatArray], float]] = {}  # see npv
        self.opportunity: dict[str, FloatArray] = {}  # option -> (H,) labour, display
        self.servers: dict[str, FloatArray] = {}
        self.paths: dict[str, Path] = {}
        # One pass: the scenario is row 0, the break-even grid (``_grid_npv``) rows 1..;
        # each row is costed as if alone, and a pass costs about as much for 427 rows as
        # for one, so the comparison's grid comes nearly free.
        org = self._org.replace(users=np.concatenate([self._org.users[:, 0], self._grid]))
        self._grid_npv: dict[str, FloatArray] = {}
        for option_id, c in self.costs_all(org, self._esc, demand(org, self.horizon)).items():
            self.lines[option_id] = {k: v[0] * self.rate for k, v in c.lines.items()}
            self.opportunity[option_id] = c.opportunity[0] * self.rate
            self.paths[option_id] = replace(
                c.path, stage=c.path.stage[:1], ruled_out=c.path.ruled_out[:1]
            )
            if c.servers is not None:
                self.servers[option_id] = c.servers[0]
            self._grid_npv[option_id] = self.npv_of({k: v[1:] for k, v in c.lines.items()})
        self.availability: dict[str, float | None] = {
            o.id: self._availability(o.id) for o in self.resolved.options
        }
        self.assessments: dict[str, Assessment] = assess(
            self.resolved, self.catalog, self.start, self.availability
        )

    def _cheapest_profile(self, found: tuple[Candidate, ...]) -> Candidate:
        """The hardware profile with the lowest NPV of the option over the horizon (its own
        costs; what a move adds is the same on every profile)."""

        option_id = found[0].option.id
        chains = [(c.option, *c.successors) for c in found]
        stacked = _stack_chains(chains)
        if stacked is None:  # the profiles differ in more than numbers: one at a time

            def cost(c: Candidate) -> float:
                lines, _, _ = path_costs(
                    (c.option, *c.successors),
                    self._org,
                    self._esc,
                    self.demand,
                    self.start,
                    current=option_id == self.scenario.current,
                    sc=self._sc,
                    terms=self.terms(option_id),
                )
                return float(npv(lines, self.discount, self.end_discount)[0])

            return min(found, key=cost)
        # every profile in one pass, one row each
        lines, _, _ = _path_costs(
            chains[0],
            stacked.__getitem__,
            self._org,
            self._esc,
            self.demand,
            self.start,
            option_id == self.scenario.current,
            self._sc,
            self.terms(option_id),
        )
        # row by row, the very arithmetic of one profile costed alone (costs.npv on the
        # row): the lines are summed once for every row, as adding whole arrays adds each
        # row alike, and only the product with the discount factors is taken row by row
        total = np.asarray(sum(v for k, v in lines.items() if k != "residual"), dtype=np.float64)
        residual = lines.get("residual")
        costs = []
        for j in range(len(found)):
            out = total[j : j + 1] @ self.discount
            if residual is not None:
                out = out + residual[j : j + 1, -1] * self.end_discount
            costs.append(float(out[0]))
        return found[min(range(len(found)), key=costs.__getitem__)]

    def organization_inputs(self, **overrides: Any) -> Inputs:
        """The organisation's numbers as inputs; with a ``user_profile``, the client load
        it stands for (from the catalog) where the scenario gives none."""
        org = self.scenario.organization
        profile: dict[str, Any] = {}
        known = (
            self.catalog.defaults.user_profiles.get(org.user_profile) if org.user_profile else None
        )
        if known is not None:
            if org.client_fetches_per_user_hour is None:
                profile["client_fetches_per_user_hour"] = known.client_fetches_per_user_hour.value
            if org.client_sessions_per_user is None:
                profile["client_sessions_per_user"] = known.client_sessions_per_user.value
        return Inputs.of(org, **{**profile, **self._seat_mix_inputs(), **overrides})

    def _seat_mix_inputs(self) -> dict[str, float]:
        """Segments and shared mailboxes as numeric inputs for ``planner.sizing.demand``
        (NaN: the organisation's own figure)."""
        org = self.scenario.organization
        out: dict[str, float] = {}

        def given(value: float | None) -> float:
            return np.nan if value is None else float(value)

        for i, seg in enumerate(org.segments):
            out[f"seg{i}_users"] = float(seg.users)
            out[f"seg{i}_sent"] = given(seg.messages_sent_per_user_day)
            out[f"seg{i}_received"] = given(seg.messages_received_per_user_day)
            out[f"seg{i}_mailbox_gb"] = given(seg.mailbox_gb_per_user)
            out[f"seg{i}_growth_gb"] = given(seg.mailbox_growth_gb_per_user_year)
        shared = org.shared_mailboxes
        if shared is not None:
            out["shared_count"] = float(shared.count)
            out["shared_gb"] = shared.mailbox_gb
            out["shared_growth_gb"] = shared.growth_gb_per_year
            out["shared_received"] = given(shared.messages_received_per_day)
        return out

    def escalation_inputs(self, **overrides: Any) -> Inputs:
        """The escalation rates as inputs, with the inflation a nominal price basis adds."""
        return Inputs.of(self.scenario.escalation, inflation=self._inflation, **overrides)

    def scenario_terms(self, **overrides: Any) -> Inputs:
        """The scenario's migration and downtime terms as inputs: each migration field from
        the scenario, else the catalog's defaults (0 where it gives none)."""
        mig, defaults = self.scenario.migration, self.catalog.defaults
        fallback = {
            "per_mailbox": defaults.migration_per_mailbox or defaults.migration_per_user,
            "tool_per_mailbox": defaults.migration_tool_per_mailbox,
            "dual_running_months": defaults.dual_running_months,
            "training_hours_per_user": defaults.training_hours_per_user,
        }
        values: dict[str, Any] = {}
        for name, fact in fallback.items():
            given = getattr(mig, name)
            values[name] = given if given is not None else (fact.value if fact else 0.0)
        values["downtime_cost_per_user_hour"] = self.scenario.downtime_cost_per_user_hour or 0.0
        values["downtime_cost_per_hour"] = self.scenario.downtime_cost_per_hour or 0.0
        values.update(overrides)
        return Inputs(values)

    def terms(self, option_id: str) -> Terms:
        """How an option stands to the system that runs today (``current``)."""
        current = self.scenario.current
        bought = self.scenario.current_servers_bought
        return Terms(
            current=option_id == current,
            moving=current is not None and option_id != current,
            initial_age=float(self.start.year - bought)
            if option_id == current and bought is not None
            else None,
        )

    def costs_all(
        self,
        org: Inputs,
        esc: Inputs,
        d: Demand,
        sc: Inputs | None = None,
        overrides: dict[str, dict[str, Any]] | None = None,
        only: tuple[str, ...] | None = None,
    ) -> dict[str, Costed]:
        """Every option's USD costs for the given inputs (``d`` must be
        ``demand(org, horizon)``): the one costing every caller uses.

        The option that runs today is costed first: a move to any other option pays
        ``dual_running_months`` / 12 of its year-1 running cost (one-off lines left out).
        With ``labour_cost: existing_staff`` the admin and helpdesk lines move to
        ``opportunity``. ``only`` limits the result to some options (today's system is
        costed all the same when others need it).
        """
        sc = sc if sc is not None else self._sc
        overrides = overrides or {}
        wanted = {o.id for o in self.resolved.options} if only is None else set(only)
        if wanted - {self.scenario.current} and self.scenario.current is not None:
            wanted.add(self.scenario.current)
        order = sorted(
            (o for o in self.resolved.options if o.id in wanted),
            key=lambda o: o.id != self.scenario.current,
        )
        out: dict[str, Costed] = {}
        staff = self.scenario.labour_cost == "existing_staff"
        running_today: FloatArray | None = None
        for option in order:
            lines, servers, p = path_costs(
                self.resolved.chain(option.id),
                org,
                esc,
                d,
                self.start,
                current=option.id == self.scenario.current,
                sc=sc,
                terms=self.terms(option.id),
                **overrides.get(option.id, {}),
            )
            shape = next(iter(lines.values())).shape
            if option.id != self.scenario.current and running_today is not None:
                shape = np.broadcast_shapes(shape, (running_today.shape[0], 1))
                dual = np.zeros(shape)
                dual[:, 0] = running_today * sc.dual_running_months[:, 0] / 12.0
                lines = {
                    k: v if v.shape == shape else np.broadcast_to(v, shape)
                    for k, v in lines.items()
                }
                lines["dual_running"] = lines["dual_running"] + dual
            if self.scenario.tax_pct is not None:
                lines = {**lines, "tax": self._tax(lines)}
            opportunity = np.zeros(shape)
            if staff:
                for k in LABOUR_CATEGORIES:
                    opportunity = opportunity + lines[k]
                    lines[k] = np.zeros_like(lines[k])
            if option.id == self.scenario.current:
                running_today = sum(
                    (v[:, 0] for k, v in lines.items() if k not in ONE_OFF_CATEGORIES),
                    np.zeros(shape[0]),
                )
            out[option.id] = Costed(lines, servers, p, opportunity)
        keep = wanted if only is None else set(only)
        return {o.id: out[o.id] for o in self.resolved.options if o.id in keep}

    def _tax(self, lines: dict[str, FloatArray]) -> FloatArray:
        """Unrecoverable tax on what the option buys: capex lines at ``tax_pct.capex``, the
        other taxed lines at ``tax_pct.opex``."""
        tax = self.scenario.tax_pct
        assert tax is not None
        out = np.zeros(np.broadcast_shapes(*(v.shape for v in lines.values())))
        for k, v in lines.items():
            if k not in UNTAXED_CATEGORIES and k != "tax":
                out = out + v * (tax.capex if k in CAPEX_CATEGORIES else tax.opex)
        return out

    def _availability(self, option_id: str) -> float | None:
        """Availability of the plan the option runs on in year 1 (None when unknown)."""
        chain = self.resolved.chain(option_id)
        option = chain[min(int(self.paths[option_id].stage[0, 0]), len(chain) - 1)]
        # the inputs every costing built (seat terms add only seg*/shared_* fields)
        value = float(availability(_option_inputs(option), option.kind)[0, 0])
        return None if np.isnan(value) else value

    # region #### per-option figures ####

    @property
    def options(self) -> tuple[Option, ...]:
        """Resolved options, on-prem first."""
        return self.resolved.options

    def option(self, option_id: str) -> Option:
        """The resolved option with this id."""
        return next(o for o in self.options if o.id == option_id)

    def yearly(self, option_id: str) -> FloatArray:
        """Cost per year (H,), display currency."""
        # Summed once per option: the comparison's break-even years ask for it for every
        # pair. Kept with the lines dict it was summed from (a replaced dict is summed
        # again); a copy is returned, as callers may change it.
        lines = self.lines[option_id]
        hit = self._yearly.get(option_id)
        if hit is None or hit[0] is not lines:
            hit = self._yearly[option_id] = (
                lines,
                np.asarray(sum(lines.values()), dtype=np.float64),
            )
        return hit[1].copy()

    def total(self, option_id: str) -> float:
        """Undiscounted cost over the horizon, display currency."""
        return float(self.yearly(option_id).sum())

    def npv(self, option_id: str) -> float:
        """Cost over the horizon discounted to the start of year 1 (the residual credit as
        end-of-year money), display currency."""
        # Worked out once per option, as ``yearly`` is: the comparison asks for it several
        # times an option (its own, against today's system, the cheapest)
        own = self.lines[option_id]
        hit = self._npv.get(option_id)
        if hit is None or hit[0] is not own:
            lines = {k: v[None, :] for k, v in own.items()}
            hit = self._npv[option_id] = (
                own,
                float(npv(lines, self.discount, self.end_discount)[0]),
            )
        return hit[1]

    def npv_of(self, lines: dict[str, FloatArray]) -> FloatArray:
        """NPV (N,) of USD cost lines (N, H), in display currency."""
        return np.asarray(npv(lines, self.discount, self.end_discount) * self.rate)

    def downtime_hours(self, option_id: str) -> float | None:
        """Expected hours a year mail is down, from the availability (None when unknown)."""
        avail = self.availability[option_id]
        return None if avail is None else round((1.0 - avail) * HOURS_PER_YEAR, 2)

    def vs_current(self, option_id: str) -> VsCurrent | None:
        """The option's total and NPV minus those of today's system (None without one)."""
        current = self.scenario.current
        if current is None:
            return None
        return VsCurrent(
            total=_round(self.total(option_id) - self.total(current)),
            npv=_round(self.npv(option_id) - self.npv(current)),
        )

    def plan_by_year(self, option_id: str) -> list[str | None]:
        """The catalog plan (cloud) or stack (on-prem) the option runs on in each year."""
        chain = self.resolved.chain(option_id)
        ids = [o.plan if isinstance(o, ResolvedCloud) else o.stack for o in chain]
        stage = np.minimum(self.paths[option_id].stage[0], len(chain) - 1)
        return [ids[int(k)] for k in stage]

    def seats_by_year(self, option_id: str) -> list[dict[str, int]]:
        """Licensed seats per plan id in each year (cloud; empty dicts on-prem): the plan the
        option runs on that year first, then the segments' and shared mailboxes' plans."""
        chain = self.resolved.chain(option_id)
        stage = np.minimum(self.paths[option_id].stage[0], len(chain) - 1)
        by_stage = {
            int(k): seats_by_plan(chain[int(k)], self.demand)
            for k in np.unique(stage)
            if isinstance(chain[int(k)], ResolvedCloud)
        }
        out: list[dict[str, int]] = []
        for y, k in enumerate(stage):
            here = by_stage.get(int(k), {})
            out.append({plan: round(float(v[y])) for plan, v in here.items()})
        return out

    @cached_property
    def seats(self) -> pd.DataFrame:
        """Seats frame (cloud options): option, year, plan, label, seats; one row per plan
        with seats that year."""
        labels = {p.id: p.label for p in self.catalog.plans}
        rows = [
            {
                "option": o.id,
                "year": y + 1,
                "plan": plan,
                "label": labels.get(plan, o.label),
                "seats": n,
            }
            for o in self.resolved.cloud
            for y, year in enumerate(self.seats_by_year(o.id))
            for plan, n in year.items()
            if n > 0
        ]
        return pd.DataFrame(rows, columns=["option", "year", "plan", "label", "seats"])

    @property
    def has_seat_mix(self) -> bool:
        """Whether the scenario buys seats that are not one per person on one plan."""
        org = self.scenario.organization
        return bool(org.segments) or org.shared_mailboxes is not None

    def path_label(self, option_id: str) -> str:
        """The option's name with the plans it moves to: ``Microsoft 365 Business Basic, then
        Office 365 E1 from year 4``; a move in year 1 names the plan it runs on instead."""
        option = self.option(option_id)
        labels = {
            (o.plan if isinstance(o, ResolvedCloud) else o.stack): o.label
            for o in self.resolved.chain(option_id)
        }
        moves = [m for m in self.paths[option_id].moves if m.to_id is not None]
        head, parts = option.label, []
        for m in moves:
            target = labels.get(m.to_id, m.to_id or "")
            if m.year == 1:
                head = f"{target} (in place of {option.label})"
            else:
                parts.append(f"then {target} from year {m.year}")
        return ", ".join([head, *parts])

    def per_user_month(self, option_id: str) -> float:
        """Total divided by the user-months of the horizon."""
        return self.total(option_id) / float(self.demand.users[0].sum() * 12.0)

    @cached_property
    def end(self) -> dt.date:
        """The day after the horizon ends."""
        return add_years(self.start, self.horizon)

    def _current_past_support(self, option: Option) -> bool:
        """The option runs today and its support ends before the horizon does."""
        return (
            option.id == self.scenario.current
            and option.end_of_life is not None
            and dt.date.fromisoformat(option.end_of_life) < self.end
        )

    def ruled_out_by(self, option_id: str) -> list[str]:
        """Why an option cannot be recommended: requirement ids, feasibility rule ids
        (``planner.feasibility``) and ``missing_feature:<id>``; empty when it can."""
        option = self.option(option_id)
        out = list(self.assessments[option_id].ruled_out_by)
        out += [r for r in self.paths[option_id].rules if r not in out]
        if self._current_past_support(option) and "end_of_life" not in out:
            out.append("end_of_life")
        out += [f"missing_feature:{f}" for f in option.missing_features]
        return out

    @cached_property
    def eligible(self) -> list[str]:
        """Options that can be bought for the whole horizon and meet every requirement."""
        return [o.id for o in self.options if not self.ruled_out_by(o.id)]

    @cached_property
    def cheapest(self) -> str | None:
        """The eligible option with the lowest NPV; None when every option is ruled out."""
        return min(self.eligible, key=self.npv) if self.eligible else None

    # endregion
    # region #### warnings ####

    def _feature_label(self, fid: str) -> str:
        return next((f.label for f in self.catalog.features if f.id == fid), fid)

    def option_warnings(self, option: Option) -> list[str]:
        """What a reader should know about an option's figures, one line each: every plan
        change and rule that rules it out, then cautions."""
        out = []
        labels = {
            o.plan if isinstance(o, ResolvedCloud) else (o.stack or o.id): o.label
            for o in self.resolved.chain(option.id)
        }
        for move in self.paths[option.id].moves:
            if move.to_id is None:
                out += [
                    f"ruled out ({rule}): {detail}, and no successor plan"
                    for rule, detail in zip(move.rules, move.details, strict=True)
                ]
            else:
                out.append(
                    f"moves to {labels.get(move.to_id, move.to_id)} in year {move.year}: "
                    + "; ".join(move.details)
                )
        if isinstance(option, ResolvedOnPrem):
            out += list(option.notes)
        if self._current_past_support(option):
            out.append(
                f"runs today; support ends or ended on {option.end_of_life}: shown as the "
                "baseline, never recommended"
            )
        for fid in option.missing_features:
            out.append(
                f"ruled out (missing_feature:{fid}): lacks {self._feature_label(fid)}, a "
                "requirement, and sells no add-on for it"
            )
        if option.feature_addons:
            out.append("buys " + ", ".join(option.feature_addons) + " for required features")
        out += self._seat_warnings(option)
        if isinstance(option, ResolvedCloud) and option.mailbox_cap_gb is not None:
            mailbox = self.demand.mailbox_gb[0]
            cap = option.mailbox_cap_gb
            if not option.storage_pooled and cap >= mailbox.max() > 0.8 * cap:
                out.append(
                    f"average mailbox reaches {mailbox.max():g} GB of the {cap:g} GB cap; "
                    "heavier users will hit it first"
                )
        return out

    def _seat_warnings(self, option: Option) -> list[str]:
        """Seat-mix cautions: a segment whose mailbox outgrows its plan's cap, a segment
        whose tier the option's plan has no plan for."""
        terms = getattr(option, "seats", None)
        if terms is None:
            return []
        out = []
        segments = self.scenario.organization.segments
        for seg, sp, box in zip(
            segments, terms.segments, self.demand.segment_mailbox_gb, strict=False
        ):
            cap = sp.mailbox_cap_gb
            if not sp.own and cap is not None and float(box[0].max()) > cap + 1e-9:
                out.append(
                    f"segment '{seg.name}': mailboxes reach {float(box[0].max()):g} GB, above "
                    f"the {cap:g} GB of {sp.label}; map it to a bigger plan (plans)"
                )
        plans = self.plan_by_year(option.id)
        for y, year in enumerate(self.seats_by_year(option.id)):
            for plan_id, n in year.items():
                found = self.catalog.plan(plan_id)
                cap = found.max_users.value if found and found.max_users else None
                if plan_id != plans[y] and cap is not None and n > cap:
                    out.append(
                        f"{n:,} seats on {found.label if found else plan_id} in year {y + 1} "
                        f"exceed its limit of {cap:,.0f} seats; map the segment to another plan"
                    )
                    break
            else:
                continue
            break
        for name in terms.unmapped:
            out.append(
                f"segment '{name}': the catalog names no plan of its tier beside "
                f"{option.label}, so its people are on the option's own plan"
            )
        return out

    @cached_property
    def warnings(self) -> list[str]:
        """Scenario-wide warnings."""
        out = []
        if not self.eligible:
            out.append("every option is ruled out, so there is no recommendation")
        return out

    # endregion
    # region #### frames ####

    @cached_property
    def costs(self) -> pd.DataFrame:
        """Tidy cost frame: option, kind, year, category, amount (display currency)."""
        # Built once from columns, in the order a stable sort on (option, year) gives:
        # options by id, then year, then the option's categories as its lines list them.
        option_col: list[str] = []
        kind_col: list[str] = []
        year_col: list[npt.NDArray[np.int64]] = []
        category_col: list[str] = []
        amounts: list[FloatArray] = []
        yrs = np.arange(1, self.horizon + 1)
        for option in sorted(self.options, key=lambda o: o.id):
            lines = self.lines[option.id]
            n = len(lines) * self.horizon
            option_col += [option.id] * n
            kind_col += [option.kind] * n
            year_col.append(np.repeat(yrs, len(lines)))
            category_col += list(lines) * self.horizon
            amounts.append(np.stack(list(lines.values()), axis=1).ravel())
        return pd.DataFrame(
            {
                "option": option_col,
                "kind": kind_col,
                "year": np.concatenate(year_col),
                "category": category_col,
                "amount": np.concatenate(amounts),
            }
        )

    @cached_property
    def sizing(self) -> pd.DataFrame:
        """Sizing frame (on-prem options): option, year, users, messages_per_day,
        peak_msgs_per_s, storage_tb, capacity_msgs_per_s, servers, server (the hardware
        profile), binding (what sets the count: storage, message_rate, client_load or
        copies), and the utilisation of each dimension (fractions; NaN where not sized)."""
        d = self.demand
        frames = []
        for o in self.resolved.onprem:
            detail = self.sizing_detail(o.id)
            frames.append(
                pd.DataFrame(
                    {
                        "option": o.id,
                        "year": np.arange(1, self.horizon + 1),
                        "users": d.users[0].astype(np.int64),
                        "messages_per_day": d.messages_per_day[0],
                        "peak_msgs_per_s": d.peak_msgs_per_s[0],
                        "storage_tb": d.storage_tb[0],
                        "capacity_msgs_per_s": o.capacity_msgs_per_s,
                        "servers": self.servers[o.id].astype(np.int64),
                        "server": o.server,
                        "binding": [DIMENSIONS[int(k)] for k in detail.binding()[0]],
                        "storage_utilisation": detail.utilisation["storage"][0],
                        "message_rate_utilisation": detail.utilisation["message_rate"][0],
                        "client_load_utilisation": detail.utilisation["client_load"][0],
                    }
                )
            )
        columns = [
            "option",
            "year",
            "users",
            "messages_per_day",
            "peak_msgs_per_s",
            "storage_tb",
            "capacity_msgs_per_s",
            "servers",
            "server",
            "binding",
            "storage_utilisation",
            "message_rate_utilisation",
            "client_load_utilisation",
        ]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)

    def sizing_detail(self, option_id: str) -> Sizing:
        """What each dimension needs, for the plan (stack) the option runs on each year."""
        chain = self.resolved.chain(option_id)
        stage = np.minimum(self.paths[option_id].stage[:1], len(chain) - 1)
        details = [size(self.demand, Inputs.of(o)) for o in chain]
        if len(chain) == 1:
            return details[0]

        def pick(arrays: list[FloatArray]) -> FloatArray:
            shape = self.demand.users.shape
            stacked = np.stack([np.broadcast_to(a, shape) for a in arrays])
            return np.asarray(np.take_along_axis(stacked, stage[None], axis=0)[0])

        return Sizing(
            needed={k: pick([s.needed[k] for s in details]) for k in DIMENSIONS},
            servers=pick([s.servers for s in details]),
            utilisation={
                k: pick([s.utilisation[k] for s in details]) for k in details[0].utilisation
            },
        )

    def binding_sentence(self, option_id: str, year: int) -> str:
        """What sets the server count in ``year``, in one sentence, e.g. "Year 5: 3
        servers, set by storage (11.2 of 12 TB); message rate uses 2 % of capacity."."""
        row = self.sizing[(self.sizing["option"] == option_id) & (self.sizing["year"] == year)]
        r = row.iloc[0]
        o = self.option(option_id)
        assert isinstance(o, ResolvedOnPrem)
        servers = int(r["servers"])
        noun = "server" if servers == 1 else "servers"
        binding = str(r["binding"])
        if binding == "storage":
            usable = servers * o.storage_tb_per_server * (1.0 - o.storage_filesystem_overhead)
            used = r["storage_utilisation"] * usable  # mail, its index and retention, copies
            why = f"storage ({used:,.1f} of {usable:,.1f} TB)"
        elif binding == "message_rate":
            why = f"message rate ({_share(r['message_rate_utilisation'])} of capacity)"
        elif binding == "client_load":
            why = f"client load ({_share(r['client_load_utilisation'])} of capacity)"
        else:
            why = f"mailbox copies ({o.copies})"
        rest = [
            f"{label} uses {_share(r[col])} of capacity"
            for key, label, col in (
                ("message_rate", "message rate", "message_rate_utilisation"),
                ("client_load", "client load", "client_load_utilisation"),
            )
            if key != binding and np.isfinite(r[col]) and r[col] > 0
        ]
        tail = "; " + ", ".join(rest) if rest else ""
        return f"Year {year}: {servers} {noun}, set by {why}{tail}."

    @cached_property
    def summary(self) -> pd.DataFrame:
        """One row per option: id, kind, label, total, npv, per_user_month,
        qualitative_score, ruled_out, cheapest."""
        return pd.DataFrame(
            [
                {
                    "id": o.id,
                    "kind": o.kind,
                    "label": o.label,
                    "total": self.total(o.id),
                    "npv": self.npv(o.id),
                    "per_user_month": self.per_user_month(o.id),
                    "qualitative_score": self.assessments[o.id].score,
                    "ruled_out": ", ".join(self.ruled_out_by(o.id)),
                    "cheapest": o.id == self.cheapest,
                }
                for o in self.options
            ]
        )

    @cached_property
    def assumptions(self) -> pd.DataFrame:
        """Every input with its origin and source: scope, field, value, origin, source,
        as_of, estimate, note."""
        rows: list[dict[str, Any]] = []
        sc = self.scenario
        for field in ("currency", "usd_exchange_rate", "horizon_years", "discount_rate"):
            rows.append(
                self._scenario_row(
                    "scenario", field, getattr(sc, field), field in sc.model_fields_set
                )
            )
        for field in type(sc.escalation).model_fields:
            rows.append(
                self._scenario_row(
                    "escalation",
                    field,
                    getattr(sc.escalation, field),
                    field in sc.escalation.model_fields_set,
                )
            )
        org = sc.organization
        for field, info in Organization.model_fields.items():
            shown: Any = getattr(org, field)
            if field in ("segments", "shared_mailboxes"):
                if field not in org.model_fields_set:
                    continue
                shown = _seat_mix_text(org, field)
            row = self._scenario_row("organization", field, shown, field in org.model_fields_set)
            if field not in org.model_fields_set:
                row["note"] = info.description
            rows.append(row)
        for option in self.options:
            for field, prov in option.provenance.items():
                value: Any = getattr(option, field, None)
                if isinstance(option, ResolvedCloud) and field == "storage_addon":
                    price = option.addon_price_per_user_month
                    value = f"{option.addon_label}: {price:g} USD/user-month"
                elif field == "billing_surcharge":
                    value = prov.note.split(";")[0] if prov.note else None
                rows.append(
                    {
                        "scope": option.id,
                        "field": field,
                        "value": value,
                        "origin": prov.origin,
                        "source": prov.source,
                        "as_of": prov.as_of,
                        "estimate": prov.estimate,
                        "note": prov.note,
                    }
                )
            rows += _seat_rows(option, self.scenario)
            if isinstance(option, ResolvedOnPrem):
                rows.append(
                    {
                        "scope": option.id,
                        "field": "capacity_source",
                        "value": option.capacity_source,
                        "origin": option.capacity_kind,
                        "source": None,
                        "as_of": None,
                        "estimate": False,
                        "note": None,
                    }
                )
        return pd.DataFrame(
            rows,
            columns=["scope", "field", "value", "origin", "source", "as_of", "estimate", "note"],
        )

    @cached_property
    def oldest_as_of(self) -> str | None:
        """The oldest as-of date among the catalog figures this scenario uses."""
        return oldest(self.assumptions["as_of"].dropna().astype(str).tolist())

    @staticmethod
    def _scenario_row(scope: str, field: str, value: Any, was_set: bool) -> dict[str, Any]:
        return {
            "scope": scope,
            "field": field,
            "value": value,
            "origin": "scenario" if was_set else "mailplan default",
            "source": None,
            "as_of": None,
            "estimate": False,
            "note": None,
        }

    # endregion
    # region #### break-even ####

    def option_npv_for_users(self, option_id: str, users: npt.ArrayLike) -> FloatArray:
        """NPV (display currency) of one option for each starting user count in ``users``."""
        return self._npv_for_users(users, (option_id,))[option_id]

    def _npv_for_users(
        self, users: npt.ArrayLike, options: tuple[str, ...]
    ) -> dict[str, FloatArray]:
        org = self._org.replace(users=np.asarray(users, dtype=np.float64))
        d = demand(org, self.horizon)
        costed = self.costs_all(org, self._esc, d, only=options)
        return {k: self.npv_of(c.lines) for k, c in costed.items()}

    @cached_property
    def _grid(self) -> npt.NDArray[np.int64]:
        n = int(np.ceil(np.log(SWEEP_MAX_USERS / SWEEP_MIN_USERS) / np.log(_GRID_STEP))) + 1
        return np.unique(
            np.rint(np.geomspace(SWEEP_MIN_USERS, SWEEP_MAX_USERS, n)).astype(np.int64)
        )

    def _candidates(self, onprem_id: str, cloud_id: str) -> npt.NDArray[np.int64] | None:
        """Grid intervals where on-prem may reach cloud (None: at the grid's first point)."""
        a, c = self._grid_npv[onprem_id], self._grid_npv[cloud_id]
        tol = 1e-9 * np.maximum(np.abs(c), 1.0)
        if a[0] <= c[0] + tol[0]:
            return None
        return np.flatnonzero(a[:-1] <= c[1:] + tol[1:])

    def _interval(self, i: int) -> npt.NDArray[np.int64]:
        """The user counts of grid interval ``i``: grid[i] + 1 .. grid[i + 1]."""
        return np.arange(self._grid[i] + 1, self._grid[i + 1] + 1)

    @cached_property
    def _break_even_users(self) -> dict[tuple[str, str], int | None]:
        """Break-even users of every on-prem/cloud pair (see ``break_even_users``).

        The pairs are searched together, in rounds: each round checks every pair still
        open on its next batch of candidate intervals (about ``_FIRST_ROUND`` user counts,
        then batches that grow four-fold), all in one costing of the options those pairs
        name. A
        point's NPV does not depend on the other points costed with it, so the answer is
        the same as checking each pair alone; there are fewer, larger passes.
        """
        grid = self._grid
        found: dict[tuple[str, str], int | None] = {}
        queue: dict[tuple[str, str], list[int]] = {}  # candidate intervals left, in order
        for o in self.resolved.onprem:
            for c in self.resolved.cloud:
                candidates = self._candidates(o.id, c.id)
                if candidates is None:
                    found[o.id, c.id] = int(grid[0])
                elif not candidates.size:
                    found[o.id, c.id] = None
                else:
                    queue[o.id, c.id] = candidates.tolist()  # Python ints
        # each pair's next batch size, at first _FIRST_ROUND user counts
        limits: dict[tuple[str, str], int] = {}
        while queue:
            batches: dict[tuple[str, str], npt.NDArray[np.int64]] = {}
            for pair, left in queue.items():
                limit = limits.get(pair, _FIRST_ROUND)
                take, size = 0, 0
                while take < len(left) and (take == 0 or size < limit):
                    size += int(grid[left[take] + 1] - grid[left[take]])
                    take += 1
                batches[pair] = np.concatenate([self._interval(i) for i in left[:take]])
                del left[:take]
                # then batches growing four-fold up to _CHUNK user counts
                limits[pair] = min(max(limit, size) * 4, _CHUNK)
            users = np.unique(np.concatenate(list(batches.values())))
            options = tuple(dict.fromkeys(k for pair in batches for k in pair))
            npvs = self._npv_for_users(users, options)
            for pair, batch in batches.items():
                at = np.searchsorted(users, batch)
                onprem, cloud = npvs[pair[0]][at], npvs[pair[1]][at]
                hit = np.flatnonzero(onprem <= cloud + 1e-9 * np.maximum(np.abs(cloud), 1.0))
                if hit.size:
                    found[pair] = int(batch[hit[0]])
                elif not queue[pair]:
                    found[pair] = None
            queue = {pair: left for pair, left in queue.items() if pair not in found}
        return found

    def break_even_users(self, onprem_id: str, cloud_id: str) -> int | None:
        """Smallest starting user count in 10..100,000 with on-prem NPV <= cloud NPV.

        Exact: a coarse geometric grid finds the intervals where a crossing is possible
        (NPV never falls as users rise, so on-prem at the interval's start must be at or
        below cloud at its end), then every integer in those intervals is checked, in
        order, a first batch of every pair at once, the rest in growing batches.
        """
        return self._break_even_users[onprem_id, cloud_id]

    def discounted_yearly(self, option_id: str) -> FloatArray:
        """Each year's cost discounted to the start of year 1 (H,), the residual credit as
        end-of-year money; these sum to the NPV."""
        lines = self.lines[option_id]
        out = (self.yearly(option_id) - lines.get("residual", 0.0)) * self.discount
        if "residual" in lines:
            out[-1] += lines["residual"][-1] * self.end_discount
        return np.asarray(out, dtype=np.float64)

    def break_even_year(
        self, onprem_id: str, cloud_id: str, *, discounted: bool = False
    ) -> int | None:
        """First year whose cumulative on-prem cost is at or below the cloud's (undiscounted,
        or on NPV when ``discounted``)."""
        cost = self.discounted_yearly if discounted else self.yearly
        a = np.cumsum(cost(onprem_id))
        c = np.cumsum(cost(cloud_id))
        hit = np.flatnonzero(a <= c + 1e-9 * np.maximum(np.abs(c), 1.0))
        return int(hit[0]) + 1 if hit.size else None

    @cached_property
    def break_even(self) -> list[BreakEven]:
        """Break-even year and users for every on-prem/cloud pair."""
        return [
            BreakEven(
                onprem=o.id,
                cloud=c.id,
                year=self.break_even_year(o.id, c.id),
                users=self.break_even_users(o.id, c.id),
                year_npv=self.break_even_year(o.id, c.id, discounted=True),
            )
            for o in self.resolved.onprem
            for c in self.resolved.cloud
        ]

    def sweep(
        self, users: npt.ArrayLike, user_growth_per_year: npt.ArrayLike | None = None
    ) -> pd.DataFrame:
        """Every option over many organisation sizes (and growth rates) at once.

        ``users`` and ``user_growth_per_year`` are equal-length arrays of points (or a
        scalar growth). Returns option, kind, users, user_growth_per_year, total, npv,
        per_user_month per point (display currency).
        """
        u = np.asarray(users, dtype=np.float64).reshape(-1)
        g = np.broadcast_to(
            np.asarray(
                self.scenario.organization.user_growth_per_year
                if user_growth_per_year is None
                else user_growth_per_year,
                dtype=np.float64,
            ),
            u.shape,
        )
        org = self._org.replace(users=u, user_growth_per_year=g)
        d = demand(org, self.horizon)
        user_months = d.users.sum(axis=1) * 12.0
        frames = []
        costed = self.costs_all(org, self._esc, d)
        for option in self.options:
            lines = costed[option.id].lines
            yearly = np.sum(list(lines.values()), axis=0) * self.rate
            total = yearly.sum(axis=1)
            frames.append(
                pd.DataFrame(
                    {
                        "option": option.id,
                        "kind": option.kind,
                        "users": u.astype(np.int64),
                        "user_growth_per_year": g,
                        "total": total,
                        "npv": self.npv_of(lines),
                        "per_user_month": total / user_months,
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)

    # endregion

    @cached_property
    def comparison(self) -> Comparison:
        """Everything ``mailplan compare`` reports, as one model."""
        users_l = self.demand.users[0].tolist()
        options = []
        for o in self.options:
            lines = self.lines[o.id]
            cats = ONPREM_CATEGORIES if o.kind == "onprem" else CLOUD_CATEGORIES
            yearly = self.yearly(o.id)
            plans = self.plan_by_year(o.id)
            seats = self.seats_by_year(o.id) if o.kind == "cloud" else None
            capex = np.sum([lines[c] for c in CAPEX_CATEGORIES if c in lines], axis=0)
            # read as Python floats once (the very values), not one numpy scalar a cell
            cells = {c: lines[c].tolist() for c in cats}
            yearly_l, capex_l = yearly.tolist(), capex.tolist()
            years = [
                YearCost(
                    year=y + 1,
                    users=int(users_l[y]),
                    cost=_round(yearly_l[y]),
                    by_category={c: _round(cells[c][y]) for c in cats},
                    plan=plans[y],
                    capex=_round(capex_l[y]),
                    opex=_round(yearly_l[y] - capex_l[y]),
                    seats=seats[y] if seats is not None else None,
                )
                for y in range(self.horizon)
            ]
            a = self.assessments[o.id]
            options.append(
                OptionSummary(
                    id=o.id,
                    kind=o.kind,
                    label=o.label,
                    total=_round(self.total(o.id)),
                    npv=_round(self.npv(o.id)),
                    per_user_month=_round(self.per_user_month(o.id)),
                    qualitative_score=None if a.score is None else round(a.score, 2),
                    ruled_out_by=self.ruled_out_by(o.id),
                    warnings=self.option_warnings(o) + list(a.reasons),
                    years=years,
                    availability=self.availability[o.id],
                    downtime_hours_per_year=self.downtime_hours(o.id),
                    vs_current=self.vs_current(o.id),
                    opportunity_cost=_round(self.opportunity[o.id].sum()),
                )
            )
        return Comparison(
            scenario=self.scenario.name,
            currency=self.scenario.currency,
            horizon_years=self.horizon,
            discount_rate=self.scenario.discount_rate,
            cheapest=self.cheapest,
            options=options,
            break_even=self.break_even,
            warnings=self.warnings,
        )


def evaluate(
    scenario: Scenario, catalog: Catalog | None = None, start: dt.date | None = None
) -> Evaluation:
    """Evaluate ``scenario`` against ``catalog`` (the bundled one by default).

    Raises ScenarioError when an option names an unknown plan, stack, server or relay, or
    lacks an input no catalog entry provides.
    """
    return Evaluation(scenario, catalog, start)
