"""Owns the model, its paged KV cache and the ops; turns a scheduled step into logits."""

from __future__ import annotations

import logging

import torch

from local_engine.config import EngineConfig
from local_engine.model import AttentionMetadata, DecoderModel, DecodeRows
from local_engine.ops import get_ops
from local_engine.scheduler import ScheduledSeq

log = logging.getLogger(__name__)
Tensor = torch.Tensor


def kv_cache_num_blocks(model: DecoderModel, cfg: EngineConfig) -> int:
    if cfg.num_kv_blocks is not None:
        return cfg.num_kv_blocks
    m = model.cfg
    bytes_per_block = 2 * m.num_layers * cfg.block_size * m.num_kv_heads * m.head_dim * model.dtype.itemsize
    return max(8, int(cfg.kv_cache_memory_gb * (1 << 30)) // bytes_per_block)


class ModelRunner:
    def __init__(self, model: DecoderModel, cfg: EngineConfig, num_blocks: int, max_model_len: int):
        self.model = model
        self.cfg = cfg
        self.device = next(model.parameters()).device
        self.ops = get_ops(self.device)
        m = model.cfg
        shape = (m.num_layers, 2, num_blocks, cfg.block_size, m.num_kv_heads, m.head_dim)
        self.kv_cache = torch.zeros(shape, dtype=model.dtype, device=self.device)
        self.kv_caches = [(self.kv_cache[i, 0], self.kv_cache[i, 1]) for i in range(m.num_layers)]
        self.graphs = None
        if self.device.type == "cuda" and cfg.cuda_graphs:
            from local_engine.cuda_graphs import DecodeGraphs

            self.graphs = DecodeGraphs(self, max_batch=cfg.max_num_seqs, max_model_len=max_model_len)

    def prepare(self, batch: list[ScheduledSeq]) -> tuple[Tensor, Tensor, AttentionMetadata, list[int]]:
        """Packed inputs of a step and, per sequence that samples, the rows of its logits."""
        bs = self.cfg.block_size
        input_ids: list[int] = []
        positions: list[int] = []
        slots: list[int] = []
        cu = [0]
        context_lens: list[int] = []
        logit_rows: list[int] = []
        generated: list[bool] = []
        max_blocks = 0
        for item in batch:
            seq, n = item.seq, item.num_new_tokens
            start = seq.num_computed_tokens
            n_real = n - len(item.draft_tokens)
            tokens = seq.token_ids[start : start + n_real] + item.draft_tokens
            input_ids.extend(tokens)
            positions.extend(range(start, start + n))
            generated.extend(p >= seq.prompt_len for p in range(start, start + n))
            table = seq.block_table
            slots.extend(table[p // bs] * bs + p % bs for p in range(start, start + n))
            cu.append(cu[-1] + n)
            context_lens.append(start + n)
            max_blocks = max(max_blocks, (start + n + bs - 1) // bs)
            if item.samples:
                logit_rows.extend(range(cu[-1] - 1 - len(item.draft_tokens), cu[-1]))
        tables = [s.seq.block_table[:max_blocks] + [-1] * (max_blocks - len(s.seq.block_table[:max_blocks])) for s in batch]
        dev = self.device
        pin = dev.type == "cuda"

        def put(values: list, dtype: torch.dtype) -> Tensor:
            t = torch.tensor(values, dtype=dtype)
            return t.pin_memory().to(dev, non_blocking=True) if pin else t

        # Which rows the int8/int4 linears quantize: all (decode), none (prefill) or a mask, decided once a step.
        row_kinds: Tensor | bool | None = None
        if self.model.linear_mode in ("int8", "int4"):
            row_kinds = True if all(generated) else put(generated, torch.bool) if any(generated) else False
        decode_only = all(s.num_new_tokens == 1 for s in batch)
        meta = AttentionMetadata(
            slot_mapping=put(slots, torch.int64),
            block_tables=put(tables, torch.int32),
            context_lens=put(context_lens, torch.int32),
            cu_seqlens_q=put(cu, torch.int32),
            decode_only=decode_only,
            generated_rows=row_kinds,
            decode_rows=None if decode_only or dev.type != "cpu" else _decode_rows(batch, cu, positions, tables),
        )
        return put(input_ids, torch.int64), put(positions, torch.int64), meta, logit_rows

    @torch.inference_mode()
    def run(self, batch: list[ScheduledSeq]) -> Tensor:
        """Logits [rows, V] (fp32) for the positions that sample, in batch order."""
        ids, pos, meta, rows = self.prepare(batch)
        if self.graphs is not None and meta.decode_only and self.graphs.can_run(len(batch), meta.block_tables.shape[1]):
            hidden = self.graphs.run(ids, pos, meta)
        else:
            hidden = self.model(ids, pos, meta, self.kv_caches, self.ops)
        if not rows:
            return torch.empty(0, self.model.cfg.vocab_size)
        generated = meta.generated_rows
        if len(rows) != hidden.shape[0]:
            index = torch.tensor(rows, device=hidden.device)
            hidden = hidden[index]
            generated = generated[index] if isinstance(generated, torch.Tensor) else generated
        return self.model.compute_logits(hidden, generated)


def _decode_rows(batch: list[ScheduledSeq], cu: list[int], positions: list[int], tables: list[list[int]]) -> DecodeRows | None:
    """The rows of generated tokens (decode, draft verification, and a preempted sequence's
    recomputed output) in a step that also holds prompt rows; None when there are none."""
    rows: list[int] = []
    row_tables: list[list[int]] = []
    prompt_rows: list[int] = []
    prompt_cu = [0]
    prompt_lens: list[int] = []
    for b, item in enumerate(batch):
        start, end = cu[b], cu[b + 1]
        first = item.seq.num_computed_tokens
        n_prompt = max(0, min(end - start, item.seq.prompt_len - first))
        prompt_rows.extend(range(start, start + n_prompt))
        prompt_cu.append(prompt_cu[-1] + n_prompt)
        prompt_lens.append(first + n_prompt)
        rows.extend(range(start + n_prompt, end))
        row_tables.extend([tables[b]] * (end - start - n_prompt))
    if not rows:
        return None
    return DecodeRows(
        rows=torch.tensor(rows, dtype=torch.long),
        block_tables=torch.tensor(row_tables, dtype=torch.int32),
        context_lens=torch.tensor([positions[r] + 1 for r in rows], dtype=torch.int32),
        prompt_rows=torch.tensor(prompt_rows, dtype=torch.long),
        prompt_cu_seqlens=torch.tensor(prompt_cu, dtype=torch.int32),
        prompt_context_lens=torch.tensor(prompt_lens, dtype=torch.int32),
    )
