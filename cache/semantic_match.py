"""The semantic match rule: may the answer cached for one question serve another?

The rule runs in two stages so that a miss rarely pays for a MiniLM embedding:

1. Lexical stage (no neural network; the question's free static vector found the candidate):
   - the static cosine reaches `search_floor`;
   - their hard facts agree (cache.guard: numbers and their order, units, negations, quantifiers,
     antonyms, entities, quotes, code, other scripts and symbols);
   - the content words they share come in the same order ("convert A to B" is not "convert B
     to A") and voice ("influenced by X" is not "influenced X"), no word has opposite roles
     ("to Canada" / "from Canada", "A and B" / "A or B"), they speak of the same grammatical
     persons ("my website" is not "your website"), ask the same kind of question ("Is X
     humble?" is not "Why is X humble?") in the same tense and mood ("Who was" / "Who is",
     "What can I eat" / "What should I eat");
   - every content word of one that the other lacks has a counterpart there (cache.alignment):
     none may be left over ("learn python" vs "learn java"; "the corporate income tax rate" vs
     "the income tax rate"). Only where the operator opts in (`cache.semantic_extra_word`,
     MatchParams.load(extra_word=True)) may one word on one side go without one ("restaurants in
     downtown Vancouver"), at a higher MiniLM cosine, and not a contrast word
     (cache.guard.is_contrast_word: "lowest", "free", "tomorrow").
2. Verify stage: the MiniLM cosine reaches `threshold` (with the opt-in, `unaligned_threshold`
   when one word was left unaligned, or when a word's only counterpart is a near-synonym by word
   vector or a one-letter variant: "tokyo" / "osaka" are as close as "buy" / "purchase",
   "realty" is one letter from "reality"; without it such pairs are refused).

Calibration (cache/calibration/calibrate.py) and the live cache use these functions, so the
figures it reports are the rule that runs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

from cache.alignment import WordAligner, default_aligner
from cache.guard import disagreement, extract_facts, is_contrast_word
from cache.lexical import same_mood, same_order, same_persons, same_question_type, same_roles, same_voice, without_reason_request

PARAMS_FILE = "semantic_params.json"


@dataclass(frozen=True)
class MatchParams:
    threshold: float  # MiniLM cosine needed when every content word is aligned
    check_order: bool = True
    check_person: bool = True
    check_question_word: bool = True
    embedder: str = ""  # embedder kind the thresholds were calibrated for (verify stage)
    dim: int = 0
    check_alignment: bool = True
    word_similarity: float = 0.7  # static word-vector cosine that makes two words counterparts
    unaligned_threshold: float | None = None  # MiniLM cosine needed with one unaligned word; None: refuse
    what_is_how: bool = True  # "what" and "how" questions may stand for each other
    search_embedder: str = ""  # embedder kind of the candidate search (lexical stage)
    search_dim: int = 0
    search_floor: float = -1.0  # static cosine a candidate needs before anything else is checked

    def __post_init__(self) -> None:
        for name in ("threshold", "search_floor"):
            if not -1.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a cosine similarity in [-1, 1]")
        if self.unaligned_threshold is not None and not -1.0 <= self.unaligned_threshold <= 1.0:
            raise ValueError("unaligned_threshold must be a cosine similarity in [-1, 1] or None")
        if not 0.0 < self.word_similarity <= 1.0:
            raise ValueError("word_similarity must be in (0, 1]")

    @classmethod
    def load(cls, kind: str | None = None, *, extra_word: bool = False) -> MatchParams:
        """The shipped calibrated parameters (for the embedder kind chosen by calibration, or `kind`).

        By default every content word must have its exact counterpart: a question that adds one
        ("the corporate income tax rate" for "the income tax rate", "a used Tesla" for "a Tesla")
        or has one only by word vector or as a typo is refused, however close the sentences are.
        `extra_word` serves those at the calibrated higher cosine instead: about half again as
        many hits on QQP, and with them wrong answers of that kind."""
        raw = json.loads((resources.files("cache.calibration") / PARAMS_FILE).read_text())
        chosen = raw["params"][kind or raw["default_kind"]]
        return cls(**chosen) if extra_word else cls(**{**chosen, "unaligned_threshold": None})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def required_similarity(self, unaligned: int, weakly_aligned: int = 0) -> float | None:
        """The verify-stage cosine a pair with `unaligned` unaligned words, and `weakly_aligned` words
        aligned only weakly (by word vector, or as a typo), needs (None: refused)."""
        if unaligned == 0 and weakly_aligned == 0:
            return self.threshold
        if unaligned <= 1 and self.unaligned_threshold is not None:
            return max(self.threshold, self.unaligned_threshold)
        return None


@dataclass(frozen=True)
class LexicalVerdict:
    reason: str | None  # why the pair is refused, None when it may go on to the verify stage
    required_similarity: float  # the MiniLM cosine it then needs
    unaligned: int = 0  # content words left without a counterpart
    strict: bool = False  # passed, but needs the higher cosine: one unaligned word, or one aligned only weakly (vector, typo)

    @property
    def passed(self) -> bool:
        return self.reason is None


def lexical_verdict(
    cached_question: str, new_question: str, params: MatchParams, aligner: WordAligner | None = None
) -> LexicalVerdict:
    """Stage 1 of the rule: everything but the embeddings. A cached question that also asks for the
    reason ("What is your favorite book and why?") is compared without that request to a new one
    that does not: its answer gives what the new question asks for, and more."""
    if without_reason_request(new_question) == new_question:
        cached_question = without_reason_request(cached_question)
    fact = disagreement(extract_facts(cached_question), extract_facts(new_question))
    if fact is not None:
        return LexicalVerdict(f"{fact} differ", 1.0)
    if params.check_order and not same_order(cached_question, new_question):
        return LexicalVerdict("word order differs", 1.0)
    if params.check_order and not same_voice(cached_question, new_question):
        return LexicalVerdict("voice differs", 1.0)
    if params.check_order and not same_roles(cached_question, new_question):
        return LexicalVerdict("roles differ", 1.0)
    if params.check_person and not same_persons(cached_question, new_question):
        return LexicalVerdict("persons differ", 1.0)
    if params.check_question_word and not same_question_type(cached_question, new_question, params.what_is_how):
        return LexicalVerdict("question words differ", 1.0)
    if params.check_question_word and not same_mood(cached_question, new_question):
        return LexicalVerdict("tense or mood differs", 1.0)
    left: list[str] = []
    right: list[str] = []
    weakly_aligned = 0
    if params.check_alignment:
        found = (aligner or default_aligner()).align(cached_question, new_question, params.word_similarity)
        left, right, weakly_aligned = found.left, found.right, found.weakly_aligned
        if left and right:  # a word replaced by one that is not a near-synonym: another question
            return LexicalVerdict(f"words differ: {', '.join(left)} / {', '.join(right)}", 1.0, len(left) + len(right))
        contrast = [w for w in left + right if is_contrast_word(w)]
        if contrast:
            return LexicalVerdict(f"contrast words added: {', '.join(contrast)}", 1.0, len(left) + len(right))
    unaligned = len(left) + len(right)
    required = params.required_similarity(unaligned, weakly_aligned)
    if required is None:
        if not unaligned:
            return LexicalVerdict("words differ: counterparts only by word vector or as typos", 1.0, unaligned)
        return LexicalVerdict(f"unaligned words: {', '.join(left + right)}", 1.0, unaligned)
    return LexicalVerdict(None, required, unaligned, strict=unaligned > 0 or weakly_aligned > 0)


def rejection(
    cached_question: str,
    new_question: str,
    similarity: float,
    params: MatchParams,
    search_similarity: float | None = None,
    aligner: WordAligner | None = None,
) -> str | None:
    """None when the cached answer may serve the new question, else the reason it may not.
    `similarity` is the verify-stage (MiniLM) cosine, `search_similarity` the static one."""
    if search_similarity is not None and search_similarity < params.search_floor:
        return "below search floor"
    if similarity < params.threshold:
        return "below threshold"
    verdict = lexical_verdict(cached_question, new_question, params, aligner)
    if verdict.reason is not None:
        return verdict.reason
    if similarity < verdict.required_similarity:
        return "below threshold for an unaligned word"
    return None


def is_match(
    cached_question: str, new_question: str, similarity: float, params: MatchParams, search_similarity: float | None = None
) -> bool:
    return rejection(cached_question, new_question, similarity, params, search_similarity) is None
