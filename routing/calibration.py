"""Thresholds from operator targets, what a threshold is expected to give, and recalibration.

A target is either a strong-call share ("send at most 30% to strong") or a quality floor
("keep 95% of the strong model's quality"). Scores are turned into shares with a reference
score distribution (the shipped one, or a tenant's own recent scores); shares are turned into
quality with a reference PGR curve (quality(share) = q_weak + PGR(share) * (q_strong - q_weak)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Target:
    strong_share: float | None = None  # fraction of calls allowed on the strong tier, 0..1
    quality_floor: float | None = None  # fraction of the strong model's quality to keep, 0..1

    def __post_init__(self) -> None:
        if (self.strong_share is None) == (self.quality_floor is None):
            raise ValueError("state exactly one target: strong_share or quality_floor")
        value = self.strong_share if self.strong_share is not None else self.quality_floor
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"a target must lie in [0, 1], got {value}")


@dataclass(frozen=True)
class Calibration:
    threshold: float  # route strong when score >= threshold
    expected_strong_share: float
    expected_pgr: float  # performance gap recovered at that share
    expected_quality_kept: float  # expected quality as a fraction of always-strong quality


@dataclass(frozen=True)
class ReferenceCurve:
    share: np.ndarray
    pgr: np.ndarray
    q_weak: float
    q_strong: float

    @classmethod
    def from_dict(cls, raw: dict) -> ReferenceCurve:
        return cls(np.asarray(raw["share"], float), np.asarray(raw["pgr"], float), float(raw["q_weak"]), float(raw["q_strong"]))

    def pgr_at(self, share: float) -> float:
        return float(np.interp(share, self.share, self.pgr))

    def quality_kept(self, share: float) -> float:
        q = self.q_weak + self.pgr_at(share) * (self.q_strong - self.q_weak)
        return q / self.q_strong

    def share_for_quality(self, floor: float) -> float:
        """Smallest share whose expected kept quality reaches floor (1.0 if never)."""
        kept = (self.q_weak + self.pgr * (self.q_strong - self.q_weak)) / self.q_strong
        hit = np.flatnonzero(kept >= floor - 1e-12)
        return float(self.share[hit[0]]) if len(hit) else 1.0


def _sorted_scores(scores: Sequence[float]) -> np.ndarray:
    arr = np.sort(np.asarray(scores, dtype=np.float64))
    if arr.ndim != 1 or len(arr) == 0 or not np.all(np.isfinite(arr)):
        raise ValueError("reference scores must be a non-empty list of finite numbers")
    return arr


def strong_share_at(threshold: float, reference_scores: Sequence[float]) -> float:
    """Fraction of reference scores at or above the threshold."""
    arr = _sorted_scores(reference_scores)
    return float(1.0 - np.searchsorted(arr, threshold, side="left") / len(arr))


def threshold_for_share(share: float, reference_scores: Sequence[float]) -> float:
    """A threshold that sends about `share` of the reference calls to strong."""
    arr = _sorted_scores(reference_scores)
    if share <= 0.0:
        return float(np.nextafter(arr[-1], np.inf))  # above every score: nothing goes strong
    if share >= 1.0:
        return float(arr[0])
    return float(np.quantile(arr, 1.0 - share))


def calibrate(target: Target, reference_scores: Sequence[float], curve: ReferenceCurve) -> Calibration:
    share = target.strong_share if target.strong_share is not None else curve.share_for_quality(float(target.quality_floor))
    threshold = threshold_for_share(float(share), reference_scores)
    return expectation(threshold, reference_scores, curve)


def expectation(threshold: float, reference_scores: Sequence[float], curve: ReferenceCurve) -> Calibration:
    """What a threshold is expected to give on traffic like the reference."""
    share = strong_share_at(threshold, reference_scores)
    return Calibration(threshold, share, curve.pgr_at(share), curve.quality_kept(share))


def _isotonic_increasing(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Pool-adjacent-violators: the weighted least-squares non-decreasing fit of y."""
    blocks: list[list[float]] = []  # [value, weight, count]
    for yi, wi in zip(y, w, strict=True):
        blocks.append([yi, wi, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    return np.concatenate([np.full(int(c), v) for v, _, c in blocks])


def recalibrate_from_feedback(
    feedback: Sequence[tuple[float, float]],
    current_threshold: float,
    max_failure_rate: float = 0.25,
    min_samples: int = 50,
    max_step: float = 0.1,
) -> float:
    """New threshold for a tenant from outcomes of calls served by the cheap tier.

    feedback: (score, outcome) pairs, outcome in [0, 1] (1 = the answer was good). The failure
    rate is fitted as a non-decreasing function of the score (isotonic); the new threshold is the
    lowest score where the fitted failure rate reaches max_failure_rate, so cheap calls stay below
    it. Moves at most max_step per call, and up only to a step past the highest score seen; too
    few samples keep the current threshold.
    """
    if not 0.0 < max_failure_rate < 1.0:
        raise ValueError("max_failure_rate must lie in (0, 1)")
    pairs = [(float(s), float(o)) for s, o in feedback]
    if any(not (0.0 <= o <= 1.0) or not np.isfinite(s) for s, o in pairs):
        raise ValueError("feedback outcomes must lie in [0, 1] and scores must be finite")
    if len(pairs) < min_samples:
        return current_threshold
    pairs.sort()
    scores = np.array([s for s, _ in pairs])
    failure = _isotonic_increasing(np.array([1.0 - o for _, o in pairs]), np.ones(len(pairs)))
    over = np.flatnonzero(failure >= max_failure_rate)
    if len(over) == 0:
        # The cheap tier held up everywhere it was tried: let it take more calls, one step at a time,
        # but no further than a step past the hardest call with an outcome. Re-run on the same
        # feedback (the hourly task) it stays put instead of climbing to 1 on no new evidence.
        return float(max(current_threshold, min(current_threshold + max_step, scores[-1] + max_step, 1.0)))
    proposed = float(scores[over[0]])
    return float(np.clip(proposed, current_threshold - max_step, current_threshold + max_step))
