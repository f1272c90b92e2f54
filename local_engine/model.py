"""One decoder for Llama, Mistral, Qwen2 (QKV bias) and Qwen3 (QK-norm), over a paged KV cache.

Weights are fused at load time (q|k|v and gate|up) so each layer costs four matmuls; every
kernel-like step goes through the ops namespace (torch reference or Triton on CUDA).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

from local_engine.config import ModelConfig
from local_engine.linear import Linear
from local_engine.rope import build_cos_sin_cache, max_context_len

Tensor = torch.Tensor


@dataclass
class AttentionMetadata:
    """Where a step's tokens live in the paged cache and which queries belong to which sequence."""

    slot_mapping: Tensor  # [T] int64, flat cache slot of each new token (-1: padding)
    block_tables: Tensor  # [B, max_blocks] int32
    context_lens: Tensor  # [B] int32, tokens in context after this step's tokens are stored
    cu_seqlens_q: Tensor  # [B+1] int32
    decode_only: bool  # every sequence has exactly one new token
    # Rows of generated (not prompt) tokens, for int8/int4 linears: all (True), none (False) or a [T] bool mask.
    generated_rows: Tensor | bool | None = None
    # CPU, a step mixing decode/verify rows with prompt rows: see DecodeRows.
    decode_rows: DecodeRows | None = None


@dataclass
class DecodeRows:
    """A mixed step's rows of generated tokens (decode, speculative verification, recomputed output
    after a preemption), each to be attended as a one-query decode over its own context. Decode
    attention rounds the same whatever the batch; prefill attention rounds differently, so a token
    computed by one or the other would depend on its batch partners and on speculation."""

    rows: Tensor  # [R] indexes into the step's rows
    block_tables: Tensor  # [R, max_blocks] each row's sequence's table
    context_lens: Tensor  # [R] its position + 1
    prompt_rows: Tensor  # [T - R] the other rows, for prefill attention
    prompt_cu_seqlens: Tensor  # [B+1] over prompt_rows (0 rows for the decoding sequences)
    prompt_context_lens: Tensor  # [B] each sequence's context up to its last prompt row


def _mixed_attention(ops: SimpleNamespace, q: Tensor, k_cache: Tensor, v_cache: Tensor, meta: AttentionMetadata, scale: float) -> Tensor:
    d = meta.decode_rows
    o = torch.empty_like(q)
    o[d.rows] = ops.paged_decode_attention(q[d.rows], k_cache, v_cache, d.block_tables, d.context_lens, scale)
    if d.prompt_rows.numel():
        o[d.prompt_rows] = ops.paged_prefill_attention(
            q[d.prompt_rows], k_cache, v_cache, meta.block_tables, d.prompt_cu_seqlens, d.prompt_context_lens, scale
        )
    return o


def _param(*shape: int, dtype: torch.dtype) -> nn.Parameter:
    return nn.Parameter(torch.empty(*shape, dtype=dtype), requires_grad=False)


class DecoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig, dtype: torch.dtype):
        super().__init__()
        h = cfg.hidden_size
        self.input_layernorm = _param(h, dtype=dtype)
        self.post_attention_layernorm = _param(h, dtype=dtype)
        self.qkv_proj = _param(cfg.q_size + 2 * cfg.kv_size, h, dtype=dtype)
        self.qkv_bias = _param(cfg.q_size + 2 * cfg.kv_size, dtype=dtype) if cfg.attention_bias else None
        self.o_proj = _param(h, cfg.q_size, dtype=dtype)
        self.o_bias = _param(h, dtype=dtype) if cfg.o_proj_bias else None
        self.q_norm = _param(cfg.head_dim, dtype=dtype) if cfg.qk_norm else None
        self.k_norm = _param(cfg.head_dim, dtype=dtype) if cfg.qk_norm else None
        self.gate_up_proj = _param(2 * cfg.intermediate_size, h, dtype=dtype)
        self.down_proj = _param(h, cfg.intermediate_size, dtype=dtype)
        self.set_linear_mode("torch")

    def set_linear_mode(self, mode: str) -> None:
        self.qkv = Linear(self.qkv_proj, self.qkv_bias, mode)
        self.o = Linear(self.o_proj, self.o_bias, mode)
        self.gate_up = Linear(self.gate_up_proj, None, mode)
        self.down = Linear(self.down_proj, None, mode)


