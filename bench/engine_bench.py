"""Local engine speed, against Hugging Face `generate` on the same weights in the same run.

    python bench/engine_bench.py                 # CPU: bundled SmolLM2-135M (GGUF dequantized to fp32)
    python bench/engine_bench.py --device cuda   # GPU: Qwen2.5-0.5B and Llama-3.2-1B shapes, random bf16 weights

Prints medians and ratios; asserts nothing. CPU sections: next-token agreement of the quantized CPU
modes with fp32; decode tok/s at batch 1 and 8 (HF fp32 eager; engine fp32 = exact, int8w / int4w =
int8 / 4-bit weights for generated tokens + bf16 for prompts (fp32 without CPU bf16), dynint8 = fbgemm dynamic int8, lossy); prefix-cache TTFT for a
2,000-token shared prefix (first vs second turn); prompt-lookup speculation on a code-edit prompt
(on vs off, outputs compared).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from local_engine.config import EngineConfig  # noqa: E402
from local_engine.engine import LLMEngine  # noqa: E402
from local_engine.loader import LoadedModel, load_model  # noqa: E402
from local_engine.sequence import SamplingParams  # noqa: E402


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def engine_run(engine: LLMEngine, prompts: list[list[int]], params: SamplingParams, device: str) -> tuple[float, float, list[list[int]]]:
    """(time to first token of the batch, total time, outputs) for prompts submitted together."""
    sync(device)
    start = time.perf_counter()
    ids = [f"b{time.monotonic_ns()}-{i}" for i in range(len(prompts))]
    for rid, p in zip(ids, prompts, strict=True):
        engine.add_request(rid, p, params)
    first = None
    outs: dict[str, list[int]] = {rid: [] for rid in ids}
    while any(rid in engine.requests for rid in ids):
        for r in engine.step():
            if r.request_id in outs:
                outs[r.request_id].extend(r.token_ids)
                if first is None and r.token_ids:
                    sync(device)
                    first = time.perf_counter() - start
    sync(device)
    return first or 0.0, time.perf_counter() - start, [outs[r] for r in ids]


def engine_decode_tps(engine: LLMEngine, prompt: list[int], batch: int, new_tokens: int, device: str) -> float:
    params = SamplingParams(max_tokens=new_tokens, temperature=0, ignore_eos=True)
    ttft, total, _ = engine_run(engine, [list(prompt) for _ in range(batch)], params, device)
    return batch * (new_tokens - 1) / (total - ttft)


@torch.inference_mode()
def hf_decode_tps(hf, prompt: list[int], batch: int, new_tokens: int, device: str) -> float:
    ids = torch.tensor([prompt] * batch, device=device)
    mask = torch.ones_like(ids)

    def gen(n: int) -> float:
        sync(device)
        t = time.perf_counter()
        hf.generate(ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0)
        sync(device)
        return time.perf_counter() - t

    prefill = gen(1)
    total = gen(new_tokens)
    return batch * (new_tokens - 1) / (total - prefill)


def fmt(x: float) -> str:
    return f"{x:8.1f}"


# ---------------------------------------------------------------------------------------- CPU
CPU_MODES = {  # label -> linear_mode (see local_engine/linear.py)
    "engine fp32": None,
    "engine int8w": "int8",
    "engine int4w": "int4",
    "engine dynint8": "dynint8",
}


@torch.inference_mode()
def next_token_agreement(lm: LoadedModel, ref_logits: torch.Tensor | None, ids: list[int]) -> tuple[float, torch.Tensor]:
    """Share of positions of a text where this model's argmax equals the fp32 model's. Every row is
    marked as a generated token, so the quantized modes use the weights decode uses (their prompt
    rows would use bf16 ones)."""
    from local_engine.model import AttentionMetadata
    from local_engine.ops import get_ops

    cfg, n, bs = lm.config, len(ids), 16
    nb = (n + bs - 1) // bs
    caches = [
        (
            torch.zeros(nb, bs, cfg.num_kv_heads, cfg.head_dim, dtype=lm.model.dtype),
            torch.zeros(nb, bs, cfg.num_kv_heads, cfg.head_dim, dtype=lm.model.dtype),
        )
        for _ in range(cfg.num_layers)
    ]
    meta = AttentionMetadata(
        torch.arange(n),
        torch.arange(nb, dtype=torch.int32)[None],
        torch.tensor([n], dtype=torch.int32),
        torch.tensor([0, n], dtype=torch.int32),
        False,
        generated_rows=True,
    )
    hidden = lm.model(torch.tensor(ids), torch.arange(n), meta, caches, get_ops("cpu"))
    logits = lm.model.compute_logits(hidden, meta.generated_rows)
    if ref_logits is None:
        return 1.0, logits
    return float((logits.argmax(-1) == ref_logits.argmax(-1)).float().mean()), logits


def cpu_bench(args: argparse.Namespace) -> None:
    from local_engine.hf_interop import to_hf_model

    torch.set_num_threads(args.threads)
    print(f"# CPU bench: torch threads={torch.get_num_threads()}, reps={args.reps} (medians)")
    t = time.perf_counter()
    models = {label: load_model(None, "cpu", "float32", linear_mode=mode) for label, mode in CPU_MODES.items()}
    loaded = models["engine fp32"]
    print(f"loaded bundled SmolLM2-135M-Instruct GGUF (dequantized fp32; {len(models)} variants) in {time.perf_counter() - t:.1f}s")
    tok = loaded.tokenizer
    prompt = tok.encode_chat([{"role": "user", "content": "Write a short story about a lighthouse keeper and a storm."}])
    hf = to_hf_model(loaded.model, torch.float32)

    def make(lm: LoadedModel, **kw) -> LLMEngine:
        base = dict(num_kv_blocks=1024, block_size=16, speculative_ngram=False, max_num_batched_tokens=2048)
        base.update(kw)
        return LLMEngine(EngineConfig(**base), loaded=lm)

    text_ids = tok.encode(Path(__file__).read_text())[:400]
    _, ref = next_token_agreement(loaded, None, text_ids)
    print("\n## quality: next-token argmax agreement with the fp32 model over 400 tokens of this file")
    for label, lm in models.items():
        print(f"{label:>15}: {next_token_agreement(lm, ref, text_ids)[0]:.1%}")

    engines = {label: make(lm) for label, lm in models.items()}
    n = args.new_tokens
    print(f"\n## decode tok/s, prompt {len(prompt)} tokens, {n} new tokens, greedy, speculation off (ratio: vs HF)")
    print(f"{'batch':>5} {'HF fp32':>9} " + " ".join(f"{label:>15} {'ratio':>6}" for label in engines))
    for batch in (1, 8):
        hf_decode_tps(hf, prompt, batch, 3, "cpu")  # warm-up
        for eng in engines.values():
            engine_decode_tps(eng, prompt, batch, 4, "cpu")
        h, e = [], {label: [] for label in engines}
        for _ in range(args.reps):  # interleaved so load changes hit all alike
            h.append(hf_decode_tps(hf, prompt, batch, n, "cpu"))
            for label, eng in engines.items():
                e[label].append(engine_decode_tps(eng, prompt, batch, n, "cpu"))
        hm = statistics.median(h)
        cells = " ".join(f"{fmt(statistics.median(v)):>15} {statistics.median(v) / hm:5.2f}x" for v in e.values())
        print(f"{batch:>5} {fmt(hm)} {cells}")

    prefix_cache_bench(make(loaded, speculative_ngram=False), tok, args.reps, "cpu")
    speculation_bench(loaded, make, tok, args.reps)


def _long_prefix(tok, n_tokens: int, salt: int) -> list[dict]:
    lines, i = [], 0
    while len(tok.encode("\n".join(lines))) < n_tokens:
        lines.append(f"[{salt}-{i}] tool output: file src/module_{i % 37}.py line {i * 7} status=ok value={i * i % 101}")
        i += 1
    return [{"role": "system", "content": "You are a coding agent."}, {"role": "user", "content": "\n".join(lines)}]


def prefix_cache_bench(engine: LLMEngine, tok, reps: int, device: str) -> None:
    params = SamplingParams(max_tokens=16, temperature=0)
    first, second = [], []
    for r in range(reps):
        msgs = _long_prefix(tok, 2000, r)
        turn1 = tok.encode_chat(msgs)
        ttft1, _, out = engine_run(engine, [turn1], params, device)
        msgs2 = msgs + [{"role": "assistant", "content": tok.decode(out[0])}, {"role": "user", "content": "Now summarise."}]
        ttft2, _, _ = engine_run(engine, [tok.encode_chat(msgs2)], params, device)
        first.append(ttft1)
        second.append(ttft2)
    a, b = statistics.median(first), statistics.median(second)
    print(f"\n## prefix cache: agent turn sharing a {len(turn1)}-token prefix")
    print(f"TTFT first turn {a * 1e3:.0f} ms, second turn {b * 1e3:.0f} ms: {a / b:.1f}x lower")


CODE = """def load_rows(path):
    rows = []
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, value = line.split("=", 1)
            rows.append((name.strip(), int(value)))
    return rows


