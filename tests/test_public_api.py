"""The public API is a tested artefact, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import planner


def test_all_is_sorted_and_complete():
    """planner.__all__ is sorted and names every public attribute it exports."""
    assert planner.__all__ == sorted(planner.__all__)
    for name in planner.__all__:
        assert hasattr(planner, name), name


def test_import_loads_no_ui_or_server():
    """Importing planner (and running an evaluation) loads neither streamlit nor aiosmtpd."""
    code = (
        "import sys, planner\n"
        "planner.evaluate(planner.load_scenario(planner.scenario_presets()['default'])).comparison\n"
        "print(sorted(m for m in ('streamlit', 'aiosmtpd', 'planner.mailserver', 'planner.dashboard') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
