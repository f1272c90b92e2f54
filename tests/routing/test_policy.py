from __future__ import annotations

import pytest

from routing.calibration import Target
from routing.model import DifficultyModel
from routing.policy import (
    Candidate,
    CascadeBar,
    RouteDecision,
    RouteDefinition,
    RouteFlags,
    budget_pressure,
    calibrate_cascade_bar,
    cascade_verdict,
    decide,
    fallback_chain,
)

LOCAL = Candidate("smollm-local", "local", supports_tools=False, input_price=1e-9, output_price=2e-8)
CHEAP = Candidate("gpt-4o-mini", "cheap", input_price=1.5e-7, output_price=6e-7)
CHEAP2 = Candidate("haiku", "cheap", input_price=2.5e-7, output_price=1.25e-6)
STRONG = Candidate("gpt-4o", "strong", input_price=2.5e-6, output_price=1e-5)
ALL = [LOCAL, CHEAP, CHEAP2, STRONG]
AUTO = RouteDefinition("auto", strong_threshold=0.5, local_threshold=0.2)


def test_difficulty_picks_the_tier_and_the_cheapest_deployment() -> None:
    assert decide(0.1, ALL, AUTO).deployment == "smollm-local"
    mid = decide(0.3, ALL, AUTO)
    assert (mid.deployment, mid.tier, mid.threshold, mid.reason) == ("gpt-4o-mini", "cheap", 0.5, "difficulty")
    hard = decide(0.7, ALL, AUTO)
    assert hard.tier == "strong" and hard.reason == "difficulty>=strong"
    assert hard.header() == "tier=strong; score=0.700; threshold=0.500; reason=difficulty>=strong"


def test_low_budget_moves_thresholds_toward_cheaper_tiers() -> None:
    assert decide(0.7, ALL, AUTO, budget_remaining=0.9).tier == "strong"
    low = decide(0.7, ALL, AUTO, budget_remaining=0.1)  # pressure 0.8: strong 0.9, local 0.48
    assert low.tier == "cheap" and low.threshold == pytest.approx(0.9)
    assert "budget-low(0.10)" in low.reason
    assert budget_pressure(None, 0.5) == 0 and budget_pressure(0.0, 0.5) == 1
    with pytest.raises(ValueError):
        budget_pressure(1.5, 0.5)


def test_tools_required_and_json_failures_leave_the_local_tier() -> None:
    d = decide(0.05, ALL, AUTO, flags=RouteFlags(tool_required=True))
    assert d.tier == "cheap" and "tools-required" in d.reason
    d = decide(0.05, ALL, AUTO, flags=RouteFlags(json_failed_on_local=True))
    assert d.tier == "cheap" and "json-failed-on-local" in d.reason


def test_offered_tools_prefer_deployments_that_can_call_them() -> None:
    d = decide(0.05, ALL, AUTO, flags=RouteFlags(tools_offered=True))
    assert d.tier == "cheap" and d.reason == "difficulty<local;tools-offered"
    assert [c.deployment for c in fallback_chain(d, ALL, RouteFlags(tools_offered=True))][-1] == "smollm-local"
    # A route with no deployment that calls tools still answers (tool_choice auto allows text).
    only_local = decide(0.05, [LOCAL], AUTO, flags=RouteFlags(tools_offered=True))
    assert only_local.deployment == "smollm-local" and "no-tool-deployment" in only_local.reason
    # Nothing offered: the local tier as before.
    assert decide(0.05, ALL, AUTO).tier == "local"
    # A run warm on the strong tier compares it with what can serve (cheap), not with the tool-less local tier.
    warm = decide(0.05, ALL, AUTO, sticky="gpt-4o", flags=RouteFlags(tools_offered=True))
    assert warm.deployment == "gpt-4o-mini" and warm.reason == "difficulty<local;tools-offered;left-sticky"


def test_long_plans_go_up_a_tier() -> None:
    d = decide(0.3, ALL, AUTO, flags=RouteFlags(long_plan=True))
    assert d.tier == "strong" and "long-plan" in d.reason