def total(rows):
    result = 0
    for name, value in rows:
        result += value
    return result
"""


def speculation_bench(loaded: LoadedModel, make, tok, reps: int) -> None:
    msgs = [{"role": "user", "content": f"Here is a file:\n\n{CODE}\nRepeat the file exactly, changing `rows` to `records`."}]
    prompt = tok.encode_chat(msgs)
    params = SamplingParams(max_tokens=160, temperature=0, ignore_eos=True)
    on, off = make(loaded, speculative_ngram=True), make(loaded, speculative_ngram=False, enable_prefix_caching=False)
    t_on, t_off = [], []
    for _ in range(reps):
        f1, tot1, out_off = engine_run(off, [prompt], params, "cpu")
        f2, tot2, out_on = engine_run(on, [prompt], params, "cpu")
        t_off.append(159 / (tot1 - f1))
        t_on.append(159 / (tot2 - f2))
    a, b = statistics.median(t_off), statistics.median(t_on)
    acc = on.stats["accepted_tokens"] / max(1, on.stats["draft_tokens"])
    print(f"\n## prompt-lookup speculation, code-edit prompt ({len(prompt)} tokens, 160 new, batch 1)")
    print(f"decode tok/s off {a:.1f}, on {b:.1f}: {b / a:.2f}x; draft acceptance {acc:.0%}; outputs identical: {out_on == out_off}")


# ---------------------------------------------------------------------------------------- GPU
GPU_SHAPES = {
    "Qwen2.5-0.5B": dict(
        arch="qwen2",
        vocab_size=151936,
        hidden_size=896,
        intermediate_size=4864,
        num_layers=24,
        num_heads=14,
        num_kv_heads=2,
        head_dim=64,
        rope_theta=1e6,
        tie_word_embeddings=True,
        attention_bias=True,
        max_position_embeddings=32768,
        rms_norm_eps=1e-6,
    ),
    "Llama-3.2-1B": dict(
        arch="llama",
        vocab_size=128256,
        hidden_size=2048,
        intermediate_size=8192,
        num_layers=16,
        num_heads=32,
        num_kv_heads=8,
        head_dim=64,
        rope_theta=5e5,
        tie_word_embeddings=True,
        max_position_embeddings=131072,
        rms_norm_eps=1e-5,
        rope_scaling={
            "rope_type": "llama3",
            "factor": 32.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
        },
    ),
}


def _byte_tokenizer():
    from tokenizers import Tokenizer as HFTok
    from tokenizers import decoders, models, pre_tokenizers
    from tokenizers.pre_tokenizers import ByteLevel

    from local_engine.tokenizer import Tokenizer

    tok = HFTok(models.BPE(vocab={c: i for i, c in enumerate(sorted(ByteLevel.alphabet()))}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return Tokenizer(tok=tok)


def random_model(name: str) -> LoadedModel:
    from local_engine.config import ModelConfig
    from local_engine.model import DecoderModel

    cfg = ModelConfig(**GPU_SHAPES[name], eos_token_ids=[])
    with torch.device("cuda"):
        model = DecoderModel(cfg, torch.bfloat16)
    for p in model.parameters():
        if p.dim() == 2:
            torch.nn.init.normal_(p, std=0.02)
        else:
            p.data.fill_(1.0)
    model.to("cuda")  # buffers (the RoPE table) are built on the host
    model.set_linear_mode("torch")
    return LoadedModel(model=model.eval(), tokenizer=_byte_tokenizer(), config=cfg, name=name)


def copy_bandwidth_gbs() -> float:
    x = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    y = torch.empty_like(x)
    for _ in range(3):
        y.copy_(x)
    torch.cuda.synchronize()
    times = []
    for _ in range(10):
        t = time.perf_counter()
        y.copy_(x)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    del x, y
    return 2 * (1 << 30) / statistics.median(times) / 1e9  # read + write


def gpu_shape_bench(name: str, args: argparse.Namespace, bandwidth: float, prompt: list[int]) -> None:
    from local_engine.hf_interop import to_hf_model

    lm = random_model(name)
    weight_bytes = sum(p.numel() * p.element_size() for p in lm.model.parameters())
    roofline = bandwidth * 1e9 / weight_bytes
    engine = LLMEngine(
        EngineConfig(
            device="cuda",
            max_num_seqs=64,
            max_num_batched_tokens=8192,
            kv_cache_memory_gb=8,
            speculative_ngram=False,
            enable_prefix_caching=False,
        ),
        loaded=lm,
    )
    graphs = engine.runner.graphs is not None and engine.runner.graphs.enabled
    print(
        f"\n## {name}: {weight_bytes / 1e9:.2f} GB of weights, batch-1 roofline {roofline:.0f} tok/s "
        f"(ops path: {engine.runner.ops.name}, CUDA graphs: {graphs})"
    )
    engine_decode_tps(engine, prompt, 1, 8, "cuda")  # warm-up (Triton autotune)
    for batch in (1, 32, 64):
        tps = statistics.median(engine_decode_tps(engine, prompt, batch, args.gpu_new_tokens, "cuda") for _ in range(2))
        extra = f", {tps / roofline:.0%} of roofline" if batch == 1 else ""
        print(f"engine batch {batch:>2}: {tps:9.1f} tok/s{extra}")
    hf = to_hf_model(lm.model, torch.bfloat16).cuda()
    for batch in (1, 32):
        tps = hf_decode_tps(hf, prompt, batch, args.hf_new_tokens, "cuda")
        print(f"HF eager batch {batch:>2}: {tps:9.1f} tok/s ({args.hf_new_tokens} new tokens)")


def gpu_bench(args: argparse.Namespace) -> None:
    print(f"# GPU bench on {torch.cuda.get_device_name()}, bf16, prompt 128, {args.gpu_new_tokens} new tokens")
    bandwidth = copy_bandwidth_gbs()
    print(f"measured device copy bandwidth: {bandwidth:.0f} GB/s")
    prompt = torch.randint(0, 256, (128,), generator=torch.Generator().manual_seed(0)).tolist()
    for name in GPU_SHAPES:
        gpu_shape_bench(name, args, bandwidth, prompt)
        torch.cuda.empty_cache()
    prefix_cache_bench(
        LLMEngine(EngineConfig(device="cuda", speculative_ngram=False), loaded=random_model("Qwen2.5-0.5B")),
        _byte_tokenizer(),
        3,
        "cuda",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads for both engine and HF")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--new-tokens", type=int, default=48)
    ap.add_argument("--gpu-new-tokens", type=int, default=256)
    ap.add_argument("--hf-new-tokens", type=int, default=64)
    args = ap.parse_args()
    if args.device == "cuda":
        if not torch.cuda.is_available():
            sys.exit("--device cuda: no CUDA device is visible")
        gpu_bench(args)
    else:
        cpu_bench(args)


if __name__ == "__main__":
    main()
