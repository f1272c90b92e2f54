"""Calibrate the semantic cache's match rule for precision, and report it on pairs it has not seen.

    python -m cache.calibration.calibrate [--data PATH] [--seeds 20240607 1 2 3 4] [--embedding-cache DIR]

The labelled pairs (Quora Question Pairs, MeanCache's split) are split with a fixed seed into a
calibration half and a held-out half. On the calibration half a grid is scored: question-type
mode ("what" may or may not stand for "how"), the word-alignment similarity, the MiniLM threshold
for fully aligned pairs and the one for pairs with one unaligned word or a weakly aligned one
(by its vector, or as a typo; or none: refused). The
chosen setting is the most precise one that still serves at least MIN_CAL_RECALL of the
duplicates there; then the static-cosine search floor is raised as far as it goes while losing
at most MAX_FLOOR_LOSS of those served duplicates. Held-out halves and adversarial pairs (number /
negation / antonym changes, hand-written swaps) are scored with the live rule (`is_match`), on the
labels as given and on the audited labels (label_audit.json): `held_out` is the default rule,
which refuses every unaligned or weakly aligned word; `extra_word` the operator's opt-in
(cache.semantic_extra_word), which serves them at the calibrated higher cosine. Every extra seed
repeats the whole choice on its own split, to show how stable the figures are. The first seed's
parameters are written to cache/calibration/semantic_params.json, which the live cache loads.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from cache.calibration.adversarial import adversarial_pairs
from cache.calibration.labels import apply_audit, load_audit
from cache.semantic_match import PARAMS_FILE, MatchParams, is_match, lexical_verdict

SEED = 20240607
SEEDS = (SEED, 1, 2, 3, 4)
VERIFY_KIND, SEARCH_KIND = "minilm", "static"
MIN_CAL_RECALL = 0.15  # the goal is 0.15 on held-out data (the opt-in rule; the strict default cannot reach it)
MAX_FLOOR_LOSS = 0.01  # share of served calibration duplicates the search floor may cost
ADVERSARIAL_WORD_SAMPLE = 1500  # held-out questions given a negation and an antonym swap
# MiniLM thresholds start at 0.85: below that the lexical checks alone would decide, and the
# calibration surface is flat there (held-out precision moved < 0.003 when 0.80-0.85 was allowed).
THRESHOLDS = tuple(round(0.85 + 0.005 * i, 3) for i in range(30))  # 0.850 .. 0.995
WORD_SIMILARITIES = (0.7,)
SEARCH_FLOORS = tuple(round(0.9 - 0.05 * i, 2) for i in range(9))  # 0.90 .. 0.50, tried highest first
DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "cache" / "qqp_pairs_val.csv"
OUTPUT = Path(__file__).resolve().parent / PARAMS_FILE


@dataclass(frozen=True)
class Pair:
    cached: str
    new: str
    duplicate: bool


@dataclass(frozen=True)
class Score:
    hits: int
    true_hits: int
    false_hits: int
    duplicates: int

    @property
    def precision(self) -> float:
        return self.true_hits / self.hits if self.hits else 1.0

    @property
    def recall(self) -> float:
        return self.true_hits / self.duplicates if self.duplicates else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4), "hits": self.hits,
                "false_hits": self.false_hits, "duplicates": self.duplicates}


def load_pairs(path: Path) -> list[Pair]:
    with path.open(newline="") as f:
        return [Pair(r["question1"], r["question2"], r["is_duplicate"] == "1") for r in csv.DictReader(f)]


def split(pairs: list[Pair], seed: int = SEED) -> tuple[list[Pair], list[Pair]]:
    """Fixed-seed 50/50 split into (calibration, held-out)."""
    order = np.random.default_rng(seed).permutation(len(pairs))
    half = len(pairs) // 2
    return [pairs[i] for i in order[:half]], [pairs[i] for i in order[half:]]


def embed_all(
    texts: list[str], kind: str, cache_dir: Path | None, known: dict[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """Embed each distinct text once with the shared embedder; texts in `known` are reused, and the
    result can be kept on disk between runs (`cache_dir`)."""
    from local_engine.embedder import get_embedder

    embedder = get_embedder(kind)
    known = known or {}
    unique = sorted(set(texts) - known.keys())
    digest = hashlib.sha256(("\n".join(unique) + embedder.name).encode()).hexdigest()[:16]
    cache_file = cache_dir / f"{kind}-{digest}.npy" if cache_dir else None
    if not unique:
        vectors = np.zeros((0, embedder.dim), np.float32)
    elif cache_file is not None and cache_file.exists():
        vectors = np.load(cache_file)
    else:
        started = time.perf_counter()
        vectors = np.concatenate([embedder.embed(unique[i : i + 256]) for i in range(0, len(unique), 256)])
        print(f"embedded {len(unique)} texts with {embedder.name} in {time.perf_counter() - started:.0f} s", flush=True)
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            np.save(cache_file, vectors)
    return {**known, **dict(zip(unique, vectors, strict=True))}


def cosines(pairs: list[Pair], vectors: dict[str, np.ndarray]) -> np.ndarray:
    return np.array([float(vectors[p.cached] @ vectors[p.new]) for p in pairs])


def score(pairs: list[Pair], cos: np.ndarray, params: MatchParams, search_cos: np.ndarray | None = None) -> Score:
    """The live rule (`is_match`) on every pair: what the cache would serve."""
    hits = true_hits = 0
    for i, (pair, c) in enumerate(zip(pairs, cos, strict=True)):
        s = None if search_cos is None else float(search_cos[i])
        if is_match(pair.cached, pair.new, float(c), params, s):
            hits += 1
            true_hits += int(pair.duplicate)
    return Score(hits, true_hits, hits - true_hits, sum(p.duplicate for p in pairs))


def _lexical_table(pairs: list[Pair], params: MatchParams) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: passes the lexical stage (allowing one unaligned word), and needs the stricter
    threshold (an unaligned word, or a weakly aligned one: by its vector or as a typo)."""
    probe = replace(params, threshold=-1.0, unaligned_threshold=-1.0)
    verdicts = [lexical_verdict(p.cached, p.new, probe) for p in pairs]
    return np.array([v.passed for v in verdicts]), np.array([v.strict for v in verdicts])


