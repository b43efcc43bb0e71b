"""FETCH data (RFC 3501 §6.4.5, §7.4.2): the items a client may ask for, ENVELOPE,
BODYSTRUCTURE and ``BODY[section]<partial>``.

MIME is parsed by the standard library's :mod:`email` package (``compat32`` policy, which
keeps header values and part bodies as they were sent). The whole message, ``HEADER`` and
``TEXT`` of the top level are cut from the stored bytes (CRLF line ends), exactly; a
part's bytes are what :class:`email.generator.BytesGenerator` writes for it, and
BODYSTRUCTURE measures the same bytes, so sizes and sections always agree.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import io
import re
import time
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.message import Message

from planner.mailserver.imap_parse import ParseError, Tokens, imap_quote, nstring, printable

__all__ = [
    "FetchItem",
    "body_section",
    "bodystructure",
    "crlf",
    "envelope",
    "internaldate",
    "parse_fetch_items",
    "parse_message",
]

_POLICY = email.policy.compat32.clone(linesep="\r\n")
_LONE_LF = re.compile(rb"(?<!\r)\n")


def crlf(stored: bytes) -> bytes:
    """Stored bytes (LF or CRLF line ends) with CRLF line ends, as IMAP sends them."""
    if b"\r" not in stored:  # the store's files: LF only
        return stored.replace(b"\n", b"\r\n")
    return _LONE_LF.sub(b"\r\n", stored)


def parse_message(raw: bytes) -> Message:
    """The MIME tree of a message (CRLF line ends)."""
    return email.parser.BytesParser(policy=_POLICY).parsebytes(raw)


def internaldate(mtime: float) -> bytes:
    """``"17-Jul-1996 02:44:25 -0700"`` (the file's mtime, local time zone)."""
    tm = time.localtime(mtime)
    off = tm.tm_gmtoff // 60
    sign = "+" if off >= 0 else "-"
    off = abs(off)
    text = time.strftime("%d-%b-%Y %H:%M:%S", tm)
    return f'"{text} {sign}{off // 60:02d}{off % 60:02d}"'.encode()


# region #### parsing the FETCH items ####


@dataclass(frozen=True)
class FetchItem:
    """One FETCH data item: ``name`` (FLAGS, BODY, ...) and for BODY its section."""

    name: str
    section: str = ""
    fields: tuple[str, ...] = ()
    partial: tuple[int, int] | None = None
    peek: bool = False

    def label(self) -> bytes:
        """The item's name in the answer (``BODY[HEADER.FIELDS (SUBJECT)]<0>``)."""
        if self.name not in ("BODY[]", "BINARY[]"):
            return self.name.encode()
        text = self.section
        if self.fields:
            text += " (" + " ".join(self.fields) + ")"
        origin = f"<{self.partial[0]}>" if self.partial else ""
        return f"BODY[{text}]{origin}".encode()


_MACROS = {
    "ALL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"],
    "FAST": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
    "FULL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"],
}
_SIMPLE = {
    "FLAGS",
    "UID",
    "RFC822.SIZE",
    "INTERNALDATE",
    "ENVELOPE",
    "BODYSTRUCTURE",
    "BODY",
    "RFC822",
    "RFC822.HEADER",
    "RFC822.TEXT",
}
_SECTION_RE = re.compile(
    r"^(?:\d+(?:\.\d+)*)?(?:\.?(HEADER|HEADER\.FIELDS|HEADER\.FIELDS\.NOT|TEXT|MIME))?$"
)


def parse_fetch_items(tok: Tokens) -> list[FetchItem]:
    """The FETCH items after the sequence set (a macro, one item, or a list)."""
    parens = tok.open_paren()
    items: list[FetchItem] = []
    while True:
        word = tok.atom(b"[]<>.").upper().decode("ascii", "replace")
        if not parens and word in _MACROS:
            return [FetchItem(n) for n in _MACROS[word]]
        items.append(_one_item(word, tok))
        if not parens:
            return items
        if tok.close_paren():
            return items
        tok.space()


