"""What a benchmark sends: message sizes, recipients, sessions, rate and bounds.

A :class:`Workload` is plain data (it crosses into worker processes and into the saved
result). :class:`MessageFactory` turns it into wire-ready messages: each carries a unique
``X-Mailplan-Bench-Id`` header (also in ``Message-ID``) so delivery can be checked end to
end, uses CRLF line ends, has no line starting with ``.`` (so no dot-stuffing is needed,
RFC 5321 section 4.5.2) and ends with the ``CRLF.CRLF`` terminator already appended.
"""

from __future__ import annotations

import math
import random
import re
import statistics
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner.errors import BenchmarkError
from planner.models import Scenario

__all__ = [
    "DEFAULT_MESSAGES",
    "MAX_DURATION_S",
    "MAX_MESSAGES",
    "MIX_BUCKETS",
    "MessageFactory",
    "OutgoingMessage",
    "Protocol",
    "Workload",
    "check_address",
    "flagged_workload",
    "mix_sizes_kb",
    "workload_from_scenario",
]

Protocol = Literal["smtp", "pop3", "imap"]
SizeMix = Literal["fixed", "realistic"]

DEFAULT_MESSAGES = 1000
"""Messages in a run when neither a count nor a duration is given."""
MAX_MESSAGES = 10_000_000
"""No run sends more than this, whatever the flags say."""
MAX_DURATION_S = 3600.0
"""No run lasts longer than this (measured part), whatever the flags say."""
MIX_BUCKETS = 16
"""The realistic mix draws from this many equally likely sizes."""
MIX_SIGMA = 1.0
"""Shape of the realistic mix: log-normal with this sigma (a long tail of big messages)."""

_ADDRESS = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")
_LINE = 76  # body line length before CRLF (RFC 5322 section 2.1.1 recommends <= 78)


def check_address(address: str, field: str) -> str:
    """``address`` if it is a plain ``local@domain`` mailbox; else BenchmarkError naming
    ``field``."""
    if len(address) > 254 or not _ADDRESS.match(address):
        raise BenchmarkError(f"{field}: '{address}' is not an address like user@example.test")
    return address


