"""The SQLite results store: every saved run, by id.

Default file: ``$MAILPLAN_BENCH_DB``, else ``$XDG_DATA_HOME/mailplan/benchmarks.sqlite``
(``~/.local/share/mailplan/benchmarks.sqlite``); ``--db PATH`` picks another. One table;
each row keeps the whole result as JSON plus a few columns for listing.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from planner.bench.result import BenchmarkResult, parse_result
from planner.errors import BenchmarkError

__all__ = ["ResultStore", "default_db_path"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    protocol TEXT NOT NULL,
    target TEXT NOT NULL,
    mode TEXT NOT NULL,
    msgs_per_s REAL NOT NULL,
    p99_ms REAL NOT NULL,
    capacity_msgs_per_s REAL,
    result_json TEXT NOT NULL
)
"""


def default_db_path() -> Path:
    """Where results go when ``--db`` is not given."""
    explicit = os.environ.get("MAILPLAN_BENCH_DB")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mailplan" / "benchmarks.sqlite"


class ResultStore:
    """Results saved in one SQLite file."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self._where = f"--db {self.path}"

    def _connect(self, *, create: bool) -> sqlite3.Connection:
        if not create and not self.path.exists():
            raise BenchmarkError(f"{self._where}: no results database (nothing saved yet)")
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10)
            conn.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise BenchmarkError(f"{self._where}: not a results database ({exc})") from None
        except OSError as exc:
            raise BenchmarkError(f"{self._where}: cannot open ({exc.strerror})") from None
        return conn

    def save(self, result: BenchmarkResult) -> BenchmarkResult:
        """Store ``result``; return it with its new ``id``."""
        conn = self._connect(create=True)
        try:
            with conn:
                cur = conn.execute(
                    "INSERT INTO results (created_at, protocol, target, mode, msgs_per_s, "
                    "p99_ms, capacity_msgs_per_s, result_json) VALUES (?, ?, ?, ?, ?, ?, ?, '')",
                    (
                        result.created_at.isoformat(),
                        result.protocol,
                        result.target,
                        result.mode,
                        result.msgs_per_s,
                        result.latency_ms.p99,
                        result.capacity_msgs_per_s,
                    ),
                )
                saved = result.model_copy(update={"id": cur.lastrowid})
                conn.execute(
                    "UPDATE results SET result_json = ? WHERE id = ?",
                    (saved.model_dump_json(), saved.id),
                )
        except sqlite3.DatabaseError as exc:
            raise BenchmarkError(f"{self._where}: cannot save ({exc})") from None
        finally:
            conn.close()
        return saved

    def get(self, result_id: int) -> BenchmarkResult:
        """The result with this id; BenchmarkError when there is none."""
        conn = self._connect(create=False)
        try:
            row = conn.execute(
                "SELECT result_json FROM results WHERE id = ?", (result_id,)
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            raise BenchmarkError(f"{self._where}: cannot read ({exc})") from None
        finally:
            conn.close()
        if row is None:
            raise BenchmarkError(f"{self._where}: no result with id {result_id}")
        return parse_result(json.loads(row[0]), name=f"result {result_id}")

    def list(self) -> list[BenchmarkResult]:
        """Every saved result, oldest first."""
        conn = self._connect(create=False)
        try:
            rows = conn.execute("SELECT id, result_json FROM results ORDER BY id").fetchall()
        except sqlite3.DatabaseError as exc:
            raise BenchmarkError(f"{self._where}: cannot read ({exc})") from None
        finally:
            conn.close()
        return [parse_result(json.loads(text), name=f"result {rid}") for rid, text in rows]
