"""Audited labels: QQP pairs whose given label is clearly wrong, flipped with a stated reason.

label_audit.json lists {pair, given, audited, reason}; `pair` is `pair_id(question1, question2)`
(the data stays in shared/data, only its identifiers are kept here). The audit read every pair
that a calibrated rule served on any seed, in both directions (non-duplicates that are plain
paraphrases, and "duplicates" that ask different things), and flipped only clear cases; pairs
it judged borderline keep their given label. Calibration reports figures on the labels as given
(the headline) and on the audited labels.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from importlib import resources
from typing import Protocol

AUDIT_FILE = "label_audit.json"


class LabelledPair(Protocol):
    cached: str
    new: str
    duplicate: bool


def pair_id(question1: str, question2: str) -> str:
    return hashlib.sha256(f"{question1}\x1f{question2}".encode()).hexdigest()[:16]


def load_audit() -> dict[str, bool]:
    """pair id -> audited label."""
    rows = json.loads((resources.files("cache.calibration") / AUDIT_FILE).read_text())["pairs"]
    audit: dict[str, bool] = {}
    for row in rows:
        if bool(row["given"]) == bool(row["audited"]):
            raise ValueError(f"audit row {row['pair']} does not change the label")
        if not str(row.get("reason", "")).strip():
            raise ValueError(f"audit row {row['pair']} has no reason")
        audit[row["pair"]] = bool(row["audited"])
    return audit


def apply_audit(pairs: list[LabelledPair], audit: dict[str, bool]) -> list[LabelledPair]:
    """The pairs with audited labels; an audit row that matches no pair is an error (stale file)."""
    seen = set()
    out = []
    for pair in pairs:
        key = pair_id(pair.cached, pair.new)
        label = audit.get(key)
        if label is not None:
            seen.add(key)
            pair = replace(pair, duplicate=label)
        out.append(pair)
    stale = audit.keys() - seen
    if stale:
        raise ValueError(f"{len(stale)} audit rows match no pair, e.g. {next(iter(stale))}")
    return out
