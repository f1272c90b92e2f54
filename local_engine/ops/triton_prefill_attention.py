"""Paged prefill / extend attention over a cached prefix, for packed variable-length sequences.

One program owns a tile of BLOCK_M rows = TOKENS_PER_TILE query tokens x GROUP_TILE query heads
of one GQA group, so each KV tile it loads serves the whole group (the rows of one tl.dot).
Keys come from the paged cache (the new tokens' k/v are already stored there).

The grid is an upper bound on the number of (sequence, token tile) pairs, computed from shapes:
each program finds its sequence from cu_seqlens_q on the device (a cumulative sum of tiles per
sequence), so the launch needs no device sync. Programs past the last tile do nothing.

Programs run in reverse tile order, the costliest causal tiles first, for better load balance.
Keys below the tile's first query position are visible to every row and need no mask; only the
tail (at most TOKENS_PER_TILE keys past that) is masked causally.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

Tensor = torch.Tensor
LOG2E = 1.4426950408889634


@triton.jit
def _attend_tile(q, acc, m_i, l_i, n0, row_pos, kv_end, table, K_CACHE, V_CACHE, kv_head,
                 stride_kb, stride_ks, stride_kh, stride_vb, stride_vs, stride_vh, qk_scale, offs_d, d_mask,
                 PAGE_SIZE: tl.constexpr, BLOCK_N: tl.constexpr, CAUSAL_MASK: tl.constexpr,
                 UPCAST: tl.constexpr, PRECISION: tl.constexpr):
    offs_n = n0 + tl.arange(0, BLOCK_N)
    n_mask = offs_n < kv_end
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
    if CAUSAL_MASK:
        visible = (offs_n[None, :] <= row_pos[:, None]) & n_mask[None, :]
        qk = tl.where(visible, qk, float("-inf"))
    m_new = tl.maximum(m_i, tl.max(qk, 1))
    m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)  # a row with no visible key yet
    alpha = tl.exp2(m_i - m_safe)
    p = tl.exp2(qk - m_safe[:, None])
    l_i = l_i * alpha + tl.sum(p, 1)
    acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PRECISION)
    return acc, m_new, l_i


@triton.jit
def _prefill_kernel(
    Q, K_CACHE, V_CACHE, BLOCK_TABLES, CU_SEQLENS, CONTEXT_LENS, OUT,
    qk_scale, num_seqs,
    stride_qt, stride_qh,
    stride_kb, stride_ks, stride_kh,
    stride_vb, stride_vs, stride_vh,
    stride_bt,
    stride_ot, stride_oh,
    GROUP: tl.constexpr, GROUP_TILE: tl.constexpr, HEAD_BLOCKS: tl.constexpr, TOKENS_PER_TILE: tl.constexpr,
    HEAD_DIM: tl.constexpr, PAGE_SIZE: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_B: tl.constexpr,
    UPCAST: tl.constexpr, PRECISION: tl.constexpr,
):
    # Reversed so that the last tiles of each sequence (the longest causal spans) start first.
    pid = tl.num_programs(0) - 1 - tl.program_id(0)
    kv_head = tl.program_id(1) // HEAD_BLOCKS
    head_block = tl.program_id(1) % HEAD_BLOCKS

    # Which sequence and which of its token tiles this program owns.
    seq_ids = tl.arange(0, BLOCK_B)
    seq_mask = seq_ids < num_seqs
    q_starts = tl.load(CU_SEQLENS + seq_ids, mask=seq_mask, other=0)
    q_lens = tl.load(CU_SEQLENS + seq_ids + 1, mask=seq_mask, other=0) - q_starts
    tiles = tl.where(seq_mask, tl.cdiv(q_lens, TOKENS_PER_TILE), 0)
    tiles_end = tl.cumsum(tiles, 0)
    seq = tl.sum((tiles_end <= pid).to(tl.int32), 0)
    if seq < num_seqs:
        this_seq = seq_ids == seq
        tile = pid - tl.sum(tl.where(this_seq, tiles_end - tiles, 0), 0)
        q_start = tl.sum(tl.where(this_seq, q_starts, 0), 0).to(tl.int64)
        q_len = tl.sum(tl.where(this_seq, q_lens, 0), 0)
        ctx_len = tl.load(CONTEXT_LENS + seq)
        first_pos = ctx_len - q_len  # absolute position of the sequence's first query token

        rows = tl.arange(0, BLOCK_M)
        tok = tile * TOKENS_PER_TILE + rows // GROUP_TILE
        group_idx = head_block * GROUP_TILE + rows % GROUP_TILE
        row_mask = (tok < q_len) & (group_idx < GROUP) & (rows < TOKENS_PER_TILE * GROUP_TILE)
        heads = kv_head * GROUP + group_idx
        row_pos = first_pos + tok
        offs_d = tl.arange(0, BLOCK_D)
        d_mask = offs_d < HEAD_DIM
        q_rows = q_start + tok.to(tl.int64)
        q = tl.load(Q + q_rows[:, None] * stride_qt + heads[:, None] * stride_qh + offs_d[None, :],
                    mask=row_mask[:, None] & d_mask[None, :], other=0.0)
        if UPCAST:
            q = q.to(tl.float32)

        m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
        l_i = tl.zeros([BLOCK_M], tl.float32)
        acc = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
        table = BLOCK_TABLES + seq.to(tl.int64) * stride_bt
        tile_first_pos = first_pos + tile * TOKENS_PER_TILE
        kv_end = tl.minimum(tile_first_pos + TOKENS_PER_TILE, ctx_len)
        unmasked_end = ((tile_first_pos + 1) // BLOCK_N) * BLOCK_N
        for n0 in range(0, unmasked_end, BLOCK_N):
            acc, m_i, l_i = _attend_tile(
                q, acc, m_i, l_i, n0, row_pos, kv_end, table, K_CACHE, V_CACHE, kv_head,
                stride_kb, stride_ks, stride_kh, stride_vb, stride_vs, stride_vh, qk_scale, offs_d, d_mask,
                PAGE_SIZE, BLOCK_N, False, UPCAST, PRECISION)
        for n0 in range(unmasked_end, kv_end, BLOCK_N):
            acc, m_i, l_i = _attend_tile(
                q, acc, m_i, l_i, n0, row_pos, kv_end, table, K_CACHE, V_CACHE, kv_head,
                stride_kb, stride_ks, stride_kh, stride_vb, stride_vs, stride_vh, qk_scale, offs_d, d_mask,
                PAGE_SIZE, BLOCK_N, True, UPCAST, PRECISION)

        out = acc / tl.where(l_i > 0.0, l_i, 1.0)[:, None]
        tl.store(OUT + q_rows[:, None] * stride_ot + heads[:, None] * stride_oh + offs_d[None, :],
                 out.to(OUT.dtype.element_ty), mask=row_mask[:, None] & d_mask[None, :])


def launch_prefill_attention(
    q: Tensor, k_cache: Tensor, v_cache: Tensor, block_tables: Tensor, cu_seqlens_q: Tensor,
    context_lens: Tensor, scale: float, *, block_m: int, block_n: int, num_warps: int = 4, num_stages: int = 2,
    upcast: bool | None = None,
) -> Tensor:
    """q [T, Hq, D] (unit last stride); caches [blocks, page, Hkv, D]. Returns [T, Hq, D] in q.dtype."""
    tokens, hq, dim = q.shape
    num_seqs = context_lens.shape[0]
    hkv = k_cache.shape[2]
    group = hq // hkv
    out = torch.empty((tokens, hq, dim), dtype=q.dtype, device=q.device)
    if tokens == 0 or num_seqs == 0:
        return out
    group_tile = min(triton.next_power_of_2(group), block_m)
    head_blocks = triton.cdiv(group, group_tile)
    tokens_per_tile = block_m // group_tile
    # sum over sequences of cdiv(n_b, tokens_per_tile) <= cdiv(T, tokens_per_tile) + B - 1
    grid = (triton.cdiv(tokens, tokens_per_tile) + num_seqs - 1, hkv * head_blocks)
    if upcast is None:  # fp32 dots on CPU (the interpreter's bf16 dot is wrong) and for fp32 or mixed dtypes
        upcast = q.device.type == "cpu" or q.dtype == torch.float32 or k_cache.dtype != q.dtype
    _prefill_kernel[grid](
        q, k_cache, v_cache, block_tables, cu_seqlens_q, context_lens, out,
        float(scale) * LOG2E, num_seqs,
        q.stride(0), q.stride(1),
        k_cache.stride(0), k_cache.stride(1), k_cache.stride(2),
        v_cache.stride(0), v_cache.stride(1), v_cache.stride(2),
        block_tables.stride(0),
        out.stride(0), out.stride(1),
        GROUP=group, GROUP_TILE=group_tile, HEAD_BLOCKS=head_blocks, TOKENS_PER_TILE=tokens_per_tile,
        HEAD_DIM=dim, PAGE_SIZE=k_cache.shape[1],
        BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_D=max(16, triton.next_power_of_2(dim)),
        BLOCK_B=triton.next_power_of_2(num_seqs),
        UPCAST=upcast, PRECISION="ieee" if upcast else "tf32",
        num_warps=num_warps, num_stages=num_stages,
    )
    return out
