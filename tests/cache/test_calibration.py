"""The calibration machinery and the shipped parameters: split, scoring, adversarial pairs."""

import json
from importlib import resources

import numpy as np
import pytest

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
    assert kinds == {"number", "negation", "antonym", "substitution", "polarity", "question", "voice", "order"}


@pytest.mark.parametrize("extra_word", [False, True])
def test_shipped_rule_serves_no_adversarial_pair_even_at_perfect_similarity(extra_word):
    params = MatchParams.load(extra_word=extra_word)
    pairs = list(HANDWRITTEN) + adversarial_pairs(QUESTIONS)
    assert [(a, b) for _, a, b in pairs if is_match(a, b, 1.0, params)] == []


def test_label_audit_flips_labels_with_reasons_and_refuses_stale_rows():
    from cache.calibration.labels import apply_audit, load_audit, pair_id

    audit = load_audit()
    assert len(audit) > 0 and set(audit.values()) == {True, False}  # flips in both directions
    pairs = [Pair("Which laptop I should buy?", "Which laptop should I buy?", False), Pair("a", "b", True)]
    audited = apply_audit(pairs, {pair_id("Which laptop I should buy?", "Which laptop should I buy?"): True})
    assert [p.duplicate for p in audited] == [True, True]
    with pytest.raises(ValueError, match="match no pair"):
        apply_audit(pairs, {pair_id("x", "y"): True})


def test_shipped_params_file_is_complete():
    raw = json.loads((resources.files("cache.calibration") / "semantic_params.json").read_text())
    assert raw["default_kind"] in raw["params"]
    params = MatchParams.load()
    assert params.embedder == raw["default_kind"] and 0.8 <= params.threshold < 1.0 and params.check_order
    figures = raw["figures"][raw["default_kind"]]
    # The default rule is the safe one; the opt-in buys recall with precision.
    assert len(figures["seeds"]) >= 3
    for seed in figures["seeds"]:
        assert seed["held_out_audited_labels"]["precision"] >= 0.95
        assert seed["extra_word"]["held_out"]["recall"] > 1.4 * seed["held_out"]["recall"]
        assert seed["held_out"]["precision"] > seed["extra_word"]["held_out"]["precision"]
    # The opt-in's median split serves about 15% of the duplicates (0.150 after probe round 10's rules);
    # under 14% the rule has lost recall that needs explaining.
    assert figures["spread_over_seeds"]["extra_word"]["held_out"]["recall"][1] >= 0.14
    assert params.search_embedder == "static" and params.search_dim == 128 and params.dim == 384
    assert all(row["hits"] == 0 for row in raw["figures"][raw["default_kind"]]["adversarial"].values())
