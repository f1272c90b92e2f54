"""The Triton compute path (CUDA; CPU under TRITON_INTERPRET=1), per .helpers/ops_contract.md.

Same functions and semantics as torch_ops. This module checks inputs and picks launch
parameters; the kernels live in triton_norm_act, triton_rope_kv, triton_decode_attention and
triton_prefill_attention. No function here reads device values on the host, so none forces a
device sync and the decode-step ops can be captured in a CUDA graph.
"""

from __future__ import annotations

import functools

import torch
import triton

from local_engine.ops.triton_decode_attention import launch_decode_attention
from local_engine.ops.triton_norm_act import launch_rms_norm, launch_silu_and_mul
from local_engine.ops.triton_prefill_attention import launch_prefill_attention
from local_engine.ops.triton_rope_kv import launch_rope, launch_store_kv

Tensor = torch.Tensor

HOPPER_SM_COUNT = 132  # used when the device has no SM count to ask (CPU under the interpreter)
MAX_DECODE_SPLITS = 64
_INDEX_DTYPES = (torch.int32, torch.int64)


def rms_norm(x: Tensor, weight: Tensor, eps: float, residual: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """With residual: h = x + residual, returns (rmsnorm(h) * weight, h); else (rmsnorm(x) * weight, None)."""
    _require(x.dim() == 2, f"rms_norm: x must be [T, H], got shape {tuple(x.shape)}")
    _require(weight.shape == (x.shape[1],), f"rms_norm: weight must be [{x.shape[1]}], got {tuple(weight.shape)}")
    _same_device("rms_norm", x, weight)
    if residual is not None:
        _require(residual.shape == x.shape, f"rms_norm: residual {tuple(residual.shape)} != x {tuple(x.shape)}")
        _same_device("rms_norm", x, residual)
        residual = _unit_last_stride(residual)
    return launch_rms_norm(_unit_last_stride(x), weight.contiguous(), eps, residual)


def apply_rope(q: Tensor, k: Tensor, positions: Tensor, cos_sin_cache: Tensor) -> tuple[Tensor, Tensor]:
    """NeoX rotate_half RoPE on the full head dim, in place when q/k have a unit last stride."""
    _require(q.dim() == 3 and k.dim() == 3,
             f"apply_rope: q, k must be [T, H, D], got {tuple(q.shape)}, {tuple(k.shape)}")
    tokens, _, dim = q.shape
    _require(k.shape[0] == tokens and k.shape[2] == dim,
             f"apply_rope: k {tuple(k.shape)} does not match q {tuple(q.shape)}")
    _require(dim % 2 == 0, f"apply_rope: head dim must be even, got {dim}")
    _require(positions.shape == (tokens,) and positions.dtype in _INDEX_DTYPES,
             f"apply_rope: positions must be int [{tokens}], got {positions.dtype} {tuple(positions.shape)}")
    _require(cos_sin_cache.dim() == 2 and cos_sin_cache.shape[1] == dim,
             f"apply_rope: cos_sin_cache must be [max_pos, {dim}], got {tuple(cos_sin_cache.shape)}")
    _same_device("apply_rope", q, k, positions, cos_sin_cache)
    q, k = _unit_last_stride(q), _unit_last_stride(k)
    launch_rope(q, k, positions.contiguous(), _unit_last_stride(cos_sin_cache))
    return q, k


def silu_and_mul(x: Tensor) -> Tensor:
    """silu(x[:, :I]) * x[:, I:] for x of shape [T, 2I]."""
    _require(x.dim() == 2 and x.shape[1] % 2 == 0, f"silu_and_mul: x must be [T, 2I], got {tuple(x.shape)}")
    return launch_silu_and_mul(_unit_last_stride(x))


def store_kv(k: Tensor, v: Tensor, k_cache: Tensor, v_cache: Tensor, slot_mapping: Tensor) -> None:
    """Writes token t's k/v at flat slot slot_mapping[t]; negative slots (padding) are skipped."""
    _check_caches("store_kv", k_cache, v_cache)
    _require(k.dim() == 3 and k.shape == v.shape and k.shape[1:] == k_cache.shape[2:],
             f"store_kv: k, v must be [T, {k_cache.shape[2]}, {k_cache.shape[3]}], "
             f"got {tuple(k.shape)}, {tuple(v.shape)}")
    _require(slot_mapping.shape == (k.shape[0],) and slot_mapping.dtype in _INDEX_DTYPES,
             f"store_kv: slot_mapping must be int [{k.shape[0]}], got {slot_mapping.dtype} {tuple(slot_mapping.shape)}")
    _same_device("store_kv", k, v, k_cache, v_cache, slot_mapping)
    launch_store_kv(_unit_last_stride(k), _unit_last_stride(v), k_cache, v_cache, slot_mapping.contiguous())


def paged_decode_attention(
    q: Tensor, k_cache: Tensor, v_cache: Tensor, block_tables: Tensor, context_lens: Tensor, scale: float
) -> Tensor:
    """One query per sequence over its context_lens[b] cached tokens, split-KV. Returns [B, Hq, D]."""
    _check_attention("paged_decode_attention", q, k_cache, v_cache, block_tables, context_lens)
    _require(block_tables.shape[0] == q.shape[0] and context_lens.shape == (q.shape[0],),
             f"paged_decode_attention: B={q.shape[0]} but block_tables {tuple(block_tables.shape)}, "
             f"context_lens {tuple(context_lens.shape)}")
    batch, hq, dim = q.shape
    hkv = k_cache.shape[2]
    block_n = decode_block_n(dim)
    max_context = block_tables.shape[1] * k_cache.shape[1]
    splits = decode_num_splits(batch, hkv, max_context, block_n, _sm_count(q.device))
    return launch_decode_attention(_unit_last_stride(q), k_cache, v_cache, _unit_last_stride(block_tables),
                                   context_lens.contiguous(), scale, num_splits=splits, block_n=block_n)


def paged_prefill_attention(
    q: Tensor,
    k_cache: Tensor,
    v_cache: Tensor,
    block_tables: Tensor,
    cu_seqlens_q: Tensor,
    context_lens: Tensor,
    scale: float,
) -> Tensor:
    """Causal attention of each sequence's new queries (the last n_b positions of its context)."""
    _check_attention("paged_prefill_attention", q, k_cache, v_cache, block_tables, context_lens)
    num_seqs = context_lens.shape[0]
    _require(block_tables.shape[0] == num_seqs and cu_seqlens_q.shape == (num_seqs + 1,)
             and cu_seqlens_q.dtype in _INDEX_DTYPES,
             f"paged_prefill_attention: B={num_seqs} needs block_tables [B, n] and int cu_seqlens_q [B+1], got "
             f"{tuple(block_tables.shape)} and {cu_seqlens_q.dtype} {tuple(cu_seqlens_q.shape)}")
    _same_device("paged_prefill_attention", q, cu_seqlens_q)
    tokens, hq, dim = q.shape
    group = hq // k_cache.shape[2]
    block_m, block_n, num_warps = prefill_tiles(tokens, max(num_seqs, 1), group, dim)
    return launch_prefill_attention(_unit_last_stride(q), k_cache, v_cache, _unit_last_stride(block_tables),
                                    cu_seqlens_q.contiguous(), context_lens.contiguous(), scale,
                                    block_m=block_m, block_n=block_n, num_warps=num_warps)


# ---- launch parameters (shapes only, never device values) ----

def decode_block_n(head_dim: int) -> int:
    """Keys per tile of the decode kernel: 64 keeps a K+V tile pair at 16 KiB for D=64 bf16."""
    return 64 if head_dim <= 128 else 32


def decode_num_splits(batch: int, kv_heads: int, max_context: int, block_n: int, sm_count: int) -> int:
    """Splits so that about four programs per SM stream the cache, rounded to a power of two
    (each distinct value compiles one kernel variant) and never finer than two tiles per split."""
    programs = max(1, batch * kv_heads)
    wanted = triton.cdiv(4 * sm_count, programs)
    useful = max(1, triton.cdiv(max_context, 2 * block_n))
    useful_pow2 = 1 << (useful.bit_length() - 1)  # largest power of two <= useful
    return max(1, min(triton.next_power_of_2(wanted), MAX_DECODE_SPLITS, useful_pow2))


def prefill_tiles(tokens: int, num_seqs: int, group: int, head_dim: int) -> tuple[int, int, int]:
    """(BLOCK_M rows, BLOCK_N keys, num_warps): smaller row tiles when sequences bring few tokens
    (decode-like extends, speculative verification), 128 rows for long prompts."""
    rows_per_seq = triton.cdiv(tokens, num_seqs) * triton.next_power_of_2(group)
    block_m = max(16, min(128, triton.next_power_of_2(rows_per_seq)))
    block_n = 64 if head_dim <= 128 else 32
    return block_m, block_n, (8 if block_m >= 128 else 4)


@functools.cache
def _sm_count_cuda(index: int) -> int:
    return torch.cuda.get_device_properties(index).multi_processor_count


def _sm_count(device: torch.device) -> int:
    if device.type != "cuda":
        return HOPPER_SM_COUNT
    return _sm_count_cuda(device.index if device.index is not None else torch.cuda.current_device())


# ---- input checks (shapes, dtypes, devices; no device reads) ----

def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _same_device(op: str, *tensors: Tensor) -> None:
    devices = {t.device for t in tensors}
    _require(len(devices) == 1, f"{op}: tensors are on different devices {sorted(map(str, devices))}")


def _unit_last_stride(t: Tensor) -> Tensor:
    return t if t.stride(-1) == 1 else t.contiguous()


def _check_caches(op: str, k_cache: Tensor, v_cache: Tensor) -> None:
    _require(k_cache.dim() == 4 and k_cache.shape == v_cache.shape,
             f"{op}: caches must both be [num_blocks, block_size, Hkv, D], got {tuple(k_cache.shape)}, "
             f"{tuple(v_cache.shape)}")
    _require(k_cache.stride(-1) == 1 and v_cache.stride(-1) == 1, f"{op}: caches need a unit stride on D")


def _check_attention(op: str, q: Tensor, k_cache: Tensor, v_cache: Tensor, block_tables: Tensor,
                     context_lens: Tensor) -> None:
    _check_caches(op, k_cache, v_cache)
    _require(q.dim() == 3, f"{op}: q must be 3-d [*, Hq, D], got {tuple(q.shape)}")
    hq, dim = q.shape[1], q.shape[2]
    hkv = k_cache.shape[2]
    _require(dim == k_cache.shape[3], f"{op}: q head dim {dim} != cache head dim {k_cache.shape[3]}")
    _require(hkv > 0 and hq % hkv == 0, f"{op}: Hq={hq} is not a multiple of Hkv={hkv}")
    _require(block_tables.dim() == 2 and block_tables.dtype in _INDEX_DTYPES,
             f"{op}: block_tables must be an int [B, max_blocks] tensor, got {block_tables.dtype} "
             f"{tuple(block_tables.shape)}")
    _require(context_lens.dim() == 1 and context_lens.dtype in _INDEX_DTYPES,
             f"{op}: context_lens must be an int [B] tensor, got {context_lens.dtype} {tuple(context_lens.shape)}")
    _same_device(op, q, k_cache, v_cache, block_tables, context_lens)
