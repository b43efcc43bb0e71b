"""A small evaluator for the workbook's own formulas, so each one is checked as it is
written: evaluated on the values of the cells and inputs it reads, it must give the number
mailplan computed, or the cell is written as that number instead (and reported).

It knows what the workbook writes: numbers, "text", named inputs, cell references (on the
same sheet or 'Sheet'!C5), ranges, + - * / ^, comparisons, and the functions ABS, AND,
COUNT, IF, INDEX, INT, MATCH, MAX, MIN, ROUNDUP and SUM.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Cells", "FormulaError", "evaluate", "matches"]

Cells = Mapping[str, Mapping[tuple[int, int], Any]]  # sheet -> (row, col) -> value

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<number>\d+(?:\.\d*)?(?:[Ee][+-]?\d+)?)
    |(?P<string>"[^"]*")
    |(?P<sheetref>'[^']+'!\$?[A-Z]{1,3}\$?\d+)
    |(?P<func>[A-Z][A-Z0-9.]*)(?=\()
    |(?P<ref>\$?[A-Z]{1,3}\$?\d+)(?![A-Za-z0-9_(])
    |(?P<name>[A-Za-z_][A-Za-z0-9_.]*)
    |(?P<op><=|>=|<>|[-+*/^(),:<>=])
    )""",
    re.VERBOSE,
)
_REF = re.compile(r"\$?([A-Z]{1,3})\$?(\d+)")


class FormulaError(ValueError):
    """A formula this evaluator cannot read or compute."""


class _Err:
    """An error value (#N/A, #DIV/0!): it flows through operators and functions, and IF
    can step around it, as in a spreadsheet."""

    def __init__(self, message: str) -> None:
        self.message = message


def _cell(text: str) -> tuple[int, int]:
    """Zero-based (row, col) of an A1 reference."""
    m = _REF.fullmatch(text)
    if m is None:
        raise FormulaError(f"bad reference {text!r}")
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


def _tokens(formula: str) -> list[tuple[str, str]]:
    out, pos, text = [], 0, formula.lstrip("=")
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise FormulaError(f"cannot read {text[pos:]!r}")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _numbers(values: list[Any]) -> list[float]:
    flat: list[Any] = []
    for v in values:
        flat.extend(v if isinstance(v, list) else [v])
    return [float(v) for v in flat if isinstance(v, int | float) and not isinstance(v, bool)]


def _roundup(x: float, digits: float = 0.0) -> float:
    scale = 10.0 ** int(digits)
    return math.copysign(math.ceil(abs(x) * scale) / scale, x)


def _match(value: Any, within: list[Any], kind: float = 1.0) -> float | _Err:
    if kind != 0:
        raise FormulaError("MATCH: only exact matching")
    for i, v in enumerate(within, start=1):
        if v == value:
            return float(i)
    return _Err("MATCH: not found")


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "ABS": lambda x: abs(float(x)),
    "AND": lambda *xs: all(bool(x) for x in xs),
    "COUNT": lambda *xs: float(len(_numbers(list(xs)))),
    "INDEX": lambda r, i, *_: r[int(i) - 1] if isinstance(r, list) else r,
    "INT": lambda x: float(math.floor(float(x))),
    "MATCH": _match,
    "MAX": lambda *xs: max(_numbers(list(xs)), default=0.0),
    "MIN": lambda *xs: min(_numbers(list(xs)), default=0.0),
    "ROUNDUP": _roundup,
    "SUM": lambda *xs: sum(_numbers(list(xs))),
}


