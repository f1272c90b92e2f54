"""bigint_total(column): SUM over a BIGINT column that stops at the largest BIGINT instead of failing.

Each ledger row fits a 64-bit column, but a few rows of absurd upstream usage can add up past it.
SQLite's SUM then raises "integer overflow" (every page and counter rebuild over those rows would
fail), and PostgreSQL's numeric sum no longer fits the BIGINT columns rollups write it to. Spend
figures past 2**63 - 1 nanodollars ($9.2 billion) mean nothing, so they stop there; below it the
total is exact on both backends. Like COALESCE(SUM(x), 0), it is 0 over no rows.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

BIGINT_MAX = 2**63 - 1
SQLITE_AGGREGATE = "tokenmill_bigint_total"


class bigint_total(FunctionElement):  # noqa: N801 - reads like the SQL function it compiles to
    type = sa.BigInteger()
    inherit_cache = True
    name = "bigint_total"


@compiles(bigint_total)
def _on_postgres(element: bigint_total, compiler: Any, **kw: Any) -> str:
    return f"CAST(LEAST(COALESCE(SUM({compiler.process(element.clauses, **kw)}), 0), {BIGINT_MAX}) AS BIGINT)"


@compiles(bigint_total, "sqlite")
def _on_sqlite(element: bigint_total, compiler: Any, **kw: Any) -> str:
    # Over no rows SQLite never builds the aggregate and answers NULL.
    return f"COALESCE({SQLITE_AGGREGATE}({compiler.process(element.clauses, **kw)}), 0)"


class SqliteBigintTotal:
    """The SQLite side, summed in Python integers (registered on every connection by billing.db)."""

    def __init__(self) -> None:
        self.total = 0

    def step(self, value: int | float | None) -> None:
        if value is not None:
            self.total += int(value)

    def finalize(self) -> int:
        return min(self.total, BIGINT_MAX)


def tokens_total(prompt: sa.ColumnElement[int], completion: sa.ColumnElement[int]) -> bigint_total:
    """bigint_total of prompt + completion tokens per row, added as numeric: two huge BIGINTs must not overflow."""
    return bigint_total(sa.cast(prompt, sa.Numeric) + completion)
