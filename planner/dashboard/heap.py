"""The garbage collection Streamlit does after every script run, made cheap. No Streamlit.

Streamlit runs a full collection (``gc.collect(2)``, its ``runner.postScriptGC``) at the
end of each run, before the browser is told the run finished: the collector holds the
GIL, so the server cannot send that message (nor start the next run) until it is done.
With the planner's caches, plotly and pandas loaded that is about 170,000 objects and
60-130 ms of every page switch and every edit.

``before_run`` (``app.py`` calls it first thing in each run) moves every object alive at
the start of a run to the collector's permanent generation (``gc.freeze``): what was
alive then survived the previous run's full collection, and the collection after this
run only looks at what this run made. Objects frozen and later left in a reference
cycle (an evicted cache entry, say) are not collected while frozen, so every
``FULL_EVERY`` runs the freeze is lifted (``gc.unfreeze``) and that run's collection
looks at everything again. Objects freed by reference counting (most) go at once either
way.
"""

from __future__ import annotations

import gc
import threading

__all__ = ["FULL_EVERY", "before_run"]

FULL_EVERY = 100
"""A run in every ``FULL_EVERY`` (per process) ends with a collection of everything."""

_lock = threading.Lock()
_runs = 0


def before_run() -> None:
    """Freeze what is alive now, or every ``FULL_EVERY`` runs unfreeze everything."""
    global _runs
    with _lock:
        _runs += 1
        if _runs % FULL_EVERY == 0:
            gc.unfreeze()
        else:
            gc.freeze()
