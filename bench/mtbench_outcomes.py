"""RouteLLM's MT-Bench judgements as a routing eval file (prompt,weak,strong).

    python bench/mtbench_outcomes.py judgements.jsonl out.csv [--turns 1|both]
    tokenmill routing eval out.csv

judgements.jsonl is `routellm/evals/mt_bench/judgements.jsonl` from lm-sys/RouteLLM (public, not
shipped here): GPT-4's 1-10 scores of Mixtral-8x7B and GPT-4 answers to the 80 MT-Bench
questions, two turns each. The prompt is the first turn's question (what a router sees when the
conversation starts); an outcome is the score / 10, of the first turn or the mean of both.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from routing.eval_cli import write_eval_csv

WEAK = "mixtral-8x7b-instruct-v0.1"
STRONG = "gpt-4-1106-preview"


def question_of(user_prompt: str) -> str:
    """The question inside a single-turn judge prompt: between "[Question]" and the first answer block."""
    return user_prompt.split("[Question]\n", 1)[1].split("\n\n[The Start of", 1)[0]


def outcomes(lines: list[dict], turns: tuple[int, ...]) -> list[tuple[str, float, float]]:
    scores: dict[int, dict[tuple[str, int], float]] = defaultdict(dict)
    questions: dict[int, str] = {}
    for record in lines:
        scores[record["question_id"]][(record["model"], record["turn"])] = float(record["score"])
        if record["turn"] == 1:
            questions[record["question_id"]] = question_of(record["user_prompt"])
    rows = []
    for qid in sorted(questions):
        got = scores[qid]
        if all((m, t) in got for m in (WEAK, STRONG) for t in turns):
            rows.append((questions[qid], *(sum(got[(m, t)] for t in turns) / len(turns) / 10 for m in (WEAK, STRONG))))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("judgements", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--turns", choices=["1", "both"], default="1")
    args = parser.parse_args()
    lines = [json.loads(line) for line in args.judgements.read_text().splitlines() if line.strip()]
    rows = outcomes(lines, (1,) if args.turns == "1" else (1, 2))
    write_eval_csv(args.out, rows)
    print(f"{len(rows)} questions written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
