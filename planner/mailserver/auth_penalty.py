"""One auth failure penalty per client address, shared by SMTP AUTH and POP3 (and IMAP).

A failed login from an address is answered after a delay that doubles with each failure
from that address (``base_delay_s``, 2x, ... up to ``max_delay_s``), as Dovecot's auth
penalty does (2 s doubling up to 15 s per IP). Two rules make it hold across sessions:

- the answers to failures from one address are *queued*: each is due one delay after
  the previous one, so N sessions guessing in parallel are answered one after the other,
  not N at a time;
- any attempt from an address with a failure still pending waits until that answer is
  due before its credentials are checked, so a client that drops a slow session and
  opens a new one gains nothing, and a right password is not answered early (no timing
  oracle for the guesses in flight).

So an address gets about one guess per ``max_delay_s``, however many sessions it opens.
An address is forgotten ``window_s`` after its last answer was due. Per server process:
the protocols of one ``mailplan serve`` worker share one instance; each worker has its own.

Pure bookkeeping, no sleeping: callers ``await asyncio.sleep(...)`` the seconds returned.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["AuthPenalty"]


@dataclass
class _Record:
    failures: int
    due: float
    """Clock time the answer to the latest failure is due."""


class AuthPenalty:
    """Failed logins per client address and the delays they earn."""

    def __init__(
        self,
        base_delay_s: float = 1.0,
        max_delay_s: float = 15.0,
        *,
        window_s: float = 300.0,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.window_s = window_s
        self.max_addresses = max_addresses
        self.clock = clock
        self._records: dict[str, _Record] = {}

    def delay_s(self, failures: int) -> float:
        """The delay the ``failures``-th failure earns: base, doubled each time, capped."""
        if failures <= 0:
            return 0.0
        return float(min(self.base_delay_s * 2 ** min(failures - 1, 64), self.max_delay_s))

    def _record(self, address: str, now: float) -> _Record | None:
        rec = self._records.get(address)
        if rec is not None and now - rec.due > self.window_s:
            del self._records[address]
            return None
        return rec

    def before_attempt(self, address: str) -> float:
        """Seconds a login attempt from ``address`` waits before its credentials are checked."""
        now = self.clock()
        rec = self._record(address, now)
        return max(0.0, rec.due - now) if rec is not None else 0.0

    def failed(self, address: str) -> float:
        """Record a failed login from ``address``; seconds to wait before answering it."""
        now = self.clock()
        rec = self._record(address, now)
        if rec is None:
            if len(self._records) >= self.max_addresses:  # forget the oldest half
                oldest = sorted(self._records, key=lambda a: self._records[a].due)
                for old in oldest[: len(oldest) // 2 + 1]:
                    del self._records[old]
            rec = self._records[address] = _Record(0, now)
        rec.failures += 1
        rec.due = max(rec.due, now) + self.delay_s(rec.failures)
        return rec.due - now