class DecoderModel(nn.Module):
    def __init__(self, cfg: ModelConfig, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.cfg = cfg
        self.dtype = dtype
        self.embed_tokens = _param(cfg.vocab_size, cfg.hidden_size, dtype=dtype)
        self.layers = nn.ModuleList(DecoderLayer(cfg, dtype) for _ in range(cfg.num_layers))
        self.norm = _param(cfg.hidden_size, dtype=dtype)
        self.lm_head = None if cfg.tie_word_embeddings else _param(cfg.vocab_size, cfg.hidden_size, dtype=dtype)
        self.max_context_len = max_context_len(cfg)
        self.register_buffer("cos_sin_cache", build_cos_sin_cache(cfg, self.max_context_len), persistent=False)
        self.scale = cfg.head_dim**-0.5
        self.linear_mode = "torch"
        self.head = Linear(self.lm_head_weight, None, "torch")

    def set_linear_mode(self, mode: str) -> None:
        """Switch every matmul to `mode` (see linear.py); call after the weights are loaded.

        Quantized modes drop the float matmul weights; "int8" and "int4" also move the rest of the
        model (norms, embeddings, KV cache) to bf16, "dynint8" keeps it in fp32.
        """
        for layer in self.layers:
            layer.set_linear_mode(mode)
        # The head is often the (tied) embedding, kept at 8 bits by 4-bit checkpoints too.
        self.head = Linear(self.lm_head_weight, None, "int8" if mode == "int4" else mode)
        if mode in ("int8", "int4", "dynint8"):
            for layer in self.layers:
                for name in ("qkv_proj", "o_proj", "gate_up_proj", "down_proj"):
                    getattr(layer, name).data = torch.empty(0)
            if self.lm_head is not None:
                self.lm_head.data = torch.empty(0)
        if mode in ("int8", "int4"):
            for p in self.parameters():
                if p.numel():
                    p.data = p.data.to(torch.bfloat16)
            self.dtype = torch.bfloat16
        self.linear_mode = mode

    @property
    def lm_head_weight(self) -> Tensor:
        return self.embed_tokens if self.lm_head is None else self.lm_head

    def forward(
        self,
        input_ids: Tensor,
        positions: Tensor,
        meta: AttentionMetadata,
        kv_caches: list[tuple[Tensor, Tensor]],
        ops: SimpleNamespace,
    ) -> Tensor:
        """Hidden states [T, H] of the packed tokens (after the final norm)."""
        cfg = self.cfg
        t = input_ids.shape[0]
        nq, nkv, d, eps = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim, cfg.rms_norm_eps
        q_size, kv_size = cfg.q_size, cfg.kv_size
        cos_sin = self.cos_sin_cache
        x = F.embedding(input_ids, self.embed_tokens)
        rows = meta.generated_rows
        residual = None
        for layer, (k_cache, v_cache) in zip(self.layers, kv_caches, strict=True):
            if residual is None:
                residual = x
                h, _ = ops.rms_norm(x, layer.input_layernorm, eps)
            else:
                h, residual = ops.rms_norm(x, layer.input_layernorm, eps, residual)
            qkv = layer.qkv(h, rows)
            q, k, v = qkv.split([q_size, kv_size, kv_size], dim=-1)
            q = q.reshape(t, nq, d)
            k = k.reshape(t, nkv, d)
            v = v.reshape(t, nkv, d)
            if layer.q_norm is not None:
                q = ops.rms_norm(q.reshape(t * nq, d), layer.q_norm, eps)[0].view(t, nq, d)
                k = ops.rms_norm(k.reshape(t * nkv, d), layer.k_norm, eps)[0].view(t, nkv, d)
            q, k = ops.apply_rope(q, k, positions, cos_sin)
            ops.store_kv(k, v, k_cache, v_cache, meta.slot_mapping)
            if meta.decode_only:
                o = ops.paged_decode_attention(q, k_cache, v_cache, meta.block_tables, meta.context_lens, self.scale)
            elif meta.decode_rows is not None:
                o = _mixed_attention(ops, q, k_cache, v_cache, meta, self.scale)
            else:
                o = ops.paged_prefill_attention(q, k_cache, v_cache, meta.block_tables, meta.cu_seqlens_q, meta.context_lens, self.scale)
            x = layer.o(o.reshape(t, q_size), rows)
            h, residual = ops.rms_norm(x, layer.post_attention_layernorm, eps, residual)
            x = layer.down(ops.silu_and_mul(layer.gate_up(h, rows)), rows)
        out, _ = ops.rms_norm(x, self.norm, eps, residual)
        return out

    def compute_logits(self, hidden: Tensor, generated_rows: Tensor | bool | None = None) -> Tensor:
        return self.head(hidden, generated_rows).float()
