"""Difficulty routing: score each call, pick a tier and deployment, evaluate and calibrate.

A plain library (no web framework): the gateway calls these functions.
"""

from routing.calibration import Calibration, ReferenceCurve, Target, calibrate, expectation, recalibrate_from_feedback
from routing.policy import (
    Candidate,
    CascadeBar,
    CascadeVerdict,
    RouteDecision,
    RouteDefinition,
    RouteFlags,
    RunState,
    calibrate_cascade_bar,
    cascade_verdict,
    decide,
    fallback_chain,
)
from routing.request import RequestSummary, summarize_prompt, summarize_request
from routing.router import Router, get_router

__all__ = [
    "Calibration",
    "Candidate",
    "CascadeBar",
    "CascadeVerdict",
    "ReferenceCurve",
    "RequestSummary",
    "RouteDecision",
    "RouteDefinition",
    "RouteFlags",
    "Router",
    "RunState",
    "Target",
    "calibrate",
    "calibrate_cascade_bar",
    "cascade_verdict",
    "decide",
    "expectation",
    "fallback_chain",
    "get_router",
    "recalibrate_from_feedback",
    "summarize_prompt",
    "summarize_request",
]
