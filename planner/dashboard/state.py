"""The dashboard session: the scenarios to pick from, the one in use, the form draft.

Everything lives in the session state mapping (``st.session_state``; any mutable mapping
in tests):

- the *library*: scenarios by label, the bundled presets (``default``, ...), each uploaded
  file (``upload: name.yaml``) and the last valid edit (``edited``);
- the *active* label: the scenario every page shows;
- the *draft*: the scenario data the form edits, which may be invalid. Each change is
  validated at once; a valid draft becomes ``edited`` and is put to use, an invalid one
  keeps its *problems* by field path (``onprem[0].pue``) and the last valid scenario stays
  in use, so nothing already accepted is lost.

Form widgets are keyed ``f:<path>`` and read their first value from the draft; changing
the active scenario forgets them so they show the new one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any, Protocol

from planner.catalog import parse_scenario
from planner.dashboard.fields import Path, path_key
from planner.errors import Problem, ScenarioError
from planner.models import Scenario

__all__ = [
    "EDITED",
    "FIELD",
    "PICKER",
    "Check",
    "add_option",
    "add_upload",
    "checker",
    "choices",
    "current",
    "describe",
    "draft_value",
    "edit",
    "edit_many",
    "forget_fields",
    "group_problems",
    "init",
    "problems",
    "remove_option",
    "reset_scores",
    "select",
    "upload_problems",
    "use",
    "widget_key",
]

State = MutableMapping[Any, Any]  # st.session_state is keyed by str | int
Check = Callable[[dict[str, Any]], Scenario]
"""Validates draft data and returns the scenario, or raises ScenarioError."""

EDITED = "edited"
FIELD = "f:"
PICKER = "picker"
"""Widget key of the sidebar's scenario picker."""

_LIBRARY = "mp_library"
_ACTIVE = "mp_active"
_DRAFT = "mp_draft"
_PROBLEMS = "mp_problems"
_UPLOAD_PROBLEMS = "mp_upload_problems"
_NAME = "scenario"


def widget_key(path: Path) -> str:
    """The session-state key of the form widget editing ``path``."""
    return FIELD + path_key(path)


class Parse(Protocol):
    """``planner.parse_scenario``'s shape."""

    def __call__(self, data: Any, *, name: str) -> Scenario: ...


def checker(evaluate: Callable[[Scenario], object], parse: Parse = parse_scenario) -> Check:
    """A Check that validates the data as a scenario (``parse(data, name)``) and then
    evaluates it, which finds unknown catalog ids and missing inputs."""

    def check(data: dict[str, Any]) -> Scenario:
        scenario = parse(data, name=_NAME)
        evaluate(scenario)
        return scenario

    return check


# region #### the library ####


def init(state: State, presets: Mapping[str, Scenario], first: str = "default") -> None:
    """Fill a new session with the presets and put ``first`` (or the first preset) in use."""
    if _LIBRARY in state:
        return
    state[_LIBRARY] = dict(presets)
    state[_PROBLEMS] = {}
    state[_UPLOAD_PROBLEMS] = []
    select(state, first if first in presets else next(iter(presets)))


def choices(state: State) -> list[str]:
    """Labels of every scenario that can be picked, presets first."""
    return list(state[_LIBRARY])


def describe(state: State, label: str) -> str:
    """How the picker shows a label: ``default: Acme, 250 staff``."""
    return f"{label}: {state[_LIBRARY][label].name}"


def current(state: State) -> Scenario:
    """The scenario in use."""
    scenario: Scenario = state[_LIBRARY][state[_ACTIVE]]
    return scenario


def select(state: State, label: str) -> None:
    """Put the scenario ``label`` in use and load it into the form."""
    scenario: Scenario = state[_LIBRARY][label]
    state[_ACTIVE] = label
    state[PICKER] = label
    state[_DRAFT] = scenario.model_dump(mode="json", exclude_unset=True)
    state[_PROBLEMS] = {}
    forget_fields(state)


def add_upload(state: State, file_name: str, scenario: Scenario) -> str:
    """Add an uploaded scenario to the library, put it in use, and return its label."""
    label = f"upload: {file_name}"
    state[_LIBRARY][label] = scenario
    state[_UPLOAD_PROBLEMS] = []
    select(state, label)
    return label


def use(state: State, scenario: Scenario) -> None:
    """Put a scenario made outside the form (a range edit, say) in use as ``edited`` and
    load it into the form. Call it only when the draft has no problems, so that no change
    the user made is dropped."""
    state[_LIBRARY][EDITED] = scenario
    select(state, EDITED)


def upload_problems(state: State, lines: list[str] | None = None) -> list[str]:
    """Why the last upload was refused (set them by passing ``lines``)."""
    if lines is not None:
        state[_UPLOAD_PROBLEMS] = list(lines)
    problems: list[str] = state[_UPLOAD_PROBLEMS]
    return problems


