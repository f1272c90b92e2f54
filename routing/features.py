"""Hand features of a task's text: signals of what makes a task hard for a small model.

Each feature is a count squashed by log1p (or a share in [0, 1]) so that a new kind of prompt
lands in the range seen in training; the trained model clips them to that range again.
They are about the task's shape (arithmetic, chains of constraints, code, expected answer
length, creative or conversational requests), not about any subject, so they carry over
from the training data to unlike prompts. Words are classified once each (cached), so a
feature vector costs one pass over the words plus a few regexes.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache

import numpy as np

from routing.request import RequestSummary

# name: (whole words, word prefixes, multi-word phrases)
LEXICONS: dict[str, tuple[frozenset[str], tuple[str, ...], tuple[str, ...]]] = {
    "math": (
        frozenset(
            "total sum product solve equation equations integer integers average mean ratio remainder prime "
            "primes derivative integral fraction fractions divisible area volume perimeter radius digit digits "
            "variance polynomial matrix vector vectors modulo rate speed interest profit".split()
        ),
        ("calculat", "comput", "probabilit", "percent", "multipl", "divid", "factor"),
        ("how many", "how much", "expected value"),
    ),
    "quantity": (
        frozenset(
            "each per every twice thrice half third quarter times fewer remaining left altogether then after "
            "initially cost costs dollar dollars hour hours minute minutes day days week weeks".split()
        ),
        (),
        ("more than", "less than", "years old"),
    ),
    "constraint": (
        frozenset(
            "if must exactly unless not neither either nor except without both all none never always only "
            "cannot can't implies therefore suppose assume".split()
        ),
        (),
        ("at least", "at most", "no more than", "no fewer than", "given that", "only if"),
    ),
    "code": (
        frozenset(
            "def class return import function python javascript typescript java rust golang sql regex api bug "
            "algorithm code script program recursion recursive array string runtime complexity lambda async "
            "c++".split()
        ),
        ("compile", "implement", "debug", "refactor"),
        ("unit test",),
    ),
    "long_answer": (
        frozenset(
            "write describe essay plan design implement prove derive compare discuss elaborate justify outline "
            "draft develop create build".split()
        ),
        ("explain", "analyse", "analyze", "reason"),
        ("step by step", "step-by-step", "in detail", "show your work"),
    ),
    "short_answer": (
        frozenset("briefly name define which".split()),
        (),
        (
            "one word",
            "yes or no",
            "true or false",
            "in short",
            "short answer",
            "what is",
            "who is",
            "who was",
            "when did",
            "when was",
            "where is",
        ),
    ),
    "creative": (
        frozenset(
            "poem story joke song lyrics haiku limerick rewrite rephrase paraphrase translate email letter "
            "slogan tweet blog caption tagline pretend roleplay role-play imagine tone friendly".split()
        ),
        ("summari",),
        ("act as",),
    ),
    "chitchat": (
        frozenset("hi hello hey thanks lol cool bye".split()),
        (),
        ("thank you", "how are you", "good morning", "good night", "what's up", "nice to meet you"),
    ),
}
_LEXICON_NAMES = tuple(LEXICONS)

_WORD = re.compile(r"[^\W_]+(?:['+-][^\W_]+)*\+*")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_SENTENCE_END = re.compile(r"[.!?。？！](?:\s|$)")
_ARITH = re.compile(r"[+*/×÷^=<>≤≥√π∑∫≈≠±]|\\frac|\\sqrt|\s-\s")
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")
_NON_ASCII_LETTER = re.compile(r"[^\W\d_a-zA-Z]")
_LOGIC_SYMBOL = re.compile(r"[⊃∨∧¬→↔∀∃≡⊢⊨⋅•]")
_CODE_SYMBOL = re.compile(r"```|[{};]\s*$|==|!=|=>|->|\w\(\)|\.\w+\(|^ {4}\S", re.MULTILINE)


@lru_cache(maxsize=65536)
def _word_mask(word: str) -> int:
    """Bit i set when the lower-case word belongs to lexicon i."""
    mask = 0
    for i, (words, prefixes, _) in enumerate(LEXICONS.values()):
        if word in words or (prefixes and word.startswith(prefixes)):
            mask |= 1 << i
    return mask


FEATURE_NAMES: tuple[str, ...] = (
    "log_words",
    "log_sentences",
    "log_numbers",
    "log_arith",
    "log_math_words",
    "log_quantity_words",
    "log_constraints",
    "log_logic_symbols",
    "log_code",
    "log_long_answer",
    "log_short_answer",
    "log_creative",
    "log_chitchat",
    "question_marks",
    "digit_share",
    "non_ascii_share",
)


def lexicon_counts(text: str) -> dict[str, int]:
    lower = text.lower()
    counts = [0] * len(_LEXICON_NAMES)
    for mask, n in Counter(map(_word_mask, _WORD.findall(lower))).items():
        i = 0
        while mask:
            if mask & 1:
                counts[i] += n
            mask >>= 1
            i += 1
    padded = f" {lower} "
    for i, (_, _, phrases) in enumerate(LEXICONS.values()):
        counts[i] += sum(padded.count(p) for p in phrases)
    return dict(zip(_LEXICON_NAMES, counts, strict=True))


def text_features(text: str) -> np.ndarray:
    """The FEATURE_NAMES vector (float32) of one task text."""
    n_words = len(_WORD.findall(text))
    lex = lexicon_counts(text)
    n_chars = max(len(text), 1)
    non_ascii_share = 0.0
    if not text.isascii():
        letters = len(_LETTER.findall(text)) or 1
        non_ascii_share = len(_NON_ASCII_LETTER.findall(text)) / letters
    sentences = len(_SENTENCE_END.findall(text)) + (1 if text.rstrip()[-1:] not in (".", "!", "?", "") else 0)
    values = (
        math.log1p(n_words),
        math.log1p(sentences),
        math.log1p(len(_NUMBER.findall(text))),
        math.log1p(len(_ARITH.findall(text))),
        math.log1p(lex["math"]),
        math.log1p(lex["quantity"]),
        math.log1p(lex["constraint"]),
        math.log1p(len(_LOGIC_SYMBOL.findall(text))),
        math.log1p(lex["code"] + 2 * len(_CODE_SYMBOL.findall(text))),
        math.log1p(lex["long_answer"]),
        math.log1p(lex["short_answer"]),
        math.log1p(lex["creative"]),
        math.log1p(lex["chitchat"]) if n_words < 40 else 0.0,
        min(text.count("?"), 5) / 5.0,
        len(_DIGIT.findall(text)) / n_chars,
        non_ascii_share,
    )
    return np.asarray(values, dtype=np.float32)


def summary_features(summary: RequestSummary) -> np.ndarray:
    return text_features(summary.task_text)
