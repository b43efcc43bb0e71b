"""Measured capacity into a scenario: pick the option, set the figure, write the file.

Pure apart from :func:`write_scenario_atomically`; used by ``mailplan bench apply``,
``mailplan size --capacity-from`` and the dashboard's "use this capacity".

Which option: the one named; when none is named and the scenario has exactly one
on-prem option, that one; otherwise it is an error, because a capacity measured for one
stack (say Postfix) says nothing about another (say Exchange) in the same scenario.

A result measured for less than its minimum (``indicative``) is refused by
:func:`require_trusted` unless the caller was told to accept it (``--indicative``, the
dashboard's checkbox); accepted, it is written with ``capacity_indicative: true``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from planner.bench.result import (
    CAPACITY_FIELDS,
    BenchmarkResult,
    capacity_from_benchmark,
    load_result_json,
    measured_s,
)
from planner.catalog import dump_scenario
from planner.errors import BenchmarkError
from planner.models import Scenario
from planner.resolution import with_capacity, with_client_capacity

__all__ = [
    "apply_capacity",
    "choose_option",
    "load_result_ref",
    "require_trusted",
    "write_scenario_atomically",
]


def choose_option(scenario: Scenario, option_id: str | None, flag: str = "--option") -> str:
    """The on-prem option a measured capacity goes to (see the module docstring)."""
    ids = [o.id for o in scenario.onprem]
    if option_id is not None:
        if option_id not in ids:
            known = ", ".join(ids) or "none"
            raise BenchmarkError(
                f"{flag}: no on-prem option '{option_id}' (on-prem options: {known})"
            )
        return option_id
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise BenchmarkError(f"{flag}: the scenario has no on-prem option to apply a capacity to")
    raise BenchmarkError(
        f"{flag}: the scenario has {len(ids)} on-prem options ({', '.join(ids)}); "
        f"name the one that was measured with {flag} ID"
    )


def require_trusted(
    result: BenchmarkResult,
    *,
    indicative_ok: bool,
    accept: str = "pass --indicative to use it as an indicative figure",
) -> None:
    """BenchmarkError (one line) when ``result`` gives no capacity figure at all, or when it
    is indicative (measured for less than its minimum) and the caller did not accept that;
    the line then ends with ``accept``, how to accept it anyway."""
    capacity_from_benchmark(result)
    if not result.indicative or indicative_ok:
        return
    name = f"result {result.id}" if result.id is not None else "result"
    what = "its shortest capacity step measured" if result.capacity_search else "measured"
    raise BenchmarkError(
        f"{name}: {what} {measured_s(result):.1f} s, under the {result.min_measured_s:g} s "
        f"a capacity figure needs; run longer, or {accept}"
    )


def apply_capacity(scenario: Scenario, result: BenchmarkResult, option_id: str) -> Scenario:
    """A copy of ``scenario`` whose option ``option_id`` uses the measured capacity.

    An SMTP result sets ``capacity_msgs_per_s`` with a ``capacity_source`` that starts with
    ``benchmark`` and names the result, ``capacity_origin: benchmark`` and
    ``capacity_indicative`` as the result says; a POP3 or IMAP result sets
    ``client_capacity_fetches_per_s`` (messages fetched per second, what client load is
    sized by) with ``client_capacity_source`` and ``client_capacity_indicative``.
    (Whether an indicative result may be used is :func:`require_trusted`'s question.)"""
    capacity, source = capacity_from_benchmark(result)
    if CAPACITY_FIELDS[result.protocol] == "client_capacity_fetches_per_s":
        return with_client_capacity(
            scenario, option_id, capacity, source, indicative=result.indicative
        )
    return with_capacity(
        scenario, option_id, capacity, source, origin="benchmark", indicative=result.indicative
    )


def load_result_ref(ref: str, db: str | Path | None = None) -> BenchmarkResult:
    """A result by store id (digits) or from a JSON file path."""
    if ref.isdigit():
        from planner.bench.store import ResultStore

        return ResultStore(db).get(int(ref))
    return load_result_json(ref)


def write_scenario_atomically(path: str | Path, scenario: Scenario) -> None:
    """Replace ``path`` with the scenario (JSON for ``.json``, else YAML) in one rename,
    so a reader never sees half a file; the file's permissions are kept."""
    p = Path(path)
    text = dump_scenario(scenario, "json" if p.suffix.lower() == ".json" else "yaml")
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if p.exists():
            os.chmod(tmp, p.stat().st_mode & 0o7777)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
