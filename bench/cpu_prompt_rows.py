"""Prompt rows of the quantized CPU modes: bf16 weights versus fp32 weights, in one process.

    python bench/cpu_prompt_rows.py [--threads 2] [--reps 3]

`local_engine.linear` gives prompt rows (prefill) a bf16 copy of each weight on CPUs with bf16
instructions and an fp32 copy elsewhere. This loads the bundled model twice in int4 mode, once
with each choice forced, and prints prefill time for an 840-token prompt and generation tok/s
(64 new tokens after a 40-token prompt, prefill included) at batch 1 and 8 (medians), plus the greedy answer to "What is the capital of France?". Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from local_engine import linear  # noqa: E402
from local_engine.config import EngineConfig  # noqa: E402
from local_engine.engine import LLMEngine  # noqa: E402
from local_engine.sequence import SamplingParams  # noqa: E402


def engine_with(fast_bf16: bool) -> LLMEngine:
    real = linear.cpu_has_fast_bf16
    linear.cpu_has_fast_bf16 = lambda: fast_bf16
    try:
        return LLMEngine(EngineConfig(linear_mode="int4", speculative_ngram=False, enable_prefix_caching=False))
    finally:
        linear.cpu_has_fast_bf16 = real


def median_seconds(run, reps: int) -> float:  # noqa: ANN001 - a no-argument callable
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# torch threads={torch.get_num_threads()}, CPU bf16 instructions: {linear.cpu_has_fast_bf16()}, reps={args.reps} (medians)")
    engines = {"bf16 prompt weights": engine_with(True), "fp32 prompt weights": engine_with(False)}
    tok = next(iter(engines.values())).tokenizer
    story = tok.encode_chat([{"role": "user", "content": "Write a short story about a lighthouse keeper and a storm."}])
    long_prompt = (story * 20)[:840]
    france = tok.encode_chat([{"role": "user", "content": "What is the capital of France?"}])
    greedy = SamplingParams(temperature=0.0, max_tokens=24)
    rows = []
    for label, engine in engines.items():
        engine.generate([story], SamplingParams(temperature=0.0, max_tokens=4))  # warm-up
        prefill = median_seconds(lambda e=engine: e.generate([long_prompt], SamplingParams(temperature=0.0, max_tokens=1)), args.reps)
        decode = {}
        params = SamplingParams(temperature=0.0, max_tokens=64, ignore_eos=True)
        for batch in (1, 8):
            seconds = median_seconds(lambda e=engine, b=batch, p=params: e.generate([story] * b, p), args.reps)
            decode[batch] = batch * 64 / seconds
        answer = tok.decode(engine.generate([france], greedy)[0])
        rows.append((label, prefill, decode[1], decode[8], answer))
    print(f"{'prompt-row weights':22} {'prefill 840 tok (s)':>20} {'gen b1 tok/s':>16} {'gen b8 tok/s':>16}  answer")
    for label, prefill, d1, d8, answer in rows:
        print(f"{label:22} {prefill:20.2f} {d1:16.1f} {d8:16.1f}  {answer!r}")
    print(f"prefill ratio bf16/fp32: {rows[0][1] / rows[1][1]:.2f}x")


if __name__ == "__main__":
    main()
