"""Evaluation sets unlike the training data: written separately from routing/training/synthetic.py.

- math_word_problems: GSM8K-style stories (shopping, travel, cooking, work) with 1-8 reasoning
  steps, other templates, names and phrasing than the training generator.
- reasoning: knights-and-knaves, syllogism chains and scheduling puzzles with 2-7 premises
  (the training generator only has ordering/ownership clues).
- open_chat: 64 hand-written chat requests across MT-Bench-like categories, each with a
  hand-assigned complexity.

Outcomes are NOT measured model answers (none can be produced offline here). They come from
the same outcome model as synthetic.TASK_PRIORS at the item's complexity: for math and reasoning
one seeded draw per item (u ~ U(0,1); weak right if u < p_weak, strong right if u < p_strong, so
the strong model wins exactly where it should by the prior); for the 64 chat items, the expected
success rates themselves (continuous outcomes, like judge scores). These sets test whether the router recognises the task type and its complexity in
unseen wording; they cannot show that the priors themselves are right. MMLU-derived sets with
real outcomes (held-out subject groups) are built by bench/router_quality.py from shared data.
"""

from __future__ import annotations

import random
from pathlib import Path

from routing.eval_cli import write_eval_csv
from routing.training.synthetic import TASK_PRIORS

PEOPLE = ["Mrs. Alvarez", "Dmitri", "Grace", "Tariq", "Hannah", "Jorge", "Leila", "Samuel", "Yuki", "Beatrice"]


def _expected(task: str, k: int) -> tuple[float, float]:
    p = TASK_PRIORS[task]
    return p.a_w * p.r_w ** (k - 1), p.a_s * p.r_s ** (k - 1)


def _math_problem(rng: random.Random, k: int) -> str:
    who = rng.choice(PEOPLE)
    price, qty, hours = rng.randint(3, 25), rng.randint(2, 12), rng.randint(2, 9)
    openers = [
        f"{who} is planning a school trip for {qty * 5} students.",
        f"A bakery sells loaves of bread for ${price} and pies for ${price + 7}.",
        f"{who} drives at {rng.randint(40, 70)} miles per hour on a {rng.randint(120, 400)}-mile journey.",
        f"{who} works {hours} hours on weekdays and earns ${price} an hour.",
    ]
    middles = [
        f"On Monday {qty} more people joined.",
        f"The cost rises by {rng.randint(5, 30)} percent in the second month.",
        f"{who} spends one fifth of the money on lunch.",
        f"A coupon takes ${rng.randint(2, 15)} off every order above ${rng.randint(40, 90)}.",
        f"Each bus holds {rng.randint(20, 45)} passengers and costs ${rng.randint(90, 300)} to rent.",
        f"The trip is repeated {rng.randint(2, 4)} times, with a {rng.randint(15, 50)}-minute stop each time.",
        f"On weekends the pay is one and a half times the usual rate for {rng.randint(3, 8)} hours.",
        f"The remaining amount is split equally among {rng.randint(3, 6)} cousins.",
    ]
    closers = [
        "How much money is left at the end?",
        "How many minutes does it take in total?",
        "What is the total cost?",
        "How many buses are needed, and what do they cost altogether?",
    ]
    return " ".join([rng.choice(openers)] + rng.sample(middles, k - 1) + [rng.choice(closers)])


def _reasoning_problem(rng: random.Random, k: int) -> str:
    family = rng.randrange(3)
    if family == 0:  # knights and knaves; k statements
        names = rng.sample(["Abe", "Bea", "Cal", "Dot", "Eli", "Fay", "Gus"], min(k, 7))
        says = []
        for n in names:
            other = rng.choice([m for m in names if m != n] or [n])
            says.append(
                rng.choice(
                    [
                        f"{n} says: '{other} is a knave.'",
                        f"{n} says: 'Exactly one of us is a knight.'",
                        f"{n} says: '{other} and I are the same kind.'",
                    ]
                )
            )
        return "On an island, knights always tell the truth and knaves always lie. " + " ".join(says) + " Who is a knight?"
    if family == 1:  # syllogism chain; k premises
        terms = rng.sample(["poets", "sailors", "chess players", "bakers", "dreamers", "runners", "painters", "coders"], min(k + 1, 8))
        premises = [f"All {a} are {b}." if rng.random() < 0.7 else f"No {a} are {b}." for a, b in zip(terms, terms[1:], strict=False)]
        return " ".join(premises) + f" Does it follow that some {terms[0]} are {terms[-1]}? Explain your reasoning."
    slots = ["9am", "10am", "11am", "1pm", "2pm", "3pm", "4pm"]
    talks = rng.sample(["keynote", "panel", "workshop", "demo", "lunch talk", "poster session", "Q&A"], min(k, 7))
    rules = [f"The {a} must come before the {b}." for a, b in zip(talks, talks[1:], strict=False)]
    rules.append(f"The {talks[-1]} cannot be at {rng.choice(slots)}.")
    return (
        f"Schedule these events into the slots {', '.join(slots[: len(talks) + 1])}: {', '.join(talks)}. "
        + " ".join(rules[:k])
        + " Give one valid schedule."
    )


