"""How precise can the semantic cache be at a given recall? Precision-at-recall curves on held-out QQP.

    python bench/semantic_precision_curve.py [--embedding-cache DIR] [--encoder-dir FOLDER]

For each seed of cache/calibration/calibrate.py (the same 50/50 splits), the held-out pairs are
ranked by a score and the precision is read where the ranking first serves 5 ... 20% of the
held-out duplicates (the recall is fixed, so no threshold is involved: the curve is the best any
threshold on that score could do). Scores:

- `minilm_cosine_all`: the MiniLM cosine over every pair (what a plain semantic cache does);
- `minilm_cosine_rule`: the same cosine over the pairs the shipped lexical stage lets through
  (cache.semantic_match.lexical_verdict, at most one unaligned word): the shipped rule's ranking;
- `learned_verifier`: a logistic regression (routing.training.train.fit_logistic) over the rule's
  pairs, trained on the calibration half: both cosines, unaligned words, word overlap, length
  ratio and the MiniLM element-wise product and difference;
- with --encoder-dir (a sentence-transformers folder, e.g. all-mpnet-base-v2; needs the dev
  dependency `transformers`): the same two rows with that encoder's cosine added.

Medians over the seeds, on the labels as given and on the audited labels (label_audit.json).
The semantic-cache goal is precision >= 0.95 at recall >= 0.15 on the labels as given.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cache.calibration.calibrate import DEFAULT_DATA, SEEDS, Pair, embed_all, load_pairs  # noqa: E402
from cache.calibration.labels import apply_audit, load_audit  # noqa: E402
from cache.semantic_match import MatchParams, lexical_verdict  # noqa: E402
from routing.training.train import fit_logistic  # noqa: E402

RECALLS = (0.05, 0.07, 0.10, 0.12, 0.15, 0.17, 0.20)
_WORD = re.compile(r"\w+")


def precision_at(scores: np.ndarray, labels: np.ndarray, duplicates: float, recall: float) -> float:
    """Precision of the top-ranked pairs at the first rank that serves `recall` of the duplicates."""
    order = np.argsort(-scores, kind="stable")
    true_hits = np.cumsum(labels[order])
    k = min(int(np.searchsorted(true_hits, recall * duplicates)), len(order) - 1)
    return float(true_hits[k] / (k + 1))


def encode_with(folder: Path, texts: list[str]) -> dict[str, np.ndarray]:
    """Mean-pooled, normalised sentence embeddings from a sentence-transformers folder."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    unique = sorted(set(texts))
    out = []
    started = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(unique), 64):
            batch = tokenizer(unique[i : i + 64], padding=True, truncation=True, max_length=128, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            out.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy())
    print(f"embedded {len(unique)} texts with {folder.name} in {time.perf_counter() - started:.0f} s", flush=True)
    return dict(zip(unique, np.concatenate(out), strict=True))


def pair_table(pairs: list[Pair], vectors: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    u = np.stack([vectors[p.cached] for p in pairs])
    v = np.stack([vectors[p.new] for p in pairs])
    return (u * v).sum(1), u, v


def overlap_features(pairs: list[Pair]) -> np.ndarray:
    rows = []
    for p in pairs:
        a, b = set(_WORD.findall(p.cached.lower())), set(_WORD.findall(p.new.lower()))
        rows.append((len(a & b) / max(1, len(a | b)), min(len(p.cached), len(p.new)) / max(1, len(p.cached), len(p.new))))
    return np.array(rows)


def learned_scores(x: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    mean, scale = x[train].mean(0), x[train].std(0) + 1e-6
    coef, intercept = fit_logistic((x[train] - mean) / scale, labels[train], np.ones(len(train)), l2=1.0)
    return (x[test] - mean) / scale @ coef + intercept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--embedding-cache", type=Path, default=None)
    parser.add_argument("--encoder-dir", type=Path, default=None, help="an extra sentence-transformers encoder to compare")
    args = parser.parse_args()
    pairs = load_pairs(args.data)
    audited = apply_audit(pairs, load_audit())
    texts = [t for p in pairs for t in (p.cached, p.new)]
    minilm_cos, u, v = pair_table(pairs, embed_all(texts, "minilm", args.embedding_cache))
    static_cos, _, _ = pair_table(pairs, embed_all(texts, "static", args.embedding_cache))
    params = MatchParams.load()
    probe = replace(params, threshold=-1.0, unaligned_threshold=-1.0)
    verdicts = [lexical_verdict(p.cached, p.new, probe) for p in pairs]
    unaligned = np.array([float(v.unaligned) for v in verdicts])
    in_rule = np.array([v.passed for v in verdicts]) & (unaligned <= 1) & (minilm_cos >= 0.8)
    labels = np.array([p.duplicate for p in pairs], dtype=float)
    audited_labels = np.array([p.duplicate for p in audited], dtype=float)
    hand = np.column_stack([minilm_cos, static_cos, unaligned, overlap_features(pairs)])
    learned_x = np.concatenate([hand, u * v, np.abs(u - v)], 1)
    extra_cos = None
    if args.encoder_dir is not None:
        extra_cos, _, _ = pair_table(pairs, encode_with(args.encoder_dir, texts))
    print(f"{len(pairs)} pairs, {int(labels.sum())} duplicates; {int(in_rule.sum())} pairs pass the lexical stage; seeds {SEEDS}")
    rows: dict[str, list[tuple[list[float], list[float]]]] = {}
    n = len(pairs)
    for seed in SEEDS:
        order = np.random.default_rng(seed).permutation(n)
        cal, held = order[: n // 2], order[n // 2 :]
        cal_rule, held_rule = cal[in_rule[cal]], held[in_rule[held]]
        ranked = {
            "minilm_cosine_all": (held, minilm_cos[held]),
            "minilm_cosine_rule": (held_rule, minilm_cos[held_rule]),
            "learned_verifier": (held_rule, learned_scores(learned_x, labels, cal_rule, held_rule)),
        }
        if extra_cos is not None:
            ranked[f"{args.encoder_dir.name}_cosine_rule"] = (held_rule, extra_cos[held_rule])
            x = np.column_stack([learned_x, extra_cos])
            ranked[f"learned_verifier+{args.encoder_dir.name}"] = (held_rule, learned_scores(x, labels, cal_rule, held_rule))
        for name, (index, scores) in ranked.items():
            given = [precision_at(scores, labels[index], labels[held].sum(), r) for r in RECALLS]
            fixed = [precision_at(scores, audited_labels[index], audited_labels[held].sum(), r) for r in RECALLS]
            rows.setdefault(name, []).append((given, fixed))
    header = " ".join(f"{r:>6.0%}" for r in RECALLS)
    for part, title in ((0, "labels as given"), (1, "audited labels")):
        print(f"\nheld-out precision at recall (median over {len(SEEDS)} seeds), {title}")
        print(f"{'score':44} {header}")
        for name, per_seed in rows.items():
            medians = np.median(np.array([s[part] for s in per_seed]), axis=0)
            print(f"{name:44} " + " ".join(f"{m:6.3f}" for m in medians))


if __name__ == "__main__":
    main()
