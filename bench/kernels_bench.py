"""Triton kernels vs the torch path, op by op, at Qwen2.5-0.5B and Llama-3.2-1B shapes (bf16, CUDA).

    python bench/kernels_bench.py [--block-size 16] [--repeats 30] [--calls 10]

Each figure is the median over --repeats samples of the mean time of --calls back-to-back calls,
timed with torch.cuda.Event; the torch path is measured in the same run on the same inputs, and
the ratio torch/triton is printed next to it. Decode attention also prints the achieved memory
bandwidth (K and V bytes read, over the time) and its fraction of the copy bandwidth measured at
the start of the run. Without CUDA it prints why and exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch

from local_engine.ops import torch_ops


@dataclass(frozen=True)
class ModelShape:
    name: str
    hq: int
    hkv: int
    head_dim: int
    hidden: int
    intermediate: int


MODELS = (
    ModelShape("qwen2.5-0.5b", 14, 2, 64, 896, 4864),
    ModelShape("llama-3.2-1b", 32, 8, 64, 2048, 8192),
)
DECODE_POINTS = ((1, 512), (1, 4096), (8, 2048), (64, 512), (64, 2048))  # (batch, context)
PREFILL_POINTS = (  # (label, [(new tokens, context)] per sequence)
    ("prefill 1x2048", [(2048, 2048)]),
    ("extend 256 over 2000 prefix", [(256, 2256)]),
    ("verify 32x4 over 512", [(4, 512)] * 32),
)


@dataclass
class Timing:
    triton_ms: float
    torch_ms: float
    max_abs_diff: float


def cuda_time(fn: Callable[[], object], repeats: int, calls: int) -> float:
    """Median over `repeats` samples of the per-call time (ms) of `calls` back-to-back calls."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) / calls)
    return statistics.median(samples)


def copy_bandwidth_gbs(repeats: int) -> float:
    src = torch.empty(1 << 29, dtype=torch.uint8, device="cuda")  # 512 MiB
    dst = torch.empty_like(src)
    ms = cuda_time(lambda: dst.copy_(src), repeats, 5)
    return 2 * src.numel() / (ms * 1e-3) / 1e9  # read + write


