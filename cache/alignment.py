"""Word alignment: every content word one question has and the other lacks must have a counterpart.

Lower-case names escape the guard's entity rule ("how do i learn python" / "... java"), and in a
long question one swapped word barely moves the sentence vector (a 20-word question about a
"flask" app and the same about a "django" app: MiniLM cosine 0.92). The words tell them apart.
A content word of one question (see cache.lexical) that the other question lacks is accepted
only when it is
- a light word (filler: "really", "some" outside a yes/no question; or a grading word against
  another one: "good" / "best"), or
- the same word in another form (same key, cache.word_forms: the Snowball stem of the American
  spelling, listed synonyms merged; not a past or participle against another form: "owned" /
  "owns"), a one-letter typo of a word there
  ("contries"/"countries"; not when both are words of the vocabulary: "county" is no typo of
  "country"), or two of its words written as one ("cyber security"/"cybersecurity"), or
- a near-synonym: its static word vector (the shared static embedder, one word at a time) has
  cosine >= `min_similarity` with one of the other question's content words ("buy"/"purchase",
  "movie"/"film"); co-hyponyms ("python"/"java", "mechanical"/"electrical") mostly sit below,
  but not all ("tokyo"/"osaka" 0.78), so such a word is reported as weakly aligned, and so is
  a typo ("realty"/"reality" may be two words).
What is left are unaligned words: the match rule refuses a pair with unaligned words on both
sides (a substitution) or more than one on one side, and asks a higher MiniLM cosine for one
or for weakly aligned words.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from cache.lexical import FUNCTION_WORDS, lexical_view, may_drop, same_inflection, words

WordVectors = Callable[[Sequence[str]], np.ndarray]
KnownWord = Callable[[str], bool]


@dataclass(frozen=True)
class Alignment:
    left: list[str]  # words of the first question without a counterpart in the second
    right: list[str]  # and the other way round
    weakly_aligned: int  # words whose only counterpart is a near-synonym by word vector, or a one-letter typo


def _one_insertion_apart(a: str, b: str) -> bool:
    """True when the longer word is the shorter with one letter inserted (shorter word >= 6 letters)."""
    if len(a) > len(b):
        a, b = b, a
    if len(b) != len(a) + 1 or len(a) < 6:
        return False
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


def _joinable(x: str, y: str) -> bool:
    return (x == "a" or x not in FUNCTION_WORDS) and y not in FUNCTION_WORDS


def _joined_pairs(text: str) -> frozenset[str]:
    """Two neighbouring words written as one ("cyber security", "a lot"), not with another function
    word ("log in" is not "login")."""
    tokens = words(text)
    return frozenset(x + y for x, y in zip(tokens, tokens[1:], strict=False) if _joinable(x, y))


def _split_compound_parts(src_text: str, dst_words: list[str]) -> frozenset[str]:
    """Words of `src_text` that, joined with a neighbour, make a word of the other question."""
    tokens, targets = words(src_text), set(dst_words)
    return frozenset(w for x, y in zip(tokens, tokens[1:], strict=False)
                     if x + y in targets and _joinable(x, y) for w in (x, y))


class WordAligner:
    """Finds the content words of two questions that have no counterpart in the other one."""

    def __init__(self, word_vectors: WordVectors, max_cached_words: int = 200_000, known_word: KnownWord | None = None):
        self._embed = word_vectors
        self._known = known_word  # None: every one-letter insertion may be a typo
        self._vectors: dict[str, np.ndarray] = {}
        self._max_cached = max_cached_words
        self._lock = threading.Lock()

    def vectors(self, items: Sequence[str]) -> list[np.ndarray]:
        """Unit word vectors (all-zero for a word the embedder has no pieces for), cached per word."""
        known = self._vectors  # a full cache is replaced, never mutated under a reader
        missing = [w for w in dict.fromkeys(items) if w not in known]
        fresh: dict[str, np.ndarray] = {}
        if missing:
            fresh = dict(zip(missing, np.asarray(self._embed(missing), dtype=np.float32), strict=True))
            with self._lock:
                if len(self._vectors) + len(fresh) > self._max_cached:
                    self._vectors = {}
                self._vectors.update(fresh)
        return [fresh[w] if w in fresh else known[w] for w in items]

    def best_counterpart(self, word: str, candidates: Sequence[str]) -> float:
        """Highest word-vector cosine between `word` and any of `candidates` (0.0 when none)."""
        if not candidates:
            return 0.0
        vs = self.vectors([word, *candidates])
        return float(max(vs[0] @ v for v in vs[1:]))

    def unaligned(self, a: str, b: str, min_similarity: float) -> tuple[list[str], list[str]]:
        """(words of `a` without a counterpart in `b`, words of `b` without one in `a`)."""
        found = self.align(a, b, min_similarity)
        return found.left, found.right

    def align(self, a: str, b: str, min_similarity: float) -> Alignment:
        if not 0.0 < min_similarity <= 1.0:
            raise ValueError("min_similarity must be in (0, 1]")
        (left, left_vector), (right, right_vector) = self._one_way(a, b, min_similarity), self._one_way(b, a, min_similarity)
        return Alignment(left, right, left_vector + right_vector)

    def _is_typo(self, word: str, other: str) -> bool:
        return _one_insertion_apart(word, other) and not (self._known and self._known(word) and self._known(other))

    def _one_way(self, src_text: str, dst_text: str, min_similarity: float) -> tuple[list[str], int]:
        """(unaligned words of `src_text`, how many of its words only a word vector or a typo aligned)."""
        src_view = lexical_view(src_text)
        src, dst = src_view.content, lexical_view(dst_text).content
        dst_words = list(dst.values())
        joined: frozenset[str] | None = None
        out: list[str] = []
        weakly_aligned = 0
        for stem_, word in src.items():
            if stem_ in dst:
                if not same_inflection(word, dst[stem_]):
                    out.append(word)  # "owned" / "owns": the other side reports its form too
                continue
            if may_drop(word, src_view, dst_words):
                continue
            if any(self._is_typo(word, w) for w in dst_words):
                weakly_aligned += 1  # "realty" is one letter from "reality": a typo, or another word
                continue
            if joined is None:
                joined = _joined_pairs(dst_text) | _split_compound_parts(src_text, dst_words)
            if word in joined:
                continue
            if self.best_counterpart(word, dst_words) >= min_similarity:
                weakly_aligned += 1
                continue
            out.append(word)
        return out, weakly_aligned


_default: WordAligner | None = None
_default_lock = threading.Lock()


def static_word_vectors(items: Sequence[str]) -> np.ndarray:
    from local_engine.embedder import get_embedder

    return get_embedder("static").embed(list(items))


@functools.cache
def _static_vocabulary() -> frozenset[str]:
    from local_engine.embedder_tokenizer import minilm_tokenizer

    return frozenset(minilm_tokenizer().get_vocab())


def static_known_word(word: str) -> bool:
    """A whole word of the static embedder's vocabulary (MiniLM's WordPiece vocabulary)."""
    return word in _static_vocabulary()


def default_aligner() -> WordAligner:
    """The process-wide aligner over the shared static embedder (one word-vector cache for all)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = WordAligner(static_word_vectors, known_word=static_known_word)
        return _default
