"""Triton RMSNorm, RoPE, SiLU-and-mul and KV-cache store against the torch path, on CPU under
TRITON_INTERPRET=1 (set above the imports, see
local_engine.ops.triton_interpret). Tiny shapes, odd sizes.

Note on bf16: the interpreter rounds fp32 -> bf16 by truncation (a GPU rounds to nearest even),
so bf16 results may differ from torch by one bf16 ulp; the tolerances allow for that.
"""

from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # before the first import of triton in this process

from types import ModuleType

import pytest
import torch

from local_engine.ops import torch_ops
from local_engine.ops.triton_interpret import load_interpreted_triton_ops

BF16_TOL = {"rtol": 3e-2, "atol": 3e-2}
FP32_TOL = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture(scope="module")
def tops() -> ModuleType:
    torch.manual_seed(0)
    try:
        return load_interpreted_triton_ops()
    except RuntimeError as exc:
        pytest.fail(f"cannot run the Triton kernels under the interpreter: {exc}")


def _tol(dtype: torch.dtype) -> dict[str, float]:
    return BF16_TOL if dtype == torch.bfloat16 else FP32_TOL


# ---- rms_norm ----

@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("rows,hidden", [(1, 16), (7, 40), (3, 96)])
def test_rms_norm_matches_torch(tops: ModuleType, dtype: torch.dtype, rows: int, hidden: int) -> None:
    x = torch.randn(rows, hidden, dtype=dtype)
    weight = (1 + 0.1 * torch.randn(hidden)).to(dtype)
    out, res = tops.rms_norm(x, weight, 1e-6)
    ref, _ = torch_ops.rms_norm(x, weight, 1e-6)
    assert res is None and out.dtype == dtype and out.shape == x.shape
    torch.testing.assert_close(out, ref, **_tol(dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rms_norm_fused_residual_matches_torch(tops: ModuleType, dtype: torch.dtype) -> None:
    # x is a strided view (row stride 50 > hidden 40): the kernel must honour the row stride.
    wide = torch.randn(5, 50, dtype=dtype)
    x = wide[:, :40]
    residual = torch.randn(5, 40, dtype=dtype)
    weight = torch.randn(40, dtype=dtype)
    x_before, residual_before = x.clone(), residual.clone()
    out, new_residual = tops.rms_norm(x, weight, 1e-5, residual)
    ref, ref_residual = torch_ops.rms_norm(x_before, weight, 1e-5, residual_before)
    torch.testing.assert_close(new_residual, ref_residual, **_tol(dtype))
    torch.testing.assert_close(out, ref, **_tol(dtype))
    assert torch.equal(x, x_before) and torch.equal(residual, residual_before)


def test_rms_norm_rejects_bad_weight(tops: ModuleType) -> None:
    with pytest.raises(ValueError, match="weight must be"):
        tops.rms_norm(torch.randn(2, 8), torch.randn(9), 1e-6)


# ---- silu_and_mul ----

@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("rows,inter", [(5, 37), (2, 1100)])  # 1100 spans two column blocks
def test_silu_and_mul_matches_torch(tops: ModuleType, dtype: torch.dtype, rows: int, inter: int) -> None:
    x = 3 * torch.randn(rows, 2 * inter, dtype=dtype)
    out = tops.silu_and_mul(x)
    assert out.shape == (rows, inter) and out.dtype == dtype
    torch.testing.assert_close(out, torch_ops.silu_and_mul(x), **_tol(dtype))


def test_silu_and_mul_rejects_odd_width(tops: ModuleType) -> None:
    with pytest.raises(ValueError, match=r"\[T, 2I\]"):
        tops.silu_and_mul(torch.randn(3, 7))


# ---- apply_rope ----

def _cos_sin_cache(max_pos: int, dim: int, base: float = 10000.0) -> torch.Tensor:
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    freqs = torch.outer(torch.arange(max_pos, dtype=torch.float32), inv_freq)
    return torch.cat((freqs.cos(), freqs.sin()), dim=-1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("hq,hkv,dim", [(5, 1, 24), (4, 2, 80), (3, 3, 16)])
def test_rope_in_place_on_packed_qkv_matches_torch(
    tops: ModuleType, dtype: torch.dtype, hq: int, hkv: int, dim: int
) -> None:
    tokens, max_pos = 6, 64
    qkv = torch.randn(tokens, (hq + 2 * hkv) * dim, dtype=dtype)
    q = qkv[:, : hq * dim].view(tokens, hq, dim)  # strided views, as a model's qkv split gives
    k = qkv[:, hq * dim : (hq + hkv) * dim].view(tokens, hkv, dim)
    v_before = qkv[:, (hq + hkv) * dim :].clone()
    positions = torch.tensor([0, 63, 5, 5, 17, 1], dtype=torch.int64)
    cache = _cos_sin_cache(max_pos, dim)
    ref_q, ref_k = torch_ops.apply_rope(q.clone(), k.clone(), positions, cache)
    out_q, out_k = tops.apply_rope(q, k, positions, cache)
    torch.testing.assert_close(out_q, ref_q, **_tol(dtype))
    torch.testing.assert_close(out_k, ref_k, **_tol(dtype))
    # In place: the packed buffer now holds the rotated q and k, v is untouched.
    assert out_q.data_ptr() == q.data_ptr() and torch.equal(q, out_q)
    assert torch.equal(qkv[:, (hq + hkv) * dim :], v_before)


def test_rope_position_zero_is_identity(tops: ModuleType) -> None:
    q, k = torch.randn(2, 3, 24), torch.randn(2, 1, 24)
    out_q, out_k = tops.apply_rope(q.clone(), k.clone(), torch.zeros(2, dtype=torch.int64), _cos_sin_cache(4, 24))
    torch.testing.assert_close(out_q, q, **FP32_TOL)
    torch.testing.assert_close(out_k, k, **FP32_TOL)


def test_rope_rejects_odd_head_dim(tops: ModuleType) -> None:
    with pytest.raises(ValueError, match="must be even"):
        positions = torch.zeros(2, dtype=torch.int64)
        tops.apply_rope(torch.randn(2, 2, 5), torch.randn(2, 1, 5), positions, torch.randn(4, 5))


# ---- store_kv ----

@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("block_size,hkv,dim", [(16, 2, 24), (5, 3, 40), (7, 1, 80)])
def test_store_kv_matches_torch_and_skips_padding(
    tops: ModuleType, dtype: torch.dtype, block_size: int, hkv: int, dim: int
) -> None:
    num_blocks, tokens = 6, 9
    kv = torch.randn(tokens, 2 * hkv * dim, dtype=dtype)
    k = kv[:, : hkv * dim].view(tokens, hkv, dim)  # strided views of one projection
    v = kv[:, hkv * dim :].view(tokens, hkv, dim)
    capacity = num_blocks * block_size
    slots = torch.randperm(capacity)[:tokens]
    slots[[1, 4]] = -1  # padding tokens
    k_cache = torch.randn(num_blocks, block_size, hkv, dim, dtype=dtype)
    v_cache = torch.randn_like(k_cache)
    ref_k, ref_v = k_cache.clone(), v_cache.clone()
    tops.store_kv(k, v, k_cache, v_cache, slots)
    torch_ops.store_kv(k, v, ref_k, ref_v, slots)
    assert torch.equal(k_cache, ref_k) and torch.equal(v_cache, ref_v)
    flat_k = k_cache.view(capacity, hkv, dim)
    assert torch.equal(flat_k[slots[0]], k[0])


def test_store_kv_casts_to_cache_dtype(tops: ModuleType) -> None:
    k, v = torch.randn(3, 2, 16), torch.randn(3, 2, 16)
    k_cache = torch.zeros(2, 4, 2, 16, dtype=torch.bfloat16)
    v_cache = torch.zeros_like(k_cache)
    slots = torch.tensor([0, 5, 7], dtype=torch.int32)
    tops.store_kv(k, v, k_cache, v_cache, slots)
    torch.testing.assert_close(k_cache.view(8, 2, 16)[slots.long()].float(), k, **BF16_TOL)
    torch.testing.assert_close(v_cache.view(8, 2, 16)[slots.long()].float(), v, **BF16_TOL)


def test_store_kv_rejects_mismatched_shapes(tops: ModuleType) -> None:
    cache = torch.zeros(2, 4, 2, 16)
    slots = torch.zeros(3, dtype=torch.int64)
    with pytest.raises(ValueError, match="store_kv"):
        tops.store_kv(torch.randn(3, 1, 16), torch.randn(3, 1, 16), cache, cache.clone(), slots)
    with pytest.raises(ValueError, match="slot_mapping"):
        tops.store_kv(torch.randn(3, 2, 16), torch.randn(3, 2, 16), cache, cache.clone(), torch.zeros(3))
