"""Routing quality of the shipped router and of its recipe on held-out MMLU subject groups.

    python bench/router_quality.py [--skip-logo]

1. The shipped weights on: the unlike sets (routing/training/evalsets.py; prior-modelled outcomes,
   with the ceiling a router that knew each item's prior would reach) and the 20% MMLU split
   (in-distribution; real outcomes).
2. Leave-one-group-out on MMLU (real outcomes): the same recipe retrained without a whole
   subject group, scored on that group.
Rows: APGR, CPT(50%), CPT(80%), with random = 0.5 APGR and the oracle for scale.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from local_engine.embedder import get_embedder
from routing.evaluate import oracle_report, report
from routing.prototypes import task_types_for
from routing.router import get_router
from routing.training.data import SUBJECT_GROUPS, load_mmlu
from routing.training.evalsets import build_sets_with_prior
from routing.training.train import build_training_set, featurise, fit


def row(name: str, scores, weak, strong, ceiling=None) -> str:
    r = report(name, scores, weak, strong)
    o = oracle_report(weak, strong)
    extra = f"{report('c', ceiling, weak, strong).apgr:8.3f}" if ceiling is not None else f"{'':8}"
    return f"{name:44} {len(weak):5d} {r.apgr:7.3f} {r.cpt50:9.1%} {r.cpt80:9.1%} {extra} {o.apgr:7.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-logo", action="store_true", help="only the shipped weights (fast)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    router = get_router()
    header = f"{'set':44} {'n':>5} {'APGR':>7} {'CPT(50%)':>9} {'CPT(80%)':>9} {'ceiling':>8} {'oracle':>7}"
    print("shipped weights (routing/assets/difficulty_model.json)")
    print(header)
    unlike = []
    for name, items in build_sets_with_prior().items():
        prompts = [p for p, *_ in items]
        weak, strong, prior = (np.array([it[i] for it in items]) for i in (1, 2, 3))
        scores = router.score_prompts(prompts)
        unlike.append(report(name, scores, weak, strong).apgr)
        print(row(f"unlike:{name} (prior outcomes)", scores, weak, strong, prior))
    rows = load_mmlu()
    in_train = np.random.default_rng(0).random(len(rows)) < 0.8
    test = [r for r, t in zip(rows, in_train, strict=True) if not t]
    scores = router.score_prompts([r.prompt for r in test])
    print(row("mmlu:20% split (in-distribution)", scores, [r.weak for r in test], [r.strong for r in test]))
    print(f"mean APGR over the three unlike sets: {np.mean(unlike):.3f}")

    if not args.skip_logo:
        print("\nleave-one-group-out on MMLU (recipe retrained without the group; real outcomes)")
        print(header)
        embedder = get_embedder(router.embedder_kind)
        types = task_types_for(embedder)
        for group in SUBJECT_GROUPS:
            model = fit(build_training_set(embedder, types, frozenset({group})))
            held = [r for r in rows if r.group == group]
            logits = model.logits(featurise([r.prompt for r in held], embedder, types))
            print(row(f"mmlu:{group} held out", logits, [r.weak for r in held], [r.strong for r in held]))
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
