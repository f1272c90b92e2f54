"""Routing quality the RouteLLM way: quality versus share of strong calls, APGR and CPT.

For a router score per prompt (higher = send to the strong model), the k highest-scored prompts
go strong and the rest weak, for k = 0..n. PGR(k) = (q(k) - q_weak) / (q_strong - q_weak) is the
performance gap recovered; APGR is its area over the strong-call share 0..1 (random = 0.5);
CPT(x) is the smallest strong-call share whose PGR reaches x. Prompts with equal scores are
taken in random order, and the curve is its expected value (so a constant score is random).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Curve:
    share: np.ndarray  # strong-call share, k/n for k = 0..n
    quality: np.ndarray  # mean outcome when the top-k go strong
    pgr: np.ndarray

    def at(self, share: float) -> tuple[float, float]:
        """(quality, pgr) at a strong-call share, interpolated."""
        return float(np.interp(share, self.share, self.quality)), float(np.interp(share, self.share, self.pgr))


@dataclass(frozen=True)
class RoutingReport:
    name: str
    apgr: float
    cpt50: float
    cpt80: float
    curve: Curve


def _validate(weak: Sequence[float], strong: Sequence[float], scores: Sequence[float] | None = None):
    w = np.asarray(weak, dtype=np.float64)
    s = np.asarray(strong, dtype=np.float64)
    if w.ndim != 1 or w.shape != s.shape or len(w) == 0:
        raise ValueError("weak and strong must be non-empty 1-D sequences of the same length")
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(s))):
        raise ValueError("weak and strong outcomes must be finite numbers")
    if scores is not None:
        r = np.asarray(scores, dtype=np.float64)
        if r.shape != w.shape or not np.all(np.isfinite(r)):
            raise ValueError("scores must be finite and as many as the outcomes")
        return w, s, r
    return w, s, None


def quality_curve(scores: Sequence[float], weak: Sequence[float], strong: Sequence[float]) -> Curve:
    w, s, r = _validate(weak, strong, scores)
    n = len(w)
    gain = s - w
    order = np.argsort(-r, kind="stable")
    r_sorted, g_sorted = r[order], gain[order]
    # Cumulative gain at each tie-group boundary, then linear inside a group (random tie order).
    boundaries = np.flatnonzero(np.diff(r_sorted) != 0) + 1
    edges = np.concatenate([[0], boundaries, [n]])
    cum_at_edges = np.concatenate([[0.0], np.cumsum(g_sorted)])[edges]
    k = np.arange(n + 1)
    cum_gain = np.interp(k, edges, cum_at_edges)
    quality = (w.sum() + cum_gain) / n
    q_weak, q_strong = w.mean(), s.mean()
    if q_strong == q_weak:
        raise ValueError("the strong and weak models have the same mean quality on this set: PGR is undefined")
    pgr = (quality - q_weak) / (q_strong - q_weak)
    return Curve(share=k / n, quality=quality, pgr=pgr)


def apgr(curve: Curve) -> float:
    return float(np.trapezoid(curve.pgr, curve.share))


def cpt(curve: Curve, target: float) -> float:
    """Smallest strong-call share with PGR >= target (interpolated between grid points); 1.0 if never."""
    above = np.flatnonzero(curve.pgr >= target - 1e-12)
    if len(above) == 0:
        return 1.0
    i = int(above[0])
    if i == 0:
        return 0.0
    x0, x1, y0, y1 = curve.share[i - 1], curve.share[i], curve.pgr[i - 1], curve.pgr[i]
    return float(x0 + (target - y0) * (x1 - x0) / (y1 - y0)) if y1 != y0 else float(x1)


def report(name: str, scores: Sequence[float], weak: Sequence[float], strong: Sequence[float]) -> RoutingReport:
    curve = quality_curve(scores, weak, strong)
    return RoutingReport(name, apgr(curve), cpt(curve, 0.5), cpt(curve, 0.8), curve)


def apgr_interval(
    scores: Sequence[float], weak: Sequence[float], strong: Sequence[float], draws: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Bootstrap interval of the APGR over the prompts: how far it could move on another sample
    of the same kind of prompts. Resamples whose two models tie on quality are skipped."""
    w, s, r = _validate(weak, strong, scores)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        i = rng.integers(0, len(w), len(w))
        if w[i].mean() != s[i].mean():
            values.append(apgr(quality_curve(r[i], w[i], s[i])))
    if not values:
        raise ValueError("the strong and weak models tie on every resample: no interval")
    tail = (1.0 - level) / 2
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)


def random_report(weak: Sequence[float], strong: Sequence[float]) -> RoutingReport:
    """Expected curve of a router that picks the strong calls at random: a constant score."""
    return report("random", np.zeros(len(weak)), weak, strong)


def oracle_report(weak: Sequence[float], strong: Sequence[float]) -> RoutingReport:
    """A router that knows the outcomes: strong first where it gains most."""
    w, s, _ = _validate(weak, strong)
    return report("oracle", s - w, w, s)


def format_table(
    reports: Sequence[RoutingReport], q_weak: float, q_strong: float, shares=(0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
) -> str:
    lines = [f"weak quality {q_weak:.4f}   strong quality {q_strong:.4f}", ""]
    lines.append(f"{'router':10} {'APGR':>7} {'CPT(50%)':>9} {'CPT(80%)':>9}")
    for r in reports:
        lines.append(f"{r.name:10} {r.apgr:7.3f} {r.cpt50:9.1%} {r.cpt80:9.1%}")
    lines.append("")
    lines.append("quality (PGR) versus strong-call share")
    lines.append(f"{'share':>6} " + " ".join(f"{r.name:>17}" for r in reports))
    for pct in shares:
        cells = []
        for r in reports:
            q, p = r.curve.at(pct / 100)
            cells.append(f"{q:8.4f} ({p:6.3f})")
        lines.append(f"{pct:5d}% " + " ".join(f"{c:>17}" for c in cells))
    return "\n".join(lines)
