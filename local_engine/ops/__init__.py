"""Compute-op dispatch: the torch reference path or the Triton path on CUDA (ops_contract.md)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import torch

from local_engine.ops import torch_ops

OP_NAMES = (
    "rms_norm",
    "apply_rope",
    "silu_and_mul",
    "store_kv",
    "paged_decode_attention",
    "paged_prefill_attention",
)

log = logging.getLogger(__name__)


def _namespace(module: object, name: str) -> SimpleNamespace:
    ops = SimpleNamespace(**{op: getattr(module, op) for op in OP_NAMES})
    ops.name = name
    return ops


def get_ops(device: torch.device | str, prefer_triton: bool = True) -> SimpleNamespace:
    """Ops for `device`: Triton kernels on CUDA when importable, else the torch reference."""
    device = torch.device(device)
    if device.type == "cuda" and prefer_triton:
        try:
            from local_engine.ops import triton_ops
        except ImportError as exc:  # triton missing or kernels not built: the torch path still works
            log.warning("triton ops unavailable (%s); using the torch path on %s", exc, device)
        else:
            missing = [op for op in OP_NAMES if not hasattr(triton_ops, op)]
            if not missing:
                return _namespace(triton_ops, "triton")
            log.warning("triton_ops lacks %s; using the torch path on %s", missing, device)
    return _namespace(torch_ops, "torch")