OPEN_CHAT: list[tuple[str, str, int]] = [
    # (prompt, prior task, complexity) — complexity judged by hand from what the answer needs.
    ("hi there! how's it going?", "chitchat", 1),
    ("Thanks for the help earlier, you saved my evening.", "chitchat", 1),
    ("Do you ever get tired of answering questions?", "chitchat", 1),
    ("Good night, talk tomorrow!", "chitchat", 1),
    ("What's a good name for a golden retriever puppy?", "chitchat", 1),
    ("Can you recommend a fun board game for four people?", "advice", 1),
    ("Write a two-line rhyme for a birthday card for my grandma.", "writing", 1),
    ("Compose a short poem about coffee on a Monday morning.", "writing", 1),
    ("Write a persuasive paragraph on why cities should plant more trees.", "writing", 2),
    ("Draft a cover letter for a junior graphic designer position, enthusiastic but not over the top.", "writing", 2),
    ("Write a travel blog post about a weekend in Lisbon with three sections: food, sights, and tips.", "writing", 3),
    ("Write a sonnet about machine learning in iambic pentameter, with the volta at line 9.", "writing", 4),
    ("Pretend to be Sherlock Holmes and describe what you can deduce about me from my muddy boots.", "writing", 2),
    ("Act as a friendly barista and take my order.", "writing", 1),
    ("You are a medieval knight. Explain to a peasant what a smartphone is, staying in character.", "writing", 2),
    ("Roleplay as a job interviewer for a data analyst role and ask me your first three questions.", "writing", 2),
    ("Fix the typos: 'Their going to the libary tommorow to study for there exam.'", "rewrite", 1),
    ("Translate 'The meeting has been postponed until further notice' into German.", "rewrite", 1),
    ("Summarize the plot of Romeo and Juliet in two sentences.", "rewrite", 2),
    ("Make this sound friendlier: 'Your request has been denied due to missing documents.'", "rewrite", 2),
    (
        "From this text, list every company and the year it was founded as a table: 'Apple (1976) and Microsoft (1975) predate Google, founded in 1998, and Amazon from 1994.'",
        "rewrite",
        3,
    ),
    (
        "Extract the names, amounts and due dates from these three invoices and return them as JSON sorted by due date: INV-1 Acme $1,200 due 2024-03-01; INV-2 Bolt $560 due 2024-02-15; INV-3 Cato $2,340 due 2024-04-10.",
        "rewrite",
        4,
    ),
    ("What is the tallest mountain in Africa?", "factual", 1),
    ("Who discovered penicillin?", "factual", 1),
    ("What causes the seasons on Earth?", "advice", 1),
    ("Explain the main differences between the Roman Republic and the Roman Empire.", "factual", 2),
    ("What role did the printing press play in the Protestant Reformation?", "factual", 2),
    ("How does CRISPR-Cas9 edit genes, and what are its main limitations?", "factual", 2),
    ("Which Nobel physics laureate also won a Nobel in chemistry, and what links the two discoveries?", "factual", 3),
    ("How can I stop procrastinating on my thesis?", "advice", 1),
    ("What are good habits for managing personal finances in your twenties?", "advice", 2),
    ("Give me a 7-day vegetarian meal plan with a shopping list grouped by aisle.", "advice", 3),
    ("Explain to a 10-year-old how the internet works.", "advice", 2),
    ("Compare renting versus buying a home over 10 years, with the assumptions you make.", "advice", 3),
    ("What is 15% of 80?", "arithmetic", 1),
    ("If I save $50 a week, how much will I have after a year?", "arithmetic", 2),
    ("A pizza is cut into 8 slices. I eat 3 and my friend eats half of what's left. How many slices remain?", "arithmetic", 3),
    (
        "A car loan of $18,000 at 6% annual interest is paid monthly over 5 years. Estimate the monthly payment and the total interest.",
        "arithmetic",
        5,
    ),
    ("Solve 2x - 7 = 11.", "algebra", 1),
    ("Find the roots of x^2 + 5x + 6 = 0.", "algebra", 2),
    ("Find the maximum area of a rectangle inscribed in a circle of radius 5, and prove it is the maximum.", "algebra", 4),
    ("Prove that there are infinitely many primes of the form 4k + 3.", "algebra", 5),
    ("Let f(n) be the number of ways to tile a 2 x n board with dominoes. Find a closed form for f(n).", "algebra", 5),
    ("If all roses are flowers and some flowers fade quickly, can we conclude some roses fade quickly?", "logic", 2),
    (
        "Three boxes are labelled apples, oranges and mixed, and all labels are wrong. You may pick one fruit from one box. How do you relabel them?",
        "logic",
        3,
    ),
    (
        "Four friends each ordered a different drink. Ana didn't order tea. The person who ordered coffee sits next to Ben. Cara ordered juice. Dan sits opposite the tea drinker and did not order water. Who ordered what?",
        "logic",
        5,
    ),
    (
        "A man looks at a portrait and says: 'Brothers and sisters I have none, but that man's father is my father's son.' Who is in the portrait?",
        "logic",
        3,
    ),
    (
        "You have 12 coins, one counterfeit that is lighter or heavier. With three weighings on a balance, find the coin and say whether it is lighter or heavier.",
        "logic",
        6,
    ),
    ("How do I print 'hello world' in Python?", "code", 1),
    ("What does the SQL keyword DISTINCT do?", "code", 1),
    ("Write a JavaScript function that debounces another function.", "code", 2),
    ("Write a Python script that reads a CSV of sales and prints the total per region, sorted descending.", "code", 2),
    ("Implement Dijkstra's shortest path in C++ using a priority queue and explain its complexity.", "code", 3),
    (
        "My Flask app leaks database connections under load. Here is how I open them: `conn = psycopg2.connect(DSN)` in every request handler, never closed. Diagnose and fix it properly.",
        "code",
        3,
    ),
    ("Write a lock-free single-producer single-consumer ring buffer in Rust with tests for wrap-around.", "code", 5),
    ("Design a URL shortener: API, storage schema, ID generation, caching, and how it scales to 1 billion links.", "code", 4),
    ("Tell me a joke about programmers.", "chitchat", 1),
    ("What's the difference between a crocodile and an alligator?", "factual", 1),
    ("Suggest five names for a bakery that specialises in sourdough.", "writing", 1),
    ("Write a limerick about a forgetful robot.", "writing", 1),
    ("Explain quantum entanglement simply, then explain why it cannot be used to send information faster than light.", "factual", 3),
    ("Plan a 3-day itinerary for Rome on a budget, with costs per day and public transport between sights.", "advice", 3),
    ("Rewrite the following in passive voice: 'The committee approved the budget.'", "rewrite", 1),
    ("Is it better to study in the morning or at night?", "advice", 1),
]


