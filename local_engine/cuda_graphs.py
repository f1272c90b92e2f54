"""CUDA graphs for decode steps: one graph per batch-size bucket, replayed with static buffers.

Only used on CUDA with the Triton ops (they never read device values on the host, so a decode
step is capturable and its attention reads only each sequence's own context). The CPU path
never imports this module.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import torch

from local_engine.model import AttentionMetadata

if TYPE_CHECKING:
    from local_engine.model_runner import ModelRunner

log = logging.getLogger(__name__)
Tensor = torch.Tensor


GRAPH_CONTEXT_BUCKETS = (1024, 4096)  # tokens; longer decode steps run eagerly


def batch_buckets(max_batch: int) -> list[int]:
    sizes = [1, 2, 4, 8] + list(range(16, max_batch + 1, 16))
    return sorted({s for s in sizes if s <= max_batch} | {max_batch})


class DecodeGraphs:
    def __init__(self, runner: ModelRunner, max_batch: int, max_model_len: int):
        self.runner = runner
        self.enabled = runner.ops.name == "triton"
        self.graphs: dict[tuple[int, int], torch.cuda.CUDAGraph] = {}
        if not self.enabled:
            log.info("CUDA graphs off: the torch ops path is not capture-friendly for paged decode")
            return
        dev = runner.device
        bs = runner.cfg.block_size
        self.max_batch = max_batch
        # Split-KV attention sizes its grid from the block-table width, so graphs are captured
        # per (batch bucket, table width) with widths that fit the usual agent contexts.
        self.widths = sorted({(min(t, max_model_len) + bs - 1) // bs for t in GRAPH_CONTEXT_BUCKETS})
        self.max_blocks = self.widths[-1]
        self.input_ids = torch.zeros(max_batch, dtype=torch.int64, device=dev)
        self.positions = torch.zeros(max_batch, dtype=torch.int64, device=dev)
        self.slot_mapping = torch.full((max_batch,), -1, dtype=torch.int64, device=dev)
        self.context_lens = torch.ones(max_batch, dtype=torch.int32, device=dev)
        self.block_tables = torch.zeros(max_batch, self.max_blocks, dtype=torch.int32, device=dev)
        self.cu_seqlens = torch.arange(max_batch + 1, dtype=torch.int32, device=dev)
        self.hidden = torch.zeros(max_batch, runner.model.cfg.hidden_size, dtype=runner.model.dtype, device=dev)
        self.pool = None
        try:
            self._capture_all()
        except RuntimeError as exc:  # capture is an optimisation: fall back to eager decode
            log.warning("CUDA graph capture failed (%s); decode runs eagerly", exc)
            self.graphs.clear()
            self.enabled = False

    def _meta(self, n: int, width: int) -> AttentionMetadata:
        return AttentionMetadata(
            slot_mapping=self.slot_mapping[:n],
            block_tables=self.block_tables[:n, :width],
            context_lens=self.context_lens[:n],
            cu_seqlens_q=self.cu_seqlens[: n + 1],
            decode_only=True,
        )

    def _forward(self, n: int, width: int) -> Tensor:
        r = self.runner
        return r.model(self.input_ids[:n], self.positions[:n], self._meta(n, width), r.kv_caches, r.ops)

    @torch.inference_mode()
    def _capture_all(self) -> None:
        for width in reversed(self.widths):
            for n in reversed(batch_buckets(self.max_batch)):  # largest first, so smaller ones fit its pool
                self._forward(n, width)  # warm-up: compiles and autotunes the kernels outside capture
                torch.cuda.synchronize()
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph, pool=self.pool):
                    self.hidden[:n].copy_(self._forward(n, width))
                if self.pool is None:
                    self.pool = graph.pool()
                self.graphs[(n, width)] = graph
                torch.cuda.synchronize()

    def can_run(self, n: int, max_blocks: int) -> bool:
        return self.enabled and n <= self.max_batch and max_blocks <= self.max_blocks

    def run(self, ids: Tensor, pos: Tensor, meta: AttentionMetadata) -> Tensor:
        n = ids.shape[0]
        bucket = min(b for b, _ in self.graphs if b >= n)
        width = meta.block_tables.shape[1]
        graph_width = min(w for w in self.widths if w >= width)
        self.input_ids[:n].copy_(ids, non_blocking=True)
        self.positions[:n].copy_(pos, non_blocking=True)
        self.slot_mapping[:n].copy_(meta.slot_mapping, non_blocking=True)
        self.slot_mapping[n:bucket].fill_(-1)
        self.context_lens[:n].copy_(meta.context_lens, non_blocking=True)
        self.context_lens[n:bucket].fill_(1)
        self.block_tables[:n, :width].copy_(meta.block_tables.clamp(min=0), non_blocking=True)
        self.block_tables[:n, width:graph_width].zero_()
        self.block_tables[n:bucket].zero_()
        self.graphs[(bucket, graph_width)].replay()
        return self.hidden[:n]
