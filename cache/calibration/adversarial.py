"""Adversarial question pairs: the same question with one number changed, a negation inserted or
a word swapped for its antonym, plus hand-written swaps. The semantic cache must serve none of them."""

from __future__ import annotations

import re

from cache.guard import _ANTONYM_GROUPS

# Hand-written pairs, the first two from the caching issue.
HANDWRITTEN: tuple[tuple[str, str, str], ...] = (
    ("number", "What is the square root of 16?", "What is the square root of 18?"),
    ("number", "When does season 5 of Game of Thrones come out?", "When does season 6 of Game of Thrones come out?"),
    ("number", "How many calories are in 2 eggs?", "How many calories are in 3 eggs?"),
    ("number", "What was the population of France in 1990?", "What was the population of France in 2010?"),
    ("number", "Is 0.5 mg of melatonin too much?", "Is 5 mg of melatonin too much?"),
    ("negation", "Should I learn Python before Java?", "Should I not learn Python before Java?"),
    ("negation", "Why is my code compiling?", "Why is my code not compiling?"),
    ("negation", "Can dogs eat grapes?", "Can't dogs eat grapes?"),
    ("antonym", "What are the advantages of nuclear energy?", "What are the disadvantages of nuclear energy?"),
    ("antonym", "How do I increase my credit score?", "How do I decrease my credit score?"),
    ("antonym", "What is the best programming language?", "What is the worst programming language?"),
    ("antonym", "How do I convert Celsius to Fahrenheit easily?", "How do I convert Fahrenheit to Celsius easily?"),
    # Found by probing the shipped rule (the first two were served before their words were listed).
    ("antonym", "How do I sort a list in Python ascending?", "How do I sort a list in Python descending?"),
    ("negation", "How many days are in February in a leap year?", "How many days are in February in a non-leap year?"),
    ("antonym", "How do I delete a git branch locally?", "How do I delete a git branch remotely?"),
    ("antonym", "How to center a div horizontally?", "How to center a div vertically?"),
    ("antonym", "What is the minimum wage in California?", "What is the maximum wage in California?"),
    ("polarity", "Cheap flights to Paris", "Cheap flights from Paris"),
    ("antonym", "Is it better to run in the morning?", "Is it better to run in the evening?"),
    ("antonym", "What's the weather like on weekdays in London?", "What's the weather like on weekends in London?"),
    ("antonym", "Are all mammals warm-blooded?", "Are some mammals warm-blooded?"),
    ("antonym", "What are the rights of a landlord?", "What are the rights of a tenant?"),
    ("antonym", "Why is my token invalid?", "Why is my token valid?"),
    ("antonym", "Can you freeze cooked pasta?", "Can you freeze uncooked pasta?"),
    # Swaps the embeddings barely see: lower-case names, near-domain words, question type, voice.
    ("substitution", "how do i learn python quickly?", "how do i learn java quickly?"),
    ("substitution", "What jobs are there for mechanical engineers?", "What jobs are there for electrical engineers?"),
    ("substitution", "what is the capital of france?", "what is the capital of germany?"),
    ("substitution", "What does 才 mean in English?", "What does 竟然 mean in English?"),
    ("substitution", "Which is the better iPhone, 6 plus or 6s?", "Which is the better iPhone, 6 plus or 6?"),
    ("polarity", "How do I stop lying to my parents?", "How do I lie to my parents?"),
    ("question", "Is Jackie Chan humble?", "Why is Jackie Chan humble?"),
    ("question", "How is energy transferred in a food chain?", "How much energy is transferred in a food chain?"),
    ("voice", "Which directors have influenced Werner Herzog?", "Which directors have been influenced by Werner Herzog?"),
    ("order", "Do I need a visa to visit Japan from the US?", "Do I need a visa to visit the US from Japan?"),  # "US" is no pronoun
)

_INT = re.compile(r"(?<![\d.])(\d{1,4})(?![\d.])")
_AUX = {
    "is": "is not", "are": "are not", "was": "was not", "were": "were not", "can": "cannot", "could": "could not",
    "do": "do not", "does": "does not", "did": "did not", "should": "should not", "would": "would not",
    "will": "will not", "has": "has not", "have": "have not",
}
_AUX_RE = re.compile(r"\b(" + "|".join(_AUX) + r")\b", re.I)
_WORD_RE = re.compile(r"[A-Za-z]+")


def _antonym_of() -> dict[str, str]:
    """Each word to the word at the same position of the next pole (poles list parallel forms:
    "advantages" -> "disadvantages", "older" -> "newer")."""
    swap: dict[str, str] = {}
    for group in _ANTONYM_GROUPS:
        poles = [pole.split() for pole in group.split("|")]
        for i, pole in enumerate(poles):
            other = poles[(i + 1) % len(poles)]
            for j, word in enumerate(pole):
                swap.setdefault(word, other[min(j, len(other) - 1)])
    return swap


_SWAP = _antonym_of()


def change_number(question: str) -> str | None:
    m = _INT.search(question)
    if m is None:
        return None
    value = int(m.group(1))
    return question[: m.start()] + str(value + 1 if value % 10 != 9 else value - 1) + question[m.end() :]


def insert_negation(question: str) -> str | None:
    m = _AUX_RE.search(question)
    if m is None:
        return None
    word = m.group(1)
    negated = _AUX[word.lower()]
    if word[0].isupper():
        negated = negated[0].upper() + negated[1:]
    return question[: m.start()] + negated + question[m.end() :]


def swap_antonym(question: str) -> str | None:
    for m in _WORD_RE.finditer(question):
        word = m.group(0)
        other = _SWAP.get(word.lower())
        if other is not None and len(word) > 2:
            if word[0].isupper():
                other = other[0].upper() + other[1:]
            return question[: m.start()] + other + question[m.end() :]
    return None


def adversarial_pairs(questions: list[str], word_sample: int | None = None, seed: int = 0) -> list[tuple[str, str, str]]:
    """(kind, original, perturbed) plus HANDWRITTEN: a number change for every question holding a
    number; a negation and an antonym swap for every question, or for a fixed-seed sample of
    `word_sample` questions (each perturbed text costs one embedding)."""
    import random

    pairs: list[tuple[str, str, str]] = list(HANDWRITTEN)
    word_questions = questions
    if word_sample is not None and word_sample < len(questions):
        word_questions = random.Random(seed).sample(questions, word_sample)
    for kind, perturb, pool in (
        ("number", change_number, questions),
        ("negation", insert_negation, word_questions),
        ("antonym", swap_antonym, word_questions),
    ):
        for question in pool:
            changed = perturb(question)
            if changed is not None and changed != question:
                pairs.append((kind, question, changed))
    return pairs