def _drawn(rng: random.Random, task: str, k: int) -> tuple[float, float]:
    p_weak, p_strong = _expected(task, k)
    u = rng.random()
    return float(u < p_weak), float(u < p_strong)


def build_sets_with_prior(n: int = 400, seed: int = 7) -> dict[str, list[tuple[str, float, float, float]]]:
    """{set name: [(prompt, weak, strong, prior gain)]}: the prior gain is what an ideal router
    that knew the item's task type and complexity would score (the ceiling of these sets)."""
    rng = random.Random(seed)
    sets: dict[str, list[tuple[str, float, float, float]]] = {"math_word_problems": [], "reasoning": [], "open_chat": []}
    for i in range(n):
        k = 1 + i % 8
        sets["math_word_problems"].append((_math_problem(rng, k), *_drawn(rng, "arithmetic", k), TASK_PRIORS["arithmetic"].gain(k)))
    for i in range(n):
        k = 2 + i % 6
        sets["reasoning"].append((_reasoning_problem(rng, k), *_drawn(rng, "logic", k), TASK_PRIORS["logic"].gain(k)))
    for prompt, task, k in OPEN_CHAT:
        sets["open_chat"].append((prompt, *_expected(task, k), TASK_PRIORS[task].gain(k)))
    return sets


def build_sets(n: int = 400, seed: int = 7) -> dict[str, list[tuple[str, float, float]]]:
    """{set name: [(prompt, weak, strong)]} with outcomes in [0, 1] (see the module doc)."""
    return {name: [row[:3] for row in rows] for name, rows in build_sets_with_prior(n, seed).items()}


def write_csvs(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows in build_sets().items():
        path = folder / f"{name}.csv"
        write_eval_csv(path, ((p, f"{w:.4f}", f"{s:.4f}") for p, w, s in rows))
        paths.append(path)
    return paths
