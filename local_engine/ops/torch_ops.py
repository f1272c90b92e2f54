"""Reference compute ops (CPU and GPU), per .helpers/ops_contract.md.

The Triton path (triton_ops.py) must match these numerically. Shapes: T packed tokens,
B sequences, Hq/Hkv heads, D head dim; caches are [num_blocks, block_size, Hkv, D].
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


class _PerStep(threading.local):
    """Caches values derived from a step's metadata tensors, which every layer passes again.

    Keyed on the tensors' identity (references are held, so ids are not recycled) and, outside
    inference mode, their version counters; a new step brings new tensors and recomputes.
    Metadata tensors must not be modified in place while inference-mode calls reuse them.
    Thread-local, so engines in different threads do not share entries. Saves a dozen small
    ops per layer on CPU.
    """

    def __init__(self) -> None:
        self.tensors: tuple[Tensor, ...] = ()
        self.versions: tuple = ()
        self.extra: tuple = ()
        self.value: object = None

    def get(self, tensors: tuple[Tensor, ...], extra: tuple, build: Callable[[], object]) -> object:
        versions = tuple(None if t.is_inference() else t._version for t in tensors)
        same = len(tensors) == len(self.tensors) and all(a is b for a, b in zip(tensors, self.tensors, strict=True))
        if not same or versions != self.versions or extra != self.extra:
            self.tensors, self.versions, self.extra, self.value = tensors, versions, extra, build()
        return self.value


_rope_step, _decode_step, _store_step = _PerStep(), _PerStep(), _PerStep()


def rms_norm(x: Tensor, weight: Tensor, eps: float, residual: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """RMSNorm in fp32, cast to x.dtype, times weight (HF Llama); optionally fused residual add."""
    h = x if residual is None else x + residual
    if h.dtype == torch.float32 and weight.dtype == torch.float32:
        out = F.rms_norm(h, (h.shape[-1],), weight, eps)  # one fused kernel; same maths in fp32
    else:
        out = (weight * F.rms_norm(h.float(), (h.shape[-1],), None, eps).to(x.dtype)).to(x.dtype)
    return out, (None if residual is None else h)


def apply_rope(q: Tensor, k: Tensor, positions: Tensor, cos_sin_cache: Tensor) -> tuple[Tensor, Tensor]:
    """NeoX / HF rotate_half RoPE on the full head dim; cos_sin_cache[:, :D/2]=cos, [:, D/2:]=sin."""
    half = q.shape[-1] // 2

    def build() -> tuple[Tensor, Tensor]:
        cs = cos_sin_cache.index_select(0, positions)
        return cs[:, :half].unsqueeze(1), cs[:, half:].unsqueeze(1)

    cos, sin = _rope_step.get((positions, cos_sin_cache), (), build)
    return _rotate(q, cos, sin), _rotate(k, cos, sin)


def _rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    xf = x.float()
    x1, x2 = xf[..., :half], xf[..., half:]
    out = torch.empty(x.shape, dtype=torch.float32, device=x.device)
    o1, o2 = out[..., :half], out[..., half:]
    torch.mul(x1, cos, out=o1)
    o1.sub_(x2 * sin)
    torch.mul(x2, cos, out=o2)
    o2.add_(x1 * sin)
    return out if x.dtype == torch.float32 else out.to(x.dtype)


def silu_and_mul(x: Tensor) -> Tensor:
    """silu(x[:, :I]) * x[:, I:] for x of shape [T, 2I]."""
    inter = x.shape[-1] // 2
    return F.silu(x[..., :inter]) * x[..., inter:]


def store_kv(k: Tensor, v: Tensor, k_cache: Tensor, v_cache: Tensor, slot_mapping: Tensor) -> None:
    """Write token t's k/v at flat slot slot_mapping[t]; negative slots (padding) are skipped."""
    num_blocks, block_size, hkv, d = k_cache.shape
    flat_k = k_cache.view(num_blocks * block_size, hkv, d)
    flat_v = v_cache.view(num_blocks * block_size, hkv, d)

    def build() -> tuple[Tensor, Tensor | None]:
        slots = slot_mapping.long()
        if slots.numel() and bool((slots < 0).any()):
            keep = slots >= 0
            return slots[keep], keep
        return slots, None

    slots, keep = _store_step.get((slot_mapping,), (), build)
    if keep is not None:
        k, v = k[keep], v[keep]
    flat_k.index_copy_(0, slots, k.to(k_cache.dtype))
    flat_v.index_copy_(0, slots, v.to(v_cache.dtype))


def _gather_context(cache: Tensor, block_table: Tensor, length: int) -> Tensor:
    """The first `length` cached tokens of one sequence: [length, Hkv, D]."""
    block_size = cache.shape[1]
    n_blocks = (length + block_size - 1) // block_size
    blocks = block_table[:n_blocks].long()
    return cache.index_select(0, blocks).flatten(0, 1)[:length]


# CPU SDPA blocks its work by the key length of the call, so a row padded to its batch's longest
# context would round differently alone and in a batch. On CPU each row is instead padded only to
# its own context rounded up to this many keys, and rows of one length bucket share a call: a
# row's rounding then depends on its own context alone.
CPU_KEY_BUCKET = 64