def test_stickiness_holds_while_difficulty_and_price_allow() -> None:
    # The run is on a strong model whose prompt cache reads cost less than the cheap tier's
    # uncached input: an easier call stays there while the prefix is warm...
    warm = Candidate("claude-warm", "strong", input_price=3e-6, output_price=1.5e-5, cached_input_price=1e-7)
    d = decide(0.3, [*ALL, warm], AUTO, sticky="claude-warm")
    assert d.deployment == "claude-warm" and d.reason.endswith("sticky-warm")
    # ... but a strong model whose cached price is still dearer than the cheap tier is left ...
    d = decide(0.3, ALL, AUTO, sticky="gpt-4o")
    assert d.deployment == "gpt-4o-mini" and "left-sticky" in d.reason
    # ... a harder call than the sticky tier leaves it ...
    d = decide(0.8, ALL, AUTO, sticky="haiku")
    assert d.tier == "strong" and "left-sticky" in d.reason
    # ... same tier keeps the sticky deployment even if another is cheaper ...
    d = decide(0.3, ALL, AUTO, sticky="haiku")
    assert d.deployment == "haiku" and d.reason.endswith("sticky")
    # ... and budget pressure drops even a warm over-serving deployment (here down to local:
    # pressure 0.9 lifts the local threshold from 0.2 to 0.54).
    d = decide(0.3, [*ALL, warm], AUTO, sticky="claude-warm", budget_remaining=0.05)
    assert d.tier == "local" and "left-sticky" in d.reason


def test_missing_tiers_and_capabilities_fall_back_in_order() -> None:
    route = RouteDefinition("auto-coding", tiers=("cheap", "strong"), strong_threshold=0.6)
    assert decide(0.05, ALL, route).tier == "cheap"
    only_cheap = RouteDefinition("cheap-only", tiers=("cheap",), strong_threshold=0.5)
    assert decide(0.9, ALL, only_cheap).reason == "difficulty>=strong;route-excludes-strong"
    d = decide(0.9, [LOCAL, CHEAP], AUTO)
    assert d.tier == "cheap" and "no-strong-deployment" in d.reason
    with pytest.raises(ValueError, match="no healthy deployment"):
        decide(0.1, [LOCAL], AUTO, flags=RouteFlags(tool_required=True))
    chain = fallback_chain(decide(0.3, ALL, AUTO), ALL)
    assert [c.deployment for c in chain] == ["haiku", "gpt-4o", "smollm-local"]


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="score"):
        decide(1.5, ALL, AUTO)
    with pytest.raises(ValueError, match="tier"):
        Candidate("x", "premium")
    with pytest.raises(ValueError, match="local_threshold"):
        RouteDefinition(strong_threshold=0.3, local_threshold=0.5)


def test_calibrated_route_reports_what_it_expects() -> None:
    route = RouteDefinition.calibrated("auto", Target(strong_share=0.25), DifficultyModel.load(), local_share=0.3)
    assert route.expected is not None and route.expected.expected_strong_share == pytest.approx(0.25, abs=0.01)
    assert route.local_threshold is not None and route.local_threshold <= route.strong_threshold


def test_cascade_verdicts() -> None:
    bar = CascadeBar(min_mean_logprob=-0.8)
    assert not cascade_verdict(-0.3, bar).escalate
    assert cascade_verdict(-1.2, bar).escalate
    assert cascade_verdict(-0.1, bar, valid_json=False).reason == "cascade:invalid-json"
    assert cascade_verdict(-0.1, bar, valid_tool_call=False).escalate
    assert cascade_verdict(None, bar).escalate


def test_cascade_bar_calibration_keeps_failures_within_budget() -> None:
    # Answers with mean logprob above -0.5 are right, below are wrong.
    samples = [(-0.1 * i, 1.0 if -0.1 * i > -0.5 else 0.0) for i in range(40)]
    bar = calibrate_cascade_bar(samples, max_failure_rate=0.1)
    kept = [o for lp, o in samples if lp >= bar.min_mean_logprob]
    assert 1 - sum(kept) / len(kept) <= 0.1
    # Keeping the first wrong answer (-0.5) would make 1 failure in 6 > 0.1: the bar stops at -0.4.
    assert bar.min_mean_logprob == pytest.approx(-0.4)
    assert bar.expected_failure_rate == 0.0
    with pytest.raises(ValueError, match="at least"):
        calibrate_cascade_bar(samples[:5])


def test_route_decision_is_plain_data() -> None:
    d = RouteDecision("gpt-4o", "strong", 0.9, 0.5, "difficulty>=strong")
    assert d.header().startswith("tier=strong")
