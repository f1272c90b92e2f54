"""RouterBench outcome files as routing eval files (prompt,weak,strong).

    python bench/routerbench_outcomes.py arc_challenge_test.csv out.csv [--weak M] [--strong M]
    tokenmill routing eval out.csv

RouterBench (withmartian) scored 11 models on ARC-Challenge, Winogrande, MBPP, GSM8K, MMLU and
others; the RouterDC repository (shuhao02/RouterDC, `datasets/routerbench_zs/*.csv`) keeps its
rows as CSV, one column per model with its 0/1 score, and the prompt as the Python repr of a
one-element list (what the models got, five worked examples included). Not shipped here. Rows
where either model has no score are left out and counted.
"""

from __future__ import annotations

import argparse
import ast
import csv
import sys
from pathlib import Path

from routing.eval_cli import write_eval_csv

WEAK = "mistralai/mistral-7b-chat"
STRONG = "gpt-4-1106-preview"


def prompt_text(cell: str) -> str | None:
    """The prompt a RouterBench row holds: a one-element list's repr, or plain text; None if the
    list holds several prompts (a few rows repeat their prompt and carry no scores)."""
    if not cell.startswith("["):
        return cell
    value = ast.literal_eval(cell)
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0]
    return None


def outcomes(rows: list[dict[str, str]], weak: str, strong: str) -> tuple[list[tuple[str, float, float]], int]:
    """(prompt, weak score, strong score) per complete row, and how many rows were left out."""
    out, skipped = [], 0
    for row in rows:
        prompt = prompt_text(row["prompt"])
        w, s = (row.get(weak) or "").strip(), (row.get(strong) or "").strip()
        if prompt is None or not w or not s:
            skipped += 1
            continue
        out.append((prompt, float(w), float(s)))
    return out, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--weak", default=WEAK)
    parser.add_argument("--strong", default=STRONG)
    args = parser.parse_args(argv)
    csv.field_size_limit(sys.maxsize)  # prompts with five worked examples, responses beside them
    with args.source.open(newline="") as f:
        rows = list(csv.DictReader(f))
    missing = [m for m in (args.weak, args.strong) if rows and m not in rows[0]]
    if missing:
        raise SystemExit(f"no column {missing[0]!r}; models in the file: {', '.join(k for k in rows[0] if '|' not in k)}")
    found, skipped = outcomes(rows, args.weak, args.strong)
    write_eval_csv(args.out, found)
    print(f"{len(found)} rows written to {args.out} ({skipped} without both scores left out)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
