"""PostgreSQL + pgvector semantic index, shared by every gateway replica.

One table; the partition (scope digest, context hash) is two indexed columns that every query
filters on, so tenants never meet. An HNSW index (cosine) on the search vectors serves large
partitions; pgvector 0.8's iterative index scan keeps filtered searches complete. With
`verify_dim`, each row also keeps its verify vector (a `halfvec`, returned with the candidate). Expired rows are never returned;
`purge()` deletes them and, past `max_entries`, the oldest rows (a periodic job's work:
gateway/tasks/maintenance.purge_semantic_cache, or `purge_table` from anywhere).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import numpy as np
import psycopg
from pgvector import HalfVector
from pgvector.psycopg import register_vector

from cache.entry import CachedResponse, checked_ttl
from cache.semantic_index import Partition, SemanticCandidate, as_unit_vector, checked_verify_vector

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,50}$")


@dataclass(frozen=True)
class PgvectorSemanticConfig:
    url: str
    dim: int
    table: str = "tm_semantic_cache"
    default_ttl_s: float = 3600.0
    ef_search: int = 64
    connect_timeout_s: int = 5
    verify_dim: int = 0  # dimension of the verify vectors kept with rows (0: none)
    max_entries: int | None = None  # rows kept by purge(), newest first (None: no bound)

    def __post_init__(self) -> None:
        if not _IDENT.match(self.table):
            raise ValueError(f"table name {self.table!r} must be a lower-case SQL identifier")
        if self.dim < 1 or self.default_ttl_s <= 0:
            raise ValueError("dim and default_ttl_s must be positive")
        if self.verify_dim < 0:
            raise ValueError("verify_dim must be 0 (no verify vectors) or positive")


def _purge(conn: psycopg.Connection, table: str, max_entries: int | None) -> int:
    deleted = conn.execute(f"DELETE FROM {table} WHERE expires_at <= now()").rowcount
    if max_entries is not None:
        # ids grow with insertion: the newest max_entries rows stay.
        deleted += conn.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id DESC OFFSET %s)", (max_entries,)).rowcount
    return deleted


def purge_table(url: str, table: str = PgvectorSemanticConfig.table, max_entries: int | None = None, connect_timeout_s: int = 5) -> int:
    """Delete a semantic table's expired rows and, past max_entries, its oldest ones."""
    if not _IDENT.match(table):
        raise ValueError(f"table name {table!r} must be a lower-case SQL identifier")
    with psycopg.connect(_libpq_url(url), autocommit=True, connect_timeout=connect_timeout_s) as conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]
        return _purge(conn, table, max_entries) if exists else 0


