from __future__ import annotations

import math

import numpy as np
import pytest

from routing.features import FEATURE_NAMES, lexicon_counts, text_features


def L(n: int):  # noqa: N802 - reads like the formula
    return pytest.approx(math.log1p(n), rel=1e-6)


def feats(text: str) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, text_features(text).tolist(), strict=True))


def test_vector_shape_and_dtype() -> None:
    v = text_features("hello")
    assert v.shape == (len(FEATURE_NAMES),) and v.dtype == np.float32
    assert np.all(np.isfinite(text_features("")))


def test_counts_on_a_word_problem() -> None:
    f = feats("Each box holds 12 pens. Maya buys 3 boxes and gives away 5 pens. How many pens are left?")
    assert f["log_numbers"] == L(3)
    assert f["log_quantity_words"] >= math.log1p(2) - 1e-6  # each, left
    assert f["log_math_words"] == L(1)  # how many
    assert f["log_sentences"] == L(3)
    assert f["question_marks"] == pytest.approx(0.2)


def test_code_constraints_and_creative_cues() -> None:
    code = feats("Implement a Python function:\n```\ndef f(x):\n    return x + 1\n```")
    assert code["log_code"] > math.log1p(5)
    assert feats("You must use exactly three words, at least once, unless told otherwise.")["log_constraints"] == L(4)
    assert feats("Write a poem and a short story.")["log_creative"] == L(2)
    assert feats("hi! thank you")["log_chitchat"] == L(2)
    assert feats("hi " + "word " * 50)["log_chitchat"] == 0.0  # greetings inside long texts are not chit-chat


def test_lexicon_prefixes_and_phrases() -> None:
    counts = lexicon_counts("Calculate the probability, then compute how many; explain step by step.")
    assert counts["math"] == 4  # calculate, probability, compute, how many
    assert counts["long_answer"] == 2  # explain, step by step


def test_language_and_digits() -> None:
    assert feats("Привет, как дела?")["non_ascii_share"] == 1.0
    assert feats("plain english")["non_ascii_share"] == 0.0
    assert 0 < feats("year 2024")["digit_share"] < 1
