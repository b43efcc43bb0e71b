"""The SMTP server's reply lines (a leaf: imports nothing).

RFC 5321 codes with RFC 3463 enhanced codes, texts after Postfix's; tests compare whole
replies against these names. :data:`AIOSMTPD_REPLIES` maps the texts aiosmtpd answers on
its own to these, in one place.
"""

from __future__ import annotations

__all__ = ["AIOSMTPD_REPLIES", "Reply"]


class Reply:
    """Reply lines (RFC 5321 codes, RFC 3463 enhanced codes; texts after Postfix's)."""

    GREETING_IDENT = "ESMTP mailplan"
    OK = "250 2.0.0 Ok"
    SENDER_OK = "250 2.1.0 Ok"
    RCPT_OK = "250 2.1.5 Ok"
    QUEUED = "250 2.0.0 Ok: queued as {qid}"
    START_DATA = "354 End data with <CR><LF>.<CR><LF>"
    BYE = "221 2.0.0 Bye"
    AUTH_OK = "235 2.7.0 Authentication successful"
    READY_TLS = "220 2.0.0 Ready to start TLS"
    SHUTTING_DOWN = "421 4.3.2 {host} Service shutting down, closing transmission channel"
    TIMEOUT = "421 4.4.2 {host} Error: timeout exceeded"
    TOO_MANY_ERRORS = "421 4.7.0 {host} Error: too many errors"
    TOO_MANY_CONNECTIONS = "421 4.7.0 {host} Error: too many connections"
    TOO_MANY_AUTH_FAILURES = "421 4.7.0 {host} Error: too many failed authentications"
    LOCAL_ERROR = "451 4.3.0 Error: local error in processing, try again later"
    NO_STORAGE = "452 4.3.1 Error: insufficient system storage"
    TOO_MANY_RCPTS = "452 4.5.3 Error: too many recipients"
    COMMAND_TOO_LONG = "500 5.5.2 Error: command line too long"
    LINE_TOO_LONG = "500 5.5.2 Error: message line longer than {limit} octets (RFC 5321 4.5.3.1.6)"
    BAD_SYNTAX = "500 5.5.2 Error: bad syntax"
    DATA_SYNTAX = "501 5.5.4 Syntax: DATA"
    EHLO_SYNTAX = "501 5.5.4 Syntax: EHLO hostname"
    NEED_HELO = "503 5.5.1 Error: send HELO/EHLO first"
    NEED_MAIL = "503 5.5.1 Error: need MAIL command"
    NESTED_MAIL = "503 5.5.1 Error: nested MAIL command"
    NEED_RCPT = "503 5.5.1 Error: need RCPT command"
    ALREADY_AUTH = "503 5.5.1 Error: already authenticated"
    AUTH_NEEDS_TLS = "538 5.7.11 Encryption required for requested authentication mechanism"
    AUTH_FAILED = "535 5.7.8 Error: authentication failed"
    AUTH_REQUIRED = "530 5.7.0 Authentication required"
    UNKNOWN_USER = (
        "550 5.1.1 <{addr}>: Recipient address rejected: User unknown in local recipient table"
    )
    BARE_NEWLINE = "550 5.5.2 Error: bare <CR> or <LF> received"
    TOO_BIG = "552 5.3.4 Error: message size exceeds fixed limit"
    DMARC_REJECT = "550 5.7.1 Error: rejected by the DMARC policy of {domain}"
    SENDER_DENIED = "553 5.7.1 <{addr}>: Sender address rejected: Access denied"
    RELAY_DENIED = "554 5.7.1 <{addr}>: Relay access denied"
    CLIENT_DENIED = "554 5.7.1 Client host rejected: Access denied"
    TOO_MANY_HOPS = "554 5.4.6 Error: too many hops"
    TLS_ACTIVE = "554 5.5.1 Error: TLS already active"


AIOSMTPD_REPLIES = {
    "500 Command line too long": Reply.COMMAND_TOO_LONG,
    "500 Error: bad syntax": Reply.BAD_SYNTAX,
    "503 Error: send HELO first": Reply.NEED_HELO,
    "503 Error: send EHLO first": Reply.NEED_HELO,
    "503 Error: need MAIL command": Reply.NEED_MAIL,
    "503 Error: nested MAIL command": Reply.NESTED_MAIL,
    "503 Error: need RCPT command": Reply.NEED_RCPT,
    "503 Already authenticated": Reply.ALREADY_AUTH,
    "552 Error: message size exceeds fixed maximum message size": Reply.TOO_BIG,
    "221 Bye": Reply.BYE,
    "250 OK": Reply.OK,
    "220 Ready to start TLS": Reply.READY_TLS,
    "538 5.7.11 Encryption required for requested authentication mechanism": (Reply.AUTH_NEEDS_TLS),
    "530 5.7.0 Authentication required": Reply.AUTH_REQUIRED,
}
"""aiosmtpd's own reply texts (no enhanced status code) and what this server sends instead."""