class _Parser:
    """Recursive descent over the tokens; evaluates as it parses (IF evaluates both arms,
    which is harmless here: no arm has side effects)."""

    def __init__(self, formula: str, sheet: str, cells: Cells, names: Mapping[str, Any]):
        self.toks = _tokens(formula)
        self.i = 0
        self.sheet, self.cells, self.names = sheet, cells, names

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise FormulaError(f"expected {value!r}, found {tok}")
        self.i += 1
        return tok

    def parse(self) -> Any:
        value = self.comparison()
        if self.peek() is not None:
            raise FormulaError(f"unexpected {self.peek()}")
        return value

    def comparison(self) -> Any:
        left = self.additive()
        tok = self.peek()
        if tok is not None and tok[1] in ("<=", ">=", "<>", "<", ">", "="):
            self.take()
            right = self.additive()
            if isinstance(left, _Err) or isinstance(right, _Err):
                return left if isinstance(left, _Err) else right
            a, b = float(left), float(right)
            return {
                "<=": a <= b,
                ">=": a >= b,
                "<>": a != b,
                "<": a < b,
                ">": a > b,
                "=": a == b,
            }[tok[1]]
        return left

    def additive(self) -> Any:
        value = self.term()
        while (tok := self.peek()) is not None and tok[1] in ("+", "-"):
            self.take()
            right = self.term()
            if isinstance(value, _Err) or isinstance(right, _Err):
                value = value if isinstance(value, _Err) else right
                continue
            value = float(value) + right if tok[1] == "+" else float(value) - right
        return value

    def term(self) -> Any:
        value = self.power()
        while (tok := self.peek()) is not None and tok[1] in ("*", "/"):
            self.take()
            right = self.power()
            if isinstance(value, _Err) or isinstance(right, _Err):
                value = value if isinstance(value, _Err) else right
            elif tok[1] == "/" and float(right) == 0.0:
                value = _Err("division by zero")
            else:
                value = float(value) * right if tok[1] == "*" else float(value) / right
        return value

    def power(self) -> Any:
        value = self.unary()
        while (tok := self.peek()) is not None and tok[1] == "^":
            self.take()
            right = self.unary()
            if isinstance(value, _Err) or isinstance(right, _Err):
                value = value if isinstance(value, _Err) else right
            else:
                value = float(value) ** float(right)
        return value

    def unary(self) -> Any:
        tok = self.peek()
        if tok is not None and tok[1] in ("-", "+"):
            self.take()
            value = self.unary()
            if isinstance(value, _Err):
                return value
            return -float(value) if tok[1] == "-" else float(value)
        return self.primary()

    def _value(self, sheet: str, ref: str) -> Any:
        try:
            return self.cells[sheet][_cell(ref)]
        except KeyError:
            raise FormulaError(f"{sheet}!{ref} is empty") from None

    def _range(self, sheet: str, first: str, last: str) -> list[Any]:
        (r0, c0), (r1, c1) = _cell(first), _cell(last)
        cells = self.cells.get(sheet, {})
        return [
            cells[(r, c)] for r in range(r0, r1 + 1) for c in range(c0, c1 + 1) if (r, c) in cells
        ]

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "number":
            return float(text)
        if kind == "string":
            return text[1:-1]
        if kind in ("ref", "sheetref"):
            sheet, ref = (self.sheet, text) if kind == "ref" else text.rsplit("!", 1)
            sheet = sheet.strip("'")
            if (tok := self.peek()) is not None and tok[1] == ":":
                self.take()
                _, last = self.take()
                return self._range(sheet, ref, last)
            return self._value(sheet, ref)
        if kind == "func":
            self.take("(")
            args: list[Any] = []
            while (tok := self.peek()) is not None and tok[1] != ")":
                args.append(self.comparison())
                if (tok := self.peek()) is not None and tok[1] == ",":
                    self.take()
            self.take(")")
            if text == "IF":
                if isinstance(args[0], _Err):
                    return args[0]
                return args[1] if args[0] else (args[2] if len(args) > 2 else False)
            errors = [a for a in args if isinstance(a, _Err)]
            if errors:
                return errors[0]
            if text not in _FUNCTIONS:
                raise FormulaError(f"unknown function {text}")
            return _FUNCTIONS[text](*args)
        if kind == "name":
            if text not in self.names:
                raise FormulaError(f"unknown name {text}")
            return self.names[text]
        if text == "(":
            value = self.comparison()
            self.take(")")
            return value
        raise FormulaError(f"unexpected {text!r}")


def evaluate(formula: str, sheet: str, cells: Cells, names: Mapping[str, Any]) -> Any:
    """The value of ``formula`` on ``sheet``, reading ``cells`` and named ``names``."""
    try:
        value = _Parser(formula, sheet, cells, names).parse()
    except (ArithmeticError, TypeError, IndexError) as exc:
        raise FormulaError(str(exc)) from None
    if isinstance(value, _Err):
        raise FormulaError(value.message)
    return value


def matches(got: Any, want: Any) -> bool:
    """Whether an evaluated formula gives the value mailplan computed: numbers within a
    millionth of a cent (relative 1e-9), text and flags exactly."""
    if isinstance(want, str) or isinstance(got, str):
        return str(got) == str(want)
    try:
        a, b = float(got), float(want)
    except (TypeError, ValueError):
        return False
    return abs(a - b) <= 1e-8 + 1e-9 * abs(b)
