"""Triton kernels for the per-token ops: NeoX-style RoPE (in place) and the paged KV-cache store."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

Tensor = torch.Tensor


@triton.jit
def _rotate_heads(base, stride_h, cos, sin, NUM_HEADS: tl.constexpr, HALF: tl.constexpr,
                  BLOCK_HEADS: tl.constexpr, BLOCK_HALF: tl.constexpr):
    heads = tl.arange(0, BLOCK_HEADS)
    offs = tl.arange(0, BLOCK_HALF)
    mask = (heads[:, None] < NUM_HEADS) & (offs[None, :] < HALF)
    ptr1 = base + heads[:, None] * stride_h + offs[None, :]
    x1 = tl.load(ptr1, mask=mask, other=0.0).to(tl.float32)
    x2 = tl.load(ptr1 + HALF, mask=mask, other=0.0).to(tl.float32)
    out_ty = base.dtype.element_ty
    tl.store(ptr1, (x1 * cos[None, :] - x2 * sin[None, :]).to(out_ty), mask=mask)
    tl.store(ptr1 + HALF, (x2 * cos[None, :] + x1 * sin[None, :]).to(out_ty), mask=mask)


@triton.jit
def _rope_kernel(
    Q, K, POSITIONS, COS_SIN,
    stride_qt, stride_qh, stride_kt, stride_kh, stride_cs,
    HQ: tl.constexpr, HKV: tl.constexpr, HALF: tl.constexpr,
    BLOCK_HQ: tl.constexpr, BLOCK_HKV: tl.constexpr, BLOCK_HALF: tl.constexpr,
):
    tok = tl.program_id(0).to(tl.int64)
    pos = tl.load(POSITIONS + tok).to(tl.int64)
    offs = tl.arange(0, BLOCK_HALF)
    cos = tl.load(COS_SIN + pos * stride_cs + offs, mask=offs < HALF, other=0.0).to(tl.float32)
    sin = tl.load(COS_SIN + pos * stride_cs + HALF + offs, mask=offs < HALF, other=0.0).to(tl.float32)
    _rotate_heads(Q + tok * stride_qt, stride_qh, cos, sin, HQ, HALF, BLOCK_HQ, BLOCK_HALF)
    _rotate_heads(K + tok * stride_kt, stride_kh, cos, sin, HKV, HALF, BLOCK_HKV, BLOCK_HALF)


def launch_rope(q: Tensor, k: Tensor, positions: Tensor, cos_sin_cache: Tensor) -> None:
    """Rotates q [T, Hq, D] and k [T, Hkv, D] in place (unit last stride, any token/head strides)."""
    tokens, hq, dim = q.shape
    if tokens == 0:
        return
    hkv = k.shape[1]
    half = dim // 2
    block_half = triton.next_power_of_2(half)
    block_hq = triton.next_power_of_2(hq)
    num_warps = min(8, max(1, block_hq * block_half // 512))
    _rope_kernel[(tokens,)](
        q, k, positions, cos_sin_cache,
        q.stride(0), q.stride(1), k.stride(0), k.stride(1), cos_sin_cache.stride(0),
        HQ=hq, HKV=hkv, HALF=half,
        BLOCK_HQ=block_hq, BLOCK_HKV=triton.next_power_of_2(hkv), BLOCK_HALF=block_half,
        num_warps=num_warps,
    )


@triton.jit
def _store_kv_kernel(
    K, V, K_CACHE, V_CACHE, SLOTS,
    stride_kt, stride_kh, stride_vt, stride_vh,
    stride_kcb, stride_kcs, stride_kch,
    stride_vcb, stride_vcs, stride_vch,
    PAGE_SIZE: tl.constexpr, HKV: tl.constexpr, HEAD_DIM: tl.constexpr,
    BLOCK_H: tl.constexpr, BLOCK_D: tl.constexpr,
):
    tok = tl.program_id(0).to(tl.int64)
    slot = tl.load(SLOTS + tok).to(tl.int64)
    page = slot // PAGE_SIZE
    in_page = slot % PAGE_SIZE
    heads = tl.arange(0, BLOCK_H)
    offs = tl.arange(0, BLOCK_D)
    # slot < 0 marks a padding token: mask every access instead of branching. The slot is
    # broadcast to the block before comparing: newer Triton interpreters reject a scalar mask term.
    mask = (heads[:, None] < HKV) & (offs[None, :] < HEAD_DIM) & ((heads[:, None] * 0 + slot) >= 0)
    k = tl.load(K + tok * stride_kt + heads[:, None] * stride_kh + offs[None, :], mask=mask)
    v = tl.load(V + tok * stride_vt + heads[:, None] * stride_vh + offs[None, :], mask=mask)
    k_dst = K_CACHE + page * stride_kcb + in_page * stride_kcs + heads[:, None] * stride_kch + offs[None, :]
    v_dst = V_CACHE + page * stride_vcb + in_page * stride_vcs + heads[:, None] * stride_vch + offs[None, :]
    tl.store(k_dst, k.to(K_CACHE.dtype.element_ty), mask=mask)
    tl.store(v_dst, v.to(V_CACHE.dtype.element_ty), mask=mask)


def launch_store_kv(k: Tensor, v: Tensor, k_cache: Tensor, v_cache: Tensor, slot_mapping: Tensor) -> None:
    """k, v: [T, Hkv, D]; caches [num_blocks, block_size, Hkv, D]; all with unit last stride."""
    tokens, hkv, dim = k.shape
    if tokens == 0:
        return
    block_h = triton.next_power_of_2(hkv)
    block_d = triton.next_power_of_2(dim)
    _store_kv_kernel[(tokens,)](
        k, v, k_cache, v_cache, slot_mapping,
        k.stride(0), k.stride(1), v.stride(0), v.stride(1),
        k_cache.stride(0), k_cache.stride(1), k_cache.stride(2),
        v_cache.stride(0), v_cache.stride(1), v_cache.stride(2),
        PAGE_SIZE=k_cache.shape[1], HKV=hkv, HEAD_DIM=dim, BLOCK_H=block_h, BLOCK_D=block_d,
        num_warps=min(4, max(1, block_h * block_d // 256)),
    )
