"""Training data: RouteLLM's MMLU outcomes (Mixtral-8x7B = weak, GPT-4 = strong), read in place.

The data stays in ../shared/data/router (never copied into the repo). Subjects are grouped so
that whole groups can be held out: a router is judged on tasks it has not seen.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = Path(os.environ.get("TOKENMILL_ROUTER_DATA", Path(__file__).resolve().parents[3] / "shared/data/router"))

# high_school_mathematics: the strong model scores 3% (weak 32%) on trivially checkable items
# (e.g. "Evaluate log_3 81" marked wrong for GPT-4): broken grading, so its labels are unusable.
BROKEN_SUBJECTS = frozenset({"high_school_mathematics"})

SUBJECT_GROUPS: dict[str, tuple[str, ...]] = {
    "math": ("elementary_mathematics", "college_mathematics", "abstract_algebra", "high_school_statistics"),  # minus HS math
    "reasoning": ("formal_logic", "logical_fallacies", "moral_scenarios"),
    "stem": (
        "college_physics",
        "high_school_physics",
        "conceptual_physics",
        "college_chemistry",
        "high_school_chemistry",
        "college_computer_science",
        "high_school_computer_science",
        "computer_security",
        "machine_learning",
        "electrical_engineering",
        "astronomy",
        "econometrics",
        "college_biology",
        "high_school_biology",
        "anatomy",
    ),
    "humanities": (
        "high_school_european_history",
        "high_school_us_history",
        "high_school_world_history",
        "prehistory",
        "philosophy",
        "moral_disputes",
        "world_religions",
        "international_law",
        "jurisprudence",
        "professional_law",
    ),
    "social": (
        "high_school_macroeconomics",
        "high_school_microeconomics",
        "high_school_geography",
        "high_school_government_and_politics",
        "high_school_psychology",
        "professional_psychology",
        "sociology",
        "us_foreign_policy",
        "security_studies",
        "public_relations",
        "human_sexuality",
    ),
    "other": (
        "business_ethics",
        "clinical_knowledge",
        "college_medicine",
        "professional_medicine",
        "medical_genetics",
        "nutrition",
        "virology",
        "human_aging",
        "global_facts",
        "management",
        "marketing",
        "miscellaneous",
        "professional_accounting",
    ),
}
GROUP_OF = {s: g for g, subjects in SUBJECT_GROUPS.items() for s in subjects}


@dataclass(frozen=True)
class Row:
    prompt: str
    weak: float
    strong: float
    subject: str

    @property
    def group(self) -> str:
        return GROUP_OF[self.subject]


def contaminated_prompts(data_dir: Path = DEFAULT_DATA_DIR) -> set[str]:
    out: set[str] = set()
    with open(data_dir / "mmlu_contaminated.jsonl") as f:
        for line in f:
            item = json.loads(line)
            out.update(p.strip() for p in (item.get("train_prompt"), item.get("eval_prompt")) if p)
    return out


def load_mmlu(data_dir: Path = DEFAULT_DATA_DIR) -> list[Row]:
    """All usable MMLU rows: contaminated prompts and broken subjects dropped."""
    folder = data_dir / "mmlu"
    if not folder.is_dir():
        raise FileNotFoundError(f"router training data not found at {folder} (set TOKENMILL_ROUTER_DATA)")
    drop = contaminated_prompts(data_dir)
    rows: list[Row] = []
    for path in sorted(folder.glob("mmlu_*.csv")):
        subject = path.stem[len("mmlu_") :]
        if subject in BROKEN_SUBJECTS:
            continue
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            if len(header) != 3:
                raise ValueError(f"{path}: expected prompt,weak,strong columns, got {header}")
            for prompt, weak, strong in reader:
                if prompt.strip() in drop:
                    continue
                rows.append(Row(prompt, float(weak == "True"), float(strong == "True"), subject))
    return rows
