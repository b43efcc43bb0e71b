"""What the POP3 protocol fixes for the server: the session states, the commands each
state allows, the reply lines and the protocol's own bounds (a leaf: imports nothing).

Reply texts follow Dovecot's where it has one (``-ERR There's no message N.``,
``+OK Marked to be deleted.``); response codes are RFC 2449's ``[IN-USE]`` and
``[LOGIN-DELAY]`` and RFC 3206's ``[SYS/TEMP]`` and ``[AUTH]``. Tests compare whole
replies against these names. The bounds a server owner may change are
:class:`~planner.mailserver.config.Pop3Limits`.
"""

from __future__ import annotations

import enum


class State(enum.Enum):
    """The session states of RFC 1939 §3."""

    AUTHORIZATION = "AUTHORIZATION"
    TRANSACTION = "TRANSACTION"
    UPDATE = "UPDATE"


_AUTHZ = frozenset({State.AUTHORIZATION})
_TRANS = frozenset({State.TRANSACTION})
_BOTH = _AUTHZ | _TRANS

COMMAND_STATES: dict[str, frozenset[State]] = {
    "CAPA": _BOTH,
    "QUIT": _BOTH,
    "USER": _AUTHZ,
    "PASS": _AUTHZ,
    "AUTH": _AUTHZ,
    "STLS": _AUTHZ,
    "STAT": _TRANS,
    "LIST": _TRANS,
    "RETR": _TRANS,
    "DELE": _TRANS,
    "NOOP": _TRANS,
    "RSET": _TRANS,
    "TOP": _TRANS,
    "UIDL": _TRANS,
}
"""Every command and the states it is valid in: the one place the state is checked
(:meth:`planner.mailserver.pop3.POP3._command`)."""


def parse_number(text: str) -> int | None:
    """A message number or line count (1-10 ASCII digits), or None."""
    if not text or len(text) > 10 or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def printable(text: str, limit: int = 40) -> str:
    """``text`` safe to echo in a reply: printable ASCII only, at most ``limit`` characters."""
    clean = "".join(c if " " <= c <= "~" else "?" for c in text)
    return clean[:limit]


# region #### fixed bounds ####

COMMAND_LINE_LIMIT = 255
"""Octets in a command line, CRLF included (RFC 2449 §4)."""
AUTH_LINE_LIMIT = 2048
"""Octets in an AUTH continuation line (a base64 PLAIN response of a long password)."""
BAD_COMMAND_LIMIT = 20
"""Consecutive bad commands before the server hangs up (Dovecot's figure)."""
AUTH_FAILURE_LIMIT = 3
"""Failed logins in one session before the server hangs up."""

# endregion

# region #### replies ####

GREETING = "+OK mailplan POP3 server ready."
OK = "+OK"
OK_CAPA = "+OK Capability list follows."
OK_USER = "+OK Send your password."
OK_LOGGED_IN = "+OK Logged in."
OK_STAT = "+OK {count} {octets}"
OK_LIST_ALL = "+OK {count} messages ({octets} octets)."
OK_LIST_ONE = "+OK {number} {octets}"
OK_UIDL_ALL = "+OK Unique-ID listing follows."
OK_UIDL_ONE = "+OK {number} {uid}"
OK_RETR = "+OK {octets} octets."
OK_TOP = "+OK Top of message follows."
OK_DELE = "+OK Marked to be deleted."
OK_RSET = "+OK Maildrop has {count} messages ({octets} octets)."
OK_NOOP = "+OK"
OK_QUIT = "+OK Logging out."
OK_QUIT_DELETED = "+OK Logging out, messages deleted."
OK_STLS = "+OK Begin TLS negotiation now."
OK_AUTH_MECHS = "+OK Supported mechanisms follow."
AUTH_CONTINUE = "+ "

ERR_UNKNOWN_COMMAND = "-ERR Unknown command."
ERR_WRONG_STATE = "-ERR Command not valid in this state."
ERR_LINE_TOO_LONG = "-ERR Command line too long."
ERR_TOO_MANY_BAD_COMMANDS = "-ERR Too many bad commands, disconnecting."
ERR_IDLE = "-ERR Disconnected for inactivity."
ERR_TOO_MANY_CONNECTIONS = "-ERR [SYS/TEMP] Too many connections, try again later."
ERR_SYS_TEMP = "-ERR [SYS/TEMP] Internal error, try again later."
ERR_MAILDROP_UNAVAILABLE = "-ERR [SYS/TEMP] Cannot open the maildrop, try again later."
ERR_QUIT_NOT_REMOVED = (
    "-ERR [SYS/TEMP] Some deleted messages were not removed ({count}); they stay in the maildrop."
)
ERR_PLAINTEXT_DISALLOWED = (
    "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."
)
ERR_AUTH_FAILED = "-ERR [AUTH] Authentication failed."
ERR_AUTH_FAILED_BYE = "-ERR [AUTH] Authentication failed, too many failures, disconnecting."
ERR_IN_USE = "-ERR [IN-USE] Mailbox is locked by another POP3 session."
ERR_LOGIN_DELAY = "-ERR [LOGIN-DELAY] Logged in less than {seconds} seconds ago, try again later."
ERR_NO_USER = "-ERR No username given."
ERR_USER_SYNTAX = "-ERR USER needs one argument: the full address."
ERR_ALREADY_TLS = "-ERR TLS is already active."
ERR_NO_TLS = "-ERR TLS is not available."
ERR_NOISE = "-ERR Noise after the command."
ERR_AUTH_MECH = "-ERR Unsupported authentication mechanism."
ERR_AUTH_CANCELLED = "-ERR Authentication cancelled."
ERR_AUTH_BASE64 = "-ERR Invalid base64 data in the AUTH response."
ERR_NUMBER_MISSING = "-ERR A message number is required."
ERR_NUMBER_INVALID = "-ERR Invalid message number: {text}"
ERR_NUMBER_NOISE = "-ERR Noise after message number: {text}"
ERR_NO_SUCH_MESSAGE = "-ERR There's no message {number}."
ERR_DELETED = "-ERR Message is deleted."
ERR_LINES_INVALID = "-ERR Invalid number of lines: {text}"
ERR_MESSAGE_GONE = "-ERR Message {number} was removed by another program."

# endregion
