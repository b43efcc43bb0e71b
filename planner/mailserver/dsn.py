"""Bounce messages: delivery status notifications (RFC 3464) for recipients that failed.

A bounce goes from the null sender ``<>`` to the original envelope sender, and is never
made for a message whose sender is already ``<>`` (RFC 5321 §6.1: no mail loops).
"""

from __future__ import annotations

import re
import time
from email.utils import formatdate

__all__ = ["build_bounce", "status_of"]

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_HEADER_LIMIT = 64 * 1024


def status_of(code: int, text: str) -> str:
    """The RFC 3463 status for a reply: its enhanced code, else ``<class>.0.0``."""
    m = _ENHANCED.search(text)
    if m and m.group(1) == str(code)[0]:
        return m.group(0)
    return f"{str(code)[0]}.0.0"


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii").replace("\r", " ").replace("\n", " ")


def build_bounce(
    *,
    hostname: str,
    qid: str,
    sender: str,
    failures: list[tuple[str, int, str]],
    original: bytes,
    arrival_s: float,
) -> bytes:
    """A multipart/report bounce (CRLF line ends) listing ``(recipient, code, reply)``."""
    boundary = f"{qid}.{int(time.time())}/{hostname}"
    lines = [
        f"From: MAILER-DAEMON@{hostname} (Mail Delivery System)",
        f"To: <{sender}>",
        "Subject: Undelivered Mail Returned to Sender",
        f"Date: {formatdate(localtime=False)}",
        f"Message-ID: <{qid}.bounce@{hostname}>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        "This is a MIME-encapsulated message.",
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        f"This is the mail system at host {hostname}.",
        "",
        "Your message could not be delivered to one or more recipients.",
        "",
    ]
    for rcpt, code, text in failures:
        lines.append(f"<{_ascii(rcpt)}>: {code} {_ascii(text)}")
    lines += [
        "",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        f"Reporting-MTA: dns; {hostname}",
        f"X-Mailplan-Queue-ID: {qid}",
        f"Arrival-Date: {formatdate(arrival_s, localtime=False)}",
    ]
    for rcpt, code, text in failures:
        lines += [
            "",
            f"Final-Recipient: rfc822; {_ascii(rcpt)}",
            "Action: failed",
            f"Status: {status_of(code, text)}",
            f"Diagnostic-Code: smtp; {code} {_ascii(text)}",
        ]
    end = original.find(b"\r\n\r\n")
    headers = original if end < 0 else original[: end + 2]
    lines += ["", f"--{boundary}", "Content-Type: text/rfc822-headers", ""]
    body = "\r\n".join(lines).encode("ascii") + b"\r\n"
    body += headers[:_HEADER_LIMIT]
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + f"\r\n--{boundary}--\r\n".encode("ascii")
