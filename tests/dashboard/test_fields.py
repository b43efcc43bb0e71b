"""The form's field lists follow the scenario model: every number has an input."""

from __future__ import annotations

import pytest

from planner.dashboard import fields
from planner.models import CloudOption, Escalation, Migration, OnPremOption, Organization, Scenario
from planner.ranges import numeric_fields


@pytest.mark.parametrize(
    ("specs", "model", "drawn_apart"),
    [
        (fields.ESCALATION, Escalation, ()),
        (fields.ORGANIZATION, Organization, ()),
        (fields.MIGRATION, Migration, ()),
        (fields.ONPREM_NUMBERS, OnPremOption, ("copies",)),
        (fields.CLOUD_NUMBERS, CloudOption, ()),
    ],
    ids=["escalation", "organisation", "migration", "onprem", "cloud"],
)
def test_every_numeric_model_field_has_a_spec(specs, model, drawn_apart):
    """Each list has every numeric field of its model, in the model's order (``copies`` is
    a choice of 1-3), each bound to that model."""
    expected = [n for n in numeric_fields(model) if n not in drawn_apart]

    assert [s.name for s in specs] == expected
    assert {s.model for s in specs} == {model}


def test_escalation_is_every_rate_of_the_model():
    """One input per escalation rate, labelled from its description, as a fraction a year."""
    assert [s.name for s in fields.ESCALATION] == list(Escalation.model_fields)
    power = next(s for s in fields.ESCALATION if s.name == "power")
    assert (power.label, power.unit) == ("Electricity price change", "fraction per year")


@pytest.mark.parametrize(
    "spec",
    [
        fields.CURRENT,
        fields.LABOUR_COST,
        fields.PRICE_BASIS,
        fields.DR_CHOICE,
        fields.COPIES_CHOICE,
    ],
    ids=lambda s: s.name,
)
def test_choices_are_the_models_values(spec):
    """A choice offers exactly the values the model accepts (and 'unset' where the field
    may be left out), with the model's description as help."""
    model_field = spec.model.model_fields[spec.name]
    assert spec.description == model_field.description
    values = [v for v, _ in spec.choices if v != fields.NONE]
    if spec.name == "labour_cost":
        assert values == ["cash", "existing_staff"]
    elif spec.name == "price_basis":
        assert values == ["real", "nominal"]
    elif spec.name == "dr":
        assert values == ["none", "cold", "warm"]
    elif spec.name == "copies":
        assert values == [1, 2, 3]


def test_downtime_choice_names_the_two_downtime_fields():
    """The downtime basis picks one of the scenario's two downtime cost fields."""
    picked = [v for v, _ in fields.DOWNTIME_BASIS.choices if v != fields.NONE]

    assert picked == [s.name for s in fields.DOWNTIME]
    assert all(name in Scenario.model_fields for name in picked)
