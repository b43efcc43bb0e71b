"""The dashboard stays opt-in: the planning API loads no UI or server code."""

from __future__ import annotations

import subprocess
import sys


def test_import_planner_loads_neither_streamlit_nor_aiosmtpd():
    """``import planner`` in a fresh interpreter leaves streamlit and aiosmtpd unloaded."""
    code = (
        "import sys, planner; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('streamlit', 'aiosmtpd')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert out.stdout.strip() == "[]"
