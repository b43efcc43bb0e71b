"""IMAP command syntax (RFC 3501 §9, RFC 9051 §9): tokens, sequence sets, mailbox names,
modified UTF-7 and the quoting of answers. A leaf: imports nothing of the server.

A command arrives as pieces (:class:`CommandParts`): text lines, and between them the
literals (``{n}``, ``{n+}``) the session read. :class:`Tokens` walks those pieces:
atoms, quoted strings, literals, parenthesised lists, ``NIL``. Everything here raises
:class:`ParseError` (a tagged ``BAD``) on bad syntax and never touches the file system.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "LITERAL_RE",
    "MailboxNameError",
    "ParseError",
    "SequenceSet",
    "Tokens",
    "check_mailbox_name",
    "imap_quote",
    "mutf7_decode",
    "mutf7_encode",
    "nstring",
]


class ParseError(ValueError):
    """A command that does not follow the grammar; the text goes into ``BAD``."""


class MailboxNameError(ValueError):
    """A mailbox name that cannot name a folder of this Maildir."""


LITERAL_RE = re.compile(rb"\{(\d{1,10})(\+?)\}$")
"""A line ending in a literal announcement: ``{n}`` (synchronising) or ``{n+}`` (LITERAL+)."""

_ATOM_SPECIALS = set(b'(){ %*"\\]') | set(range(0x20)) | {0x7F}
_LIST_WILDCARDS = set(b"%*")


@dataclass
class Literal:
    """A literal's octets inside a command."""

    data: bytes


Token = bytes | Literal | list["Token"]


class Tokens:
    """A cursor over a command's pieces: ``lines[0] literal[0] lines[1] ...``."""

    def __init__(self, lines: list[bytes], literals: list[bytes]) -> None:
        self.lines = lines
        self.literals = literals
        self.piece = 0
        self.pos = 0

    @property
    def _line(self) -> bytes:
        return self.lines[self.piece]

    def at_end(self) -> bool:
        """True when nothing is left."""
        return self.piece == len(self.lines) - 1 and self.pos >= len(self._line)

    def rest_empty(self) -> None:
        """ParseError unless nothing is left."""
        if not self.at_end():
            raise ParseError("Unexpected arguments")

    def space(self) -> None:
        """Consume exactly one space."""
        if self.pos < len(self._line) and self._line[self.pos] == 0x20:
            self.pos += 1
            return
        raise ParseError("Missing space")

    def maybe_space(self) -> bool:
        """Consume a space if there is one."""
        if self.pos < len(self._line) and self._line[self.pos] == 0x20:
            self.pos += 1
            return True
        return False

    def peek(self) -> int | None:
        """The next octet, or None at the end of a line (before a literal or the end)."""
        return self._line[self.pos] if self.pos < len(self._line) else None

    def atom(self, extra: bytes = b"") -> bytes:
        """An atom (``extra``: octets allowed besides, such as ``[]`` or ``%*``)."""
        line, start = self._line, self.pos
        allowed = set(extra)
        while self.pos < len(line):
            c = line[self.pos]
            if c in _ATOM_SPECIALS and c not in allowed:
                break
            self.pos += 1
        if self.pos == start:
            raise ParseError("Missing argument")
        return line[start : self.pos]

    def _literal(self) -> bytes:
        match = LITERAL_RE.search(self._line, self.pos)
        if match is None or match.start() != self.pos:
            raise ParseError("Invalid literal")
        if self.piece >= len(self.literals):
            raise ParseError("Literal missing")
        data = self.literals[self.piece]
        self.piece += 1
        self.pos = 0
        return data

    def _quoted(self) -> bytes:
        line = self._line
        self.pos += 1
        out = bytearray()
        while self.pos < len(line):
            c = line[self.pos]
            if c == 0x22:
                self.pos += 1
                return bytes(out)
            if c == 0x5C:
                self.pos += 1
                if self.pos >= len(line) or line[self.pos] not in (0x22, 0x5C):
                    raise ParseError("Invalid escape in quoted string")
                c = line[self.pos]
            out.append(c)
            self.pos += 1
        raise ParseError("Unterminated quoted string")

    def string(self) -> bytes:
        """A quoted string or a literal."""
        c = self.peek()
        if c == 0x22:
            return self._quoted()
        if c == 0x7B:
            return self._literal()
        raise ParseError("Expected a string")

    def astring(self, extra: bytes = b"]") -> bytes:
        """An atom, quoted string or literal."""
        c = self.peek()
        if c in (0x22, 0x7B):
            return self.string()
        return self.atom(extra)

    def list_mailbox(self) -> bytes:
        """LIST's pattern: an astring whose atom may hold ``%`` and ``*``."""
        return self.astring(b"]%*")

    def number(self) -> int:
        """A number (digits only, at most 10, up to 2^32 - 1)."""
        text = self.atom()
        if not text.isdigit() or len(text) > 10 or int(text) > 0xFFFFFFFF:
            raise ParseError(f"Invalid number: {printable(text)}")
        return int(text)

    def open_paren(self) -> bool:
        """Consume ``(`` if it is next."""
        if self.peek() == 0x28:
            self.pos += 1
            return True
        return False

    def close_paren(self) -> bool:
        """Consume ``)`` if it is next."""
        if self.peek() == 0x29:
            self.pos += 1
            return True
        return False

    def paren_list(self, extra: bytes = b"\\") -> list[bytes]:
        """``(a b c)`` of atoms (or one atom without parentheses)."""
        if not self.open_paren():
            return [self.atom(extra)]
        items: list[bytes] = []
        while not self.close_paren():
            if items:
                self.space()
            items.append(self.astring(extra))
        return items


