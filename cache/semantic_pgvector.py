"""PostgreSQL + pgvector semantic index, shared by every gateway replica.

One table; the partition (scope digest, context hash) is two indexed columns that every query
filters on, so tenants never meet. An HNSW index (cosine) serves large partitions; pgvector 0.8's
iterative index scan keeps filtered searches complete. Expired rows are never returned and are
deleted by `purge_expired()` (a periodic job's work).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from cache.entry import CachedResponse
from cache.semantic_index import Partition, SemanticCandidate, as_unit_vector

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,50}$")


@dataclass(frozen=True)
class PgvectorSemanticConfig:
    url: str
    dim: int
    table: str = "tm_semantic_cache"
    default_ttl_s: float = 3600.0
    ef_search: int = 64
    connect_timeout_s: int = 5

    def __post_init__(self) -> None:
        if not _IDENT.match(self.table):
            raise ValueError(f"table name {self.table!r} must be a lower-case SQL identifier")
        if self.dim < 1 or self.default_ttl_s <= 0:
            raise ValueError("dim and default_ttl_s must be positive")


def _libpq_url(url: str) -> str:
    """Accept SQLAlchemy-style URLs (postgresql+psycopg://) as well as plain libpq ones."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


class PgvectorSemanticIndex:
    blocking = True

    def __init__(self, config: PgvectorSemanticConfig):
        self.config = config
        self.dim = config.dim
        self._lock = threading.Lock()
        self._conn = psycopg.connect(_libpq_url(config.url), autocommit=True, connect_timeout=config.connect_timeout_s)
        self._conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(self._conn)
        self._create_schema()
        self._conn.execute(f"SET hnsw.ef_search = {int(config.ef_search)}")
        self._conn.execute("SET hnsw.iterative_scan = strict_order")

    def _create_schema(self) -> None:
        t = self.config.table
        self._conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {t} (
                id BIGSERIAL PRIMARY KEY,
                scope TEXT NOT NULL,
                context TEXT NOT NULL,
                question TEXT NOT NULL,
                embedding vector({self.dim}) NOT NULL,
                response BYTEA NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                expires_at TIMESTAMPTZ NOT NULL)"""
        )
        self._conn.execute(f"CREATE INDEX IF NOT EXISTS {t}_partition ON {t} (scope, context)")
        self._conn.execute(f"CREATE INDEX IF NOT EXISTS {t}_hnsw ON {t} USING hnsw (embedding vector_cosine_ops)")
        self._conn.execute(f"CREATE INDEX IF NOT EXISTS {t}_expires ON {t} (expires_at)")
        row = self._conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attname = 'embedding'",
            (t,),
        ).fetchone()
        if row is None or row[0] != f"vector({self.dim})":
            raise ValueError(f"table {t} holds embeddings of type {row[0] if row else None}, expected vector({self.dim})")

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute(f"SELECT count(*) FROM {self.config.table} WHERE expires_at > now()").fetchone()[0])

    def add(
        self, partition: Partition, question: str, vector: np.ndarray, response: CachedResponse, ttl_s: float | None = None
    ) -> str:
        ttl = self.config.default_ttl_s if ttl_s is None else ttl_s
        if ttl <= 0:
            raise ValueError("ttl_s must be positive")
        unit = as_unit_vector(vector, self.dim)
        with self._lock:
            row = self._conn.execute(
                f"INSERT INTO {self.config.table} (scope, context, question, embedding, response, expires_at) "
                "VALUES (%s, %s, %s, %s, %s, now() + make_interval(secs => %s)) RETURNING id",
                (partition.scope, partition.context, question, unit, response.to_bytes(), float(ttl)),
            ).fetchone()
        return str(row[0])

    def add_many(
        self, partition: Partition, questions: list[str], vectors: np.ndarray, responses: list[CachedResponse], ttl_s: float | None = None
    ) -> None:
        """Bulk insert into one partition (warm-up, benchmarks) with COPY."""
        ttl = self.config.default_ttl_s if ttl_s is None else ttl_s
        if not len(questions) == len(responses) == len(vectors):
            raise ValueError("questions, vectors and responses must have the same length")
        t = self.config.table
        with self._lock, self._conn.transaction():
            expires = self._conn.execute("SELECT now() + make_interval(secs => %s)", (float(ttl),)).fetchone()[0]
            with self._conn.cursor().copy(
                f"COPY {t} (scope, context, question, embedding, response, expires_at) FROM STDIN WITH (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["text", "text", "text", "vector", "bytea", "timestamptz"])
                for q, v, r in zip(questions, vectors, responses, strict=True):
                    copy.write_row((partition.scope, partition.context, q, as_unit_vector(v, self.dim), r.to_bytes(), expires))

    def search(self, partition: Partition, vector: np.ndarray, k: int = 4) -> list[SemanticCandidate]:
        if k < 1:
            raise ValueError("k must be positive")
        unit = as_unit_vector(vector, self.dim)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT id, scope, context, question, response, embedding <=> %(v)s AS distance "
                f"FROM {self.config.table} "
                "WHERE scope = %(s)s AND context = %(c)s AND expires_at > now() "
                "ORDER BY embedding <=> %(v)s LIMIT %(k)s",
                {"v": unit, "s": partition.scope, "c": partition.context, "k": k},
            ).fetchall()
        return [
            SemanticCandidate(Partition(scope, context), question, 1.0 - float(distance), CachedResponse.from_bytes(bytes(resp)), str(i))
            for i, scope, context, question, resp, distance in rows
        ]

    def delete(self, partition: Partition, entry_id: str) -> None:
        with self._lock:
            self._conn.execute(
                f"DELETE FROM {self.config.table} WHERE id = %s AND scope = %s AND context = %s",
                (int(entry_id), partition.scope, partition.context),
            )

    def purge_expired(self) -> int:
        with self._lock:
            return self._conn.execute(f"DELETE FROM {self.config.table} WHERE expires_at <= now()").rowcount

    def clear(self) -> None:
        with self._lock:
            self._conn.execute(f"TRUNCATE {self.config.table}")

    def close(self) -> None:
        self._conn.close()
