"""Routing policy as plain functions: score + route + budget + agent state -> RouteDecision.

The gateway builds the inputs (candidates from its deployments, the route definition from the
tenant config, the budget's remaining fraction, the run's sticky deployment) and turns the
decision into the `x-tokenmill-route` header and the usage row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from routing.calibration import Calibration, ReferenceCurve, Target, calibrate
from routing.model import DifficultyModel

TIERS = ("local", "cheap", "strong")
_RANK = {t: i for i, t in enumerate(TIERS)}


@dataclass(frozen=True)
class Candidate:
    """One deployment the gateway may send the call to."""

    deployment: str
    tier: str
    supports_tools: bool = True
    supports_json: bool = True
    supports_vision: bool = True
    input_price: float = 0.0  # USD per prompt token
    output_price: float = 0.0  # USD per completion token
    healthy: bool = True
    cached_input_price: float | None = None  # USD per prompt token read from its prompt cache (None: no discount)

    @property
    def warm_input_price(self) -> float:
        return self.input_price if self.cached_input_price is None else self.cached_input_price

    def __post_init__(self) -> None:
        if self.tier not in _RANK:
            raise ValueError(f"unknown tier {self.tier!r} for {self.deployment!r}; tiers are {', '.join(TIERS)}")

    def blended_price(self) -> float:
        # Agent calls read far more than they write: weigh prompt tokens more.
        return self.input_price + 0.25 * self.output_price


@dataclass(frozen=True)
class RouteDefinition:
    """A named route such as `auto` or `auto-coding`: its tiers and its thresholds on the score.

    score >= strong_threshold -> strong; score < local_threshold -> local; otherwise cheap.
    local_threshold None: the route never picks local by difficulty.
    """

    name: str = "auto"
    tiers: tuple[str, ...] = TIERS
    strong_threshold: float = 0.5
    local_threshold: float | None = None
    budget_soft_limit: float = 0.5  # below this remaining fraction, thresholds start to rise
    expected: Calibration | None = None  # what calibration promised for strong_threshold

    def __post_init__(self) -> None:
        bad = [t for t in self.tiers if t not in _RANK]
        if bad or not self.tiers:
            raise ValueError(f"route {self.name!r}: tiers must be a non-empty subset of {TIERS}, got {self.tiers}")
        if not 0.0 <= self.strong_threshold <= 1.0:
            raise ValueError(f"route {self.name!r}: strong_threshold must lie in [0, 1]")
        if self.local_threshold is not None and not 0.0 <= self.local_threshold <= self.strong_threshold:
            raise ValueError(f"route {self.name!r}: local_threshold must lie in [0, strong_threshold]")
        if not 0.0 < self.budget_soft_limit <= 1.0:
            raise ValueError(f"route {self.name!r}: budget_soft_limit must lie in (0, 1]")

    @classmethod
    def calibrated(cls, name: str, target: Target, model: DifficultyModel, local_share: float | None = None, **kwargs) -> RouteDefinition:
        """Thresholds from an operator target (strong share or quality floor) and, optionally, a local share."""
        cal = calibrate(target, model.reference_scores, ReferenceCurve.from_dict(model.reference_curve))
        local = None
        if local_share is not None:
            from routing.calibration import threshold_for_share

            local = min(threshold_for_share(1.0 - local_share, model.reference_scores), cal.threshold)
        return cls(name=name, strong_threshold=cal.threshold, local_threshold=local, expected=cal, **kwargs)


@dataclass(frozen=True)
class RouteFlags:
    tool_required: bool = False  # tool_choice forces a tool call
    tools_offered: bool = False  # tools offered and not switched off: prefer deployments that can call them
    long_plan: bool = False  # the agent is producing or following a long multi-step plan
    json_failed_on_local: bool = False  # this schema already failed on the local engine
    needs_json: bool = False  # response_format asks for JSON
    needs_vision: bool = False  # a message carries an image


@dataclass(frozen=True)
class RouteDecision:
    deployment: str
    tier: str
    score: float
    threshold: float
    reason: str

    def header(self) -> str:
        """Value of the x-tokenmill-route header."""
        return f"tier={self.tier}; score={self.score:.3f}; threshold={self.threshold:.3f}; reason={self.reason}"


def budget_pressure(remaining_fraction: float | None, soft_limit: float) -> float:
    """0 while the budget is comfortable, rising to 1 as it runs out."""
    if remaining_fraction is None:
        return 0.0
    if not 0.0 <= remaining_fraction <= 1.0:
        raise ValueError(f"budget remaining fraction must lie in [0, 1], got {remaining_fraction}")
    return max(0.0, (soft_limit - remaining_fraction) / soft_limit)


def effective_thresholds(route: RouteDefinition, pressure: float) -> tuple[float, float | None]:
    """Thresholds moved toward 1 (cheaper tiers) by the budget pressure.

    The strong threshold moves all the way to 1 as the budget runs out; the local one moves half
    as fast toward it, so a hard call steps down one tier at a time rather than falling to local.
    """
    strong = route.strong_threshold + pressure * (1.0 - route.strong_threshold)
    if route.local_threshold is None:
        return strong, None
    return strong, route.local_threshold + 0.5 * pressure * (strong - route.local_threshold)


def _fits(c: Candidate, flags: RouteFlags) -> bool:
    return (c.healthy and (c.supports_tools or not flags.tool_required) and (c.supports_json or not flags.needs_json)
            and (c.supports_vision or not flags.needs_vision))


def _prefers_tools(flags: RouteFlags) -> RouteFlags:
    """Flags that also rule out deployments without tools when the call offers tools (a model that
    may answer in text still serves when no deployment of the route can call tools)."""
    return replace(flags, tool_required=True) if flags.tools_offered and not flags.tool_required else flags


def _cheapest(candidates: Sequence[Candidate], tier: str, flags: RouteFlags) -> Candidate | None:
    fitting = [c for c in candidates if c.tier == tier and _fits(c, flags)]
    return min(fitting, key=lambda c: (c.blended_price(), c.deployment)) if fitting else None


def decide(
    score: float,
    candidates: Sequence[Candidate],
    route: RouteDefinition = RouteDefinition(),
    *,
    budget_remaining: float | None = None,
    sticky: str | None = None,
    flags: RouteFlags = RouteFlags(),
) -> RouteDecision:
    """Choose a deployment for one call. Raises ValueError when no candidate can serve it."""
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"score must lie in [0, 1], got {score}")
    pressure = budget_pressure(budget_remaining, route.budget_soft_limit)
    strong_t, local_t = effective_thresholds(route, pressure)
    reasons: list[str] = []
    if score >= strong_t:
        wanted, threshold = "strong", strong_t
        reasons.append("difficulty>=strong")
    elif local_t is not None and score < local_t:
        wanted, threshold = "local", local_t
        reasons.append("difficulty<local")
    else:
        wanted, threshold = "cheap", strong_t
        reasons.append("difficulty")
    if pressure > 0:
        reasons.append(f"budget-low({budget_remaining:.2f})")

    # Agent-aware escalation: what a small model is known to fumble goes up.
    rank = _RANK[wanted]
    for flag, why in ((flags.tool_required, "tools-required"), (flags.json_failed_on_local, "json-failed-on-local")):
        if flag and rank < _RANK["cheap"]:
            rank = _RANK["cheap"]
            reasons.append(why)
    if flags.long_plan and rank < _RANK["strong"]:
        rank += 1
        reasons.append("long-plan")
    wanted = TIERS[rank]

    allowed = [t for t in TIERS if t in route.tiers]
    if not allowed:
        raise ValueError(f"route {route.name!r} allows no tier")

    chosen, fit, notes = _first_fitting(route.name, candidates, wanted, allowed, flags)
    # Stickiness: stay on the run's deployment while its prefix is warm. A higher tier than
    # difficulty needs is kept only while its cached prompt price undercuts the chosen deployment's
    # uncached one (the warm prefix then makes it no dearer) and the budget is not under pressure.
    if sticky is not None:
        pinned = next((c for c in candidates if c.deployment == sticky), None)
        if pinned is not None and pinned.tier in allowed and _fits(pinned, fit):
            if pinned.tier == chosen.tier:
                return RouteDecision(pinned.deployment, pinned.tier, score, threshold, ";".join(reasons + notes + ["sticky"]))
            if _RANK[pinned.tier] > _RANK[chosen.tier] and pressure < 0.5 and pinned.warm_input_price <= chosen.input_price:
                return RouteDecision(pinned.deployment, pinned.tier, score, threshold, ";".join(reasons + notes + ["sticky-warm"]))
            notes.append("left-sticky")
    return RouteDecision(chosen.deployment, chosen.tier, score, threshold, ";".join(reasons + notes))


def _first_fitting(
    route_name: str, candidates: Sequence[Candidate], wanted: str, allowed: list[str], flags: RouteFlags
) -> tuple[Candidate, RouteFlags, list[str]]:
    """The cheapest fitting deployment of the wanted tier, else upward, else downward; a call
    offering tools first among deployments that can call them. Returns it, the flags it fits and
    the reasons to add."""
    strict = _prefers_tools(flags)
    order = [t for t in TIERS[_RANK[wanted] :] if t in allowed] + [t for t in reversed(TIERS[: _RANK[wanted]]) if t in allowed]
    for fit in dict.fromkeys((strict, flags)):
        for tier in order:
            chosen = _cheapest(candidates, tier, fit)
            if chosen is None:
                continue
            notes = [] if fit is strict else ["no-tool-deployment"]
            if tier != wanted and strict is not flags and fit is strict and wanted in allowed and _cheapest(candidates, wanted, flags):
                notes.append("tools-offered")  # the wanted tier has deployments, none that call tools
            elif tier != wanted:
                notes.append(f"route-excludes-{wanted}" if wanted not in allowed else f"no-{wanted}-deployment")
            return chosen, fit, notes
    raise ValueError(f"route {route_name!r}: no healthy deployment can serve this call (tools/json needs included)")


def fallback_chain(decision: RouteDecision, candidates: Sequence[Candidate], flags: RouteFlags = RouteFlags()) -> list[Candidate]:
    """Where to go on an upstream error: the same tier's others, then higher tiers, then lower."""
    rank = _RANK[decision.tier]
    strict = _prefers_tools(flags)

    def key(c: Candidate) -> tuple[bool, int, float, str]:
        r = _RANK[c.tier]
        distance = 0 if r == rank else (r - rank if r > rank else len(TIERS) + rank - r)
        return (not _fits(c, strict), distance, c.blended_price(), c.deployment)

    return sorted((c for c in candidates if c.deployment != decision.deployment and _fits(c, flags)), key=key)


