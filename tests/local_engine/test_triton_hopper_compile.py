"""Every Triton kernel compiles for Hopper (sm_90) with the launches the contract ops make at bf16
Qwen2.5-0.5B and Llama-3.2-1B shapes, without a GPU (local_engine.ops.triton_aot).

It runs in a child process: the interpreter tests of this package set TRITON_INTERPRET=1 before
triton is first imported, and a process that imported triton that way cannot compile kernels.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("triton")

REPO_ROOT = Path(__file__).resolve().parents[2]
H100_SHARED_MEMORY_PER_BLOCK = 227 * 1024
EXPECTED_KERNELS = {"_rms_norm_kernel", "_silu_and_mul_kernel", "_rope_kernel", "_store_kv_kernel",
                    "_prefill_kernel", "_decode_partition_kernel", "_decode_reduce_kernel"}


@pytest.mark.slow  # ~15-40 s on 2 cores with a cold triton cache (ptxas runs for each kernel variant)
def test_every_kernel_compiles_for_hopper() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-m", "local_engine.ops.triton_aot", "--arch", "90", "--json"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert EXPECTED_KERNELS <= {r["kernel"] for r in results}
    for r in results:
        assert r["ptx_lines"] > 0, r
        assert r["shared_bytes"] <= H100_SHARED_MEMORY_PER_BLOCK, r
    # At batch 1 the decode is split (partition + reduce kernels).
    decode_b1 = [r for r in results if r["kernel"] == "_decode_partition_kernel" and "B=1 " in r["scenario"]]
    assert decode_b1 and all(r["constexprs"]["NUM_SPLITS"] > 1 for r in decode_b1)
