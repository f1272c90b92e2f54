"""Sampling transforms and seeds, on hand-made logits."""

from __future__ import annotations

import math

import pytest
import torch

from local_engine.sampler import Sampler, apply_penalties, compute_logprobs, top_k_top_p_filter
from local_engine.sequence import SamplingParams, Sequence


def _seq(params: SamplingParams, prompt=(0,), outputs=()) -> Sequence:
    s = Sequence("r", list(prompt), params, 4)
    for t in outputs:
        s.append_token(t)
    return s


def test_greedy_picks_argmax():
    logits = torch.tensor([[0.1, 3.0, 0.2], [5.0, 1.0, 0.0]])
    seqs = [_seq(SamplingParams(temperature=0)) for _ in range(2)]
    assert Sampler().sample(logits, seqs) == [1, 0]


def test_top_k_and_top_p_filter():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.5, 0.3, 0.15, 0.05]]))
    out = top_k_top_p_filter(logits.clone(), torch.tensor([2, 0]), torch.tensor([1.0, 0.7]))
    assert torch.isfinite(out[0]).tolist() == [True, True, False, False]
    assert torch.isfinite(out[1]).tolist() == [True, True, False, False]  # 0.5 < 0.7, 0.8 crosses it
    out = top_k_top_p_filter(logits[:1].clone(), torch.tensor([0]), torch.tensor([0.4]))
    assert torch.isfinite(out[0]).tolist() == [True, False, False, False]


def test_penalties():
    logits = torch.tensor([2.0, -2.0, 1.0, 1.0])
    seq = _seq(SamplingParams(repetition_penalty=2.0), prompt=[0, 1])
    assert apply_penalties(logits.clone(), seq).tolist() == [1.0, -4.0, 1.0, 1.0]
    seq = _seq(SamplingParams(frequency_penalty=0.5, presence_penalty=0.25), prompt=[0], outputs=[2, 2, 3])
    assert apply_penalties(logits.clone(), seq).tolist() == [2.0, -2.0, -0.25, 0.25]


def test_seeded_sampling_is_reproducible_and_batch_independent():
    logits = torch.randn(1, 50, generator=torch.Generator().manual_seed(0))
    params = SamplingParams(temperature=1.0, seed=123)

    def draw(batch_extra: int) -> list[int]:
        seq = _seq(params)
        others = [_seq(SamplingParams(temperature=0.7)) for _ in range(batch_extra)]
        sampler = Sampler()
        toks = []
        for _ in range(20):
            rows = torch.cat([logits] + [torch.randn(1, 50)] * batch_extra)
            toks.append(sampler.sample(rows, [seq] + others)[0])
        return toks

    first = draw(0)
    assert first == draw(3)
    assert len(set(first)) > 3  # it really samples


def test_temperature_sharpens_distribution():
    logits = torch.tensor([[1.0, 0.0]])
    sampler = Sampler()
    cold = [sampler.sample(logits, [_seq(SamplingParams(temperature=0.05, seed=i))])[0] for i in range(50)]
    hot = [sampler.sample(logits, [_seq(SamplingParams(temperature=5.0, seed=i))])[0] for i in range(50)]
    assert cold.count(0) == 50
    assert 10 < hot.count(0) < 45


def test_logprobs_and_top_logprobs():
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25]]))
    (lp,) = compute_logprobs(logits, [1], [2])
    assert lp.token_id == 1 and math.isclose(lp.logprob, math.log(0.25), rel_tol=1e-5)
    assert lp.top[0][0] == 0 and math.isclose(lp.top[0][1], math.log(0.5), rel_tol=1e-5)


def test_bad_params_are_rejected():
    with pytest.raises(ValueError):
        SamplingParams(top_p=0)
    with pytest.raises(ValueError):
        SamplingParams(max_tokens=0)
    with pytest.raises(ValueError):
        SamplingParams(temperature=-1)
