"""Paged KV block allocation with prefix caching.

A full block is identified by a hash of its token ids chained on its parent block's hash, so
equal hashes mean equal prefixes (checked against the stored token ids before reuse). Blocks
are shared by reference count; blocks nobody uses stay cached in an LRU free list and are
evicted (their hash dropped) only when a fresh block is needed.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from local_engine.sequence import Sequence


@dataclass
class Block:
    block_id: int
    ref_count: int = 0
    hash: int | None = None
    token_ids: tuple[int, ...] = field(default_factory=tuple)


def chain_hash(parent: int | None, token_ids: tuple[int, ...]) -> int:
    return hash((parent, token_ids))


class BlockManager:
    def __init__(self, num_blocks: int, block_size: int, enable_prefix_caching: bool = True):
        self.block_size = block_size
        self.num_blocks = num_blocks
        self.enable_prefix_caching = enable_prefix_caching
        self.blocks = [Block(i) for i in range(num_blocks)]
        self.free: OrderedDict[int, None] = OrderedDict((i, None) for i in range(num_blocks))  # LRU first
        self.hash_to_block: dict[int, int] = {}
        self.hits = 0  # prompt tokens served from the cache, for stats
        self.queries = 0

    @property
    def num_free_blocks(self) -> int:
        return len(self.free)

    def _take_free(self) -> int:
        block_id, _ = self.free.popitem(last=False)
        block = self.blocks[block_id]
        if block.hash is not None and self.hash_to_block.get(block.hash) == block_id:
            del self.hash_to_block[block.hash]
        block.hash, block.token_ids, block.ref_count = None, (), 1
        return block_id

    def _cached_prefix(self, seq: Sequence) -> list[int]:
        """Block ids holding the longest cached prefix of seq (never its last token)."""
        if not self.enable_prefix_caching:
            return []
        bs = self.block_size
        hits: list[int] = []
        parent = None
        for i in range((seq.num_tokens - 1) // bs):
            tokens = tuple(seq.token_ids[i * bs : (i + 1) * bs])
            h = chain_hash(parent, tokens)
            block_id = self.hash_to_block.get(h)
            if block_id is None or self.blocks[block_id].token_ids != tokens:
                break
            hits.append(block_id)
            parent = h
        return hits

    def can_allocate(self, seq: Sequence) -> bool:
        hits = self._cached_prefix(seq)
        reusable_free = sum(1 for b in hits if self.blocks[b].ref_count == 0)
        return seq.num_blocks_for(seq.num_tokens) - len(hits) <= self.num_free_blocks - reusable_free

    def allocate(self, seq: Sequence) -> None:
        """Blocks for seq's whole current token list, reusing cached prefix blocks."""
        assert not seq.block_table
        hits = self._cached_prefix(seq)
        parent = None
        for block_id in hits:
            block = self.blocks[block_id]
            if block.ref_count == 0:
                del self.free[block_id]
            block.ref_count += 1
            seq.block_table.append(block_id)
            seq.block_hashes.append(block.hash)
            parent = block.hash
        for _ in range(seq.num_blocks_for(seq.num_tokens) - len(hits)):
            seq.block_table.append(self._take_free())
        seq.num_hashed_blocks = len(hits)
        seq.num_computed_tokens = len(hits) * self.block_size
        seq.num_cached_tokens = seq.num_computed_tokens
        self.hits += seq.num_cached_tokens
        self.queries += seq.num_tokens
        del parent

    def can_grow(self, seq: Sequence, num_tokens: int) -> bool:
        return seq.num_blocks_for(num_tokens) - len(seq.block_table) <= self.num_free_blocks

    def grow(self, seq: Sequence, num_tokens: int) -> None:
        """Make room for `num_tokens` tokens in seq's block table."""
        for _ in range(seq.num_blocks_for(num_tokens) - len(seq.block_table)):
            seq.block_table.append(self._take_free())

    def register_full_blocks(self, seq: Sequence) -> None:
        """Hash blocks that are now full of computed tokens so later requests can share them."""
        if not self.enable_prefix_caching:
            return
        bs = self.block_size
        full = min(seq.num_computed_tokens, seq.num_tokens) // bs
        while seq.num_hashed_blocks < full:
            i = seq.num_hashed_blocks
            parent = seq.block_hashes[i - 1] if i else None
            tokens = tuple(seq.token_ids[i * bs : (i + 1) * bs])
            h = chain_hash(parent, tokens)
            block = self.blocks[seq.block_table[i]]
            block.hash, block.token_ids = h, tokens
            self.hash_to_block.setdefault(h, block.block_id)
            seq.block_hashes.append(h)
            seq.num_hashed_blocks += 1

    def free_seq(self, seq: Sequence) -> None:
        """Release seq's blocks; cached ones stay findable until evicted (LRU: last released, last evicted)."""
        for block_id in reversed(seq.block_table):
            block = self.blocks[block_id]
            block.ref_count -= 1
            if block.ref_count == 0:
                if block.hash is None or self.hash_to_block.get(block.hash) != block_id:
                    block.hash, block.token_ids = None, ()
                    self.free[block_id] = None
                    self.free.move_to_end(block_id, last=False)  # uncached blocks are reused first
                else:
                    self.free[block_id] = None
        seq.block_table = []
        seq.block_hashes = []
        seq.num_hashed_blocks = 0
        seq.num_computed_tokens = 0