def printable(data: bytes | str, limit: int = 40) -> str:
    """Client text safe to echo in a reply: printable ASCII, at most ``limit`` characters."""
    text = data.decode("ascii", "replace") if isinstance(data, bytes) else data
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:limit]


# region #### sequence sets ####


@dataclass(frozen=True)
class SequenceSet:
    """``1:3,5,7:*`` as (low, high) ranges; ``*`` is None until resolved. ``$`` unsupported."""

    ranges: tuple[tuple[int | None, int | None], ...]

    @classmethod
    def parse(cls, text: bytes) -> SequenceSet:
        """Parse; ParseError when it is not a sequence set."""
        ranges: list[tuple[int | None, int | None]] = []
        if not text:
            raise ParseError("Empty sequence set")
        for part in text.split(b","):
            lo, sep, hi = part.partition(b":")
            a = _seq_number(lo)
            b = _seq_number(hi) if sep else a
            ranges.append((a, b))
        return cls(tuple(ranges))

    def contains(self, n: int, star: int) -> bool:
        """True when ``n`` is in the set, ``*`` standing for ``star``."""
        for a, b in self.ranges:
            lo, hi = (star if a is None else a), (star if b is None else b)
            if lo > hi:
                lo, hi = hi, lo
            if lo <= n <= hi:
                return True
        return False

    def numbers(self, star: int, limit: int) -> Iterator[int]:
        """Every number in the set that is at most ``limit`` (``*`` = ``star``), ascending,
        each once."""
        spans = []
        for a, b in self.ranges:
            lo, hi = (star if a is None else a), (star if b is None else b)
            if lo > hi:
                lo, hi = hi, lo
            spans.append((lo, min(hi, limit)))
        spans.sort()
        last = 0
        for lo, hi in spans:
            yield from range(max(lo, last + 1), hi + 1)
            last = max(last, hi)


def _seq_number(text: bytes) -> int | None:
    if text == b"*":
        return None
    if not text.isdigit() or len(text) > 10 or text.startswith(b"0"):
        raise ParseError(f"Invalid sequence set: {printable(text)}")
    value = int(text)
    if value > 0xFFFFFFFF:
        raise ParseError(f"Invalid sequence set: {printable(text)}")
    return value


# endregion

# region #### modified UTF-7 (RFC 3501 §5.1.3) and mailbox names ####


def mutf7_decode(name: bytes) -> str:
    """A modified UTF-7 mailbox name as text; MailboxNameError when it is not valid
    (bare 8-bit octets, ``&`` runs that are not canonical base64 of UTF-16, encoded
    printable ASCII)."""
    out: list[str] = []
    i = 0
    while i < len(name):
        c = name[i]
        if c > 0x7E or c < 0x20:
            raise MailboxNameError("Mailbox name is not 7-bit printable")
        if c != 0x26:  # '&'
            out.append(chr(c))
            i += 1
            continue
        end = name.find(b"-", i + 1)
        if end < 0:
            raise MailboxNameError("Unterminated &-run in mailbox name")
        run = name[i + 1 : end]
        i = end + 1
        if not run:
            out.append("&")
            continue
        if not re.fullmatch(rb"[A-Za-z0-9+,]+", run):
            raise MailboxNameError("Invalid modified UTF-7 in mailbox name")
        b64 = run.replace(b",", b"/")
        try:
            raw = base64.b64decode(b64 + b"=" * (-len(b64) % 4), validate=True)
            text = raw.decode("utf-16-be")
        except (ValueError, UnicodeDecodeError):
            raise MailboxNameError("Invalid modified UTF-7 in mailbox name") from None
        if len(raw) % 2 or any(0x20 <= ord(ch) <= 0x7E for ch in text):
            raise MailboxNameError("Invalid modified UTF-7 in mailbox name")
        if mutf7_encode(text) != b"&" + run + b"-":  # only the canonical form
            raise MailboxNameError("Invalid modified UTF-7 in mailbox name")
        out.append(text)
    return "".join(out)


