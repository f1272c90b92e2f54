"""The whole engine (tiny model) on the Triton ops, run by Triton's interpreter on CPU, gives the
same greedy tokens as the torch path: catches layout/stride mismatches between model and kernels."""

from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # before the first import of triton in this process

import pytest
import torch

from local_engine.config import EngineConfig
from local_engine.engine import LLMEngine
from local_engine.ops import OP_NAMES, _namespace
from local_engine.ops.triton_interpret import load_interpreted_triton_ops
from local_engine.sequence import SamplingParams

pytestmark = pytest.mark.slow


def test_engine_greedy_tokens_equal_on_triton_and_torch_ops(tiny_model_dir):
    arch = "qwen3"  # QK-norm, GQA and an odd head dim (24) in one model
    triton_ops = _namespace(load_interpreted_triton_ops(), "triton-interpreted")
    assert all(hasattr(triton_ops, n) for n in OP_NAMES)
    folder, _ = tiny_model_dir(arch, head_dim=24)
    gen = torch.Generator().manual_seed(11)
    shared = torch.randint(0, 256, (13,), generator=gen).tolist()
    prompts = [shared + [1, 2], shared + [3], torch.randint(0, 256, (6,), generator=gen).tolist() * 2]
    params = SamplingParams(max_tokens=6, temperature=0, ignore_eos=True)
    cfg = dict(model=str(folder), block_size=4, num_kv_blocks=32, max_num_batched_tokens=12)
    reference = LLMEngine(EngineConfig(**cfg)).generate(prompts, params)
    engine = LLMEngine(EngineConfig(**cfg))
    engine.runner.ops = triton_ops
    assert engine.generate(prompts, params) == reference
    assert engine.stats["steps"] > 3
