"""The calibration machinery and the shipped parameters: split, scoring, adversarial pairs."""

import json
from importlib import resources

import numpy as np

from cache.calibration.adversarial import HANDWRITTEN, adversarial_pairs, change_number, insert_negation, swap_antonym
from cache.calibration.calibrate import Pair, score, split
from cache.semantic_match import MatchParams, is_match

QUESTIONS = [
    "What is the best way to learn 3 languages at once?",
    "Is it safe to travel to Egypt in 2017?",
    "How can I increase my height after 18?",
    "Why do cats purr when they are happy?",
    "What are the advantages of online learning?",
]


def test_split_is_fixed_and_disjoint():
    pairs = [Pair(f"a{i}", f"b{i}", i % 2 == 0) for i in range(101)]
    cal, held = split(pairs)
    assert (cal, held) == split(pairs)
    assert len(cal) == 50 and len(held) == 51 and not set(cal) & set(held)


def test_score_counts_precision_and_recall():
    pairs = [Pair("How do I cook rice?", "How should I cook rice?", True), Pair("What is AI?", "What is AI?", False),
             Pair("Why is the sky blue?", "Why is the sea blue?", True)]
    s = score(pairs, np.array([0.99, 0.99, 0.5]), MatchParams(0.9))
    assert (s.hits, s.true_hits, s.false_hits, s.duplicates) == (2, 1, 1, 2)
    assert s.precision == 0.5 and s.recall == 0.5


def test_perturbations():
    assert change_number("Is it safe to travel to Egypt in 2017?") == "Is it safe to travel to Egypt in 2018?"
    assert insert_negation("Why do cats purr when they are happy?") == "Why do not cats purr when they are happy?"
    assert swap_antonym("What are the advantages of online learning?") == "What are the disadvantages of online learning?"
    kinds = {kind for kind, _, _ in adversarial_pairs(QUESTIONS)}
    assert kinds == {"number", "negation", "antonym"}


def test_shipped_rule_serves_no_adversarial_pair_even_at_perfect_similarity():
    params = MatchParams.load()
    pairs = list(HANDWRITTEN) + adversarial_pairs(QUESTIONS)
    assert [(a, b) for _, a, b in pairs if is_match(a, b, 1.0, params)] == []


def test_shipped_params_file_is_complete():
    raw = json.loads((resources.files("cache.calibration") / "semantic_params.json").read_text())
    assert raw["default_kind"] in raw["params"]
    params = MatchParams.load()
    assert params.embedder == raw["default_kind"] and 0.8 <= params.threshold < 1.0 and params.check_order
    held = raw["figures"][raw["default_kind"]]["held_out"]
    assert held["recall"] >= 0.15
    assert all(row["hits"] == 0 for row in raw["figures"][raw["default_kind"]]["adversarial"].values())