def mutf7_encode(text: str) -> bytes:
    """Text as a modified UTF-7 mailbox name."""
    out = bytearray()
    run: list[str] = []

    def flush() -> None:
        if run:
            raw = "".join(run).encode("utf-16-be")
            out.extend(b"&" + base64.b64encode(raw).rstrip(b"=").replace(b"/", b",") + b"-")
            run.clear()

    for ch in text:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.extend(b"&-" if ch == "&" else ch.encode("ascii"))
        else:
            run.append(ch)
    flush()
    return bytes(out)


SEPARATOR = "."
MAX_MAILBOX_NAME = 255


def check_mailbox_name(raw: bytes) -> str:
    """The canonical name of a mailbox (``INBOX`` in any case becomes ``INBOX``), as the
    modified UTF-7 text that names its folder on disk.

    Refused (MailboxNameError): empty names, names over 255 octets, control characters,
    ``/``, ``\\``, a leading ``~``, empty hierarchy levels (``a..b``, a leading or
    trailing ``.``), the levels ``.`` and ``..``, and modified UTF-7 that is not valid.
    What passes is a single directory name under the user's Maildir (``.`` + name).
    """
    if not raw or len(raw) > MAX_MAILBOX_NAME:
        raise MailboxNameError("Invalid mailbox name length")
    if b"\0" in raw or b"/" in raw or b"\\" in raw or raw.startswith(b"~"):
        raise MailboxNameError("Mailbox name holds a character not allowed here")
    text = mutf7_decode(raw)
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "/\\" for c in text):
        raise MailboxNameError("Mailbox name holds a character not allowed here")
    name = raw.decode("ascii")
    levels = name.split(SEPARATOR)
    if levels[0].upper() == "INBOX":
        levels[0] = "INBOX"
    if any(level in ("", ".", "..") for level in levels):
        raise MailboxNameError("Mailbox name has an empty hierarchy level")
    return SEPARATOR.join(levels)


# endregion

# region #### answers ####

_QUOTE_SAFE = re.compile(rb"^[\x20-\x7e]{0,1000}$")


def imap_quote(data: bytes | str) -> bytes:
    """A string for an answer: quoted when it is short printable ASCII, else a literal."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    if _QUOTE_SAFE.match(raw):
        return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n" % len(raw) + raw


_ATOM_OUT = re.compile(r"^[!#$&'+,\-./0-9:;<=>?@A-Z\[^_`a-z|}~]+$")


def astring_out(name: str) -> str:
    """A mailbox name for LIST, LSUB and STATUS: an atom when it can be one (as Dovecot
    sends them), else quoted."""
    if _ATOM_OUT.match(name) and name.upper() != "NIL":
        return name
    return imap_quote(name).decode("ascii", "replace")


def nstring(data: bytes | str | None) -> bytes:
    """``NIL`` or :func:`imap_quote`."""
    return b"NIL" if data is None else imap_quote(data)


MAX_WILDCARDS = 8
"""``*`` and ``%`` in one LIST pattern, at most."""


def list_pattern(reference: str, pattern: str) -> re.Pattern[str]:
    """LIST's reference + pattern as a regular expression (``*`` anything, ``%`` anything
    but the hierarchy separator); ``INBOX`` matches in any case."""
    full = re.sub(  # a run of wildcards is one: "*" if it holds a "*", else "%"
        r"[*%]{2,}", lambda m: "*" if "*" in m.group() else "%", reference + pattern
    )
    if full.count("*") + full.count("%") > MAX_WILDCARDS:  # no regex backtracking blow-up
        raise ParseError("Too many wildcards in the LIST pattern")
    parts = []
    for ch in full:
        if ch == "*":
            parts.append(".*")
        elif ch == "%":
            parts.append(f"[^{re.escape(SEPARATOR)}]*")
        else:
            parts.append(re.escape(ch))
    body = "".join(parts)
    if full[:5].upper() == "INBOX":
        body = "(?i:INBOX)" + "".join(parts[5:])
    return re.compile(f"^{body}$", re.DOTALL)


# endregion