def _one_item(word: str, tok: Tokens) -> FetchItem:
    if word in _SIMPLE:
        return FetchItem(word)
    peek = word.startswith("BODY.PEEK[")
    prefix = "BODY.PEEK[" if peek else "BODY["
    if not word.startswith(prefix):
        raise ParseError(f"Unknown FETCH item: {printable(word)}")
    section = word[len(prefix) :]
    fields: tuple[str, ...] = ()
    if not section.endswith("]") and "]" not in section:  # HEADER.FIELDS (list)
        if not section.endswith(("HEADER.FIELDS", "HEADER.FIELDS.NOT")):
            raise ParseError("Invalid section")
        tok.space()
        names = tok.paren_list(b"")
        fields = tuple(n.decode("ascii", "replace").upper() for n in names)
        if not fields:
            raise ParseError("Empty header field list")
        rest = tok.atom(b"[]<>.").decode("ascii", "replace")
        if not rest.startswith("]"):
            raise ParseError("Invalid section")
        section += rest
    head, _, tail = section.partition("]")
    if not _SECTION_RE.match(head) or (head.endswith("FIELDS") or "FIELDS." in head) != bool(
        fields
    ):
        raise ParseError("Invalid section")
    partial = None
    if tail:
        match = re.fullmatch(r"<(\d{1,10})\.(\d{1,10})>", tail)
        if match is None or int(match.group(2)) == 0:
            raise ParseError("Invalid partial")
        partial = (int(match.group(1)), int(match.group(2)))
    return FetchItem("BODY[]", head, fields, partial, peek)


# endregion

# region #### ENVELOPE and BODYSTRUCTURE ####


def _header(msg: Message, name: str) -> str | None:
    value = msg.get(name)
    if value is None:
        return None
    return re.sub(r"\r?\n", "", str(value))


def _addresses(msg: Message, name: str) -> bytes:
    values = msg.get_all(name)
    if not values:
        return b"NIL"
    out = []
    for display, address in email.utils.getaddresses(
        [re.sub(r"\r?\n", "", str(v)) for v in values]
    ):
        if not address and not display:
            continue
        local, _, host = address.rpartition("@") if "@" in address else (address, "", "")
        out.append(
            b"("
            + nstring(display or None)
            + b" NIL "
            + nstring(local)
            + b" "
            + nstring(host or None)
            + b")"
        )
    return b"(" + b"".join(out) + b")" if out else b"NIL"


def envelope(msg: Message) -> bytes:
    """RFC 3501 §7.4.2 ENVELOPE of a parsed message."""
    from_ = _addresses(msg, "From")
    sender = _addresses(msg, "Sender")
    reply_to = _addresses(msg, "Reply-To")
    parts = [
        nstring(_header(msg, "Date")),
        nstring(_header(msg, "Subject")),
        from_,
        sender if sender != b"NIL" else from_,
        reply_to if reply_to != b"NIL" else from_,
        _addresses(msg, "To"),
        _addresses(msg, "Cc"),
        _addresses(msg, "Bcc"),
        nstring(_header(msg, "In-Reply-To")),
        nstring(_header(msg, "Message-ID")),
    ]
    return b"(" + b" ".join(parts) + b")"


def _children(part: Message) -> list[Message]:
    """The sub-parts of a multipart, or the message inside a message/rfc822 part."""
    payload = part.get_payload()
    if not isinstance(payload, list):
        return []
    return [p for p in payload if isinstance(p, Message)]


def render(part: Message) -> bytes:
    """A part's bytes as the generator writes them (headers, blank line, body; CRLF)."""
    out = io.BytesIO()
    BytesGenerator(out, mangle_from_=False, maxheaderlen=0, policy=_POLICY).flatten(part)
    return out.getvalue()


def split_header(raw: bytes) -> tuple[bytes, bytes]:
    """(header with its closing blank line, body) of message bytes with CRLF line ends."""
    if raw.startswith(b"\r\n"):
        return b"\r\n", raw[2:]
    cut = raw.find(b"\r\n\r\n")
    if cut < 0:
        return raw, b""
    return raw[: cut + 4], raw[cut + 4 :]


def part_body(part: Message) -> bytes:
    """The body octets of a part (BODY[n] of a leaf)."""
    if part.is_multipart() or part.get_content_type() == "message/rfc822":
        return split_header(render(part))[1]
    payload = part.get_payload(decode=False)
    if isinstance(payload, str):
        return crlf(payload.encode("ascii", "surrogateescape"))
    return b""


def _params(part: Message, header: str) -> bytes:
    params = part.get_params(header=header) or []
    pairs = [
        imap_quote(k.upper()) + b" " + imap_quote(str(email.utils.collapse_rfc2231_value(v)))
        for k, v in params[1:]
    ]
    return b"(" + b" ".join(pairs) + b")" if pairs else b"NIL"


