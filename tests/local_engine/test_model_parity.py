"""Logits and greedy generations match Hugging Face transformers on tiny random checkpoints."""

from __future__ import annotations

import pytest
import torch

from local_engine import linear
from local_engine.config import EngineConfig
from local_engine.engine import LLMEngine
from local_engine.linear import Linear
from local_engine.loader import load_model
from local_engine.model import AttentionMetadata
from local_engine.ops import get_ops
from local_engine.sequence import SamplingParams

CASES = {
    "llama": ("llama", {}),
    "llama-attention-bias": ("llama", {"attention_bias": True}),
    "llama3-rope": (
        "llama",
        {
            "rope_scaling": {
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 64,
            }
        },
    ),
    "llama-linear-rope": ("llama", {"rope_scaling": {"rope_type": "linear", "factor": 2.0}}),
    "qwen2-tied": ("qwen2", {"tie_word_embeddings": True}),
    "qwen3": ("qwen3", {"head_dim": 24}),
    "mistral": ("mistral", {"num_key_value_heads": 1}),
}


def _engine_logits(folder, ids: list[int]) -> torch.Tensor:
    lm = load_model(folder)
    cfg = lm.config
    n, bs = len(ids), 8
    nb = (n + bs - 1) // bs
    caches = [
        (torch.zeros(nb, bs, cfg.num_kv_heads, cfg.head_dim), torch.zeros(nb, bs, cfg.num_kv_heads, cfg.head_dim))
        for _ in range(cfg.num_layers)
    ]
    order = torch.randperm(nb, generator=torch.Generator().manual_seed(0)).to(torch.int32)  # scattered blocks
    slots = torch.tensor([int(order[p // bs]) * bs + p % bs for p in range(n)])
    meta = AttentionMetadata(slots, order[None], torch.tensor([n], dtype=torch.int32), torch.tensor([0, n], dtype=torch.int32), False)
    with torch.inference_mode():
        hidden = lm.model(torch.tensor(ids), torch.arange(n), meta, caches, get_ops("cpu"))
        return lm.model.compute_logits(hidden)


@pytest.mark.parametrize("case", sorted(CASES))
def test_logits_match_hf(tiny_model_dir, case):
    arch, overrides = CASES[case]
    folder, hf = tiny_model_dir(arch, **overrides)
    ids = torch.randint(0, 256, (45,), generator=torch.Generator().manual_seed(1)).tolist()
    with torch.no_grad():
        expected = hf(torch.tensor([ids])).logits[0]
    torch.testing.assert_close(_engine_logits(folder, ids), expected, atol=2e-5, rtol=1e-4)


def hf_greedy(hf, prompt: list[int], n: int) -> list[int]:
    ids = torch.tensor([prompt])
    out = hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0)
    return out[0, len(prompt) :].tolist()


@pytest.mark.parametrize("arch", ["llama", "qwen2", "qwen3"])
def test_greedy_generation_matches_hf_generate(tiny_model_dir, arch):
    folder, hf = tiny_model_dir(arch)
    gen = torch.Generator().manual_seed(2)
    prompts = [torch.randint(0, 256, (n,), generator=gen).tolist() for n in (3, 29, 50)]
    expected = [hf_greedy(hf, p, 16) for p in prompts]
    engine = LLMEngine(EngineConfig(model=str(folder), block_size=8, num_kv_blocks=64))
    assert engine.generate(prompts, SamplingParams(max_tokens=16, temperature=0, ignore_eos=True)) == expected


@pytest.mark.parametrize("case", ["qwen2-tied", "llama-attention-bias", "qwen3"])
def test_hf_interop_rebuilds_the_same_transformers_model(tiny_model_dir, case):
    """bench/engine_bench.py runs HF `generate` on the engine's own weights through this."""
    from local_engine.hf_interop import to_hf_model

    arch, overrides = CASES[case]
    folder, hf = tiny_model_dir(arch, **overrides)
    rebuilt = to_hf_model(load_model(folder).model)
    ids = torch.randint(0, 256, (1, 19), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(ids).logits, hf(ids).logits)


@pytest.mark.parametrize("mode", ["int8", "int4", "dynint8"])
def test_quantized_cpu_modes_stay_close_to_fp32(tiny_model_dir, mode):
    """int8 / int4 (quantized weights for generated tokens, bf16 for prompts) and dynint8 (fbgemm) approximate fp32."""
    folder, hf = tiny_model_dir("llama")
    prompt = torch.randint(0, 256, (30,), generator=torch.Generator().manual_seed(6)).tolist()
    engine = LLMEngine(EngineConfig(model=str(folder), linear_mode=mode, block_size=8, num_kv_blocks=32))
    assert engine.runner.kv_cache.dtype == (torch.float32 if mode == "dynint8" else torch.bfloat16)
    out = engine.generate([prompt], SamplingParams(max_tokens=8, temperature=0, ignore_eos=True))[0]
    with torch.no_grad():
        ref = hf(torch.tensor([prompt + out])).logits[0, len(prompt) - 1 : -1]
    # each int8-mode token is the fp32 model's argmax or within a small logit margin of it
    chosen = ref.gather(1, torch.tensor(out)[:, None])[:, 0]
    assert (ref.max(dim=-1).values - chosen).max() < 0.05 * ref.abs().max()


def test_int4_reproduces_weights_already_on_a_4_bit_grid():
    # A dequantized Q4_1 block: w = d * q + m, q in 0..15, per group of 32 inputs.
    gen = torch.Generator().manual_seed(3)
    q = torch.randint(0, 16, (48, 64), generator=gen).float()
    d = torch.rand(48, 2, generator=gen).repeat_interleave(32, 1) * 0.05 + 0.01
    m = torch.randn(48, 2, generator=gen).repeat_interleave(32, 1) * 0.1
    q[:, 0], q[:, 32] = 0, 15  # (not needed for an exact grid, but makes the min/max path exact too)
    weight = d * q + m
    x = torch.randn(2, 64, generator=gen).to(torch.bfloat16)
    int4 = Linear(weight, None, "int4")
    exact = x.float() @ weight.t()
    # only the bf16 rounding of the group scales and of the output remains
    torch.testing.assert_close(int4(x, torch.ones(2, dtype=torch.bool)).float(), exact, atol=0.05, rtol=0.02)
    assert Linear(torch.randn(8, 30), None, "int4").int4 is False  # 30 inputs: no 32-groups, int8 instead


@pytest.mark.parametrize("fast_bf16", [True, False])
def test_prompt_rows_multiply_in_bf16_only_where_the_cpu_has_it(monkeypatch, fast_bf16):
    # On AVX2 a bf16 matmul is 4-5x slower than fp32: prompt rows take an fp32 copy there.
    monkeypatch.setattr(linear, "cpu_has_fast_bf16", lambda: fast_bf16)
    gen = torch.Generator().manual_seed(5)
    weight, bias = torch.randn(40, 64, generator=gen), torch.randn(40, generator=gen)
    x = torch.randn(6, 64, generator=gen).to(torch.bfloat16)
    layer = Linear(weight, bias, "int8")
    dtype = torch.bfloat16 if fast_bf16 else torch.float32
    assert layer.prompt_weight.dtype == dtype and layer.prompt_weight.data_ptr() != weight.data_ptr()
    out = layer(x, torch.zeros(6, dtype=torch.bool))
    expected = torch.nn.functional.linear(x.to(dtype), weight.to(dtype), bias.to(dtype)).to(torch.bfloat16)
    assert out.dtype == torch.bfloat16 and torch.equal(out, expected)