def choose(pairs: list[Pair], cos: np.ndarray, search_cos: np.ndarray, base: MatchParams) -> tuple[MatchParams, Score]:
    """Most precise setting with calibration recall >= MIN_CAL_RECALL (ties: higher recall), then the
    highest search floor that costs at most MAX_FLOOR_LOSS of its served duplicates."""
    labels = np.array([p.duplicate for p in pairs])
    duplicates = int(labels.sum())
    best: tuple[tuple[float, float], MatchParams, np.ndarray] | None = None
    # Order, persons and the guard are always on: they are safety rules, not tuning knobs.
    for what_is_how in (True, False):
        for word_similarity in WORD_SIMILARITIES:
            lexical = replace(base, what_is_how=what_is_how, word_similarity=word_similarity)
            passed, strict = _lexical_table(pairs, lexical)
            aligned, one_word = passed & ~strict, passed & strict
            for t0 in THRESHOLDS:
                served_aligned = aligned & (cos >= t0)
                if (served_aligned & labels).sum() + (one_word & labels).sum() < MIN_CAL_RECALL * duplicates:
                    break  # higher thresholds only lose recall
                for t1 in (None, *(t for t in THRESHOLDS if t > t0)):
                    served = served_aligned if t1 is None else served_aligned | (one_word & (cos >= t1))
                    hits, true_hits = int(served.sum()), int((served & labels).sum())
                    if true_hits < MIN_CAL_RECALL * duplicates:
                        continue
                    key = (true_hits / hits, true_hits / duplicates)
                    if best is None or key > best[0]:
                        best = (key, replace(lexical, threshold=t0, unaligned_threshold=t1), served)
    if best is None:
        raise RuntimeError(f"no setting reaches recall {MIN_CAL_RECALL} on the calibration part")
    _, params, served = best
    kept_true = int((served & labels).sum())
    for floor in SEARCH_FLOORS:
        if int((served & labels & (search_cos >= floor)).sum()) >= (1 - MAX_FLOOR_LOSS) * kept_true:
            params = replace(params, search_floor=floor)
            break
    return params, score(pairs, cos, params, search_cos)


def adversarial_report(
    questions: list[str], params: MatchParams, cache_dir: Path | None, verify: dict[str, np.ndarray], search: dict[str, np.ndarray]
) -> dict:
    pairs = adversarial_pairs(sorted(set(questions)), word_sample=ADVERSARIAL_WORD_SAMPLE, seed=SEED)
    texts = [t for _, a, b in pairs for t in (a, b)]
    verify = embed_all(texts, VERIFY_KIND, cache_dir, verify)
    search = embed_all(texts, SEARCH_KIND, cache_dir, search)
    report: dict[str, dict[str, int]] = {}
    for adv_kind, a, b in pairs:
        c = float(verify[a] @ verify[b])
        row = report.setdefault(adv_kind, {"pairs": 0, "above_threshold": 0, "hits": 0})
        row["pairs"] += 1
        row["above_threshold"] += int(c >= params.threshold)
        row["hits"] += int(is_match(a, b, c, params, float(search[a] @ search[b])))
    return report


