"""Compile every Triton kernel ahead of time for a GPU architecture, without a GPU.

    python -m local_engine.ops.triton_aot [--arch 90] [--json]

The contract functions of triton_ops run on "meta" tensors (no data, no device) with their
kernels swapped for recorders, so the recorded launches are exactly those a CUDA run would
make (same constexprs, num_warps, num_stages) for bf16 Qwen2.5-0.5B and Llama-3.2-1B shapes.
Each launch is then compiled with the compiler and ptxas that ship with triton, specialised
as a real launch is (16-divisible pointers and ints, ints equal to 1 as constants). This
catches what the CPU interpreter cannot: tl.dot shape/dtype rules, loop-carried types,
shared-memory limits. Must run without TRITON_INTERPRET (the interpreter replaces the compiler).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import torch
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

KERNEL_MODULES = ("triton_norm_act", "triton_rope_kv", "triton_decode_attention", "triton_prefill_attention")
POINTER_TYPES = {torch.bfloat16: "*bf16", torch.float16: "*fp16", torch.float32: "*fp32",
                 torch.int32: "*i32", torch.int64: "*i64"}
MODEL_SHAPES = {  # hq, hkv, head_dim, hidden, intermediate
    "qwen2.5-0.5b": (14, 2, 64, 896, 4864),
    "llama-3.2-1b": (32, 8, 64, 2048, 8192),
}
# (model, batch, tokens per sequence): a long-prompt step (128-row prefill tiles, decode split many
# ways) and a wide short step (16-row prefill tiles as in speculative verification, few splits).
SCENARIOS = (("qwen2.5-0.5b", 1, 128), ("llama-3.2-1b", 64, 4))


@dataclass
class Launch:
    kernel: Any
    args: tuple
    kwargs: dict


@dataclass
class CompiledKernel:
    scenario: str
    kernel: str
    constexprs: dict
    shared_bytes: int
    ptx_lines: int


class _Recorder:
    def __init__(self, kernel: Any, launches: list[Launch]) -> None:
        self.kernel, self.launches = kernel, launches

    def __getitem__(self, grid: tuple) -> Any:
        return lambda *args, **kwargs: self.launches.append(Launch(self.kernel, args, kwargs))


@contextlib.contextmanager
def recorded_launches() -> Iterator[list[Launch]]:
    """Swaps every *_kernel of the kernel modules for a recorder while the block runs."""
    launches: list[Launch] = []
    swapped: list[tuple[Any, str, Any]] = []
    for short in KERNEL_MODULES:
        module = importlib.import_module(f"local_engine.ops.{short}")
        for name, value in list(vars(module).items()):
            if name.endswith("_kernel"):
                if not isinstance(value, triton.runtime.jit.JITFunction):
                    raise RuntimeError(f"{short}.{name} is {type(value).__name__}: unset TRITON_INTERPRET")
                swapped.append((module, name, value))
                setattr(module, name, _Recorder(value, launches))
    try:
        yield launches
    finally:
        for module, name, value in swapped:
            setattr(module, name, value)


def run_contract_ops(model: str, batch: int, prompt: int) -> None:
    """Calls each contract op once on meta tensors shaped like one step of `model`."""
    ops = importlib.import_module("local_engine.ops.triton_ops")
    hq, hkv, dim, hidden, inter = MODEL_SHAPES[model]
    tokens, block_size = batch * prompt, 16

    def meta(*shape: int, dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
        return torch.empty(*shape, dtype=dtype, device="meta")

    k_cache, v_cache = meta(4096, block_size, hkv, dim), meta(4096, block_size, hkv, dim)
    tables, lens = meta(batch, 256, dtype=torch.int32), meta(batch, dtype=torch.int32)
    ops.rms_norm(meta(tokens, hidden), meta(hidden), 1e-6, meta(tokens, hidden))
    ops.silu_and_mul(meta(tokens, 2 * inter))
    qkv = meta(tokens, (hq + 2 * hkv) * dim)
    q = qkv[:, : hq * dim].view(tokens, hq, dim)
    k = qkv[:, hq * dim : (hq + hkv) * dim].view(tokens, hkv, dim)
    ops.apply_rope(q, k, meta(tokens, dtype=torch.int64), meta(4096, dim, dtype=torch.float32))
    ops.store_kv(k, k, k_cache, v_cache, meta(tokens, dtype=torch.int64))
    ops.paged_prefill_attention(meta(tokens, hq, dim), k_cache, v_cache, tables, meta(batch + 1, dtype=torch.int32),
                                lens, dim ** -0.5)
    ops.paged_decode_attention(meta(batch, hq, dim), k_cache, v_cache, tables, lens, dim ** -0.5)


def compile_launch(launch: Launch, target: GPUTarget) -> Any:
    fn = launch.kernel
    options = {k: v for k, v in launch.kwargs.items() if k in ("num_warps", "num_stages")}
    constexprs = {k: v for k, v in launch.kwargs.items() if k not in options}
    signature: dict[str, str] = {}
    attrs: dict[tuple[int], list] = {}
    for index, (name, value) in enumerate(zip(fn.arg_names, launch.args, strict=False)):  # constexprs come last, not in args
        if isinstance(value, torch.Tensor):
            signature[name] = POINTER_TYPES[value.dtype]
            aligned = value.storage_offset() * value.element_size() % 16 == 0
        elif isinstance(value, float):
            signature[name], aligned = "fp32", False
        elif int(value) == 1:
            signature[name], constexprs[name], aligned = "constexpr", 1, False
        else:
            signature[name] = "i32" if abs(int(value)) < 2**31 else "i64"
            aligned = int(value) % 16 == 0
        if aligned:
            attrs[(index,)] = [["tt.divisibility", 16]]
    for name in constexprs:
        signature[name] = "constexpr"
    return triton.compile(ASTSource(fn, signature, constexprs, attrs), target=target, options=options)


def compile_all(arch: int) -> list[CompiledKernel]:
    target = GPUTarget("cuda", arch, 32)
    results = []
    for model, batch, prompt in SCENARIOS:
        with recorded_launches() as launches:
            run_contract_ops(model, batch, prompt)
        for launch in launches:
            compiled = compile_launch(launch, target)
            shown = {k: v for k, v in launch.kwargs.items() if k.startswith(("BLOCK", "NUM_SPLITS", "num_"))}
            results.append(CompiledKernel(f"{model} B={batch} T={batch * prompt}", launch.kernel.__name__, shown,
                                          compiled.metadata.shared, compiled.asm["ptx"].count("\n")))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description="Compile the Triton kernels for a GPU arch without a GPU.")
    parser.add_argument("--arch", type=int, default=90, help="compute capability, e.g. 90 for H100")
    parser.add_argument("--json", action="store_true", help="print one JSON list instead of a table")
    args = parser.parse_args()
    results = compile_all(args.arch)
    if args.json:
        print(json.dumps([asdict(r) for r in results]))
        return 0
    for r in results:
        print(f"{r.scenario:<28} {r.kernel:<26} smem {r.shared_bytes:6d} B  {r.constexprs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
