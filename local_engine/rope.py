"""RoPE frequency tables, including the scaling schemes of Llama 3, linear, dynamic-NTK and YaRN."""

from __future__ import annotations

import math
from typing import Any

import torch

from local_engine.config import ModelConfig, ModelLoadError


def _llama3(inv_freq: torch.Tensor, s: dict[str, Any]) -> torch.Tensor:
    factor = s["factor"]
    low, high = s.get("low_freq_factor", 1.0), s.get("high_freq_factor", 4.0)
    old_len = s["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old_len / low, old_len / high
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_len / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, scaled)


def _yarn(dim: int, base: float, s: dict[str, Any], max_pos: int) -> tuple[torch.Tensor, float]:
    factor = s["factor"]
    orig = s.get("original_max_position_embeddings") or max_pos
    beta_fast, beta_slow = s.get("beta_fast", 32), s.get("beta_slow", 1)

    def mscale(scale: float, m: float = 1.0) -> float:
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    attention_factor = s.get("attention_factor")
    if attention_factor is None:
        if s.get("mscale") and s.get("mscale_all_dim"):
            attention_factor = mscale(factor, s["mscale"]) / mscale(factor, s["mscale_all_dim"])
        else:
            attention_factor = mscale(factor)

    def correction_dim(rotations: float) -> float:
        return (dim * math.log(orig / (rotations * 2 * math.pi))) / (2 * math.log(base))

    low, high = correction_dim(beta_fast), correction_dim(beta_slow)
    if s.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    ramp = ((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)
    pos_freqs = base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim)
    extrapolation_factor = 1 - ramp
    inv_freq = (1.0 / (factor * pos_freqs)) * (1 - extrapolation_factor) + (1.0 / pos_freqs) * extrapolation_factor
    return inv_freq, float(attention_factor)


def rope_inv_freq(cfg: ModelConfig) -> tuple[torch.Tensor, float]:
    """Inverse frequencies [D/2] and the attention factor multiplying cos/sin."""
    dim, base = cfg.head_dim, cfg.rope_theta
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    s = cfg.rope_scaling
    if not s:
        return inv_freq, 1.0
    kind = s.get("rope_type", s.get("type"))
    if kind == "linear":
        return inv_freq / s["factor"], 1.0
    if kind == "llama3":
        return _llama3(inv_freq, s), 1.0
    if kind == "dynamic":
        # Dynamic NTK equals plain RoPE up to original_max_position_embeddings; the engine caps
        # its context there (see max_context_len), so the table is exact where it is used.
        return inv_freq, 1.0
    if kind == "yarn":
        return _yarn(dim, base, s, cfg.max_position_embeddings)
    raise ModelLoadError(f"config.json: rope_scaling rope_type={kind!r} is not supported (linear, llama3, dynamic, yarn)")


def max_context_len(cfg: ModelConfig) -> int:
    s = cfg.rope_scaling or {}
    if s.get("rope_type", s.get("type")) == "dynamic":
        return int(s.get("original_max_position_embeddings") or cfg.max_position_embeddings)
    return cfg.max_position_embeddings


def build_cos_sin_cache(cfg: ModelConfig, max_pos: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """[max_pos, D]: cos in the first half, sin in the second (ops contract), fp32."""
    inv_freq, attention_factor = rope_inv_freq(cfg)
    t = torch.arange(max_pos, dtype=torch.int64).float()
    freqs = torch.outer(t, inv_freq)
    cache = torch.cat((freqs.cos() * attention_factor, freqs.sin() * attention_factor), dim=-1)
    return cache.to(device)
