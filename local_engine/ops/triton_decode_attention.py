"""Paged decode attention, split-KV (flash-decoding): a partition kernel and a reduce kernel.

Grid of the partition kernel: (sequence, kv head x head block, split). Each program loads a
KV tile once and uses it for every query head of its GQA group (the group's heads are the
rows of one tl.dot), over one contiguous slice of the context. It writes a partial output and
its log-sum-exp (base 2); the reduce kernel merges the slices. With one split the partition
kernel writes the final output itself and no reduce runs.

The number of splits is a launch constant picked from shapes only (never from context_lens
on the host), so a launch needs no device sync and can be captured in a CUDA graph.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

Tensor = torch.Tensor
LOG2E = 1.4426950408889634


@triton.jit
def _decode_partition_kernel(
    Q, K_CACHE, V_CACHE, BLOCK_TABLES, CONTEXT_LENS, OUT, PART_O, PART_LSE,
    qk_scale,
    stride_qb, stride_qh,
    stride_kb, stride_ks, stride_kh,
    stride_vb, stride_vs, stride_vh,
    stride_bt,
    stride_ob, stride_oh,
    stride_pb, stride_ph, stride_ps,
    stride_lb, stride_lh,
    GROUP: tl.constexpr, HEAD_BLOCKS: tl.constexpr, HEAD_DIM: tl.constexpr, PAGE_SIZE: tl.constexpr,
    NUM_SPLITS: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    UPCAST: tl.constexpr, PRECISION: tl.constexpr,
):
    seq = tl.program_id(0).to(tl.int64)
    kv_head = tl.program_id(1) // HEAD_BLOCKS
    head_block = tl.program_id(1) % HEAD_BLOCKS
    split = tl.program_id(2)

    group_idx = head_block * BLOCK_H + tl.arange(0, BLOCK_H)
    head_mask = group_idx < GROUP
    heads = kv_head * GROUP + group_idx
    offs_d = tl.arange(0, BLOCK_D)
    d_mask = offs_d < HEAD_DIM

    q = tl.load(Q + seq * stride_qb + heads[:, None] * stride_qh + offs_d[None, :],
                mask=head_mask[:, None] & d_mask[None, :], other=0.0)
    if UPCAST:
        q = q.to(tl.float32)

    ctx_len = tl.load(CONTEXT_LENS + seq)
    # Slices are whole tiles so that only the last tile of a sequence is partial.
    split_len = tl.cdiv(tl.cdiv(ctx_len, NUM_SPLITS), BLOCK_N) * BLOCK_N
    start = split * split_len
    end = tl.minimum(start + split_len, ctx_len)

    m_i = tl.full([BLOCK_H], float("-inf"), tl.float32)
    l_i = tl.zeros([BLOCK_H], tl.float32)
    acc = tl.zeros([BLOCK_H, BLOCK_D], tl.float32)
    table = BLOCK_TABLES + seq * stride_bt
    for n0 in range(start, end, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        n_mask = offs_n < end
        page = tl.load(table + offs_n // PAGE_SIZE, mask=n_mask, other=0).to(tl.int64)
        in_page = offs_n % PAGE_SIZE
        kv_mask = n_mask[:, None] & d_mask[None, :]
        k = tl.load(K_CACHE + page[:, None] * stride_kb + in_page[:, None] * stride_ks
                    + kv_head * stride_kh + offs_d[None, :], mask=kv_mask, other=0.0)
        v = tl.load(V_CACHE + page[:, None] * stride_vb + in_page[:, None] * stride_vs
                    + kv_head * stride_vh + offs_d[None, :], mask=kv_mask, other=0.0)
        if UPCAST:
            k = k.to(tl.float32)
            v = v.to(tl.float32)
        qk = tl.dot(q, tl.trans(k), input_precision=PRECISION) * qk_scale
        qk = tl.where(n_mask[None, :], qk, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(qk, 1))
        alpha = tl.exp2(m_i - m_new)
        p = tl.exp2(qk - m_new[:, None])
        l_i = l_i * alpha + tl.sum(p, 1)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PRECISION)
        m_i = m_new

    has_keys = l_i > 0.0
    out = acc / tl.where(has_keys, l_i, 1.0)[:, None]
    out_mask = head_mask[:, None] & d_mask[None, :]
    if NUM_SPLITS == 1:
        tl.store(OUT + seq * stride_ob + heads[:, None] * stride_oh + offs_d[None, :],
                 out.to(OUT.dtype.element_ty), mask=out_mask)
    else:
        tl.store(PART_O + seq * stride_pb + heads[:, None] * stride_ph + split * stride_ps + offs_d[None, :],
                 out, mask=out_mask)
        lse = tl.where(has_keys, m_i + tl.log2(tl.where(has_keys, l_i, 1.0)), float("-inf"))
        tl.store(PART_LSE + seq * stride_lb + heads * stride_lh + split, lse, mask=head_mask)


@triton.jit
def _decode_reduce_kernel(
    PART_O, PART_LSE, OUT,
    stride_pb, stride_ph, stride_ps,
    stride_lb, stride_lh,
    stride_ob, stride_oh,
    HEAD_DIM: tl.constexpr, NUM_SPLITS: tl.constexpr, BLOCK_S: tl.constexpr, BLOCK_D: tl.constexpr,
):
    seq = tl.program_id(0).to(tl.int64)
    head = tl.program_id(1)
    offs_s = tl.arange(0, BLOCK_S)
    offs_d = tl.arange(0, BLOCK_D)
    s_mask = offs_s < NUM_SPLITS
    lse = tl.load(PART_LSE + seq * stride_lb + head * stride_lh + offs_s, mask=s_mask, other=float("-inf"))
    lse_max = tl.max(lse, 0)
    lse_max = tl.where(lse_max == float("-inf"), 0.0, lse_max)  # empty context: all weights 0
    weights = tl.exp2(lse - lse_max)
    parts = tl.load(PART_O + seq * stride_pb + head * stride_ph + offs_s[:, None] * stride_ps + offs_d[None, :],
                    mask=(weights[:, None] > 0.0) & (offs_d[None, :] < HEAD_DIM), other=0.0)
    total = tl.sum(weights, 0)
    out = tl.sum(parts * weights[:, None], 0) / tl.where(total > 0.0, total, 1.0)
    tl.store(OUT + seq * stride_ob + head * stride_oh + offs_d, out.to(OUT.dtype.element_ty),
             mask=offs_d < HEAD_DIM)


def launch_decode_attention(
    q: Tensor, k_cache: Tensor, v_cache: Tensor, block_tables: Tensor, context_lens: Tensor, scale: float,
    *, num_splits: int, block_n: int, max_heads_per_block: int = 64, num_warps: int = 4, num_stages: int = 2,
    upcast: bool | None = None,
) -> Tensor:
    """q [B, Hq, D] (unit last stride); caches [blocks, page, Hkv, D]. Returns [B, Hq, D] in q.dtype."""
    batch, hq, dim = q.shape
    hkv = k_cache.shape[2]
    group = hq // hkv
    out = torch.empty((batch, hq, dim), dtype=q.dtype, device=q.device)
    if batch == 0:
        return out
    # tl.dot needs at least 16 rows; pad the group's heads up to a power of two.
    block_h = max(16, min(triton.next_power_of_2(group), max_heads_per_block))
    head_blocks = triton.cdiv(group, block_h)
    block_d = max(16, triton.next_power_of_2(dim))
    if num_splits > 1:
        part_o = torch.empty((batch, hq, num_splits, dim), dtype=torch.float32, device=q.device)
        part_lse = torch.empty((batch, hq, num_splits), dtype=torch.float32, device=q.device)
    else:  # unused by the kernel; any fp32 tensor keeps the signature simple
        part_o = part_lse = torch.empty((1, 1, 1, 1), dtype=torch.float32, device=q.device)
    if upcast is None:  # fp32 dots on CPU (the interpreter's bf16 dot is wrong) and for fp32 or mixed dtypes
        upcast = q.device.type == "cpu" or q.dtype == torch.float32 or k_cache.dtype != q.dtype
    _decode_partition_kernel[(batch, hkv * head_blocks, num_splits)](
        q, k_cache, v_cache, block_tables, context_lens, out, part_o, part_lse,
        float(scale) * LOG2E,
        q.stride(0), q.stride(1),
        k_cache.stride(0), k_cache.stride(1), k_cache.stride(2),
        v_cache.stride(0), v_cache.stride(1), v_cache.stride(2),
        block_tables.stride(0),
        out.stride(0), out.stride(1),
        part_o.stride(0), part_o.stride(1), part_o.stride(2),
        part_lse.stride(0), part_lse.stride(1),
        GROUP=group, HEAD_BLOCKS=head_blocks, HEAD_DIM=dim, PAGE_SIZE=k_cache.shape[1],
        NUM_SPLITS=num_splits, BLOCK_H=block_h, BLOCK_N=block_n, BLOCK_D=block_d,
        UPCAST=upcast, PRECISION="ieee" if upcast else "tf32",
        num_warps=num_warps, num_stages=num_stages,
    )
    if num_splits > 1:
        _decode_reduce_kernel[(batch, hq)](
            part_o, part_lse, out,
            part_o.stride(0), part_o.stride(1), part_o.stride(2),
            part_lse.stride(0), part_lse.stride(1),
            out.stride(0), out.stride(1),
            HEAD_DIM=dim, NUM_SPLITS=num_splits, BLOCK_S=triton.next_power_of_2(num_splits), BLOCK_D=block_d,
            num_warps=max(1, min(4, triton.next_power_of_2(num_splits) * block_d // 1024)),
        )
    return out
