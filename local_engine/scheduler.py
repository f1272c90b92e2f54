"""Continuous batching: decode of running sequences plus (chunked) prefill of new ones under a
per-step token budget; preemption by recompute when KV blocks run out."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from local_engine.block_manager import BlockManager
from local_engine.sequence import Sequence, SequenceStatus


@dataclass
class ScheduledSeq:
    seq: Sequence
    num_new_tokens: int  # tokens fed this step (prompt chunk, or last token + drafts)
    draft_tokens: list[int]

    @property
    def samples(self) -> bool:
        """Whether this step reaches the end of the sequence, so it yields next-token logits."""
        return self.seq.num_computed_tokens + self.num_new_tokens - len(self.draft_tokens) == self.seq.num_tokens


@dataclass
class SchedulerOutput:
    scheduled: list[ScheduledSeq]
    preempted: list[Sequence]
    finished_unschedulable: list[Sequence]

    @property
    def num_tokens(self) -> int:
        return sum(s.num_new_tokens for s in self.scheduled)


class Scheduler:
    def __init__(self, block_manager: BlockManager, max_num_seqs: int, max_num_batched_tokens: int):
        self.bm = block_manager
        self.max_num_seqs = max_num_seqs
        self.max_num_batched_tokens = max_num_batched_tokens
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []

    def add(self, seq: Sequence) -> None:
        self.waiting.append(seq)

    def has_work(self) -> bool:
        return bool(self.waiting or self.running)

    def finish(self, seq: Sequence, reason: str) -> None:
        seq.status = SequenceStatus.FINISHED
        seq.finish_reason = reason
        if seq in self.running:
            self.running.remove(seq)
        elif seq in self.waiting:
            self.waiting.remove(seq)
        self.bm.free_seq(seq)

    def _preempt(self, seq: Sequence) -> None:
        self.running.remove(seq)
        self.bm.free_seq(seq)
        seq.status = SequenceStatus.WAITING
        seq.draft_tokens = []
        seq.num_preemptions += 1
        self.waiting.appendleft(seq)

    def schedule(self, drafts: dict[int, list[int]] | None = None) -> SchedulerOutput:
        """Pick this step's work. `drafts` maps seq_id -> speculative tokens proposed for it."""
        drafts = drafts or {}
        budget = self.max_num_batched_tokens
        scheduled: list[ScheduledSeq] = []
        preempted: list[Sequence] = []
        unschedulable: list[Sequence] = []

        i = 0
        while i < len(self.running) and budget > 0:
            seq = self.running[i]
            remaining = seq.num_tokens - seq.num_computed_tokens
            draft = drafts.get(seq.seq_id, []) if remaining == 1 else []
            draft = draft[: max(0, budget - 1)]
            n = min(remaining + len(draft), budget)
            while not self.bm.can_grow(seq, seq.num_computed_tokens + n):
                if draft:  # drop speculation before evicting anyone
                    n -= len(draft)
                    draft = []
                    continue
                victim = self.running[-1]
                if victim is seq:
                    break
                self._preempt(victim)
                preempted.append(victim)
            if not self.bm.can_grow(seq, seq.num_computed_tokens + n):
                if len(self.running) == 1 and not scheduled:
                    # Alone and still no room: the cache cannot hold this sequence any longer.
                    self.finish(seq, "length")
                    unschedulable.append(seq)
                else:
                    self._preempt(seq)
                    preempted.append(seq)
                continue
            self.bm.grow(seq, seq.num_computed_tokens + n)
            scheduled.append(ScheduledSeq(seq, n, draft))
            budget -= n
            i += 1

        while self.waiting and budget > 0 and len(self.running) < self.max_num_seqs and not preempted:
            seq = self.waiting[0]
            if seq.num_blocks_for(seq.num_tokens) > self.bm.num_blocks:
                self.waiting.popleft()
                self.finish(seq, "length")
                unschedulable.append(seq)
                continue
            if not self.bm.can_allocate(seq):
                break
            self.waiting.popleft()
            self.bm.allocate(seq)
            seq.status = SequenceStatus.RUNNING
            self.running.append(seq)
            n = min(seq.num_tokens - seq.num_computed_tokens, budget)
            scheduled.append(ScheduledSeq(seq, n, []))
            budget -= n
        return SchedulerOutput(scheduled, preempted, unschedulable)
