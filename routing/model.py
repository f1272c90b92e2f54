"""The difficulty estimator: logistic regression over hand features and task-type similarities.

Weights live in assets/difficulty_model.json (written by routing/training/train.py) together
with the feature ranges seen in training (inputs are clipped to them) and the reference score
distribution that calibration uses.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from routing.request import RequestSummary

MODEL_PATH = Path(__file__).parent / "assets" / "difficulty_model.json"


@dataclass(frozen=True)
class PriorTerms:
    """Logit bumps for what the text-trained model cannot see (all single-turn, tool-free data).

    Author's priors, not learned: structured output and tool use add failure modes for a small
    model, long contexts dilute its attention, and deep conversations accumulate state.
    """

    json_schema: float = 0.4
    json_object: float = 0.2
    tools_offered: float = 0.2
    long_context_tokens: int = 8000
    long_context: float = 0.3
    deep_conversation_turns: int = 6
    deep_conversation: float = 0.2

    def logit(self, summary: RequestSummary) -> float:
        bump = 0.0
        if summary.response_format == "json_schema":
            bump += self.json_schema
        elif summary.response_format == "json_object":
            bump += self.json_object
        if summary.tools_offered:
            bump += self.tools_offered
        if summary.prompt_tokens >= self.long_context_tokens:
            bump += self.long_context
        if summary.user_turns >= self.deep_conversation_turns:
            bump += self.deep_conversation
        return bump


@dataclass(frozen=True)
class DifficultyModel:
    feature_names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    clip_low: np.ndarray
    clip_high: np.ndarray
    coef: np.ndarray
    intercept: float
    embedder_kind: str
    embedder_name: str
    reference_scores: np.ndarray  # sorted scores of a reference prompt mix (for share <-> threshold)
    reference_curve: dict  # {"share": [...], "pgr": [...], "q_weak": x, "q_strong": y}
    priors: PriorTerms
    meta: dict

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> DifficultyModel:
        if not path.exists():
            raise FileNotFoundError(f"router weights missing at {path}; train them with `python -m routing.training.train`")
        raw = json.loads(path.read_text())
        arr = lambda k: np.asarray(raw[k], dtype=np.float32)  # noqa: E731
        model = cls(
            feature_names=tuple(raw["feature_names"]),
            mean=arr("mean"),
            scale=arr("scale"),
            clip_low=arr("clip_low"),
            clip_high=arr("clip_high"),
            coef=arr("coef"),
            intercept=float(raw["intercept"]),
            embedder_kind=raw["embedder_kind"],
            embedder_name=raw["embedder_name"],
            reference_scores=np.sort(arr("reference_scores")),
            reference_curve=raw["reference_curve"],
            priors=PriorTerms(**raw.get("priors", {})),
            meta=raw.get("meta", {}),
        )
        n = len(model.feature_names)
        for name in ("mean", "scale", "clip_low", "clip_high", "coef"):
            if getattr(model, name).shape != (n,):
                raise ValueError(f"{path}: '{name}' must have {n} entries")
        return model

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Logit of P(weak answer worse) for rows of raw features [n, len(feature_names)]."""
        x = np.clip(features, self.clip_low, self.clip_high)
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    @staticmethod
    def sigmoid(z: float) -> float:
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