def forget_fields(state: State, prefix: str = "") -> None:
    """Drop the form widgets' values under ``prefix`` so they reload from the draft."""
    for key in [k for k in state if isinstance(k, str) and k.startswith(FIELD + prefix)]:
        del state[key]


# endregion
# region #### the draft ####


def draft_value(state: State, path: Path) -> Any:
    """The draft's value at ``path``, or None when it is not set."""
    node: Any = state[_DRAFT]
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return None
        elif not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set_in(data: dict[str, Any], path: Path, value: Any) -> None:
    node: Any = data
    for part in path[:-1]:
        if isinstance(part, str) and (part not in node or node[part] is None):
            node[part] = {}
        node = node[part]
    last = path[-1]
    if value is None or value == "" or value == []:
        if isinstance(last, str):
            node.pop(last, None)
    else:
        node[last] = value


def _rename_scores(data: dict[str, Any], old: Any, new: Any) -> None:
    scores = (data.get("qualitative") or {}).get("scores") or {}
    if old in scores and isinstance(new, str) and new:
        scores[new] = scores.pop(old)


def edit(state: State, path: Path, value: Any, check: Check) -> bool:
    """Set ``path`` in the draft (None or empty removes it) and validate; True when applied.

    Renaming an option carries its qualitative scores along, and ``current`` when it is
    the system that runs today.
    """
    data = state[_DRAFT]
    if len(path) == 3 and path[0] in ("onprem", "cloud") and path[2] == "id":
        old = draft_value(state, path)
        _rename_scores(data, old, value)
        forget_fields(state, "qualitative")
        if old is not None and data.get("current") == old and isinstance(value, str) and value:
            data["current"] = value
            state.pop(widget_key(("current",)), None)
    _set_in(data, path, value)
    return _apply(state, check)


def edit_many(
    state: State, changes: list[tuple[Path, Any]], check: Check, *, keep: Path | None = None
) -> bool:
    """Set several paths of the draft at once (None or empty removes one) and validate
    once; True when applied. The widgets of the changed paths, except ``keep`` (the one
    the user just changed), reload from the draft."""
    data = state[_DRAFT]
    for path, value in changes:
        _set_in(data, path, value)
        if path != keep:
            state.pop(widget_key(path), None)
    return _apply(state, check)


def add_option(state: State, kind: str, entry: dict[str, Any], check: Check) -> bool:
    """Append an option to ``onprem`` or ``cloud`` with an id not used yet; True when applied."""
    data = state[_DRAFT]
    ids = {o.get("id") for k in ("onprem", "cloud") for o in data.get(k, [])}
    base = str(entry["id"])
    new_id, n = base, 2
    while new_id in ids:
        new_id, n = f"{base}-{n}", n + 1
    data.setdefault(kind, []).append({**entry, "id": new_id})
    return _apply(state, check)


def remove_option(state: State, kind: str, index: int, check: Check) -> bool:
    """Remove an option (and its qualitative scores; when it runs today, ``current`` and
    ``current_servers_bought`` too: a new installation); True when applied."""
    data = state[_DRAFT]
    removed = data[kind].pop(index)
    scores = (data.get("qualitative") or {}).get("scores") or {}
    scores.pop(removed.get("id"), None)
    if data.get("current") is not None and data.get("current") == removed.get("id"):
        for key in ("current", "current_servers_bought"):
            data.pop(key, None)
            state.pop(widget_key((key,)), None)
    forget_fields(state, kind)
    forget_fields(state, "qualitative")
    return _apply(state, check)


def reset_scores(state: State, option_id: str, check: Check) -> bool:
    """Forget the scenario's scores for one option (back to the catalog's); True when applied."""
    scores = (state[_DRAFT].get("qualitative") or {}).get("scores") or {}
    scores.pop(option_id, None)
    forget_fields(state, f"qualitative.scores.{option_id}.")
    return _apply(state, check)


def problems(state: State) -> dict[str, list[str]]:
    """Why the draft is not in use, by field path ('' for the scenario as a whole)."""
    found: dict[str, list[str]] = state[_PROBLEMS]
    return found


def group_problems(found: Iterable[Problem]) -> dict[str, list[str]]:
    """Messages by field path ('' for the scenario as a whole), in the order found."""
    grouped: dict[str, list[str]] = {}
    for problem in found:
        grouped.setdefault(problem.path, []).append(problem.message)
    return grouped


def _apply(state: State, check: Check) -> bool:
    try:
        scenario = check(copy.deepcopy(state[_DRAFT]))
    except ScenarioError as exc:
        state[_PROBLEMS] = group_problems(exc.problems)
        return False
    state[_LIBRARY][EDITED] = scenario
    state[_ACTIVE] = EDITED
    state[PICKER] = EDITED
    state[_PROBLEMS] = {}
    return True


# endregion