def paged_cache(lens: list[int], shape: ModelShape, block_size: int, device: str) -> tuple[torch.Tensor, ...]:
    """Random caches with each sequence's blocks scattered over the pool, and its block table."""
    blocks_per_seq = [-(-n // block_size) for n in lens]
    num_blocks = sum(blocks_per_seq)
    k_cache = torch.randn(num_blocks, block_size, shape.hkv, shape.head_dim, device=device, dtype=torch.bfloat16)
    v_cache = torch.randn_like(k_cache)
    order = torch.randperm(num_blocks, device=device).to(torch.int32)
    tables = torch.zeros(len(lens), max(blocks_per_seq), dtype=torch.int32, device=device)
    start = 0
    for b, n in enumerate(blocks_per_seq):
        tables[b, :n] = order[start : start + n]
        start += n
    return k_cache, v_cache, tables, torch.tensor(lens, dtype=torch.int32, device=device)


def max_abs_diff(tops: object, name: str, args: tuple) -> float:
    """Both paths on private copies of the inputs (some ops write in place); largest difference."""
    mine = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    ref = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    out, expected = getattr(tops, name)(*mine), getattr(torch_ops, name)(*ref)
    if name == "store_kv":  # compares the written caches
        out, expected = mine[2:4], ref[2:4]
    pairs = zip(out, expected, strict=True) if isinstance(out, (tuple, list)) else [(out, expected)]
    return max(float((a.float() - b.float()).abs().max()) for a, b in pairs if a is not None and a.numel())


def both(tops: object, name: str, args: tuple, timer: Callable[[Callable[[], object]], float]) -> Timing:
    diff = max_abs_diff(tops, name, args)
    return Timing(timer(lambda: getattr(tops, name)(*args)), timer(lambda: getattr(torch_ops, name)(*args)), diff)


def row(label: str, t: Timing, extra: str = "") -> None:
    print(f"  {label:<30} triton {t.triton_ms * 1e3:9.1f} us  torch {t.torch_ms * 1e3:9.1f} us  "
          f"torch/triton {t.torch_ms / t.triton_ms:6.2f}x  max|diff| {t.max_abs_diff:.1e}{extra}")


def bench_model(tops: object, shape: ModelShape, block_size: int, copy_gbs: float,
                timer: Callable[[Callable[[], object]], float], device: str = "cuda") -> None:
    print(f"\n{shape.name}: Hq={shape.hq} Hkv={shape.hkv} D={shape.head_dim} hidden={shape.hidden} "
          f"intermediate={shape.intermediate} bf16 block_size={block_size}")
    bf16 = dict(device=device, dtype=torch.bfloat16)
    max_pos = 8192
    inv_freq = 1.0 / (10000.0 ** (torch.arange(0, shape.head_dim, 2, device=device).float() / shape.head_dim))
    freqs = torch.outer(torch.arange(max_pos, device=device).float(), inv_freq)
    cos_sin = torch.cat((freqs.cos(), freqs.sin()), dim=-1)
    for tokens in (1, 64, 2048):
        x, res = torch.randn(tokens, shape.hidden, **bf16), torch.randn(tokens, shape.hidden, **bf16)
        weight = torch.randn(shape.hidden, **bf16)
        row(f"rms_norm+residual T={tokens}", both(tops, "rms_norm", (x, weight, 1e-6, res), timer))
        gate_up = torch.randn(tokens, 2 * shape.intermediate, **bf16)
        row(f"silu_and_mul T={tokens}", both(tops, "silu_and_mul", (gate_up,), timer))
        qkv = torch.randn(tokens, (shape.hq + 2 * shape.hkv) * shape.head_dim, **bf16)
        q = qkv[:, : shape.hq * shape.head_dim].view(tokens, shape.hq, shape.head_dim)
        k = qkv[:, shape.hq * shape.head_dim : (shape.hq + shape.hkv) * shape.head_dim].view(
            tokens, shape.hkv, shape.head_dim)
        positions = torch.randint(0, max_pos, (tokens,), device=device)
        row(f"apply_rope T={tokens}", both(tops, "apply_rope", (q, k, positions, cos_sin), timer))
        k_cache, v_cache, _, _ = paged_cache([tokens + block_size], shape, block_size, device)
        slots = torch.randperm(k_cache.shape[0] * block_size, device=device)[:tokens]
        row(f"store_kv T={tokens}", both(tops, "store_kv", (k, k, k_cache, v_cache, slots), timer))

    scale = shape.head_dim ** -0.5
    for batch, context in DECODE_POINTS:
        k_cache, v_cache, tables, lens = paged_cache([context] * batch, shape, block_size, device)
        q = torch.randn(batch, shape.hq, shape.head_dim, **bf16)
        t = both(tops, "paged_decode_attention", (q, k_cache, v_cache, tables, lens, scale), timer)
        kv_bytes = 2 * batch * context * shape.hkv * shape.head_dim * 2
        gbs = kv_bytes / (t.triton_ms * 1e-3) / 1e9
        row(f"decode B={batch} ctx={context}", t, f"  {gbs:6.0f} GB/s = {gbs / copy_gbs:5.1%} of copy")

    for label, seqs in PREFILL_POINTS:
        k_cache, v_cache, tables, lens = paged_cache([ctx for _, ctx in seqs], shape, block_size, device)
        cu = torch.zeros(len(seqs) + 1, dtype=torch.int32, device=device)
        cu[1:] = torch.cumsum(torch.tensor([n for n, _ in seqs], device=device), 0)
        q = torch.randn(int(cu[-1]), shape.hq, shape.head_dim, **bf16)
        args = (q, k_cache, v_cache, tables, cu, lens, scale)
        row(label, both(tops, "paged_prefill_attention", args, timer))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("kernels_bench: no CUDA device here; the Triton kernels are benchmarked on a GPU only "
              "(their correctness is tested on CPU under TRITON_INTERPRET=1). Nothing measured.")
        return 0
    from local_engine.ops import triton_ops

    torch.manual_seed(0)
    copy_gbs = copy_bandwidth_gbs(args.repeats)
    print(f"device: {torch.cuda.get_device_name()}  torch {torch.__version__}  "
          f"copy bandwidth {copy_gbs:.0f} GB/s (read+write, 512 MiB)")
    def timer(fn: Callable[[], object]) -> float:
        return cuda_time(fn, args.repeats, args.calls)

    for shape in MODELS:
        bench_model(triton_ops, shape, args.block_size, copy_gbs, timer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
