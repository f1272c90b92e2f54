"""Greedy outputs do not depend on batching, chunked prefill, prefix-cache hits, speculation or
preemption; the scheduler survives more requests than KV blocks."""

from __future__ import annotations

import pytest
import torch

from local_engine.config import EngineConfig
from local_engine.engine import LLMEngine
from local_engine.sequence import SamplingParams
from tests.local_engine.test_model_parity import hf_greedy

GREEDY = SamplingParams(max_tokens=24, temperature=0, ignore_eos=True)


@pytest.fixture(scope="module")
def setup(tiny_model_dir):
    folder, hf = tiny_model_dir("qwen2")
    gen = torch.Generator().manual_seed(5)
    shared = torch.randint(0, 256, (40,), generator=gen).tolist()
    # A repeated pattern makes prompt-lookup drafts hit; others share a 40-token prefix.
    pattern = torch.randint(0, 256, (12,), generator=gen).tolist()
    prompts = [
        torch.randint(0, 256, (9,), generator=gen).tolist(),
        shared + torch.randint(0, 256, (7,), generator=gen).tolist(),
        shared + torch.randint(0, 256, (13,), generator=gen).tolist(),
        pattern * 4,
        torch.randint(0, 256, (61,), generator=gen).tolist(),
    ]
    expected = [hf_greedy(hf, p, GREEDY.max_tokens) for p in prompts]
    return folder, prompts, expected


def _engine(folder, **kw) -> LLMEngine:
    base = dict(model=str(folder), block_size=4, num_kv_blocks=256, max_num_batched_tokens=512)
    base.update(kw)
    return LLMEngine(EngineConfig(**base))


def test_one_at_a_time_without_speculation(setup):
    folder, prompts, expected = setup
    engine = _engine(folder, speculative_ngram=False, enable_prefix_caching=False)
    assert [engine.generate([p], GREEDY)[0] for p in prompts] == expected


def test_batched_with_speculation_and_prefix_hits(setup):
    folder, prompts, expected = setup
    engine = _engine(folder)
    assert engine.generate(prompts, GREEDY) == expected
    assert engine.stats["accepted_tokens"] > 0, "the repeated-pattern prompt should accept drafts"
    hits_before = engine.block_manager.hits
    # Second round: every prompt is now in the prefix cache.
    assert engine.generate(prompts, GREEDY) == expected
    assert engine.block_manager.hits - hits_before >= sum((len(p) - 1) // 4 * 4 for p in prompts)


def test_second_turn_reuses_first_turns_output(setup):
    folder, prompts, expected = setup
    engine = _engine(folder)
    turn2 = prompts[1] + expected[1] + [7, 8, 9]
    engine.generate([prompts[1]], GREEDY)
    engine.add_request("turn2", turn2, GREEDY)
    engine.step()
    # prompt and generated tokens of turn 1 (minus the unfilled tail block) come from the cache
    assert engine.requests["turn2"].seq.num_cached_tokens >= (len(prompts[1]) + len(expected[1]) - 4) // 4 * 4


def test_chunked_prefill_mixed_with_decode(setup):
    folder, prompts, expected = setup
    engine = _engine(folder, max_num_batched_tokens=8)
    assert engine.generate(prompts, GREEDY) == expected


def test_more_requests_than_kv_blocks_all_finish_unchanged(setup):
    folder, prompts, expected = setup
    # 24 blocks x 4 = 96 slots; together the requests need well over that.
    engine = _engine(folder, num_kv_blocks=24, max_num_batched_tokens=32)
    many = prompts * 3
    assert engine.generate(many, GREEDY) == expected * 3
    assert engine.stats["preemptions"] > 0
    assert engine.block_manager.num_free_blocks == 24


def test_sequence_larger_than_the_cache_finishes_with_length(setup):
    folder, prompts, _ = setup
    engine = _engine(folder, num_kv_blocks=4)  # 16 slots
    engine.add_request("big", prompts[4], GREEDY)
    engine.add_request("small", prompts[0], SamplingParams(max_tokens=30, temperature=0, ignore_eos=True))
    finals = {}
    while engine.has_unfinished():
        for out in engine.step():
            if out.finished:
                finals[out.request_id] = out
    assert finals["big"].finish_reason == "length" and finals["big"].completion_tokens == 0
    assert finals["small"].finish_reason == "length" and 0 < finals["small"].completion_tokens < 30


@pytest.mark.parametrize("mode", ["int8", "int4"])
def test_quantized_mode_output_does_not_depend_on_batch_speculation_or_cache(setup, mode):
    # The gateway's CPU default: quantized weights for generated rows, bf16 for prompt rows. The
    # split follows what a row is, never the step's width, so greedy output is the same however
    # the request was scheduled (it was not when thin steps alone took the int8 weights).
    folder, prompts, _ = setup
    alone = _engine(folder, linear_mode=mode, speculative_ngram=False, enable_prefix_caching=False)
    reference = [alone.generate([p], GREEDY)[0] for p in prompts]
    # Batched without speculation: decode attention pads a row's keys by its own context only, so
    # its rounding does not depend on how long its partners' contexts are (prompt 3 differed before).
    plain = _engine(folder, linear_mode=mode, speculative_ngram=False, enable_prefix_caching=False)
    assert plain.generate(prompts, GREEDY) == reference
    # With speculation: drafts are verified by the same decode attention, row by row.
    engine = _engine(folder, linear_mode=mode)
    assert engine.generate(prompts, GREEDY) == reference
    assert engine.stats["accepted_tokens"] > 0
    assert engine.generate(prompts[::-1], GREEDY) == reference[::-1]  # now from the prefix cache
    # (A prompt cut into prefill chunks is another matter: its bf16 matmuls then see other row
    # counts, which on some CPUs (AMX) block differently. Only fp32 guarantees that case.)
