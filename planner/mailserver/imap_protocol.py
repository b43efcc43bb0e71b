"""What the IMAP protocol fixes for the server: the session states, the commands each state
allows, the reply texts and the protocol's own bounds (a leaf: imports nothing).

Replies are tagged status texts (the session puts the tag in front) and untagged lines;
response codes are RFC 3501's (``[TRYCREATE]``, ``[READ-WRITE]``...), RFC 5530's
(``[AUTHENTICATIONFAILED]``, ``[PRIVACYREQUIRED]``, ``[SERVERBUG]``...) and RFC 4315's
(``[APPENDUID]``, ``[COPYUID]``). The bounds a server owner may change are
:class:`~planner.mailserver.config.ImapLimits`.
"""

from __future__ import annotations

import enum


class State(enum.Enum):
    """The session states of RFC 3501 §3."""

    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


_ANY = frozenset({State.NOT_AUTHENTICATED, State.AUTHENTICATED, State.SELECTED})
_NOAUTH = frozenset({State.NOT_AUTHENTICATED})
_AUTH = frozenset({State.AUTHENTICATED, State.SELECTED})
_SEL = frozenset({State.SELECTED})

COMMAND_STATES: dict[str, frozenset[State]] = {
    "CAPABILITY": _ANY,
    "NOOP": _ANY,
    "LOGOUT": _ANY,
    "ID": _ANY,
    "STARTTLS": _NOAUTH,
    "LOGIN": _NOAUTH,
    "AUTHENTICATE": _NOAUTH,
    "ENABLE": _AUTH,
    "NAMESPACE": _AUTH,
    "SELECT": _AUTH,
    "EXAMINE": _AUTH,
    "CREATE": _AUTH,
    "DELETE": _AUTH,
    "RENAME": _AUTH,
    "SUBSCRIBE": _AUTH,
    "UNSUBSCRIBE": _AUTH,
    "LIST": _AUTH,
    "LSUB": _AUTH,
    "STATUS": _AUTH,
    "APPEND": _AUTH,
    "IDLE": _AUTH,
    "CHECK": _SEL,
    "CLOSE": _SEL,
    "UNSELECT": _SEL,
    "EXPUNGE": _SEL,
    "SEARCH": _SEL,
    "FETCH": _SEL,
    "STORE": _SEL,
    "COPY": _SEL,
    "MOVE": _SEL,
    "UID FETCH": _SEL,
    "UID STORE": _SEL,
    "UID SEARCH": _SEL,
    "UID COPY": _SEL,
    "UID MOVE": _SEL,
    "UID EXPUNGE": _SEL,
}
"""Every command and the states it is valid in: the one place the state is checked
(:meth:`planner.mailserver.imap.IMAP._command`)."""

# region #### fixed bounds ####

COMMAND_LINE_LIMIT = 65536
"""Octets in one command line, CRLF included (Dovecot's ``imap_max_line_length``)."""
COMMAND_LITERAL_LIMIT = 65536
"""Octets in a literal of any command but APPEND (whose limit is ``--max-message-size``)."""
BAD_COMMAND_LIMIT = 20
"""Consecutive BAD commands before the server hangs up."""
AUTH_FAILURE_LIMIT = 3
"""Failed logins in one session before the server hangs up."""
AUTH_LINE_LIMIT = 4096
"""Octets in an AUTHENTICATE continuation line."""
OUTPUT_BATCH = 64 * 1024
"""Octets of FETCH answers gathered before one write to the socket."""
IDLE_POLL_S = 0.5
"""How often an IDLE session without inotify looks at its folder's ``new/`` and ``cur/``
mtimes (another system, or the watch limits reached)."""
IDLE_RECHECK_S = 60.0
"""How often an IDLE session with inotify looks anyway (a lost notice costs a minute at
most; the kernel says when it dropped some: IN_Q_OVERFLOW wakes every session)."""

# endregion

# region #### replies ####

FLAGS = "\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded"
"""The flags every folder has (its keywords follow them in FLAGS and PERMANENTFLAGS)."""
BASE_CAPABILITIES = (
    "IMAP4rev1 LITERAL+ SASL-IR ID IDLE NAMESPACE UIDPLUS MOVE UNSELECT SPECIAL-USE ENABLE"
    " CHILDREN ESEARCH LIST-STATUS STATUS=SIZE"
)

