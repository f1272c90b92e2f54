"""One key per meaning: British and American spellings and listed synonyms meet, nothing else does."""

import pytest

from cache.semantic_match import MatchParams, lexical_verdict
from cache.word_forms import american_spelling, word_key

STRICT = MatchParams(threshold=0.85, unaligned_threshold=None)


@pytest.mark.parametrize(
    "british,american",
    [("favourite", "favorite"), ("colours", "colors"), ("organisation", "organization"), ("centres", "centers"),
     ("travelling", "traveling"), ("analyse", "analyze"), ("defence", "defense"), ("grey", "gray"), ("maths", "math")],
)
def test_british_spellings_become_american(british, american):
    assert american_spelling(british) == american
    assert word_key(british) == word_key(american)


@pytest.mark.parametrize("word", ["mumbai", "four", "hour", "your", "tour", "colonel", "metro", "defend"])
def test_other_words_keep_their_spelling(word):
    assert american_spelling(word) == word


@pytest.mark.parametrize(
    "a,b",
    [
        ("What is your favourite colour?", "What is your favorite color?"),
        ("What is the funniest thing a child has said?", "What is the funniest thing a kid has said?"),
        ("How can I repair a leaking tap?", "How can I fix a leaking tap?"),
    ],
)
def test_spelling_variants_and_listed_synonyms_pass_the_strict_rule(a, b):
    assert lexical_verdict(a, b, STRICT).passed


@pytest.mark.parametrize(
    "a,b",
    [
        ("What are the benefits of working at Google?", "What are the advantages of working at Google?"),  # job benefits
        ("what is the weather like in tokyo?", "what is the weather like in osaka?"),
        ("How do I buy a used car?", "How do I sell a used car?"),
        ("Is a university better than a college?", "Is a college better than a university?"),
        ("what is a purchase order", "what is a buy order"),
        ("what is a back issue", "what is a back problem"),  # another sense: synonyms left out on purpose
        ("what is a film camera", "what is a movie camera"),
        ("can i drink coffee while fasting", "can i drink coffee quickly"),
    ],
)
def test_unlisted_near_synonyms_and_other_words_stay_refused(a, b):
    assert not lexical_verdict(a, b, STRICT).passed


def test_a_synonym_in_the_past_is_still_not_the_present():
    assert not lexical_verdict("Who repaired the bridge?", "Who fixes the bridge?", STRICT).passed