class Workload(BaseModel):
    """The shape of the load: what each session does and how much of it to do.

    Closed loop when ``rate_msgs_per_s`` is None (``concurrency`` sessions, as fast as they
    go), open loop otherwise (sessions arrive as a Poisson process at
    ``rate_msgs_per_s / messages_per_session`` per second). A run stops at ``messages``
    (counted after warm-up) or after ``duration_s`` of measurement, whichever comes first;
    with neither it sends :data:`DEFAULT_MESSAGES`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    protocol: Protocol = "smtp"
    size_kb: float = Field(10.0, gt=0, le=100_000, description="Message size (mean of the mix).")
    size_mix: SizeMix = Field("fixed", description="fixed, or realistic (log-normal mix).")
    recipients_per_message: int = Field(1, ge=1, le=1000)
    local_share: float = Field(1.0, ge=0, le=1, description="Chance a recipient is local.")
    sender: str = "bench@bench.test"
    local_recipients: tuple[str, ...] = ("user@bench.test",)
    remote_recipients: tuple[str, ...] = ("user@remote.test",)
    messages_per_session: int = Field(1, ge=1, le=100_000)
    concurrency: int = Field(50, ge=1, le=20_000, description="Closed-loop sessions at once.")
    messages: int | None = Field(None, ge=1, le=MAX_MESSAGES)
    duration_s: float | None = Field(None, gt=0, le=MAX_DURATION_S)
    rate_msgs_per_s: float | None = Field(None, gt=0, le=1_000_000)
    warmup_s: float = Field(0.0, ge=0, le=600)
    workers: int = Field(1, ge=1, le=256)
    timeout_s: float = Field(30.0, gt=0, le=3600, description="Limit for one whole session.")
    max_in_flight: int = Field(1000, ge=1, le=100_000, description="Open-loop session cap.")
    seed: int | None = None
    pipelining: bool = Field(True, description="SMTP: pipeline MAIL/RCPT/DATA when offered.")
    starttls: bool = False
    helo_name: str = "bench.mailplan.test"
    retrieve: Literal["retr", "top"] = "retr"
    top_lines: int = Field(0, ge=0, le=100_000)
    list_messages: bool = Field(True, description="POP3: send LIST once per session.")
    delete: bool = Field(False, description="POP3: DELE what was retrieved (applied at QUIT).")

    @model_validator(mode="after")
    def _addresses_are_mailboxes(self) -> Self:
        check_address(self.sender, "--from")
        for a in self.local_recipients:
            check_address(a, "--to")
        for a in self.remote_recipients:
            check_address(a, "--remote-to")
        if not self.local_recipients and self.local_share > 0:
            raise ValueError("local_share > 0 needs at least one local recipient")
        if not self.remote_recipients and self.local_share < 1:
            raise ValueError("local_share < 1 needs at least one remote recipient")
        return self

    @property
    def mode(self) -> Literal["closed", "open"]:
        """``open`` when a rate is set, else ``closed``."""
        return "closed" if self.rate_msgs_per_s is None else "open"

    @property
    def message_budget(self) -> int | None:
        """Messages to count after warm-up, or None when only the duration bounds the run."""
        if self.messages is not None:
            return self.messages
        return None if self.duration_s is not None else DEFAULT_MESSAGES

    @property
    def time_limit_s(self) -> float:
        """Seconds of measurement after which the run stops whatever its count."""
        return self.duration_s if self.duration_s is not None else MAX_DURATION_S

    @property
    def key_phase(self) -> str:
        """The phase whose latency matters: SMTP end of DATA to 250, POP3 RETR, IMAP FETCH."""
        return {"smtp": "data", "pop3": "retr", "imap": "fetch"}[self.protocol]

    def share(self, index: int, workers: int) -> Workload:
        """The part of this workload that worker ``index`` of ``workers`` runs."""

        def split(total: int) -> int:
            return total // workers + (1 if index < total % workers else 0)

        return self.model_copy(
            update={
                "workers": 1,
                "concurrency": max(1, split(self.concurrency)),
                "messages": None if self.messages is None else max(1, split(self.messages)),
                "rate_msgs_per_s": (
                    None if self.rate_msgs_per_s is None else self.rate_msgs_per_s / workers
                ),
                "max_in_flight": max(1, split(self.max_in_flight)),
                "seed": None if self.seed is None else self.seed * 1000 + index,
            }
        )


def mix_sizes_kb(size_kb: float, mix: SizeMix) -> list[float]:
    """The equally likely message sizes in KB: ``[size_kb]``, or the realistic mix.

    The realistic mix is a log-normal (sigma :data:`MIX_SIGMA`) cut into
    :data:`MIX_BUCKETS` equally likely sizes at the bucket mid-quantiles, scaled so that
    their mean is exactly ``size_kb`` (most messages smaller, a long tail of big ones).
    """
    if mix == "fixed":
        return [size_kb]
    dist = statistics.NormalDist(0.0, MIX_SIGMA)
    raw = [math.exp(dist.inv_cdf((i + 0.5) / MIX_BUCKETS)) for i in range(MIX_BUCKETS)]
    scale = size_kb / (sum(raw) / len(raw))
    return [r * scale for r in raw]


class OutgoingMessage:
    """One message ready for the wire: envelope lines and the DATA payload."""

    __slots__ = ("bench_id", "data", "rcpt_lines", "size_bytes")

    def __init__(self, bench_id: str, data: bytes, rcpt_lines: list[bytes], size: int) -> None:
        self.bench_id = bench_id
        self.data = data  # headers + body + b".\r\n"
        self.rcpt_lines = rcpt_lines  # b"RCPT TO:<x>\r\n" each
        self.size_bytes = size  # message size without the terminator


class MessageFactory:
    """Builds the messages of one worker; bodies are built once per size and reused."""

    def __init__(self, workload: Workload, run_id: str, worker: int = 0) -> None:
        self.workload = workload
        self.mail_line = f"MAIL FROM:<{workload.sender}>\r\n".encode()
        self._prefix = f"{run_id}.{worker}."
        self._seq = 0
        self._rng = random.Random(None if workload.seed is None else workload.seed + 7)
        self._local = [f"RCPT TO:<{a}>\r\n".encode() for a in workload.local_recipients]
        self._remote = [f"RCPT TO:<{a}>\r\n".encode() for a in workload.remote_recipients]
        self._from = f"From: <{workload.sender}>\r\n".encode()
        sizes = mix_sizes_kb(workload.size_kb, workload.size_mix)
        typical_head = len(self._head(f"{self._prefix}{0:08d}"))
        self._bodies = [_filler(max(0, round(kb * 1024) - typical_head)) for kb in sizes]

    def _head(self, bench_id: str) -> bytes:
        return (
            self._from
            + b"To: undisclosed-recipients:;\r\n"
            + f"Subject: mailplan bench {bench_id}\r\n"
            f"Message-ID: <{bench_id}@bench.mailplan.test>\r\n"
            f"X-Mailplan-Bench-Id: {bench_id}\r\n".encode()
            + b"Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        )

    def next(self) -> OutgoingMessage:
        """The next message, with a fresh unique id."""
        self._seq += 1
        bench_id = f"{self._prefix}{self._seq:08d}"  # fixed width: every message the same size
        n = len(self._bodies)
        body = self._bodies[self._rng.randrange(n) if n > 1 else 0]
        head = self._head(bench_id)
        return OutgoingMessage(
            bench_id, head + body + b".\r\n", self._recipients(), len(head) + len(body)
        )

    def _recipients(self) -> list[bytes]:
        wl = self.workload
        out = []
        for _ in range(wl.recipients_per_message):
            local = wl.local_share >= 1 or (
                wl.local_share > 0 and self._rng.random() < wl.local_share
            )
            pool = self._local if local else self._remote
            out.append(pool[self._rng.randrange(len(pool))] if len(pool) > 1 else pool[0])
        return out


def _filler(n: int) -> bytes:
    """``n`` bytes (at least one line) of CRLF-terminated text; no line starts with a dot."""
    line = (b"mailplan load benchmark filler text " * 3)[:_LINE] + b"\r\n"
    full, rest = divmod(n, len(line))
    tail = b"x" * (rest - 2) + b"\r\n" if rest >= 3 else b""
    return line * full + tail if full or tail else line


def workload_from_scenario(scenario: Scenario, **overrides: object) -> Workload:
    """A workload shaped like the scenario's mail: the realistic size mix around
    ``avg_message_kb`` and the share of recipients that are local.

    Local share = 1 - sent x outbound_share / (sent + received): inbound mail and the
    internal part of sent mail are delivered locally, the rest is relayed.
    """
    org = scenario.organization
    moved = org.messages_sent_per_user_day + org.messages_received_per_user_day
    outbound = org.messages_sent_per_user_day * org.outbound_share
    local_share = 1.0 - outbound / moved if moved > 0 else 1.0
    data: dict[str, object] = {
        "size_kb": org.avg_message_kb,
        "size_mix": "realistic",
        "local_share": round(local_share, 4),
    }
    data.update(overrides)
    return Workload.model_validate(data)


def flagged_workload(flags: dict[str, str], **fields: object) -> Workload:
    """A workload from the given fields (None ones left at their defaults); BenchmarkError
    with one line per problem, each naming the field's flag: from ``flags`` (``--rate``),
    else ``--field-name`` (``messages_per_session``: ``--messages-per-session``)."""
    clean = {k: v for k, v in fields.items() if v is not None}
    try:
        return Workload.model_validate(clean)
    except ValidationError as exc:
        lines = []
        for e in exc.errors():
            field = str(e["loc"][0]) if e["loc"] else "workload"
            flag = flags.get(field, "--" + field.replace("_", "-"))
            lines.append(f"{flag}: {e['msg']}")
        raise BenchmarkError(lines) from None
