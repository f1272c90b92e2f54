"""Triton paged decode (split-KV) and prefill/extend attention against the torch path, on CPU
under TRITON_INTERPRET=1 (set above the imports, see
local_engine.ops.triton_interpret).

Caches are filled with random values everywhere, blocks are handed out in a shuffled order,
and block tables carry unused trailing entries, so a kernel that reads a wrong slot, a slot past
a sequence's context, or another sequence's block gives a visibly wrong result.
"""

from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # before the first import of triton in this process

from dataclasses import dataclass
from types import ModuleType

import pytest
import torch

from local_engine.ops import torch_ops
from local_engine.ops.triton_interpret import load_interpreted_triton_ops

FP32_TOL = {"rtol": 1e-4, "atol": 2e-5}
BF16_TOL = {"rtol": 2e-2, "atol": 2e-2}


@pytest.fixture(scope="module")
def tops() -> ModuleType:
    torch.manual_seed(0)
    try:
        return load_interpreted_triton_ops()
    except RuntimeError as exc:
        pytest.fail(f"cannot run the Triton kernels under the interpreter: {exc}")


@dataclass
class PagedCache:
    k_cache: torch.Tensor
    v_cache: torch.Tensor
    block_tables: torch.Tensor
    context_lens: torch.Tensor


def make_paged_cache(context_lens: list[int], hkv: int, dim: int, block_size: int, dtype: torch.dtype,
                     seed: int) -> PagedCache:
    gen = torch.Generator().manual_seed(seed)
    blocks_per_seq = [-(-n // block_size) for n in context_lens]
    max_blocks = max(blocks_per_seq) + 2  # trailing table entries the kernels must ignore
    num_blocks = sum(blocks_per_seq) + 3  # spare blocks nobody owns
    k_cache = torch.randn(num_blocks, block_size, hkv, dim, generator=gen).to(dtype)
    v_cache = torch.randn(num_blocks, block_size, hkv, dim, generator=gen).to(dtype)
    order = torch.randperm(num_blocks, generator=gen).tolist()
    tables = torch.zeros(len(context_lens), max_blocks, dtype=torch.int32)
    for b, n_blocks in enumerate(blocks_per_seq):
        tables[b, :n_blocks] = torch.tensor(order[:n_blocks], dtype=torch.int32)
        order = order[n_blocks:]
    return PagedCache(k_cache, v_cache, tables, torch.tensor(context_lens, dtype=torch.int32))


def _tol(dtype: torch.dtype) -> dict[str, float]:
    return BF16_TOL if dtype == torch.bfloat16 else FP32_TOL


# ---- decode ----

DECODE_CASES = [
    # hq, hkv, dim, block_size, context_lens, num_splits, block_n
    pytest.param(3, 3, 24, 16, [37, 1, 16], 1, 16, id="mha-d24-one-split"),
    pytest.param(4, 2, 40, 16, [70, 33], 4, 16, id="gqa2-d40-splits-cross-blocks"),
    pytest.param(4, 1, 80, 5, [23, 51, 9], 3, 16, id="gqa4-d80-odd-block-size"),
    pytest.param(7, 1, 24, 16, [100, 17], 8, 16, id="gqa7-empty-splits"),
    pytest.param(14, 2, 64, 16, [45, 130], 2, 32, id="qwen-shape-gqa7"),
    pytest.param(6, 6, 16, 3, [10, 2, 29, 5], 2, 16, id="mha-block3"),
    pytest.param(1, 1, 40, 16, [25, 64], 2, 16, id="single-head"),
]


@pytest.mark.parametrize("hq,hkv,dim,block_size,lens,num_splits,block_n", DECODE_CASES)
def test_decode_partitions_match_torch(tops: ModuleType, hq: int, hkv: int, dim: int, block_size: int,
                                       lens: list[int], num_splits: int, block_n: int) -> None:
    cache = make_paged_cache(lens, hkv, dim, block_size, torch.float32, seed=hq * 100 + dim)
    q = torch.randn(len(lens), hq, dim)
    scale = dim ** -0.5
    out = tops.launch_decode_attention(q, cache.k_cache, cache.v_cache, cache.block_tables, cache.context_lens,
                                       scale, num_splits=num_splits, block_n=block_n)
    ref = torch_ops.paged_decode_attention(q, cache.k_cache, cache.v_cache, cache.block_tables,
                                           cache.context_lens, scale)
    torch.testing.assert_close(out, ref, **FP32_TOL)


def test_decode_group_larger_than_one_head_block(tops: ModuleType) -> None:
    # 20 query heads on one kv head, 16 heads per program: two head blocks share the kv head.
    cache = make_paged_cache([40, 19], 1, 16, 16, torch.float32, seed=7)
    q = torch.randn(2, 20, 16)
    out = tops.launch_decode_attention(q, cache.k_cache, cache.v_cache, cache.block_tables, cache.context_lens,
                                       0.25, num_splits=2, block_n=16, max_heads_per_block=16)
    ref = torch_ops.paged_decode_attention(q, cache.k_cache, cache.v_cache, cache.block_tables,
                                           cache.context_lens, 0.25)
    torch.testing.assert_close(out, ref, **FP32_TOL)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_decode_contract_entry_point_matches_torch(tops: ModuleType, dtype: torch.dtype) -> None:
    lens = [150, 3, 64, 97]
    cache = make_paged_cache(lens, 2, 40, 16, dtype, seed=11)
    q = torch.randn(len(lens), 8, 40).to(dtype)
    out = tops.paged_decode_attention(q, cache.k_cache, cache.v_cache, cache.block_tables, cache.context_lens, 0.15)
    ref = torch_ops.paged_decode_attention(q, cache.k_cache, cache.v_cache, cache.block_tables,
                                           cache.context_lens, 0.15)
    assert out.dtype == dtype and out.shape == q.shape
    torch.testing.assert_close(out, ref, **_tol(dtype))


@pytest.mark.parametrize("num_splits", [1, 4])
def test_decode_padding_rows_with_empty_context_give_zeros(tops: ModuleType, num_splits: int) -> None:
    # A CUDA-graph batch padded to its captured size carries rows with context length 0.
    cache = make_paged_cache([30, 0, 12], 2, 24, 16, torch.float32, seed=9)
    cache.block_tables[1] = -1  # a padding row's table is never read
    q = torch.randn(3, 4, 24)
    out = tops.launch_decode_attention(q, cache.k_cache, cache.v_cache, cache.block_tables, cache.context_lens,
                                       0.2, num_splits=num_splits, block_n=16)
    assert torch.equal(out[1], torch.zeros(4, 24))
    real = [0, 2]
    ref = torch_ops.paged_decode_attention(q[real], cache.k_cache, cache.v_cache, cache.block_tables[real],
                                           cache.context_lens[real], 0.2)
    torch.testing.assert_close(out[real], ref, **FP32_TOL)


def test_decode_rejects_bad_gqa_ratio(tops: ModuleType) -> None:
    cache = make_paged_cache([4], 3, 16, 16, torch.float32, seed=0)
    with pytest.raises(ValueError, match="not a multiple"):
        tops.paged_decode_attention(torch.randn(1, 4, 16), cache.k_cache, cache.v_cache, cache.block_tables,
                                    cache.context_lens, 1.0)
    with pytest.raises(ValueError, match="head dim"):
        tops.paged_decode_attention(torch.randn(1, 3, 8), cache.k_cache, cache.v_cache, cache.block_tables,
                                    cache.context_lens, 1.0)


# ---- prefill / extend ----

def _packed_queries(query_lens: list[int], hq: int, dim: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    cu = torch.zeros(len(query_lens) + 1, dtype=torch.int32)
    cu[1:] = torch.cumsum(torch.tensor(query_lens), 0)
    return torch.randn(int(cu[-1]), hq, dim).to(dtype), cu


PREFILL_CASES = [
    # hq, hkv, dim, block_size, [(new tokens, context len)], block_m, block_n
    pytest.param(2, 1, 24, 16, [(37, 37)], 16, 16, id="prefill-no-prefix-gqa2"),
    pytest.param(8, 2, 40, 5, [(20, 20), (5, 70), (1, 33), (0, 12), (9, 9)], 32, 16,
                 id="mixed-prefill-extend-decode-empty-gqa4-block5"),
    pytest.param(7, 1, 80, 16, [(9, 9), (13, 100)], 32, 16, id="extend-long-prefix-gqa7-d80"),
    pytest.param(3, 3, 16, 7, [(50, 50)], 64, 32, id="mha-block7"),
    pytest.param(1, 1, 24, 16, [(17, 40)], 16, 16, id="single-head-extend"),
    pytest.param(32, 1, 16, 16, [(3, 20), (4, 4)], 16, 16, id="group32-two-head-blocks"),
    pytest.param(14, 2, 64, 16, [(4, 60), (4, 33)], 32, 32, id="speculative-verify-qwen-shape"),
]


@pytest.mark.parametrize("hq,hkv,dim,block_size,seqs,block_m,block_n", PREFILL_CASES)
def test_prefill_matches_torch(tops: ModuleType, hq: int, hkv: int, dim: int, block_size: int,
                               seqs: list[tuple[int, int]], block_m: int, block_n: int) -> None:
    query_lens = [n for n, _ in seqs]
    cache = make_paged_cache([ctx for _, ctx in seqs], hkv, dim, block_size, torch.float32, seed=hq + dim)
    q, cu = _packed_queries(query_lens, hq, dim, torch.float32)
    scale = dim ** -0.5
    out = tops.launch_prefill_attention(q, cache.k_cache, cache.v_cache, cache.block_tables, cu,
                                        cache.context_lens, scale, block_m=block_m, block_n=block_n)
    ref = torch_ops.paged_prefill_attention(q, cache.k_cache, cache.v_cache, cache.block_tables, cu,
                                            cache.context_lens, scale)
    torch.testing.assert_close(out, ref, **FP32_TOL)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_prefill_contract_entry_point_matches_torch(tops: ModuleType, dtype: torch.dtype) -> None:
    seqs = [(33, 33), (6, 80), (1, 17)]
    cache = make_paged_cache([ctx for _, ctx in seqs], 2, 24, 16, dtype, seed=5)
    q, cu = _packed_queries([n for n, _ in seqs], 6, 24, dtype)
    out = tops.paged_prefill_attention(q, cache.k_cache, cache.v_cache, cache.block_tables, cu,
                                       cache.context_lens, 0.2)
    ref = torch_ops.paged_prefill_attention(q, cache.k_cache, cache.v_cache, cache.block_tables, cu,
                                            cache.context_lens, 0.2)
    assert out.dtype == dtype and out.shape == q.shape
    torch.testing.assert_close(out, ref, **_tol(dtype))


def test_prefill_of_one_token_equals_decode(tops: ModuleType) -> None:
    lens = [45, 8, 77]
    cache = make_paged_cache(lens, 1, 24, 16, torch.float32, seed=3)
    q = torch.randn(len(lens), 4, 24)
    cu = torch.arange(len(lens) + 1, dtype=torch.int32)
    prefill = tops.paged_prefill_attention(q, cache.k_cache, cache.v_cache, cache.block_tables, cu,
                                           cache.context_lens, 0.3)
    decode = tops.paged_decode_attention(q, cache.k_cache, cache.v_cache, cache.block_tables,
                                         cache.context_lens, 0.3)
    torch.testing.assert_close(prefill, decode, **FP32_TOL)


def test_prefill_rejects_bad_cu_seqlens(tops: ModuleType) -> None:
    cache = make_paged_cache([4, 4], 1, 16, 16, torch.float32, seed=0)
    with pytest.raises(ValueError, match="cu_seqlens_q"):
        tops.paged_prefill_attention(torch.randn(8, 2, 16), cache.k_cache, cache.v_cache, cache.block_tables,
                                     torch.tensor([0, 8], dtype=torch.int32), cache.context_lens, 1.0)


# ---- the GPU's half-precision dot path ----
# On CUDA at bf16/fp16 the kernels feed half-precision tiles to tl.dot (UPCAST=False). The
# interpreter's bf16 dot is wrong but its fp16 dot is right, so fp16 exercises that path here.

def _fp32_reference(fn, q: torch.Tensor, cache: PagedCache, *extra: torch.Tensor, scale: float) -> torch.Tensor:
    return fn(q.float(), cache.k_cache.float(), cache.v_cache.float(), cache.block_tables, *extra, scale)


def test_decode_half_precision_dot_path(tops: ModuleType) -> None:
    lens = [50, 7, 23]
    cache = make_paged_cache(lens, 1, 40, 16, torch.float16, seed=21)
    q = torch.randn(len(lens), 7, 40).half()
    out = tops.launch_decode_attention(q, cache.k_cache, cache.v_cache, cache.block_tables, cache.context_lens,
                                       0.16, num_splits=2, block_n=16, upcast=False)
    ref = _fp32_reference(torch_ops.paged_decode_attention, q, cache, cache.context_lens, scale=0.16)
    assert out.dtype == torch.float16
    torch.testing.assert_close(out.float(), ref, rtol=1e-2, atol=1e-2)


def test_prefill_half_precision_dot_path(tops: ModuleType) -> None:
    seqs = [(21, 21), (7, 58), (2, 30)]
    cache = make_paged_cache([ctx for _, ctx in seqs], 1, 24, 5, torch.float16, seed=22)
    q, cu = _packed_queries([n for n, _ in seqs], 4, 24, torch.float16)
    out = tops.launch_prefill_attention(q, cache.k_cache, cache.v_cache, cache.block_tables, cu,
                                        cache.context_lens, 0.2, block_m=32, block_n=16, upcast=False)
    ref = _fp32_reference(torch_ops.paged_prefill_attention, q, cache, cu, cache.context_lens, scale=0.2)
    torch.testing.assert_close(out.float(), ref, rtol=1e-2, atol=1e-2)


# ---- launch parameters ----

def test_decode_num_splits_is_a_bounded_power_of_two(tops: ModuleType) -> None:
    for batch in (1, 3, 8, 64, 256):
        for max_context in (16, 1000, 1100, 3000, 32768):
            splits = tops.decode_num_splits(batch, 2, max_context, 64, 132)
            assert 1 <= splits <= tops.MAX_DECODE_SPLITS and splits & (splits - 1) == 0
            assert splits == 1 or splits * 2 * 64 <= max_context + 2 * 64  # about two tiles a split at least
    assert tops.decode_num_splits(1, 2, 32768, 64, 132) == tops.MAX_DECODE_SPLITS  # long context, tiny batch
    assert tops.decode_num_splits(512, 8, 32768, 64, 132) == 1  # enough programs without splitting
    assert tops.decode_num_splits(4, 2, 32768, 64, 132) > tops.decode_num_splits(64, 2, 32768, 64, 132)


def test_prefill_tiles_shrink_for_short_extends(tops: ModuleType) -> None:
    assert tops.prefill_tiles(4096, 2, 7, 64) == (128, 64, 8)  # long prompts: big row tiles
    block_m, _, num_warps = tops.prefill_tiles(64 * 4, 64, 1, 64)  # 64 sequences verifying 4 tokens
    assert block_m == 16 and num_warps == 4
