"""Train the shipped difficulty model (reproducible: fixed seeds, full-batch L-BFGS).

    python -m routing.training.train [--out routing/assets/difficulty_model.json] [--holdout-groups math,reasoning]

Data (see routing/training/data.py and synthetic.py):
- 2,700 templated prompts over nine task types with prior labels (synthetic.TASK_PRIORS);
- RouteLLM's MMLU outcomes (label 1 = GPT-4 right and Mixtral wrong), 80% of the rows (seeded
  split; the other 20% is the in-distribution check), at a fifth of the synthetic rows' total
  weight. high_school_mathematics is dropped (broken grading).
Answer-only multiple choice makes computation-heavy questions ones that BOTH models miss (no
worked solution), the opposite of open math; the features carry the answer format and its
interactions with the computation features (router.FORMAT_NAMES), so the two regimes are learned
apart rather than averaged.
Model: logistic regression with soft labels, L2, on standardised features clipped to their
0.5-99.5 percentile range in training. Needs torch only (no scikit-learn).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from local_engine.embedder import get_embedder
from routing.evaluate import report
from routing.model import MODEL_PATH, PriorTerms
from routing.prototypes import task_types_for
from routing.request import summarize_prompt
from routing.router import feature_matrix, feature_names
from routing.training.data import Row, load_mmlu
from routing.training.evalsets import build_sets
from routing.training.synthetic import generate

SEED = 0
MMLU_WEIGHT_SHARE = 0.2  # total weight of MMLU rows relative to the synthetic rows
L2 = 1e-3


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = L2) -> tuple[np.ndarray, float]:
    """Weighted logistic regression with soft targets y in [0, 1]; returns (coef, intercept)."""
    torch.manual_seed(SEED)
    X = torch.tensor(x, dtype=torch.float64)
    Y = torch.tensor(y, dtype=torch.float64)
    W = torch.tensor(w / w.sum(), dtype=torch.float64)
    coef = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([coef, bias], max_iter=500, tolerance_grad=1e-10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        z = X @ coef + bias
        loss = (W * torch.nn.functional.binary_cross_entropy_with_logits(z, Y, reduction="none")).sum()
        loss = loss + 0.5 * l2 * (coef**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return coef.detach().numpy(), float(bias.detach()[0])


def featurise(prompts: list[str], embedder, task_types) -> np.ndarray:
    summaries = [summarize_prompt(p) for p in prompts]
    texts = [s.task_text for s in summaries]
    return feature_matrix(texts, [s.multiple_choice for s in summaries], embedder.embed(texts), task_types)


@dataclass
class TrainingSet:
    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    synthetic_rows: int
    mmlu_test: list[Row]  # the 20% MMLU split of the groups trained on (in-distribution check)
    excluded_groups: frozenset[str]


@dataclass
class Fitted:
    low: np.ndarray
    high: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def logits(self, feats: np.ndarray) -> np.ndarray:
        return (np.clip(feats, self.low, self.high) - self.mean) / self.scale @ self.coef + self.intercept


def build_training_set(embedder, task_types, holdout_groups: frozenset[str] = frozenset()) -> TrainingSet:
    synthetic = generate(per_task=300, seed=SEED)
    xs = featurise([e.prompt for e in synthetic], embedder, task_types)
    ys = np.array([e.label for e in synthetic])
    excluded = frozenset(holdout_groups)
    rows = load_mmlu()
    in_train = np.random.default_rng(SEED).random(len(rows)) < 0.8
    train_rows = [r for r, t in zip(rows, in_train, strict=True) if t and r.group not in excluded]
    test_rows = [r for r, t in zip(rows, in_train, strict=True) if not t and r.group not in excluded]
    xm = featurise([r.prompt for r in train_rows], embedder, task_types)
    ym = np.array([float(r.strong > r.weak) for r in train_rows])
    weight = np.concatenate([np.ones(len(xs)), np.full(len(xm), MMLU_WEIGHT_SHARE * len(xs) / max(len(xm), 1))])
    return TrainingSet(np.vstack([xs, xm]), np.concatenate([ys, ym]), weight, len(xs), test_rows, excluded)


def fit(data: TrainingSet) -> Fitted:
    low, high = np.percentile(data.x, 0.5, axis=0), np.percentile(data.x, 99.5, axis=0)
    xc = np.clip(data.x, low, high)
    mean, scale = xc.mean(0), xc.std(0) + 1e-6
    coef, intercept = fit_logistic((xc - mean) / scale, data.y, data.weight)
    return Fitted(low, high, mean, scale, coef, intercept)


def check_sets(embedder, task_types, data: TrainingSet) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Features and outcomes of the sets the model did not train on: {name: (features, weak, strong)}."""
    out = {}
    for name, items in build_sets().items():
        out[f"unlike:{name}"] = (
            featurise([p for p, _, _ in items], embedder, task_types),
            np.array([a for _, a, _ in items]),
            np.array([b for _, _, b in items]),
        )
    rows = data.mmlu_test
    out["mmlu:heldout20"] = (
        featurise([r.prompt for r in rows], embedder, task_types),
        np.array([r.weak for r in rows]),
        np.array([r.strong for r in rows]),
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="train the router's difficulty model")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--holdout-groups", default="", help="MMLU groups to leave out as well (comma-separated)")
    parser.add_argument("--embedder", default="static", choices=["static", "minilm"])
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    embedder = get_embedder(args.embedder)
    types = task_types_for(embedder)
    data = build_training_set(embedder, types, frozenset(g for g in args.holdout_groups.split(",") if g))
    model = fit(data)

    grid = np.linspace(0, 1, 101)
    curves = []
    for name, (feats, weak, strong) in check_sets(embedder, types, data).items():
        rep = report(name, model.logits(feats), weak, strong)
        curves.append(np.interp(grid, rep.curve.share, rep.curve.pgr))
        print(f"{name:28} n={len(weak):5d} APGR {rep.apgr:.3f}  CPT(50%) {rep.cpt50:.1%}  CPT(80%) {rep.cpt80:.1%}")

    ref_probs = 1 / (1 + np.exp(-model.logits(data.x)))
    names = feature_names(types)
    test = data.mmlu_test
    out = {
        "feature_names": list(names),
        "mean": model.mean.round(6).tolist(),
        "scale": model.scale.round(6).tolist(),
        "clip_low": model.low.round(6).tolist(),
        "clip_high": model.high.round(6).tolist(),
        "coef": model.coef.round(6).tolist(),
        "intercept": round(model.intercept, 6),
        "embedder_kind": args.embedder,
        "embedder_name": embedder.name,
        "reference_scores": np.quantile(ref_probs, np.linspace(0, 1, 201)).round(6).tolist(),
        "reference_curve": {
            "share": grid.round(4).tolist(),
            "pgr": np.mean(curves, axis=0).round(4).tolist(),
            "q_weak": float(np.mean([r.weak for r in test])),
            "q_strong": float(np.mean([r.strong for r in test])),
            "about": "mean PGR curve over the unlike sets and the MMLU 20% split; q_weak/q_strong from MMLU",
        },
        "priors": PriorTerms().__dict__,
        "meta": {
            "trained_by": "python -m routing.training.train",
            "synthetic_rows": data.synthetic_rows,
            "mmlu_rows": len(data.x) - data.synthetic_rows,
            "mmlu_groups_excluded": sorted(data.excluded_groups),
            "l2": L2,
            "mmlu_weight_share": MMLU_WEIGHT_SHARE,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print("weights (standardised):")
    for n, c in sorted(zip(names, model.coef, strict=True), key=lambda t: -abs(t[1])):
        print(f"  {n:28} {c:+.3f}")
    print(f"wrote {args.out} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
