"""APGR / CPT on fixtures small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from routing.evaluate import apgr, apgr_interval, cpt, oracle_report, quality_curve, random_report, report

# Four prompts: the strong model wins on #2 and #3 only. q_weak = 0.5, q_strong = 1.0.
WEAK = [1, 1, 0, 0]
STRONG = [1, 1, 1, 1]


def test_perfect_router_curve_by_hand() -> None:
    curve = quality_curve([0.1, 0.2, 0.9, 0.8], WEAK, STRONG)
    np.testing.assert_allclose(curve.share, [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(curve.quality, [0.5, 0.75, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(curve.pgr, [0, 0.5, 1, 1, 1])
    # Trapezoids: 0.25*(0+0.5)/2 + 0.25*(0.5+1)/2 + 0.25*1 + 0.25*1 = 0.0625 + 0.1875 + 0.5
    assert apgr(curve) == pytest.approx(0.75)
    assert cpt(curve, 0.5) == pytest.approx(0.25)
    assert cpt(curve, 0.8) == pytest.approx(0.25 + 0.25 * 0.3 / 0.5)


def test_oracle_is_the_perfect_router_and_random_is_one_half() -> None:
    assert oracle_report(WEAK, STRONG).apgr == pytest.approx(0.75)
    rnd = random_report(WEAK, STRONG)
    assert rnd.apgr == pytest.approx(0.5)
    assert rnd.cpt50 == pytest.approx(0.5) and rnd.cpt80 == pytest.approx(0.8)


def test_worst_router_and_ties() -> None:
    assert report("worst", [0.9, 0.8, 0.1, 0.2], WEAK, STRONG).apgr == pytest.approx(0.25)
    # A tie between a winning and a losing prompt counts as half of each.
    tied = quality_curve([0.5, 0.1, 0.5, 0.0], WEAK, STRONG)
    assert tied.quality[1] == pytest.approx(0.625)


def test_oracle_can_beat_strong_when_weak_sometimes_wins() -> None:
    rep = oracle_report([1, 0, 0, 1], [0, 1, 1, 1])
    assert rep.curve.pgr.max() > 1.0


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="same mean quality"):
        report("r", [1, 2], [1, 0], [0, 1])
    with pytest.raises(ValueError, match="same length"):
        report("r", [1, 2], [1, 0, 1], [0, 1])
    with pytest.raises(ValueError, match="finite"):
        report("r", [float("nan"), 1], [1, 0], [1, 1])


def test_apgr_interval_narrows_with_more_prompts_and_excludes_random_for_a_good_router() -> None:
    rng = np.random.default_rng(1)

    def sample(n: int):
        hard = rng.random(n) < 0.4
        weak = np.where(hard, rng.random(n) < 0.3, rng.random(n) < 0.9).astype(float)
        strong = np.where(hard, rng.random(n) < 0.9, rng.random(n) < 0.95).astype(float)
        return hard + rng.normal(0, 0.3, n), weak, strong

    small, large = sample(80), sample(2000)
    lo_s, hi_s = apgr_interval(*small, draws=300)
    lo_l, hi_l = apgr_interval(*large, draws=300)
    assert lo_s <= report("r", *small).apgr <= hi_s and lo_l <= report("r", *large).apgr <= hi_l
    assert hi_l - lo_l < hi_s - lo_s
    assert lo_l > 0.5
    with pytest.raises(ValueError, match="tie"):
        apgr_interval([0.0, 1.0], [1.0, 1.0], [1.0, 1.0], draws=10)
