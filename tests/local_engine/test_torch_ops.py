"""The torch reference ops against naive per-token formulas (the Triton path is checked against these)."""

from __future__ import annotations

import math

import pytest
import torch

from local_engine.ops import get_ops, torch_ops


def _naive_attention(q_rows, keys, values, scale):
    # q_rows [n, Hq, D], keys/values [L, Hkv, D]; row i sees keys[: L - n + i + 1]
    n, hq, d = q_rows.shape
    length, hkv = keys.shape[0], keys.shape[1]
    group = hq // hkv
    out = torch.empty_like(q_rows)
    for i in range(n):
        visible = length - n + i + 1
        for h in range(hq):
            kh = keys[:visible, h // group]
            vh = values[:visible, h // group]
            w = torch.softmax((kh @ q_rows[i, h]) * scale, dim=0)
            out[i, h] = w @ vh
    return out


def _fill_paged(lengths, hkv, d, block_size, num_blocks, gen):
    k_cache = torch.zeros(num_blocks, block_size, hkv, d)
    v_cache = torch.zeros(num_blocks, block_size, hkv, d)
    perm = torch.randperm(num_blocks, generator=gen).tolist()
    max_blocks = max(math.ceil(n / block_size) for n in lengths) + 1
    tables = torch.full((len(lengths), max_blocks), -1, dtype=torch.int32)
    contexts = []
    for b, n in enumerate(lengths):
        nb = math.ceil(n / block_size)
        blocks = [perm.pop() for _ in range(nb)]
        tables[b, :nb] = torch.tensor(blocks, dtype=torch.int32)
        k = torch.randn(n, hkv, d, generator=gen)
        v = torch.randn(n, hkv, d, generator=gen)
        slots = torch.tensor([blocks[t // block_size] * block_size + t % block_size for t in range(n)])
        torch_ops.store_kv(k, v, k_cache, v_cache, slots)
        contexts.append((k, v))
    return k_cache, v_cache, tables, contexts


def test_rms_norm_with_and_without_residual():
    gen = torch.Generator().manual_seed(0)
    x, r, w = torch.randn(5, 48, generator=gen), torch.randn(5, 48, generator=gen), torch.randn(48, generator=gen)
    out, none = torch_ops.rms_norm(x, w, 1e-6)
    assert none is None
    expected = x / torch.sqrt((x * x).mean(-1, keepdim=True) + 1e-6) * w
    torch.testing.assert_close(out, expected)
    out2, h = torch_ops.rms_norm(x, w, 1e-6, residual=r)
    torch.testing.assert_close(h, x + r)
    torch.testing.assert_close(out2, (x + r) / torch.sqrt(((x + r) ** 2).mean(-1, keepdim=True) + 1e-6) * w)


def test_rope_matches_complex_rotation_per_position():
    gen = torch.Generator().manual_seed(1)
    d, max_pos = 10, 32
    inv = 1.0 / (10000 ** (torch.arange(0, d, 2).float() / d))
    freqs = torch.outer(torch.arange(max_pos).float(), inv)
    cache = torch.cat((freqs.cos(), freqs.sin()), dim=-1)
    q, k = torch.randn(4, 3, d, generator=gen), torch.randn(4, 1, d, generator=gen)
    pos = torch.tensor([0, 5, 17, 31])
    q2, k2 = torch_ops.apply_rope(q.clone(), k.clone(), pos, cache)
    for t in range(4):
        angle = freqs[pos[t]]
        rot = torch.polar(torch.ones_like(angle), angle)
        zq = torch.complex(q[t, :, : d // 2], q[t, :, d // 2 :]) * rot
        torch.testing.assert_close(q2[t], torch.cat((zq.real, zq.imag), -1))
        zk = torch.complex(k[t, :, : d // 2], k[t, :, d // 2 :]) * rot
        torch.testing.assert_close(k2[t], torch.cat((zk.real, zk.imag), -1))


def test_silu_and_mul():
    x = torch.randn(3, 14)
    torch.testing.assert_close(torch_ops.silu_and_mul(x), torch.nn.functional.silu(x[:, :7]) * x[:, 7:])


def test_store_kv_skips_negative_slots():
    k_cache = torch.zeros(3, 4, 2, 8)
    v_cache = torch.zeros(3, 4, 2, 8)
    k, v = torch.randn(3, 2, 8), torch.randn(3, 2, 8)
    torch_ops.store_kv(k, v, k_cache, v_cache, torch.tensor([5, -1, 11]))
    torch.testing.assert_close(k_cache[1, 1], k[0])
    torch.testing.assert_close(v_cache[2, 3], v[2])
    assert int((k_cache != 0).any(-1).any(-1).sum()) == 2


@pytest.mark.parametrize("hq,hkv,d", [(4, 4, 16), (6, 2, 12), (5, 1, 8)])
def test_paged_decode_attention(hq, hkv, d):
    gen = torch.Generator().manual_seed(2)
    lengths = [1, 7, 16, 23]
    k_cache, v_cache, tables, ctx = _fill_paged(lengths, hkv, d, 4, 40, gen)
    q = torch.randn(len(lengths), hq, d, generator=gen)
    out = torch_ops.paged_decode_attention(q, k_cache, v_cache, tables, torch.tensor(lengths, dtype=torch.int32), 0.3)
    for b, (k, v) in enumerate(ctx):
        torch.testing.assert_close(out[b : b + 1], _naive_attention(q[b : b + 1], k, v, 0.3), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("hq,hkv,d", [(4, 2, 16), (3, 3, 10)])
def test_paged_prefill_attention_covers_prefill_extend_and_verify(hq, hkv, d):
    gen = torch.Generator().manual_seed(3)
    lengths = [9, 13, 4, 6]  # new tokens: full prefill, extend over prefix, single decode, 3-token verify
    new = [9, 5, 1, 3]
    k_cache, v_cache, tables, ctx = _fill_paged(lengths, hkv, d, 4, 40, gen)
    cu = torch.tensor([0] + list(torch.tensor(new).cumsum(0)), dtype=torch.int32)
    q = torch.randn(int(cu[-1]), hq, d, generator=gen)
    out = torch_ops.paged_prefill_attention(q, k_cache, v_cache, tables, cu, torch.tensor(lengths, dtype=torch.int32), 0.25)
    for b, (k, v) in enumerate(ctx):
        s, e = int(cu[b]), int(cu[b + 1])
        torch.testing.assert_close(out[s:e], _naive_attention(q[s:e], k, v, 0.25), atol=1e-5, rtol=1e-4)


def test_get_ops_uses_torch_on_cpu():
    ops = get_ops(torch.device("cpu"))
    assert ops.name == "torch" and ops.paged_decode_attention is torch_ops.paged_decode_attention


def test_rms_norm_bf16_follows_hf_llama_semantics():
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    gen = torch.Generator().manual_seed(9)
    x = torch.randn(6, 40, generator=gen).bfloat16()
    norm = LlamaRMSNorm(40, eps=1e-5)
    norm.weight.data = torch.randn(40, generator=gen).bfloat16()
    out, _ = torch_ops.rms_norm(x, norm.weight.data, 1e-5)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out, norm(x), atol=0, rtol=0)
