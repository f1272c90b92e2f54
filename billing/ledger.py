"""The append-only usage ledger: batched inserts, idempotent by request id, and a disk spool.

Rows that cannot reach the database are appended to a JSON-lines spool file and replayed
later; the unique request id makes a replay that overlaps an earlier insert harmless.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from billing.models import UsageRecord

log = logging.getLogger(__name__)

_TABLE = UsageRecord.__table__
_COLUMNS = [c.name for c in _TABLE.columns if c.name != "id"]


def _insert_ignoring_duplicates(engine: Engine) -> sa.Insert:
    if engine.dialect.name == "postgresql":
        return postgresql.insert(_TABLE).on_conflict_do_nothing(index_elements=["request_id"])
    if engine.dialect.name == "sqlite":
        return sqlite.insert(_TABLE).on_conflict_do_nothing(index_elements=["request_id"])
    return sa.insert(_TABLE)


# The ledger writer's hot statement, in each driver's own parameter style. Going straight to the
# driver skips SQLAlchemy's per-row bind processing, which cost more than the insert itself.
_DRIVER_INSERT = {
    "sqlite": f"INSERT INTO usage_records ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)}) "
    "ON CONFLICT (request_id) DO NOTHING",
    "postgresql": f"INSERT INTO usage_records ({', '.join(_COLUMNS)}) VALUES ({', '.join('%s' for _ in _COLUMNS)}) "
    "ON CONFLICT (request_id) DO NOTHING",
}
_CREATED_AT = _COLUMNS.index("created_at")


def _sqlite_time(value: datetime) -> str:
    # What SQLAlchemy's SQLite DateTime stores for sqlmodel's UTCDateTime: naive UTC text.
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def insert_usage(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (dicts of UsageRecord columns) in one transaction; duplicates are skipped."""
    if not rows:
        return
    statement = _DRIVER_INSERT.get(engine.dialect.name)
    if statement is None:
        with engine.begin() as conn:
            conn.execute(_insert_ignoring_duplicates(engine), list(rows))
        return
    # .get: a row spooled by an older version lacks the columns added since (nullable ones).
    tuples = [tuple(_storable(row.get(c)) for c in _COLUMNS) for row in rows]
    if engine.dialect.name == "sqlite":
        tuples = [(*t[:_CREATED_AT], _sqlite_time(t[_CREATED_AT]), *t[_CREATED_AT + 1 :]) for t in tuples]
    with engine.begin() as conn:
        conn.exec_driver_sql(statement, tuples)


def _storable(value: Any) -> Any:
    # PostgreSQL text cannot hold NUL, and a client can put one in a model name or run id: the row
    # must still be written (on SQLite too, so both stores keep the same text).
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


def row_from_record(record: UsageRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _COLUMNS}


class Spool:
    """A JSON-lines file of usage rows waiting for the database. Safe across processes."""

    def __init__(self, path: Path):
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, rows: Iterable[dict[str, Any]]) -> int:
        lines = [_row_to_json(row) + b"\n" for row in rows]
        with open(self.path, "ab") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write(b"".join(lines))
            fh.flush()
            os.fsync(fh.fileno())
        return len(lines)

    def pending(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    @property
    def rejected_path(self) -> Path:
        return self.path.with_name(self.path.name + ".rejected")

    def replay(self, engine: Engine, batch_size: int = 500) -> int:
        """Move spooled rows into the database; the file is emptied only after they are in. A row
        the database refuses for its content (not for being unreachable) is moved to the
        `.rejected` file beside the spool, so it cannot hold back the rows after it."""
        if not self.pending():
            return 0
        with open(self.path, "r+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            rows = [_row_from_json(line) for line in fh if line.strip()]
            rejected: list[dict[str, Any]] = []
            for start in range(0, len(rows), batch_size):
                chunk = rows[start : start + batch_size]
                try:
                    insert_usage(engine, chunk)
                except ROW_FAULTS:
                    rejected += _insert_one_by_one(engine, chunk)
            if rejected:
                log.error("the database refused %d spooled usage rows; kept in %s", len(rejected), self.rejected_path)
                Spool(self.rejected_path).append(rejected)
            fh.seek(0)
            fh.truncate()
        log.info("replayed %d spooled usage rows", len(rows) - len(rejected))
        return len(rows) - len(rejected)


# Refusals of a row's content (SQLite's driver raises a bare OverflowError for an integer past 64
# bits); an unreachable database (OperationalError) is retried instead.
VALUE_FAULTS = (sa.exc.DataError, OverflowError)  # a value beyond its column: no retry stores it
ROW_FAULTS = (*VALUE_FAULTS, sa.exc.IntegrityError, sa.exc.ProgrammingError)


def _insert_one_by_one(engine: Engine, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of a refused batch, each in its own transaction; returns those refused again."""
    refused = []
    for row in rows:
        try:
            insert_usage(engine, [row])
        except ROW_FAULTS:
            refused.append(row)
    return refused


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _row_to_json(row: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(row, default=_json_default)
    except TypeError:  # an integer past 64 bits (an upstream's absurd usage): kept exact, for the .rejected file
        return json.dumps(row, default=_json_default, separators=(",", ":")).encode()


def _row_from_json(line: bytes) -> dict[str, Any]:
    row = json.loads(line)  # not orjson: it would read an integer past 64 bits as a float
    row["created_at"] = datetime.fromisoformat(row["created_at"])
    return row
