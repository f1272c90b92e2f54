"""The training pieces: generators are deterministic and disjoint from the evaluation sets,
and the logistic fit recovers known coefficients."""

from __future__ import annotations

import numpy as np

from routing.training.evalsets import build_sets
from routing.training.synthetic import TASK_PRIORS, generate
from routing.training.train import fit_logistic


def test_synthetic_data_is_deterministic_and_labelled_by_the_priors() -> None:
    a, b = generate(per_task=20, seed=1), generate(per_task=20, seed=1)
    assert [e.prompt for e in a] == [e.prompt for e in b]
    assert all(0.0 <= e.label <= 1.0 for e in a)
    arith = [e for e in a if e.task == "arithmetic"]
    assert arith[0].label == TASK_PRIORS["arithmetic"].gain(arith[0].k)
    # More reasoning steps: a larger expected gain from the strong model.
    gains = [TASK_PRIORS["arithmetic"].gain(k) for k in range(1, 9)]
    assert gains == sorted(gains)


def test_evaluation_prompts_never_appear_in_training() -> None:
    train = {e.prompt for e in generate(per_task=300, seed=0)}
    for rows in build_sets().values():
        assert not train & {p for p, _, _ in rows}


def test_fit_logistic_recovers_coefficients() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 3))
    true = np.array([1.5, -2.0, 0.0])
    p = 1 / (1 + np.exp(-(x @ true + 0.5)))
    coef, intercept = fit_logistic(x, p, np.ones(len(x)), l2=1e-6)  # soft labels: the probabilities themselves
    np.testing.assert_allclose(coef, true, atol=0.05)
    assert abs(intercept - 0.5) < 0.05
