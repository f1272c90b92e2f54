from __future__ import annotations

import numpy as np
import pytest

from routing.calibration import (
    ReferenceCurve,
    Target,
    calibrate,
    expectation,
    recalibrate_from_feedback,
    strong_share_at,
    threshold_for_share,
)
from routing.model import DifficultyModel

RNG = np.random.default_rng(3)
SCORES = RNG.beta(2, 5, size=5000)
LINEAR = ReferenceCurve(np.linspace(0, 1, 11), np.linspace(0, 1, 11), q_weak=0.6, q_strong=0.8)


@pytest.mark.parametrize("share", [0.0, 0.1, 0.3, 0.5, 0.9, 1.0])
def test_threshold_hits_the_strong_share(share: float) -> None:
    t = threshold_for_share(share, SCORES)
    assert strong_share_at(t, SCORES) == pytest.approx(share, abs=0.002)
    # ... and on fresh traffic from the same distribution, within sampling error.
    fresh = RNG.beta(2, 5, size=20000)
    assert np.mean(fresh >= t) == pytest.approx(share, abs=0.02)


def test_quality_floor_becomes_a_share_then_a_threshold() -> None:
    # Linear PGR: kept quality = (0.6 + 0.2 * share) / 0.8, so 95% needs share 0.8.
    cal = calibrate(Target(quality_floor=0.95), SCORES, LINEAR)
    assert cal.expected_strong_share == pytest.approx(0.8, abs=0.002)
    assert cal.expected_quality_kept == pytest.approx(0.95, abs=0.002)
    assert expectation(cal.threshold, SCORES, LINEAR) == cal


def test_shipped_reference_supports_calibration() -> None:
    model = DifficultyModel.load()
    cal = calibrate(Target(strong_share=0.3), model.reference_scores, ReferenceCurve.from_dict(model.reference_curve))
    assert cal.expected_strong_share == pytest.approx(0.3, abs=0.01)
    assert 0 < cal.threshold < 1 and 0.5 < cal.expected_quality_kept <= 1.0


def test_targets_are_validated() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Target()
    with pytest.raises(ValueError, match="exactly one"):
        Target(strong_share=0.2, quality_floor=0.9)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Target(strong_share=1.5)


def test_recalibration_moves_toward_where_cheap_answers_fail() -> None:
    scores = RNG.uniform(0, 0.6, size=400)
    outcomes = (scores < 0.35).astype(float)  # cheap answers go bad above 0.35
    new = recalibrate_from_feedback(list(zip(scores, outcomes, strict=True)), current_threshold=0.6, max_step=0.5)
    assert new == pytest.approx(0.35, abs=0.02)
    stepped = recalibrate_from_feedback(list(zip(scores, outcomes, strict=True)), current_threshold=0.6, max_step=0.1)
    assert stepped == pytest.approx(0.5)


def test_recalibration_raises_the_threshold_when_cheap_never_fails_and_needs_samples() -> None:
    good = [(s, 1.0) for s in RNG.uniform(0, 0.4, size=100)]
    hardest = max(s for s, _ in good)
    assert recalibrate_from_feedback(good, current_threshold=0.4) == pytest.approx(hardest + 0.1)
    assert recalibrate_from_feedback(good[:10], current_threshold=0.4) == 0.4
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        recalibrate_from_feedback([(0.1, 2.0)] * 60, current_threshold=0.4)


def test_recalibrating_again_on_the_same_feedback_does_not_ratchet_the_threshold_up() -> None:
    good = [(s, 1.0) for s in RNG.uniform(0, 0.2, size=60)]
    threshold = 0.2
    for _ in range(9):  # the hourly task, with no new feedback in between
        threshold = recalibrate_from_feedback(good, current_threshold=threshold)
    assert threshold == pytest.approx(max(s for s, _ in good) + 0.1)
    # Evidence of good cheap answers at harder scores lets it climb further; none never lowers it.
    assert recalibrate_from_feedback(good + [(0.3, 1.0)], current_threshold=threshold) == pytest.approx(min(threshold + 0.1, 0.4))
    assert recalibrate_from_feedback(good, current_threshold=0.9) == 0.9
