"""Copy checkpoint tensors (HF names) into the decoder's fused parameters, checking every shape."""

from __future__ import annotations

import re
from collections.abc import Iterable

import torch

from local_engine.config import ModelLoadError
from local_engine.model import DecoderModel

_LAYER = re.compile(r"^model\.layers\.(\d+)\.(.+)$")
_IGNORED_SUFFIXES = ("rotary_emb.inv_freq",)


def _target(model: DecoderModel, name: str) -> tuple[str, int] | None:
    """(parameter name, first row) for an HF tensor name; None for tensors the engine ignores."""
    cfg = model.cfg
    q, kv, inter = cfg.q_size, cfg.kv_size, cfg.intermediate_size
    if name == "model.embed_tokens.weight":
        return "embed_tokens", 0
    if name == "model.norm.weight":
        return "norm", 0
    if name == "lm_head.weight":
        return None if cfg.tie_word_embeddings else ("lm_head", 0)
    if name.endswith(_IGNORED_SUFFIXES):
        return None
    m = _LAYER.match(name)
    if not m:
        raise ModelLoadError(f"unexpected tensor {name!r} in the checkpoint")
    prefix, rest = f"layers.{m.group(1)}.", m.group(2)
    table = {
        "input_layernorm.weight": ("input_layernorm", 0),
        "post_attention_layernorm.weight": ("post_attention_layernorm", 0),
        "self_attn.q_proj.weight": ("qkv_proj", 0),
        "self_attn.k_proj.weight": ("qkv_proj", q),
        "self_attn.v_proj.weight": ("qkv_proj", q + kv),
        "self_attn.q_proj.bias": ("qkv_bias", 0),
        "self_attn.k_proj.bias": ("qkv_bias", q),
        "self_attn.v_proj.bias": ("qkv_bias", q + kv),
        "self_attn.o_proj.weight": ("o_proj", 0),
        "self_attn.o_proj.bias": ("o_bias", 0),
        "self_attn.q_norm.weight": ("q_norm", 0),
        "self_attn.k_norm.weight": ("k_norm", 0),
        "mlp.gate_proj.weight": ("gate_up_proj", 0),
        "mlp.up_proj.weight": ("gate_up_proj", inter),
        "mlp.down_proj.weight": ("down_proj", 0),
    }
    if rest not in table:
        raise ModelLoadError(f"unexpected tensor {name!r} in the checkpoint")
    param, row = table[rest]
    return prefix + param, row


def load_weights(model: DecoderModel, tensors: Iterable[tuple[str, torch.Tensor]], source: str) -> None:
    """Fill every parameter of `model` from (HF name, tensor) pairs; raise naming what is wrong."""
    params = dict(model.named_parameters())
    rows_loaded: dict[str, int] = {}
    for name, tensor in tensors:
        target = _target(model, name)
        if target is None:
            continue
        pname, row = target
        if pname not in params:
            raise ModelLoadError(f"{source}: tensor {name!r} has no place in a {model.cfg.arch} model with this config")
        dest = params[pname].data[row : row + tensor.shape[0]] if tensor.dim() else params[pname].data
        if dest.shape != tensor.shape:
            raise ModelLoadError(f"{source}: tensor {name!r} has shape {tuple(tensor.shape)}, config expects {tuple(dest.shape)}")
        dest.copy_(tensor)
        rows_loaded[pname] = rows_loaded.get(pname, 0) + tensor.shape[0]
    missing = [n for n, p in params.items() if rows_loaded.get(n, 0) != p.shape[0]]
    if missing:
        raise ModelLoadError(f"{source}: tensors missing for {missing[:5]}{' ...' if len(missing) > 5 else ''}")
