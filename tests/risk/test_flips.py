"""Flip points: where each input changes the cheapest option, checked by hand and by crossing."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from planner import evaluate
from planner.risk.draws import path_spec
from planner.risk.flips import flip_points, flip_sentences
from tests.conftest import make_scenario

# Two cloud plans whose NPV gap is linear in one price: 100 users, 3 years, no discount.
# "a" costs 100 x p x 12 x 3 = 3,600 p; "b" is flat at 100 x 6 x 12 x 3 = 21,600.
TWO = [
    {"id": "a", "plan": "custom", "price_per_user_month": 5},
    {"id": "b", "plan": "custom", "price_per_user_month": 6},
]


def two_plans(**a_changes):
    """The two-plan scenario, plan a's fields changed."""
    return make_scenario(cloud=[{**TWO[0], **a_changes}, TWO[1]])


def test_linear_gap_flips_at_the_closed_form_root():
    """a is cheapest while 3,600 p < 21,600, so it flips at p = 6 (above that, b is)."""
    ev = evaluate(two_plans())
    flips = {f.input: f for f in flip_points(ev)}
    f = flips["cloud.a.price_per_user_month"]
    assert f.flips_at == pytest.approx(6.0, abs=1e-4)
    assert (f.direction, f.new_cheapest, f.current) == ("above", "b", 5.0)
    assert "stays cheapest for price per user month of a below 6" in f.sentence("Plan A")


def test_an_input_that_never_flips_says_so():
    """b's admin hours only make b dearer: no flip within the searched range."""
    ev = evaluate(two_plans())
    flips = {f.input: f for f in flip_points(ev)}
    f = flips["cloud.b.admin_hours_per_month"]
    assert f.flips_at is None
    assert "stays cheapest for any admin hours per month of b" in f.sentence("Plan A")


def test_ranges_limit_the_inputs():
    """With ranges, flip points are searched for the ranged inputs only, nearest first."""
    from planner import parse_scenario

    data = two_plans().model_dump(mode="json")
    data["cloud"][0]["price_per_user_month"] = {"low": 4, "typical": 5, "high": 7}
    ev = evaluate(parse_scenario(data))
    assert [f.input for f in flip_points(ev)] == ["cloud.a.price_per_user_month"]


@settings(max_examples=25, deadline=None)
@given(
    price=st.floats(1, 20, allow_nan=False),
    users=st.integers(20, 2000),
    admin=st.floats(0, 40, allow_nan=False),
)
@example(price=6.0, users=20, admin=0.0)  # a tie: flips at prices of 0, the fields' bound
def test_crossing_the_flip_changes_the_answer(price, users, admin):
    """Just across a reported flip point the cheapest option changes; just short of it,
    it does not."""
    sc = make_scenario(
        organization={"users": users},
        cloud=[{**TWO[0], "price_per_user_month": price, "admin_hours_per_month": admin}, TWO[1]],
    )
    ev = evaluate(sc)
    for f in flip_points(ev):
        if f.flips_at is None or f.input.startswith("organization.users"):
            continue
        step = max(abs(f.flips_at) * 1e-3, 1e-3)
        sign = 1 if f.direction == "above" else -1
        section, _, rest = f.input.partition(".")
        data = sc.model_dump(mode="json")
        option_id, _, name = rest.rpartition(".")
        target = next(o for o in data[section] if o["id"] == option_id) if option_id else None
        spec = path_spec(f.input)
        for value, same in ((f.flips_at - sign * step, True), (f.flips_at + sign * step, False)):
            if not spec.lower() <= value <= spec.upper():
                continue  # a tie at the field's bound (price 0): no value short of it
            if target is not None:
                target[name] = value
            else:
                data[section][name] = value
            from planner import parse_scenario

            moved = evaluate(parse_scenario(data))
            assert (moved.cheapest == ev.cheapest) is same, (f.input, value)


def test_sentences_name_the_nearest_flips_first():
    """flip_sentences gives the nearest flips first, each the flip point's own sentence
    under the cheapest option's id, at most ``top`` of them."""
    ev = evaluate(two_plans())
    flips = flip_points(ev)
    found = [f for f in flips if f.flips_at is not None]
    sentences = flip_sentences(ev, flips, top=2)
    assert sentences == [f.sentence("a") for f in found[:2]]
    assert sentences[0].startswith("a stays cheapest for ")


def test_sentences_say_when_nothing_flips():
    """With no flip within the searched ranges, one sentence says so."""
    ev = evaluate(two_plans())
    still = [f for f in flip_points(ev) if f.flips_at is None]
    assert flip_sentences(ev, still) == [
        "No input changes the cheapest option (a) within its search range (a tenth to ten "
        "times its value, within its bounds)."
    ]
