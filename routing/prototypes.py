"""Task-type features from the prompt embedding: similarity to authored exemplars of each type.

A classifier on raw embedding dimensions memorises the training subjects; nine similarities
("how much like a word problem, like code, like chit-chat ...") say what kind of task a prompt is
and stay meaningful on prompts unlike the training data. Exemplars: assets/task_prototypes.json.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from local_engine.embedder import Embedder

PROTOTYPES_PATH = Path(__file__).parent / "assets" / "task_prototypes.json"


def load_prototypes(path: Path = PROTOTYPES_PATH) -> dict[str, list[str]]:
    raw = json.loads(path.read_text())
    return {k: v for k, v in raw.items() if not k.startswith("_")}


class TaskTypes:
    """Centroids of the exemplars, embedded once with the router's embedder."""

    def __init__(self, embedder: Embedder, path: Path = PROTOTYPES_PATH):
        protos = load_prototypes(path)
        self.names = tuple(protos)
        centroids = np.stack([embedder.embed(protos[n]).mean(0) for n in self.names])
        self.centroids = (centroids / np.linalg.norm(centroids, axis=1, keepdims=True)).astype(np.float32)
        self.dim = self.centroids.shape[1]

    def similarities(self, embeddings: np.ndarray) -> np.ndarray:
        """[n, types]: cosine to each centroid minus the row's mean (a generic-similarity level is not a type)."""
        if embeddings.ndim != 2 or embeddings.shape[1] != self.dim:
            raise ValueError(f"embeddings must be [n, {self.dim}], got {list(embeddings.shape)}")
        sims = embeddings @ self.centroids.T
        return sims - sims.mean(1, keepdims=True)


_cache: dict[str, TaskTypes] = {}
_lock = threading.Lock()


def task_types_for(embedder: Embedder) -> TaskTypes:
    with _lock:
        if embedder.name not in _cache:
            _cache[embedder.name] = TaskTypes(embedder)
        return _cache[embedder.name]
