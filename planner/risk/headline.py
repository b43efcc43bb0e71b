"""Plain sentences about the risk in a decision, for an executive summary.

``headline(sim, sens)`` gives the probability that the recommendation holds and the
inputs that move the decision most, as a model and as sentences; no I/O, no formatting
beyond plain text.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from planner.risk.sensitivity import Sensitivity, Swing
from planner.risk.simulate import Simulation

__all__ = ["RiskHeadline", "headline"]


def _money(amount: float, currency: str) -> str:
    return f"{currency} {amount:,.0f}"


class RiskHeadline(BaseModel):
    """What an executive summary says about risk."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    recommendation: str | None  # the cheapest option in the typical case (None: none can be)
    p_holds: float  # share of draws in which it stays the cheapest
    draws: int
    most_often_cheapest: str
    onprem: str | None
    cloud: str | None
    top_sensitivities: list[Swing]
    lines: list[str]


def headline(sim: Simulation, sens: Sensitivity | None = None, top: int = 3) -> RiskHeadline:
    """Probability that the typical case's cheapest option stays cheapest, and the ``top``
    inputs with the largest swing of the pair's NPV gap (when ``sens`` is given)."""
    s = sim.summary
    cur = s.currency
    p = sim.p_cheapest
    best = max(p, key=lambda k: p[k])
    if s.cheapest is None:
        lines = ["No option can be recommended in the typical case: every option is ruled out."]
    else:
        lines = [
            f"{s.cheapest} is the cheapest option by NPV in the typical case and stays the "
            f"cheapest in {p[s.cheapest]:.0%} of {s.draws:,} draws of the ranged inputs."
        ]
    if best != s.cheapest and p[best] > (p[s.cheapest] if s.cheapest else 0.0):
        lines.append(f"{best} is the cheapest more often: in {p[best]:.0%} of the draws.")
    swings: list[Swing] = []
    if sens is not None:
        swings = sens.top(top)
        gap = sens.base
        who = sens.onprem if gap < 0 else sens.cloud
        lines.append(
            f"In the typical case {who} is cheaper than "
            f"{sens.cloud if who == sens.onprem else sens.onprem} by {_money(abs(gap), cur)} NPV."
        )
        if swings:
            parts = [
                f"{r.input} ({_money(r.swing, cur)}{', can reverse the choice' if r.flips else ''})"
                for r in swings
            ]
            lines.append(
                f"The inputs that move that gap most, from low to high: {'; '.join(parts)}."
            )
    return RiskHeadline(
        recommendation=s.cheapest,
        p_holds=s.p_cheapest_holds,
        draws=s.draws,
        most_often_cheapest=best,
        onprem=sens.onprem if sens else None,
        cloud=sens.cloud if sens else None,
        top_sensitivities=swings,
        lines=lines,
    )
