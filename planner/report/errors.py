"""Errors of the report writers (each one line, shown by the CLI as ``mailplan: ...``).

::

    PlannerError
     └── ReportError            the report cannot be produced or written
          └── ChromiumNotFound  the PDF needs Chromium and none was found
"""

from __future__ import annotations

from planner.errors import PlannerError

__all__ = ["ChromiumNotFound", "ReportError"]


class ReportError(PlannerError):
    """The report cannot be produced or written; nothing was written."""


class ChromiumNotFound(ReportError):
    """No Chromium binary where the PDF writer looked for one."""
