"""Hypothesis strategies for hostile scenario files, shared by the CLI and the upload tests.

Each strategy draws the bytes of a file. Between them they cover random bytes, YAML-ish
text built from the pieces that trip parsers, deep nesting in every YAML and JSON style,
alias graphs (bombs, merges, self-references) placed where a scenario expects a value, and
scenarios whose values are replaced by odd JSON values.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import strategies as st

_PIECES = [
    *"[]{},:?-|>!&*'\"#%@`\\\t\n ",
    ": ",
    "- ",
    "\n  ",
    "&a ",
    "*a",
    "&b ",
    "*b",
    "<<: ",
    "!!int ",
    "!!float ",
    "!!binary ",
    "!!timestamp ",
    "!!set ",
    "!!omap ",
    "!!python/object/apply:os.system ",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "name",
    "organization",
    "users",
    "cloud",
    "onprem",
    "id",
    "plan",
    "custom",
    "price_per_user_month",
    "qualitative",
    "scores",
    "correlations",
    "low",
    "high",
    "typical",
    "0",
    "-1",
    "1e999",
    ".nan",
    "0x1F",
    "1:30",
    "2001-13-01",
    "2024-01-01",
    "null",
    "~",
    "yes",
    "x" * 70,
    "9" * 120,
    "root:*:19000:0:99999:7:::",
    "\x00",
    "\ufeff",
    "é",
    "\U0001f600",
]

random_bytes = st.binary(max_size=3000)

yaml_ish = st.lists(st.sampled_from(_PIECES), max_size=120).map(lambda p: "".join(p).encode())


@st.composite
def deep_nesting(draw: st.DrawFn) -> bytes:
    """Lists or mappings nested 1 to 5,000 deep, in flow, block or JSON style, maybe unclosed."""
    depth = draw(st.integers(1, 5000))
    opener, closer = draw(
        st.sampled_from([("[", "]"), ("{a: ", "}"), ('{"a": ', "}"), ("- ", ""), ("[{a: ", "}]")])
    )
    closed = draw(st.booleans())
    inner = draw(st.sampled_from(["", "1", "*a", "x"]))
    return (opener * depth + inner + (closer * depth if closed else "")).encode()


_PLACES = [
    "name: *{top}\norganization: {{users: 5}}\n",
    "name: x\norganization: {{users: *{top}}}\n",
    "name: x\norganization: {{users: 5}}\ncloud: *{top}\n",
    "name: x\norganization: {{users: 5}}\nqualitative: {{scores: {{a: *{top}}}}}\n",
    "name: x\norganization: *{top}\n",
    "*{top}: 1\n",
]


@st.composite
def alias_graphs(draw: st.DrawFn) -> bytes:
    """An alias bomb of up to 12 levels of up to 12 (lists, mappings or merges) used where a
    scenario expects a value; or an anchor referred to inside itself."""
    levels, width = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    style = draw(st.sampled_from(["list", "mapping", "merge", "self"]))
    if style == "self":
        return b"name: x\norganization: &o {users: 5, more: *o}\n"
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        refs = [f"*l{i - 1}"] * width
        if style == "list":
            body = f"[{', '.join(refs)}]"
        elif style == "mapping":
            body = "{" + ", ".join(f"k{j}: {ref}" for j, ref in enumerate(refs)) + "}"
        else:
            body = "{<<: " + ("{k: 1}" if i == 1 else f"[{', '.join(refs)}]") + f", k{i}: *l0}}"
        lines.append(f"l{i}: &l{i} {body}")
    place = draw(st.sampled_from(_PLACES)).format(top=f"l{levels - 1}")
    return ("\n".join(lines) + "\n" + place).encode()


_BASE: dict[str, Any] = {
    "name": "hostile",
    "organization": {"users": 50, "peak_factor": 2},
    "cloud": [{"id": "c", "plan": "custom", "price_per_user_month": 5}],
    "onprem": [{"id": "p", "stack": "postfix-dovecot", "server": "smb-1u"}],
    "qualitative": {"scores": {"c": {"control": 3}}, "requirements": []},
}

_odd_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=200),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=30), inner, max_size=5)
    ),
    max_leaves=20,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*prefix, i))
    return found


@st.composite
def scenarios_with_odd_values(draw: st.DrawFn) -> bytes:
    """A small valid scenario with one to three of its values (or sections) replaced by
    odd JSON values, written as YAML or JSON."""
    data = json.loads(json.dumps(_BASE))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = draw(_odd_values)
    if draw(st.booleans()):
        return json.dumps(data).encode()
    return yaml.safe_dump(data, allow_unicode=True).encode()


HOSTILE_FILES = {
    "random-bytes": random_bytes,
    "yaml-ish": yaml_ish,
    "deep-nesting": deep_nesting(),
    "alias-graphs": alias_graphs(),
    "odd-values": scenarios_with_odd_values(),
}
"""The strategies by name, for ``pytest.mark.parametrize``."""

SUFFIXES = st.sampled_from([".yaml", ".yml", ".json", ""])