GREETING = "* OK [CAPABILITY {caps}] mailplan IMAP server ready."
BYE_LOGOUT = "* BYE Logging out."
BYE_IDLE = "* BYE Disconnected for inactivity."
BYE_TOO_MANY_BAD = "* BYE Too many invalid commands."
BYE_TOO_MANY_CONNECTIONS = "* BYE [UNAVAILABLE] Too many connections, try again later."
BYE_AUTH_FAILURES = "* BYE [AUTHENTICATIONFAILED] Too many failed logins."
BYE_LITERAL_TOO_BIG = "* BYE [TOOBIG] Literal too big, disconnecting."
BAD_LINE_TOO_LONG = "* BAD Command line too long."
CONTINUE_LITERAL = "+ OK"
CONTINUE_IDLE = "+ idling"
CONTINUE_AUTH = "+ "

OK_LOGOUT = "OK Logout completed."
OK_NOOP = "OK NOOP completed."
OK_CAPABILITY = "OK Capability completed."
OK_STARTTLS = "OK Begin TLS negotiation now."
OK_LOGGED_IN = "OK [CAPABILITY {caps}] Logged in."
OK_ID = "OK ID completed."
OK_ENABLE = "OK Enabled."
OK_NAMESPACE = "OK Namespace completed."
OK_SELECT = "OK [{mode}] Select completed."
OK_CREATE = "OK Create completed."
OK_DELETE = "OK Delete completed."
OK_RENAME = "OK Rename completed."
OK_SUBSCRIBE = "OK Subscribe completed."
OK_UNSUBSCRIBE = "OK Unsubscribe completed."
OK_LIST = "OK List completed."
OK_LSUB = "OK Lsub completed."
OK_STATUS = "OK Status completed."
OK_APPEND = "OK [APPENDUID {validity} {uid}] Append completed."
OK_IDLE = "OK Idle completed."
OK_CHECK = "OK Check completed."
OK_CLOSE = "OK Close completed."
OK_UNSELECT = "OK Unselect completed."
OK_EXPUNGE = "OK Expunge completed."
OK_SEARCH = "OK Search completed."
OK_FETCH = "OK Fetch completed."
OK_STORE = "OK Store completed."
OK_COPY = "OK [COPYUID {validity} {src} {dst}] Copy completed."
OK_COPY_NONE = "OK Copy completed."
OK_MOVE = "OK Move completed."

NO_PRIVACY = "NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure connections."
NO_AUTH_FAILED = "NO [AUTHENTICATIONFAILED] Authentication failed."
NO_AUTH_MECH = "NO Unsupported authentication mechanism."
NO_AUTH_CANCELLED = "BAD Authentication cancelled."
NO_AUTH_BASE64 = "BAD Invalid base64 data."
NO_TLS = "NO TLS is not available."
BAD_ALREADY_TLS = "BAD TLS is already active."
NO_SERVERBUG = "NO [SERVERBUG] Internal error, try again later."
NO_UNAVAILABLE = "NO [UNAVAILABLE] Cannot open the mailbox, try again later."
NO_NONEXISTENT = "NO [NONEXISTENT] Mailbox doesn't exist: {name}"
NO_TRYCREATE = "NO [TRYCREATE] Mailbox doesn't exist: {name}"
NO_ALREADYEXISTS = "NO [ALREADYEXISTS] Mailbox already exists."
NO_INBOX = "NO [CANNOT] INBOX cannot be {action}."
NO_BAD_NAME = "NO [CANNOT] Invalid mailbox name: {reason}"
NO_READ_ONLY = "NO [READ-ONLY] Mailbox is read-only."
NO_TOOBIG = "NO [TOOBIG] Message too large."
NO_TOO_MANY_KEYWORDS = "NO [LIMIT] Too many keywords in this mailbox (at most 26)."
NO_EXPUNGEISSUED = "NO [EXPUNGEISSUED] Some of the requested messages no longer exist."
BAD_UNKNOWN = "BAD Unknown command."
BAD_STATE = "BAD Command not valid in this state."
BAD_SYNTAX = "BAD Error in IMAP command: {text}"
BAD_LITERAL_TOO_BIG = "BAD [TOOBIG] Literal too big."
BAD_IDLE = "BAD Expected DONE."
BAD_CHARSET = "NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset."

# endregion
