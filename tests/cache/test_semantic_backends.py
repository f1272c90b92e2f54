"""One suite, run against every semantic backend (in-process usearch and PostgreSQL + pgvector)."""

import time
import uuid

import numpy as np
import pytest
from tests_cache_helpers import TEST_DIM, answer, unit

from cache.entry import CachedResponse
from cache.semantic_index import Partition

A = Partition("scope-tenant-a", "ctx-1")
B = Partition("scope-tenant-b", "ctx-1")
A_OTHER_CONTEXT = Partition("scope-tenant-a", "ctx-2")


def test_nearest_first_with_cosine_similarity(semantic_index):
    base = unit(1)
    near = base + 0.05 * unit(2)
    semantic_index.add(A, "far", unit(3), answer("far"))
    semantic_index.add(A, "near", near, answer("near"))
    found = semantic_index.search(A, base, k=2)
    assert [c.question for c in found] == ["near", "far"]
    expected = float(base @ (near / np.linalg.norm(near)))
    assert found[0].similarity == pytest.approx(expected, abs=2e-3)  # the in-process index stores f16
    assert found[0].response.body["choices"][0]["message"]["content"] == "near"
    assert found[0].partition == A


def test_tenants_never_see_each_other(semantic_index):
    v = unit(4)
    semantic_index.add(A, "tenant a question", v, answer("secret of a"))
    assert semantic_index.search(B, v, k=4) == []
    semantic_index.add(B, "tenant b question", v, answer("secret of b"))
    assert [c.response.body["choices"][0]["message"]["content"] for c in semantic_index.search(B, v, k=4)] == ["secret of b"]
    assert [c.partition for c in semantic_index.search(A, v, k=4)] == [A]


def test_context_is_part_of_the_partition(semantic_index):
    v = unit(5)
    semantic_index.add(A, "q", v, answer("with context 1"))
    assert semantic_index.search(A_OTHER_CONTEXT, v, k=4) == []


def test_ttl_hides_expired_entries(semantic_index):
    v = unit(6)
    semantic_index.add(A, "short-lived", v, answer("x"), ttl_s=0.2)
    semantic_index.add(A, "long-lived", v, answer("y"), ttl_s=60)
    time.sleep(0.35)
    assert [c.question for c in semantic_index.search(A, v, k=4)] == ["long-lived"]


def test_delete_and_clear(semantic_index):
    v = unit(7)
    entry_id = semantic_index.add(A, "q", v, answer("x"))
    semantic_index.delete(B, entry_id)  # wrong partition: nothing happens
    assert len(semantic_index.search(A, v)) == 1
    semantic_index.delete(A, entry_id)
    assert semantic_index.search(A, v) == []
    semantic_index.add(A, "q2", v, answer("x"))
    semantic_index.clear()
    assert semantic_index.search(A, v) == [] and len(semantic_index) == 0


def test_bulk_add_then_search_many(semantic_index):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, TEST_DIM)).astype(np.float32)
    semantic_index.add_many(A, [f"q{i}" for i in range(300)], vectors, [answer(str(i)) for i in range(300)])
    assert len(semantic_index) == 300
    for i in (0, 137, 299):
        best = semantic_index.search(A, vectors[i], k=1)[0]
        assert best.question == f"q{i}" and best.similarity == pytest.approx(1.0, abs=2e-3)


@pytest.mark.parametrize("bad", [np.zeros(TEST_DIM), np.ones(TEST_DIM + 1), np.full(TEST_DIM, np.nan)])
def test_bad_vectors_are_clear_errors(semantic_index, bad):
    with pytest.raises(ValueError):
        semantic_index.add(A, "q", bad, answer("x"))
    with pytest.raises(ValueError):
        semantic_index.search(A, bad)


def test_stored_response_round_trips_exactly(semantic_index):
    body = answer("exact body").body
    semantic_index.add(A, "q", unit(8), CachedResponse(body, 0.123, "dep-1", 42.0))
    got = semantic_index.search(A, unit(8))[0].response
    assert got == CachedResponse(body, 0.123, "dep-1", 42.0)


def test_verify_vectors_round_trip(index_factory):
    index = index_factory(dim=TEST_DIM, verify_dim=8)
    verify = np.arange(1, 9, dtype=np.float32)
    index.add(A, "q", unit(9), answer("x"), verify_vector=verify)
    index.add_many(A, ["r"], unit(10)[None, :], [answer("y")], verify_vectors=-verify[None, :])
    found = {c.question: c.verify_vector for c in index.search(A, unit(9), k=2)}
    expected = verify / np.linalg.norm(verify)
    assert found["q"] == pytest.approx(expected, abs=2e-3)  # kept in half precision
    assert found["r"] == pytest.approx(-expected, abs=2e-3)


