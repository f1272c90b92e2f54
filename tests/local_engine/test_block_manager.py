"""Prefix-cached block allocation: chained hashes, sharing, LRU eviction, verified hits."""

from __future__ import annotations

from local_engine import block_manager as bm_module
from local_engine.block_manager import BlockManager
from local_engine.sequence import SamplingParams, Sequence


def _seq(tokens: list[int], bs: int = 4) -> Sequence:
    return Sequence("r", tokens, SamplingParams(max_tokens=4), bs)


def _finish_prefill(bm: BlockManager, seq: Sequence) -> None:
    seq.num_computed_tokens = seq.num_tokens
    bm.register_full_blocks(seq)


def test_shared_prefix_is_reused_and_ref_counted():
    bm = BlockManager(num_blocks=10, block_size=4)
    a = _seq(list(range(10)))
    bm.allocate(a)
    _finish_prefill(bm, a)
    b = _seq(list(range(8)) + [99, 98, 97])
    bm.allocate(b)
    assert b.num_cached_tokens == 8 and b.block_table[:2] == a.block_table[:2]
    assert b.block_table[2] != a.block_table[2]
    assert [bm.blocks[i].ref_count for i in a.block_table[:2]] == [2, 2]
    bm.free_seq(a)
    assert [bm.blocks[i].ref_count for i in b.block_table[:2]] == [1, 1]


def test_never_caches_the_last_prompt_token():
    bm = BlockManager(num_blocks=10, block_size=4)
    a = _seq(list(range(8)))
    bm.allocate(a)
    _finish_prefill(bm, a)
    bm.free_seq(a)
    again = _seq(list(range(8)))
    bm.allocate(again)
    assert again.num_cached_tokens == 4  # the second block holds the last token: recomputed


def test_different_parent_means_no_hit():
    bm = BlockManager(num_blocks=10, block_size=4)
    a = _seq([1, 2, 3, 4, 5, 6, 7, 8, 9])
    bm.allocate(a)
    _finish_prefill(bm, a)
    b = _seq([0, 2, 3, 4, 5, 6, 7, 8, 9])  # same second block, different first block
    bm.allocate(b)
    assert b.num_cached_tokens == 0


def test_lru_eviction_keeps_recently_freed_prefixes():
    bm = BlockManager(num_blocks=6, block_size=4)
    old, new = _seq(list(range(100, 109))), _seq(list(range(200, 209)))
    for s in (old, new):
        bm.allocate(s)
        _finish_prefill(bm, s)
    bm.free_seq(old)
    bm.free_seq(new)
    filler = _seq(list(range(300, 311)))  # 3 blocks: evicts the least recently freed ones
    bm.allocate(filler)
    assert _probe(bm, list(range(200, 209))) == 8
    assert _probe(bm, list(range(100, 109))) < 8


def _probe(bm: BlockManager, tokens: list[int]) -> int:
    s = _seq(tokens)
    bm.allocate(s)
    hits = s.num_cached_tokens
    bm.free_seq(s)
    return hits


def test_hash_collision_is_caught_by_token_check(monkeypatch):
    monkeypatch.setattr(bm_module, "chain_hash", lambda parent, tokens: 42)  # every block collides
    bm = BlockManager(num_blocks=10, block_size=4)
    a = _seq([1, 2, 3, 4, 5])
    bm.allocate(a)
    _finish_prefill(bm, a)
    b = _seq([9, 9, 9, 9, 5])
    bm.allocate(b)
    assert b.num_cached_tokens == 0
    c = _seq([1, 2, 3, 4, 6])
    bm.allocate(c)
    assert c.num_cached_tokens == 4


def test_free_returns_every_block():
    bm = BlockManager(num_blocks=8, block_size=4)
    seqs = [_seq(list(range(i, i + 9))) for i in range(2)]
    for s in seqs:
        bm.allocate(s)
        _finish_prefill(bm, s)
    assert bm.num_free_blocks == 2
    for s in seqs:
        bm.free_seq(s)
    assert bm.num_free_blocks == 8