def _disposition(part: Message) -> bytes:
    value = part.get("Content-Disposition")
    if value is None:
        return b"NIL"
    kind = str(value).split(";", 1)[0].strip() or "attachment"
    return b"(" + imap_quote(kind.upper()) + b" " + _params(part, "content-disposition") + b")"


def _lines(body: bytes) -> bytes:
    """Text lines of a body (a last line without its line end counts)."""
    return str(body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)).encode()


def bodystructure(part: Message, extended: bool = True) -> bytes:
    """BODYSTRUCTURE (``extended``) or BODY of a parsed message or part."""
    if part.is_multipart():
        inner = b"".join(bodystructure(c, extended) for c in _children(part))
        out = inner + b" " + imap_quote(part.get_content_subtype().upper())
        if extended:
            out += b" " + _params(part, "content-type") + b" " + _disposition(part) + b" NIL NIL"
        return b"(" + out + b")"
    maintype, subtype = part.get_content_maintype(), part.get_content_subtype()
    params = _params(part, "content-type")
    if params == b"NIL" and maintype == "text":
        params = b'("CHARSET" "US-ASCII")'
    body = part_body(part)
    fields = [
        imap_quote(maintype.upper()),
        imap_quote(subtype.upper()),
        params,
        nstring(_header(part, "Content-ID")),
        nstring(_header(part, "Content-Description")),
        imap_quote((_header(part, "Content-Transfer-Encoding") or "7BIT").strip().upper()),
        str(len(body)).encode(),
    ]
    if part.get_content_type() == "message/rfc822":
        enclosed = _children(part)
        sub = enclosed[0] if enclosed else parse_message(body)
        fields += [envelope(sub), bodystructure(sub, extended), _lines(body)]
    elif maintype == "text":
        fields.append(_lines(body))
    if extended:
        fields += [b"NIL", _disposition(part), b"NIL", b"NIL"]
    return b"(" + b" ".join(fields) + b")"


# endregion

# region #### BODY[section] ####


def _header_fields(header: bytes, fields: tuple[str, ...], keep: bool) -> bytes:
    """The header lines (with continuations) whose name is in ``fields`` (``keep``) or not."""
    wanted = {f.upper() for f in fields}
    out: list[bytes] = []
    take = False
    for line in header.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            if take:
                out.append(line)
            continue
        name = line.split(b":", 1)[0].strip().decode("ascii", "replace").upper()
        take = (name in wanted) == keep
        if take:
            out.append(line)
    return b"".join(x + b"\r\n" for x in out) + b"\r\n"


def _navigate(msg: Message, numbers: list[int]) -> Message | None:
    cur = msg
    for n in numbers:
        if cur.get_content_type() == "message/rfc822":
            inner = _children(cur)
            if not inner:
                return None
            cur = inner[0]
        if cur.is_multipart():
            children = _children(cur)
            if not 1 <= n <= len(children):
                return None
            cur = children[n - 1]
        elif n != 1:
            return None
    return cur


def body_section(raw: bytes, item: FetchItem, parsed: Message | None) -> bytes:
    """The octets ``BODY[section]`` names in ``raw`` (CRLF line ends); ``parsed`` is the
    message's MIME tree (needed for part numbers)."""
    section = item.section
    if not section and item.partial is None:  # BODY[] / BODY.PEEK[]: the whole message
        return raw
    numbers: list[int] = []
    text = section
    match = re.match(r"^(\d+(?:\.\d+)*)\.?(.*)$", section)
    if match:
        numbers = [int(x) for x in match.group(1).split(".")]
        text = match.group(2)
    if not numbers:
        head, body = split_header(raw)
        data = {"": raw, "HEADER": head, "TEXT": body}.get(text)
        if data is None:
            data = _header_fields(head, item.fields, text == "HEADER.FIELDS")
    else:
        assert parsed is not None
        part = _navigate(parsed, numbers)
        if part is None:
            data = b""
        elif text == "MIME":
            data = split_header(render(part))[0]
        elif text == "":
            data = part_body(part)
        else:
            inner = _children(part) if part.get_content_type() == "message/rfc822" else []
            if not inner:
                data = b""
            else:
                head, body = split_header(render(inner[0]))
                if text == "HEADER":
                    data = head
                elif text == "TEXT":
                    data = body
                else:
                    data = _header_fields(head, item.fields, text == "HEADER.FIELDS")
    if item.partial is not None:
        start, length = item.partial
        data = data[start : start + length]
    return data


# endregion