def calibrate_seed(seed: int, pairs: list[Pair], verify: dict[str, np.ndarray], search: dict[str, np.ndarray],
                   audited: list[Pair]) -> dict:
    cal, held = split(pairs, seed)
    _, held_audited = split(audited, seed)
    base = MatchParams(threshold=-1.0, embedder=VERIFY_KIND, dim=len(next(iter(verify.values()))),
                       search_embedder=SEARCH_KIND, search_dim=len(next(iter(search.values()))))
    params, cal_score = choose(cal, cosines(cal, verify), cosines(cal, search), base)
    held_cos, held_search = cosines(held, verify), cosines(held, search)
    cosine_only = MatchParams(params.threshold, False, False, False, check_alignment=False)
    live = replace(params, unaligned_threshold=None)  # what MatchParams.load() serves by default
    return {
        "seed": seed,
        "params": params.to_dict(),
        "calibration": cal_score.as_dict(),
        "held_out": score(held, held_cos, live, held_search).as_dict(),
        "held_out_audited_labels": score(held_audited, held_cos, live, held_search).as_dict(),
        "extra_word": {
            "held_out": score(held, held_cos, params, held_search).as_dict(),
            "held_out_audited_labels": score(held_audited, held_cos, params, held_search).as_dict(),
        },
        "held_out_guard_and_cosine_only": score(held, held_cos, cosine_only).as_dict(),
    }


def spread(rows: list[dict], *part: str) -> dict[str, list[float]]:
    """min, median, max of precision and recall over the seeds (part: keys down to the figures)."""
    out = {}
    for metric in ("precision", "recall"):
        values = []
        for r in rows:
            for key in part:
                r = r[key]
            values.append(r[metric])
        out[metric] = [min(values), round(statistics.median(values), 4), max(values)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), help="the first one's parameters are shipped")
    parser.add_argument("--embedding-cache", type=Path, default=None, help="folder to keep embeddings between runs")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"labelled pairs not found at {args.data} (pass --data)")
    pairs = load_pairs(args.data)
    audited = apply_audit(pairs, load_audit())
    texts = [t for p in pairs for t in (p.cached, p.new)]
    verify = embed_all(texts, VERIFY_KIND, args.embedding_cache)
    search = embed_all(texts, SEARCH_KIND, args.embedding_cache)
    rows = []
    for seed in args.seeds:
        row = calibrate_seed(seed, pairs, verify, search, audited)
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "params"}), "params", row["params"], flush=True)
    shipped = rows[0]
    params = MatchParams(**shipped["params"])
    _, held = split(pairs, shipped["seed"])
    adversarial = adversarial_report([p.new for p in held] + [p.cached for p in held], params, args.embedding_cache, verify, search)
    print("adversarial", json.dumps(adversarial))
    figures = {k: v for k, v in shipped.items() if k not in ("params", "seed")}
    figures["adversarial"] = adversarial
    figures["seeds"] = [{k: r[k] for k in ("seed", "held_out", "held_out_audited_labels", "extra_word")} | {
        "threshold": r["params"]["threshold"], "unaligned_threshold": r["params"]["unaligned_threshold"]} for r in rows]
    figures["spread_over_seeds"] = {
        "held_out": spread(rows, "held_out"),
        "held_out_audited_labels": spread(rows, "held_out_audited_labels"),
        "extra_word": {"held_out": spread(rows, "extra_word", "held_out"), "held_out_audited_labels": spread(rows, "extra_word", "held_out_audited_labels")},
    }
    out = {
        "default_kind": VERIFY_KIND,
        "seed": shipped["seed"],
        "min_calibration_recall": MIN_CAL_RECALL,
        "data": "qqp_pairs_val.csv (MeanCache split of Quora Question Pairs)",
        "params": {VERIFY_KIND: shipped["params"]},
        "figures": {VERIFY_KIND: figures},
    }
    args.output.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.output}; held-out spread over {len(rows)} seeds: {json.dumps(figures['spread_over_seeds'])}")


if __name__ == "__main__":
    main()