# -- cascade ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CascadeBar:
    """Escalate a local answer whose mean token logprob is below min_mean_logprob."""

    min_mean_logprob: float = -1.0
    samples: int = 0
    expected_failure_rate: float | None = None


@dataclass(frozen=True)
class CascadeVerdict:
    escalate: bool
    reason: str


def cascade_verdict(
    mean_logprob: float | None, bar: CascadeBar, *, valid_json: bool = True, valid_tool_call: bool = True
) -> CascadeVerdict:
    """Keep the local answer or escalate it (both attempts are billed by the caller)."""
    if not valid_json:
        return CascadeVerdict(True, "cascade:invalid-json")
    if not valid_tool_call:
        return CascadeVerdict(True, "cascade:invalid-tool-call")
    if mean_logprob is None:
        return CascadeVerdict(True, "cascade:no-logprobs")
    if mean_logprob < bar.min_mean_logprob:
        return CascadeVerdict(True, f"cascade:low-confidence({mean_logprob:.2f}<{bar.min_mean_logprob:.2f})")
    return CascadeVerdict(False, f"cascade:kept-local({mean_logprob:.2f})")


def calibrate_cascade_bar(samples: Sequence[tuple[float, float]], max_failure_rate: float = 0.2, min_samples: int = 30) -> CascadeBar:
    """The loosest logprob bar whose kept local answers fail at most max_failure_rate of the time.

    samples: (mean token logprob, outcome in [0, 1]) of local answers that were graded.
    """
    if not 0.0 < max_failure_rate < 1.0:
        raise ValueError("max_failure_rate must lie in (0, 1)")
    if len(samples) < min_samples:
        raise ValueError(f"need at least {min_samples} graded local answers to calibrate the cascade, got {len(samples)}")
    ordered = sorted(((float(lp), 1.0 - float(o)) for lp, o in samples), reverse=True)  # most confident first
    failures = 0.0
    best: tuple[float, float] | None = None
    for i, (lp, fail) in enumerate(ordered, start=1):
        failures += fail
        rate = failures / i
        if rate <= max_failure_rate:
            best = (lp, rate)  # keeping everything down to here stays within the budget of failures
    if best is None:
        return CascadeBar(min_mean_logprob=float("inf"), samples=len(samples), expected_failure_rate=None)
    return CascadeBar(min_mean_logprob=best[0], samples=len(samples), expected_failure_rate=best[1])


@dataclass
class RunState:
    """Per agent-run memory the gateway keeps: the sticky deployment and local JSON failures."""

    sticky: str | None = None
    json_failures_on_local: set[str] = field(default_factory=set)  # schema fingerprints

    def after_call(self, decision: RouteDecision) -> None:
        self.sticky = decision.deployment
