"""The semantic match rule: may the answer cached for one question serve another?

Yes only when all hold: the cosine of their embeddings reaches the calibrated threshold; their
hard facts agree (cache.guard: numbers, negations, antonyms, entities, quotes, code); and,
when enabled by calibration, the content words they share come in the same order ("convert A to
B" is not "convert B to A"), they speak of the same grammatical persons ("my website" is not
"your website") and ask with the same question words ("how does DNA split" is not "why"). Calibration (cache/calibration/calibrate.py) and the live cache use this one
function, so the figures it reports are the rule that runs.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

from cache.guard import disagreement, extract_facts

PARAMS_FILE = "semantic_params.json"

_STOPWORDS = frozenset(
    "a an the of to in on for is are was were be been being do does did doing done how what why which who whom "
    "where when can could should would will shall may might must am if so such some any and or with at by from "
    "as about into than there their they them he she his her have has had i my me you your we our it its this "
    "that these those one ones get got way ways really very just also much many".split()
)
_PERSONS = (
    frozenset("i me my mine myself".split()),
    frozenset("you your yours yourself yourselves".split()),
    frozenset("he him his himself she her hers herself".split()),
    frozenset("we us our ours ourselves".split()),
    frozenset("they them their theirs themselves".split()),
)
_TOKEN = re.compile(r"[a-z0-9]+")
# Question words; "what"/"which" are one class, and "what" and "how" may stand for each other
# ("What is the best way to X?" = "How do I X?"), but "how" is not "why", "when" or "where".
_QUESTION_WORDS = {"how": "how", "why": "why", "when": "when", "where": "where", "who": "who", "whom": "who",
                   "whose": "who", "what": "what", "which": "what"}


@dataclass(frozen=True)
class MatchParams:
    threshold: float
    check_order: bool = True
    check_person: bool = True
    check_question_word: bool = True
    embedder: str = ""  # name of the embedder the threshold was calibrated for
    dim: int = 0

    def __post_init__(self) -> None:
        if not -1.0 <= self.threshold <= 1.0:
            raise ValueError("threshold must be a cosine similarity in [-1, 1]")

    @classmethod
    def load(cls, kind: str | None = None) -> MatchParams:
        """The shipped calibrated parameters (for the embedder kind chosen by calibration, or `kind`)."""
        raw = json.loads((resources.files("cache.calibration") / PARAMS_FILE).read_text())
        chosen = raw["params"][kind or raw["default_kind"]]
        return cls(**chosen)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if len(word) > 4 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _content_words(text: str) -> list[str]:
    return [_stem(w) for w in _TOKEN.findall(text.lower()) if w not in _STOPWORDS]


def same_order(a: str, b: str) -> bool:
    """The content words both questions use appear in the same relative order."""
    wa, wb = _content_words(a), _content_words(b)
    shared = set(wa) & set(wb)
    return [w for w in dict.fromkeys(wa) if w in shared] == [w for w in dict.fromkeys(wb) if w in shared]


def same_persons(a: str, b: str) -> bool:
    ta, tb = set(_TOKEN.findall(a.lower())), set(_TOKEN.findall(b.lower()))
    return [bool(ta & p) for p in _PERSONS] == [bool(tb & p) for p in _PERSONS]


def same_question_words(a: str, b: str) -> bool:
    def classes(text: str) -> set[str]:
        return {_QUESTION_WORDS[w] for w in _TOKEN.findall(text.lower()) if w in _QUESTION_WORDS} - {"what", "how"}

    return classes(a) == classes(b)


def rejection(cached_question: str, new_question: str, similarity: float, params: MatchParams) -> str | None:
    """None when the cached answer may serve the new question, else the reason it may not."""
    if similarity < params.threshold:
        return "below threshold"
    fact = disagreement(extract_facts(cached_question), extract_facts(new_question))
    if fact is not None:
        return f"{fact} differ"
    if params.check_order and not same_order(cached_question, new_question):
        return "word order differs"
    if params.check_person and not same_persons(cached_question, new_question):
        return "persons differ"
    if params.check_question_word and not same_question_words(cached_question, new_question):
        return "question words differ"
    return None


def is_match(cached_question: str, new_question: str, similarity: float, params: MatchParams) -> bool:
    return rejection(cached_question, new_question, similarity, params) is None
