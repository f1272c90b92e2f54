"""The one shared sentence embedder (routing and the semantic cache use the same vectors).

    from local_engine.embedder import get_embedder
    emb = get_embedder()              # "static": distilled from MiniLM, ~0.1 ms per prompt
    vecs = emb.embed(["hello", "hi"]) # float32 [2, emb.dim], unit-norm rows

Kinds:
- "static": model2vec-style table distilled from all-MiniLM-L6-v2 (128 dims). Default: cheap
  enough for every call. A text with no word pieces (e.g. "") gets an all-zero row.
- "minilm": all-MiniLM-L6-v2 itself (384 dims, plain-torch BERT forward, 256-piece limit),
  numerically the same as sentence-transformers. Tens of milliseconds per text on CPU.
Vectors of different kinds live in different spaces; never compare them with each other.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

KINDS = ("static", "minilm")


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array [len(texts), dim] with L2-normalised rows."""
        ...


class _CheckedEmbedder:
    """Validates input once for every kind, then delegates."""

    def __init__(self, inner: Embedder, kind: str):
        self._inner = inner
        self.kind = kind
        self.name: str = inner.name
        self.dim: int = inner.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, (str, bytes)):
            raise TypeError("embed() takes a sequence of strings, not a single string; wrap it in a list")
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"embed() item {i} is {type(t).__name__}, expected str")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._inner.embed(texts)

    def __repr__(self) -> str:
        return f"Embedder(kind={self.kind!r}, name={self.name!r}, dim={self.dim})"


_cache: dict[str, _CheckedEmbedder] = {}
_lock = threading.Lock()


def _build(kind: str) -> Embedder:
    if kind == "static":
        from local_engine.embedder_static import StaticEmbedder

        return StaticEmbedder()
    if kind == "minilm":
        from local_engine.embedder_minilm import MiniLMEmbedder

        return MiniLMEmbedder()
    raise ValueError(f"unknown embedder kind {kind!r}; choose one of {', '.join(KINDS)}")


def get_embedder(kind: str = "static") -> Embedder:
    """The process-wide embedder of this kind (built once, thread-safe)."""
    if kind not in KINDS:
        raise ValueError(f"unknown embedder kind {kind!r}; choose one of {', '.join(KINDS)}")
    found = _cache.get(kind)
    if found is not None:
        return found
    with _lock:
        if kind not in _cache:
            _cache[kind] = _CheckedEmbedder(_build(kind), kind)
        return _cache[kind]