def paged_decode_attention(q: Tensor, k_cache: Tensor, v_cache: Tensor, block_tables: Tensor, context_lens: Tensor, scale: float) -> Tensor:
    """One query per sequence over its context_lens[b] cached tokens. Returns [B, Hq, D]."""
    if q.device.type == "cpu":
        return _bucketed_decode_attention(q, k_cache, v_cache, block_tables, context_lens, scale)
    # The table's width bounds the context (no host sync, so CUDA graphs can capture this).
    block_size = k_cache.shape[1]
    max_len = block_tables.shape[1] * block_size

    def build() -> tuple[Tensor, Tensor]:
        return _decode_plan(block_tables, context_lens, max_len, block_size)

    flat, mask = _decode_step.get((block_tables, context_lens), (block_size,), build)
    return _grouped_attention(q, k_cache, v_cache, flat, mask, max_len, scale)


def _decode_plan(block_tables: Tensor, context_lens: Tensor, max_len: int, block_size: int) -> tuple[Tensor, Tensor]:
    """Flat cache block ids of each row's first max_len keys, and the mask of its real ones."""
    n_blocks = max_len // block_size
    table = F.pad(block_tables[:, :n_blocks], (0, max(0, n_blocks - block_tables.shape[1])), value=-1)
    flat = table.reshape(-1).long().clamp(min=0)
    key_pos = torch.arange(max_len, device=block_tables.device)
    return flat, (key_pos[None, :] < context_lens.long()[:, None]).view(-1, 1, 1, max_len)


def _grouped_attention(q: Tensor, k_cache: Tensor, v_cache: Tensor, flat: Tensor, mask: Tensor, max_len: int, scale: float) -> Tensor:
    bsz, hq, d = q.shape
    hkv = k_cache.shape[2]
    # [B * n_blocks, bs, Hkv, D] -> [B, Hkv, L, D]
    k = k_cache.index_select(0, flat).view(bsz, max_len, hkv, d).transpose(1, 2)
    v = v_cache.index_select(0, flat).view(bsz, max_len, hkv, d).transpose(1, 2)
    # grouped queries [B, Hkv, G, D] against unrepeated K/V: no GQA expansion, flash kernel on CPU
    out = F.scaled_dot_product_attention(q.view(bsz, hkv, hq // hkv, d), k.to(q.dtype), v.to(q.dtype), attn_mask=mask, scale=scale)
    return out.reshape(bsz, hq, d)


def _bucketed_decode_attention(q: Tensor, k_cache: Tensor, v_cache: Tensor, block_tables: Tensor, context_lens: Tensor, scale: float) -> Tensor:
    block_size = k_cache.shape[1]
    bucket = -(-max(CPU_KEY_BUCKET, block_size) // block_size) * block_size

    def build() -> list[tuple[Tensor, Tensor, Tensor, int]]:
        lens = context_lens.tolist()
        groups: dict[int, list[int]] = {}
        for row, length in enumerate(lens):
            groups.setdefault(-(-max(length, 1) // bucket) * bucket, []).append(row)
        plans = []
        for max_len, rows in groups.items():
            index = torch.tensor(rows, dtype=torch.long)
            flat, mask = _decode_plan(block_tables[index], context_lens[index], max_len, block_size)
            plans.append((index, flat, mask, max_len))
        return plans

    plans = _decode_step.get((block_tables, context_lens), (block_size, bucket), build)
    if len(plans) == 1:
        _, flat, mask, max_len = plans[0]
        return _grouped_attention(q, k_cache, v_cache, flat, mask, max_len, scale)
    out = torch.empty_like(q)
    for index, flat, mask, max_len in plans:
        out[index] = _grouped_attention(q[index], k_cache, v_cache, flat, mask, max_len, scale)
    return out


def paged_prefill_attention(
    q: Tensor,
    k_cache: Tensor,
    v_cache: Tensor,
    block_tables: Tensor,
    cu_seqlens_q: Tensor,
    context_lens: Tensor,
    scale: float,
) -> Tensor:
    """Causal attention of each sequence's new queries (the last n_b positions of its context).

    Sequence b's queries are q[cu[b]:cu[b+1]]; query i sits at absolute position
    context_lens[b] - n_b + i and sees keys 0..that position. Returns [T, Hq, D].
    """
    hq = q.shape[1]
    group = hq // k_cache.shape[2]
    cu = cu_seqlens_q.tolist()
    lens = context_lens.tolist()
    out = torch.empty_like(q)
    for b in range(len(lens)):
        start, end, length = cu[b], cu[b + 1], lens[b]
        n = end - start
        if n == 0:
            continue
        # [1, H, L, D]; K/V repeated per query head so CPU SDPA takes its flash kernel (GQA goes to math)
        k = _gather_context(k_cache, block_tables[b], length).transpose(0, 1).to(q.dtype)
        v = _gather_context(v_cache, block_tables[b], length).transpose(0, 1).to(q.dtype)
        if group > 1:
            k, v = k.repeat_interleave(group, 0), v.repeat_interleave(group, 0)
        qb = q[start:end].transpose(0, 1).unsqueeze(0)
        if n == length:
            o = F.scaled_dot_product_attention(qb, k[None], v[None], is_causal=True, scale=scale)
        elif n == 1:
            o = F.scaled_dot_product_attention(qb, k[None], v[None], scale=scale)
        else:
            q_pos = torch.arange(length - n, length, device=q.device)
            k_pos = torch.arange(length, device=q.device)
            mask = k_pos[None, :] <= q_pos[:, None]
            o = F.scaled_dot_product_attention(qb, k[None], v[None], attn_mask=mask, scale=scale)
        out[start:end] = o[0].transpose(0, 1)
    return out
