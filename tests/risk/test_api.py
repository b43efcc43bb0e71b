"""planner.risk's public API is a tested artefact, and plain planning does not load it."""

from __future__ import annotations

import subprocess
import sys

from planner import risk


def test_all_is_sorted_and_complete():
    """planner.risk.__all__ is sorted and names every public attribute it exports."""
    assert risk.__all__ == sorted(risk.__all__)
    for name in risk.__all__:
        assert hasattr(risk, name), name


def test_compare_does_not_load_risk():
    """Importing planner and the CLI loads neither planner.risk nor scipy."""
    code = (
        "import sys, planner, planner.cli\n"
        "print(sorted(m for m in ('planner.risk', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
