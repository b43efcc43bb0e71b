"""Failures shown on the page as one readable line, never as Streamlit's traceback box.

``guarded(what)`` wraps a piece of the app (``app.py`` runs the sidebar and every page
inside one): an exception there becomes ``st.error`` saying what failed and why
(``what: why``, with ``what`` such as "The Risk page could not be shown"), and the rest
of the app keeps running. A PlannerError is the user's to fix: its problems are the line.
Anything else is a bug: the line names the exception, an expander holds the traceback,
and the log gets it too (logger ``planner.dashboard``).

Widget callbacks run before the page script, outside any ``guarded`` block:
``callback(what)`` wraps one so that its failure is kept in the session and shown at the
top of the page by ``show_pending()`` (which ``app.py`` calls).
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ParamSpec

import streamlit as st

from planner.errors import PlannerError

__all__ = ["Failure", "callback", "failure", "guarded", "show", "show_pending"]

log = logging.getLogger("planner.dashboard")

P = ParamSpec("P")

_PENDING = "mp_failures"  # session key: failures of callbacks, shown on the next page run
_MAX_LINE = 300


@dataclass(frozen=True)
class Failure:
    """One line saying what failed and why, and (for a bug) the traceback."""

    line: str
    details: str | None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0].rstrip(".") if text else ""
    if len(first) > _MAX_LINE:
        first = first[: _MAX_LINE - 1] + "…"
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def failure(what: str, exc: BaseException) -> Failure:
    """``exc`` as a Failure: ``what`` ("Report (HTML) could not be made"), a colon, why.

    Logs the traceback of anything but a PlannerError.
    """
    if isinstance(exc, PlannerError):
        return Failure(f"{what}: {'; '.join(exc.lines)}", None)
    log.error("%s", what, exc_info=exc)
    details = "".join(traceback.format_exception(exc))
    line = f"{what}: {_first_line(exc)}. This is a bug in mailplan; the details say where."
    return Failure(line, details)


def show(what: str, exc: BaseException, hint: str = "") -> None:
    """``st.error`` with the line of ``failure(what, exc)`` (and ``hint`` after it), and
    an expander with the traceback when it is a bug."""
    _draw(failure(what, exc), hint)


def _draw(f: Failure, hint: str = "") -> None:
    from planner.dashboard.widgets import plain

    st.error(plain(f"{f.line.rstrip('.')}. {hint}" if hint else f.line))
    if f.details is not None:
        with st.expander("Details (for a bug report)"):
            st.code(f.details, language=None)


@contextmanager
def guarded(what: str) -> Iterator[None]:
    """Run the block; an exception in it is shown with ``show(what, exc)`` instead.

    Streamlit's own control flow (st.stop, st.rerun, st.switch_page) derives from
    BaseException and passes through.
    """
    try:
        yield
    except Exception as exc:
        show(what, exc)


def callback(what: str) -> Callable[[Callable[P, None]], Callable[P, None]]:
    """Decorate a widget callback: an exception in it is kept for ``show_pending``."""

    def wrap(fn: Callable[P, None]) -> Callable[P, None]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> None:
            try:
                fn(*args, **kwargs)
            except Exception as exc:
                pending = st.session_state.setdefault(_PENDING, [])
                pending.append(failure(what, exc))

        return run

    return wrap


def show_pending() -> None:
    """Show, once, the failures of the callbacks that ran before this page run."""
    for f in st.session_state.pop(_PENDING, []):
        _draw(f)
