"""Templated training prompts whose difficulty is known by construction, with prior labels.

MMLU outcomes (answer-only multiple choice, no chain of thought) teach the wrong lesson about
computation: there, questions full of numbers are ones BOTH models miss, so "more arithmetic"
looks easy. On open tasks (word problems, puzzles, code, chat) the reverse holds. These prompts
carry a documented prior instead: each task type has a complexity knob (reasoning steps,
constraints, code size), and the label is the chance that the strong model succeeds where the
weak one fails, from an outcome model of the form used in the literature on multi-step tasks:

    p_weak(k)   = a_w * r_w ** (k - 1)      per-step reliability of the weak model
    p_strong(k) = a_s * r_s ** (k - 1)      (higher for the strong model)
    label       = max(p_strong - p_weak, 0)

The constants are the author's judgement (weak ~ Mixtral-class, strong ~ GPT-4-class), stated in
TASK_PRIORS. They are priors, not measurements: the trained model is only as right as they are.
The evaluation sets in routing/training/evalsets.py use separate templates and wording.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

NAMES = ["Ava", "Liam", "Noah", "Mia", "Omar", "Priya", "Chen", "Lucas", "Zoe", "Ivan", "Fatima", "Kenji"]
ITEMS = ["apples", "stickers", "books", "marbles", "cookies", "pencils", "cards", "stamps", "shells", "coins"]


@dataclass(frozen=True)
class Prior:
    a_w: float
    r_w: float
    a_s: float
    r_s: float

    def gain(self, k: int) -> float:
        pw = self.a_w * self.r_w ** (k - 1)
        ps = self.a_s * self.r_s ** (k - 1)
        return max(ps - pw, 0.0)


TASK_PRIORS: dict[str, Prior] = {
    "arithmetic": Prior(0.97, 0.86, 0.99, 0.975),  # k = reasoning steps
    "algebra": Prior(0.90, 0.80, 0.97, 0.94),  # k = 1 linear .. 5 proof-like
    "logic": Prior(0.92, 0.78, 0.98, 0.93),  # k = constraints to combine
    "code": Prior(0.93, 0.82, 0.98, 0.95),  # k = size/requirements of the program
    "writing": Prior(0.95, 0.96, 0.97, 0.985),  # k = explicit constraints on the text
    "chitchat": Prior(0.98, 1.0, 0.99, 1.0),
    "factual": Prior(0.93, 0.90, 0.97, 0.96),  # k = 1 common fact .. 3 multi-hop
    "rewrite": Prior(0.95, 0.95, 0.97, 0.985),  # k = constraints / length
    "advice": Prior(0.93, 0.94, 0.97, 0.975),  # k = requested depth / parts
}


@dataclass(frozen=True)
class Example:
    prompt: str
    label: float
    task: str
    k: int


def _arithmetic(rng: random.Random, k: int) -> str:
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    n = rng.randint(5, 60)
    parts = [f"{name} has {n} {item}."]
    steps = [
        lambda: f"{name} buys {rng.randint(2, 30)} more {item}.",
        lambda: f"Then {name} gives {rng.randint(1, 9)} {item} to each of {rng.randint(2, 5)} friends.",
        lambda: f"After that, the number of {item} doubles.",
        lambda: f"{name} sells half of them for ${rng.randint(1, 5)} each.",
        lambda: f"A friend gives {name} {rng.randint(2, 4)} bags with {rng.randint(3, 12)} {item} in every bag.",
        lambda: f"{rng.randint(10, 40)}% of the {item} are lost on the way home.",
        lambda: f"{name} puts a third of the {item} into a box.",
        lambda: f"Each week {name} uses {rng.randint(2, 6)} {item}, for {rng.randint(2, 4)} weeks.",
    ]
    for _ in range(k - 1):
        parts.append(rng.choice(steps)())
    parts.append(rng.choice([f"How many {item} does {name} have now?", f"How many {item} are left?", "What is the final count?"]))
    return " ".join(parts)


def _algebra(rng: random.Random, k: int) -> str:
    a, b, c = rng.randint(2, 9), rng.randint(1, 30), rng.randint(1, 50)
    options = {
        1: [f"Solve for x: {a}x + {b} = {c}.", f"What is {a * 12} divided by {a}?"],
        2: [f"Solve x^2 - {a + b}x + {a * b} = 0.", f"Find the slope of the line through ({a}, {b}) and ({c}, {a + c})."],
        3: [f"Solve the system {a}x + y = {c}, x - {b}y = {a}.", f"Find the derivative of x^{a} * ln(x) and evaluate it at x = {b}."],
        4: [
            f"How many integers between 1 and {c * 100} are divisible by {a} or {b % 7 + 2} but not both?",
            f"Compute the integral of x^2 e^(-{a}x) from 0 to infinity.",
        ],
        5: [
            "Prove that for every integer n >= 1, the sum 1 + 2 + ... + n equals n(n+1)/2, and generalise to sums of squares.",
            f"Find all functions f: R -> R with f(x + y) = f(x) + f(y) + {a}xy for all real x, y. Justify each step.",
        ],
    }
    return rng.choice(options[k])


def _logic(rng: random.Random, k: int) -> str:
    people = rng.sample(NAMES, 3 + min(k, 4))
    clues = [
        lambda p, q: f"{p} is older than {q}.",
        lambda p, q: f"{p} is not the youngest.",
        lambda p, q: f"{q} sits directly left of {p}.",
        lambda p, q: f"If {p} wears red, then {q} wears blue.",
        lambda p, q: f"Either {p} or {q} owns the dog, but not both.",
        lambda p, q: f"{p} finished the race before {q} but after someone else.",
    ]
    lines = [f"{', '.join(people[:-1])} and {people[-1]} each have a different position."]
    for _ in range(k + 1):
        p, q = rng.sample(people, 2)
        lines.append(rng.choice(clues)(p, q))
    lines.append(rng.choice(["Who is in the middle?", "Who owns the dog?", "Determine the full order.", "Who is the oldest?"]))
    return " ".join(lines)


def _code(rng: random.Random, k: int) -> str:
    lang = rng.choice(["Python", "JavaScript", "Go", "Rust", "Java", "C++"])
    tasks = {
        1: [f"In {lang}, how do I reverse a string?", f"Write a {lang} function that returns the maximum of a list."],
        2: [
            f"Write a {lang} function that checks whether a string is a palindrome, ignoring punctuation and case.",
            f"Write a {lang} function to merge two sorted arrays into one sorted array.",
        ],
        3: [
            f"Implement an LRU cache in {lang} with O(1) get and put, and explain the design.",
            f"Write a {lang} parser for arithmetic expressions with +, -, *, / and parentheses, respecting precedence.",
        ],
        4: [
            f"Implement a thread-safe bounded queue in {lang} with blocking put/take and a timeout, plus unit tests.",
            f"Find and fix the race condition in this {lang} code:\n```\ncounter = 0\ndef worker():\n    global counter\n    for _ in range(1000):\n        counter += 1\n```\nThen make it scale to many threads.",
        ],
        5: [
            f"Design and implement in {lang} a rate limiter service with sliding windows per API key, persistence in Redis, "
            "graceful degradation when Redis is down, and tests for the edge cases.",
            f"Write a {lang} implementation of the Raft leader election, with timeouts, term handling and log comparison.",
        ],
    }
    return rng.choice(tasks[k])


def _writing(rng: random.Random, k: int) -> str:
    topic = rng.choice(["the ocean", "a lost cat", "friendship", "a rainy city", "space travel", "autumn", "a first job"])
    form = rng.choice(["poem", "short story", "limerick", "haiku", "blog post", "song"])
    constraints = [
        "in exactly 8 lines",
        "where every line starts with the letter S",
        "without using the letter e",
        "that rhymes in an ABAB pattern",
        "told from the point of view of a teapot",
        "under 100 words",
        "that ends with a twist",
    ]
    picked = rng.sample(constraints, k - 1)
    return f"Write a {form} about {topic}" + (" " + ", ".join(picked) if picked else "") + "."


def _chitchat(rng: random.Random, k: int) -> str:
    return rng.choice(
        [
            "hey, what's up?",
            "Good morning!",
            "thank you so much :)",
            "How's your day going?",
            "hello",
            "Can you tell me a fun fact?",
            "I'm feeling a bit tired today.",
            "bye, talk later!",
            "You're awesome, thanks!",
            "What do you like to do for fun?",
        ]
    )


def _factual(rng: random.Random, k: int) -> str:
    options = {
        1: [
            "What is the capital of Canada?",
            "Who painted the Mona Lisa?",
            "How many continents are there?",
            "What is the chemical symbol for gold?",
            "In which country is Kyoto?",
        ],
        2: [
            "Which element has the highest electronegativity, and why?",
            "What was the main cause of the War of the Spanish Succession?",
            "Which enzyme unwinds DNA during replication?",
            "What is the Chandrasekhar limit?",
        ],
        3: [
            "Which author born in the same year as the first Nobel laureate in literature also won that prize, and for what work?",
            "What river flows through the capital of the country that hosted the 1994 Winter Olympics?",
        ],
    }
    return rng.choice(options[k])


def _rewrite(rng: random.Random, k: int) -> str:
    text = rng.choice(
        [
            "the meeting is moved to thursday pls tell everyone and bring the reports",
            "Our product sales increased by a lot this quarter because of the new marketing campaign we did.",
        ]
    )
    asks = {
        1: ["Fix the spelling: {t}", "Translate into French: {t}"],
        2: ["Rewrite this more formally: {t}", "Summarize in one sentence: {t}"],
        3: ["Rewrite this as a polite email with a subject line and three bullet points: {t}"],
        4: ["Turn this into a JSON object with fields date, audience, action and priority, and a Spanish translation: {t}"],
    }
    return rng.choice(asks[k]).format(t=text)


def _advice(rng: random.Random, k: int) -> str:
    options = {
        1: ["How do I boil an egg?", "Any tips to sleep better?", "Why do cats purr?"],
        2: ["Explain how a credit score works and how to improve it.", "What should I pack for a week in Iceland?"],
        3: [
            "Compare index funds and individual stocks for a 30-year-old, with pros, cons and a suggested allocation.",
            "Make a 12-week training plan for a first marathon, with weekly mileage and rest days.",
        ],
    }
    return rng.choice(options[k])


GENERATORS: dict[str, tuple[Callable[[random.Random, int], str], range]] = {
    "arithmetic": (_arithmetic, range(1, 9)),
    "algebra": (_algebra, range(1, 6)),
    "logic": (_logic, range(1, 7)),
    "code": (_code, range(1, 6)),
    "writing": (_writing, range(1, 5)),
    "chitchat": (_chitchat, range(1, 2)),
    "factual": (_factual, range(1, 4)),
    "rewrite": (_rewrite, range(1, 5)),
    "advice": (_advice, range(1, 4)),
}


def generate(per_task: int = 300, seed: int = 0) -> list[Example]:
    """per_task prompts for every task type, complexity spread uniformly over its knob."""
    rng = random.Random(seed)
    out: list[Example] = []
    for task, (make, ks) in GENERATORS.items():
        prior = TASK_PRIORS[task]
        for i in range(per_task):
            k = ks[i % len(ks)]
            out.append(Example(make(rng, k), prior.gain(k), task, k))
    return out