def _libpq_url(url: str) -> str:
    """Accept SQLAlchemy-style URLs (postgresql+psycopg://) as well as plain libpq ones."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


class PgvectorSemanticIndex:
    blocking = True

    def __init__(self, config: PgvectorSemanticConfig):
        self.config = config
        self.dim = config.dim
        self.verify_dim = config.verify_dim
        self._lock = threading.Lock()
        self._conn = psycopg.connect(_libpq_url(config.url), autocommit=True, connect_timeout=config.connect_timeout_s)
        try:
            # Every gateway worker runs this at start; IF NOT EXISTS does not stop two sessions
            # creating the same extension or table at once (a unique violation), so they take turns.
            with self._conn.transaction():
                self._conn.execute("SELECT pg_advisory_xact_lock(hashtext('tokenmill semantic cache schema'))")
                self._conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                register_vector(self._conn)
                self._create_schema()
            self._conn.execute(f"SET hnsw.ef_search = {int(config.ef_search)}")
            self._conn.execute("SET hnsw.iterative_scan = strict_order")
        except BaseException:
            self._conn.close()
            raise

    def _live(self) -> psycopg.Connection:
        """The connection, opened again if the server dropped it (a restart, a failover): the call
        that found it dropped failed (the cache was bypassed), the next one reconnects."""
        if self._conn.closed or self._conn.broken:
            self._conn.close()
            conn = psycopg.connect(_libpq_url(self.config.url), autocommit=True, connect_timeout=self.config.connect_timeout_s)
            try:
                register_vector(conn)
                conn.execute(f"SET hnsw.ef_search = {int(self.config.ef_search)}")
                conn.execute("SET hnsw.iterative_scan = strict_order")
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _create_schema(self) -> None:
        t = self.config.table
        verify_column = f"verify_embedding halfvec({self.verify_dim}) NOT NULL," if self.verify_dim else ""
        self._conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {t} (
                id BIGSERIAL PRIMARY KEY,
                scope TEXT NOT NULL,
                context TEXT NOT NULL,
                question TEXT NOT NULL,
                embedding vector({self.dim}) NOT NULL,
                {verify_column}
                response BYTEA NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                expires_at TIMESTAMPTZ NOT NULL)"""
        )
        self._conn.execute(f"CREATE INDEX IF NOT EXISTS {t}_partition ON {t} (scope, context)")
        self._conn.execute(f"CREATE INDEX IF NOT EXISTS {t}_hnsw ON {t} USING hnsw (embedding vector_cosine_ops)")
        self._conn.execute(f"CREATE INDEX IF NOT EXISTS {t}_expires ON {t} (expires_at)")
        columns = dict(
            self._conn.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attname IN ('embedding', 'verify_embedding') AND NOT attisdropped",
                (t,),
            ).fetchall()
        )
        expected = {"embedding": f"vector({self.dim})"} | ({"verify_embedding": f"halfvec({self.verify_dim})"} if self.verify_dim else {})
        if columns != expected:
            raise ValueError(f"table {t} holds vector columns {columns}, this configuration expects {expected}; "
                             "use another table name or drop the old table")

    def __len__(self) -> int:
        with self._lock:
            return int(self._live().execute(f"SELECT count(*) FROM {self.config.table} WHERE expires_at > now()").fetchone()[0])

    def _columns(self) -> str:
        return "scope, context, question, embedding, response, expires_at" + (", verify_embedding" if self.verify_dim else "")

    def add(
        self,
        partition: Partition,
        question: str,
        vector: np.ndarray,
        response: CachedResponse,
        ttl_s: float | None = None,
        verify_vector: np.ndarray | None = None,
    ) -> str:
        ttl = checked_ttl(ttl_s, self.config.default_ttl_s)
        unit = as_unit_vector(vector, self.dim)
        verify = checked_verify_vector(verify_vector, self.verify_dim)
        values = (partition.scope, partition.context, question, unit, response.to_bytes(), float(ttl))
        if verify is not None:
            values += (HalfVector(verify),)
        placeholders = "%s, %s, %s, %s, %s, now() + make_interval(secs => %s)" + (", %s" if verify is not None else "")
        with self._lock:
            row = self._live().execute(
                f"INSERT INTO {self.config.table} ({self._columns()}) VALUES ({placeholders}) RETURNING id", values
            ).fetchone()
        return str(row[0])

    def add_many(
        self,
        partition: Partition,
        questions: list[str],
        vectors: np.ndarray,
        responses: list[CachedResponse],
        ttl_s: float | None = None,
        verify_vectors: np.ndarray | None = None,
    ) -> None:
        """Bulk insert into one partition (warm-up, benchmarks) with COPY."""
        ttl = checked_ttl(ttl_s, self.config.default_ttl_s)
        if not len(questions) == len(responses) == len(vectors):
            raise ValueError("questions, vectors and responses must have the same length")
        verify_rows = [None] * len(questions) if verify_vectors is None else list(verify_vectors)
        if len(verify_rows) != len(questions):
            raise ValueError("verify_vectors must have one row per question")
        types = ["text", "text", "text", "vector", "bytea", "timestamptz"] + (["halfvec"] if self.verify_dim else [])
        with self._lock, self._live().transaction():
            expires = self._conn.execute("SELECT now() + make_interval(secs => %s)", (float(ttl),)).fetchone()[0]
            with self._conn.cursor().copy(f"COPY {self.config.table} ({self._columns()}) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for q, v, r, w in zip(questions, vectors, responses, verify_rows, strict=True):
                    row = (partition.scope, partition.context, q, as_unit_vector(v, self.dim), r.to_bytes(), expires)
                    verify = checked_verify_vector(w, self.verify_dim)
                    copy.write_row(row if verify is None else (*row, HalfVector(verify)))
            # Fresh statistics now, not at autovacuum's next pass: without them the planner takes a
            # bulk-loaded partition for a few rows and scans it through the btree instead of the HNSW index.
            self._conn.execute(f"ANALYZE {self.config.table}")

    def search(self, partition: Partition, vector: np.ndarray, k: int = 4) -> list[SemanticCandidate]:
        if k < 1:
            raise ValueError("k must be positive")
        unit = as_unit_vector(vector, self.dim)
        verify = "verify_embedding" if self.verify_dim else "NULL"
        with self._lock:
            rows = self._live().execute(
                f"SELECT id, scope, context, question, response, embedding <=> %(v)s AS distance, {verify} "
                f"FROM {self.config.table} "
                "WHERE scope = %(s)s AND context = %(c)s AND expires_at > now() "
                "ORDER BY embedding <=> %(v)s LIMIT %(k)s",
                {"v": unit, "s": partition.scope, "c": partition.context, "k": k},
            ).fetchall()
        return [
            SemanticCandidate(
                Partition(scope, context), question, 1.0 - float(distance), CachedResponse.from_bytes(bytes(resp)), str(i),
                None if w is None else np.asarray(w.to_numpy(), dtype=np.float32),
            )
            for i, scope, context, question, resp, distance, w in rows
        ]

    def delete(self, partition: Partition, entry_id: str) -> None:
        with self._lock:
            self._live().execute(
                f"DELETE FROM {self.config.table} WHERE id = %s AND scope = %s AND context = %s",
                (int(entry_id), partition.scope, partition.context),
            )

    def purge(self) -> int:
        """Delete expired rows and, past config.max_entries, the oldest ones; returns how many."""
        with self._lock:
            return _purge(self._live(), self.config.table, self.config.max_entries)

    def clear(self) -> None:
        with self._lock:
            self._live().execute(f"TRUNCATE {self.config.table}")

    def close(self) -> None:
        self._conn.close()
