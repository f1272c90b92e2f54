"""Scores a call: P(the cheap model's answer would be worse than the strong model's).

router = get_router()
summary = summarize_request(messages, tools=..., tool_choice=..., response_format=...)
vec = get_embedder(router.embedder_kind).embed([summary.task_text])[0]   # shared with the cache
score = router.score(summary, embedding=vec)                             # in (0, 1)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from local_engine.embedder import Embedder, get_embedder
from routing.features import FEATURE_NAMES, text_features
from routing.model import DifficultyModel
from routing.prototypes import TaskTypes, task_types_for
from routing.request import RequestSummary, summarize_prompt

# Answer format: with lettered options and a one-letter answer there is no worked solution, so
# computation-heavy questions are ones both models miss; in open form the strong model's longer
# reasoning pays off. These interactions let the model learn the two regimes apart.
FORMAT_NAMES = ("multiple_choice", "mc_x_words", "mc_x_numbers", "mc_x_arith", "mc_x_math_words")
_INTERACT = [FEATURE_NAMES.index(n) for n in ("log_words", "log_numbers", "log_arith", "log_math_words")]


def feature_names(task_types: TaskTypes) -> tuple[str, ...]:
    return FEATURE_NAMES + FORMAT_NAMES + tuple(f"type_{n}" for n in task_types.names)


def feature_matrix(texts: Sequence[str], multiple_choice: Sequence[bool], embeddings: np.ndarray, task_types: TaskTypes) -> np.ndarray:
    """Rows of [hand features | answer-format terms | task-type similarities]."""
    hand = np.stack([text_features(t) for t in texts]) if len(texts) else np.zeros((0, len(FEATURE_NAMES)))
    mc = np.asarray(multiple_choice, dtype=np.float32).reshape(-1, 1)
    fmt = np.hstack([mc, mc * hand[:, _INTERACT]])
    return np.hstack([hand, fmt, task_types.similarities(embeddings)]).astype(np.float32)


class Router:
    def __init__(self, model: DifficultyModel | None = None, embedder: Embedder | None = None):
        self.model = model or DifficultyModel.load()
        self.embedder = embedder or get_embedder(self.model.embedder_kind)
        if self.embedder.name != self.model.embedder_name:
            raise ValueError(f"router weights were trained with embedder {self.model.embedder_name!r}, got {self.embedder.name!r}")
        self.task_types = task_types_for(self.embedder)
        names = feature_names(self.task_types)
        if names != self.model.feature_names:
            raise ValueError("router weights do not match this code's features; retrain with routing.training.train")

    @property
    def embedder_kind(self) -> str:
        return self.model.embedder_kind

    def embed(self, summary: RequestSummary) -> np.ndarray:
        return self.embedder.embed([summary.task_text])[0]

    def _check_embedding(self, embedding: np.ndarray) -> np.ndarray:
        vec = np.asarray(embedding, dtype=np.float32)
        if vec.shape != (self.embedder.dim,):
            raise ValueError(f"embedding must have shape ({self.embedder.dim},) from embedder {self.embedder.name!r}, got {vec.shape}")
        return vec

    def logit(self, summary: RequestSummary, embedding: np.ndarray | None = None) -> float:
        vec = self.embed(summary) if embedding is None else self._check_embedding(embedding)
        row = feature_matrix([summary.task_text], [summary.multiple_choice], vec[None, :], self.task_types)
        return float(self.model.logits(row)[0]) + self.model.priors.logit(summary)

    def score(self, summary: RequestSummary, embedding: np.ndarray | None = None) -> float:
        """P(weak answer worse), in (0, 1). Pass the request's shared embedding of summary.task_text if you have it."""
        return self.model.sigmoid(self.logit(summary, embedding))

    def score_prompts(self, prompts: Sequence[str]) -> np.ndarray:
        """Scores of single-turn prompts (batch path for evaluation)."""
        summaries = [summarize_prompt(p) for p in prompts]
        texts = [s.task_text for s in summaries]
        vecs = self.embedder.embed(texts)
        z = self.model.logits(feature_matrix(texts, [s.multiple_choice for s in summaries], vecs, self.task_types))
        z = z + np.array([self.model.priors.logit(s) for s in summaries], dtype=np.float32)
        return 1.0 / (1.0 + np.exp(-z))


_router: Router | None = None
_lock = threading.Lock()


def get_router() -> Router:
    """The process-wide router with the shipped weights (built once, thread-safe)."""
    global _router
    with _lock:
        if _router is None:
            _router = Router()
        return _router
