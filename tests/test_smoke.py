"""The default scenario evaluates."""

from planner import evaluate, load_scenario


def test_default_scenario_evaluates(presets):
    """The bundled default scenario gives a cheapest option that is one of its options."""
    ev = evaluate(load_scenario(presets["default"]))
    assert ev.comparison.cheapest in ev.scenario.option_ids()