def test_verify_vectors_are_required_exactly_when_configured(index_factory):
    with_verify = index_factory(dim=TEST_DIM, verify_dim=8)
    with pytest.raises(ValueError, match="needs a verify vector"):
        with_verify.add(A, "q", unit(1), answer("x"))
    with pytest.raises(ValueError, match="verify vector has dimension"):
        with_verify.add(A, "q", unit(1), answer("x"), verify_vector=np.ones(9))
    without = index_factory(dim=TEST_DIM)
    with pytest.raises(ValueError, match="keeps no verify vectors"):
        without.add(A, "q", unit(1), answer("x"), verify_vector=np.ones(8))
    assert without.search(A, unit(1)) == []


def test_pgvector_refuses_a_table_of_another_shape(pgvector_url):
    from cache.semantic_pgvector import PgvectorSemanticConfig, PgvectorSemanticIndex

    table = f"tm_sc_shape_{uuid.uuid4().hex[:8]}"
    first = PgvectorSemanticIndex(PgvectorSemanticConfig(url=pgvector_url, dim=TEST_DIM, table=table))
    try:
        with pytest.raises(ValueError, match="use another table name"):
            PgvectorSemanticIndex(PgvectorSemanticConfig(url=pgvector_url, dim=TEST_DIM, verify_dim=8, table=table))
    finally:
        first._conn.execute(f"DROP TABLE {table}")
        first.close()


def test_pgvector_workers_starting_together_create_the_table_once(pgvector_url):
    # `serve --workers N`: every worker opens the index at once on a fresh database.
    from concurrent.futures import ThreadPoolExecutor

    from cache.semantic_pgvector import PgvectorSemanticConfig, PgvectorSemanticIndex

    table = f"tm_sc_race_{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(6) as pool:
        indexes = list(pool.map(lambda _: PgvectorSemanticIndex(PgvectorSemanticConfig(url=pgvector_url, dim=TEST_DIM, table=table)), range(6)))
    try:
        indexes[0].add(A, "q", unit(1), answer("x"))
        assert [len(i.search(A, unit(1))) for i in indexes] == [1] * 6
    finally:
        indexes[0]._conn.execute(f"DROP TABLE {table}")
        for index in indexes:
            index.close()


def test_pgvector_purge_deletes_expired_rows_and_keeps_the_newest(pgvector_url):
    from cache.semantic_pgvector import PgvectorSemanticConfig, PgvectorSemanticIndex, purge_table

    table = f"tm_sc_purge_{uuid.uuid4().hex[:8]}"
    index = PgvectorSemanticIndex(PgvectorSemanticConfig(url=pgvector_url, dim=TEST_DIM, table=table, max_entries=3))
    try:
        index.add(A, "expiring", unit(1), answer("x"), ttl_s=0.2)
        for i in range(5):
            index.add(A, f"kept {i}", unit(2 + i), answer(str(i)), ttl_s=60)
        time.sleep(0.35)
        assert index.purge() == 1 + 2  # the expired row, then the two oldest of the five live ones
        count = index._conn.execute(f"SELECT question FROM {table} ORDER BY id").fetchall()
        assert [q for (q,) in count] == ["kept 2", "kept 3", "kept 4"]
        assert purge_table(pgvector_url, table, max_entries=1) == 2  # what the periodic task runs
        assert purge_table(pgvector_url, "tm_sc_no_such_table") == 0
    finally:
        index._conn.execute(f"DROP TABLE {table}")
        index.close()


def test_pgvector_reconnects_after_the_server_drops_its_connection(pgvector_url):
    import psycopg

    from cache.semantic_pgvector import PgvectorSemanticConfig, PgvectorSemanticIndex, _libpq_url

    table = f"tm_sc_drop_{uuid.uuid4().hex[:8]}"
    index = PgvectorSemanticIndex(PgvectorSemanticConfig(url=pgvector_url, dim=TEST_DIM, table=table))
    try:
        index.add(A, "before", unit(1), answer("kept"))
        pid = index._conn.info.backend_pid
        with psycopg.connect(_libpq_url(pgvector_url), autocommit=True) as admin:  # a restart or failover, as the gateway sees it
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(psycopg.OperationalError):
            index.search(A, unit(1))  # this call finds it gone: the cache layer bypasses it
        assert [c.question for c in index.search(A, unit(1))] == ["before"]  # the next one reconnects
        assert index._conn.info.backend_pid != pid
    finally:
        index._conn.execute(f"DROP TABLE {table}")
        index.close()
