"""Matmul flavours for the decoder's weights, picked once after loading.

- "torch": F.linear (CUDA, and the reference).
- "mkl":   fp32 on CPU with the weight pre-packed for MKL's sgemm (F.linear repacks the
           weight on every thin-batch call, which costs as much as the matmul itself).
- "int8":  CPU, bf16 activations. Rows of generated tokens (decode, speculative verification)
           use weight-only int8 with per-output-channel scales: a quarter of fp32's weight bytes,
           which is what decode speed is bound by. Rows of prompt tokens (prefill) use a bf16 copy
           of the weight, where AMX/AVX512-bf16 matmuls are compute-efficient and int8 is not; on
           a CPU without bf16 instructions (AVX2: a bf16 matmul there is 4-5x slower than fp32)
           they use an fp32 copy instead, with bf16 in and out.
           The split is by what a row is, never by how many rows a step has: both kernels are
           row-independent, so a sequence's greedy output does not depend on the batch it ran in,
           on prefix-cache hits or on speculation. (Callers that do not say which rows are which
           get int8 for thin batches of <= INT8_MAX_ROWS rows.)
- "int4":  as "int8", with 4-bit weights in groups of 32 inputs (scale and zero per group) for
           the generated rows: half of int8's bytes, and on CPUs where the int8 kernel is slow,
           two to three times faster. A GGUF checkpoint in Q4_0/Q4_1 blocks is reproduced
           exactly (up to the bf16 scale): each group's own grid is recovered from its values.
           A matrix whose input size is not a multiple of 32 stays int8.
- "dynint8": CPU, fbgemm dynamic quantization (int8 weights and per-batch int8 activations).
           Fastest on CPU, but lossy: on SmolLM2-135M its next-token argmax agrees with fp32 on
           only about half of the positions of a code text (bench/engine_bench.py prints it).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

Tensor = torch.Tensor
LINEAR_MODES = ("torch", "mkl", "int8", "int4", "dynint8")
INT8_MAX_ROWS = 3
INT4_GROUP = 32


def _int4_groups(weight: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(q [N, K] int32 in 0..15, scale [N, G], zero [N, G]) with w = (q - 8) * scale + zero.

    Each group of INT4_GROUP inputs gets the grid its values already lie on when it has one (a
    dequantized Q4 block: its step is the smallest gap between its values), else min..max in 15 steps.
    """
    n, k = weight.shape
    groups = weight.float().reshape(n, k // INT4_GROUP, INT4_GROUP)
    ordered = groups.sort(dim=-1).values
    low, high = ordered[..., 0], ordered[..., -1]
    gaps = ordered[..., 1:] - ordered[..., :-1]
    step = torch.where(gaps > 1e-12, gaps, torch.full_like(gaps, float("inf"))).amin(dim=-1)
    step = torch.where(torch.isfinite(step), step, torch.ones_like(step))  # a constant group: any step
    q = torch.round((groups - low[..., None]) / step[..., None])
    on_grid = (q.amax(dim=-1) <= 15) & ((low[..., None] + q * step[..., None] - groups).abs().amax(dim=-1) <= 1e-6 * high.abs().clamp(min=1))
    step = torch.where(on_grid, step, ((high - low) / 15).clamp(min=1e-8))
    q = torch.round((groups - low[..., None]) / step[..., None]).clamp(0, 15)
    return q.to(torch.int32).reshape(n, k), step, low + 8 * step


def cpu_has_fast_bf16() -> bool:
    """Does this CPU multiply bf16 in hardware (AVX512-BF16 or AMX)?"""
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


class Linear:
    __slots__ = ("weight", "bias", "mode", "packed", "scales", "prompt_weight", "prompt_bias", "int4")

    def __init__(self, weight: Tensor, bias: Tensor | None = None, mode: str = "torch"):
        if mode not in LINEAR_MODES:
            raise ValueError(f"linear mode {mode!r} is not one of {LINEAR_MODES}")
        self.weight, self.bias, self.mode = weight, bias, mode
        self.packed = self.scales = None
        self.int4 = mode == "int4" and weight.shape[1] % INT4_GROUP == 0
        if mode == "mkl":
            self.packed = torch.ops.mkl._mkl_reorder_linear_weight(weight, 8)
        elif mode == "dynint8":
            w = weight.float()
            scales = (w.abs().amax(dim=1).clamp(min=1e-8) / 127.0).double()
            with warnings.catch_warnings():  # quantized-tensor constructors warn of a future removal
                warnings.simplefilter("ignore", UserWarning)
                qweight = torch.quantize_per_channel(w, scales, torch.zeros(w.shape[0], dtype=torch.long), 0, torch.qint8)
            self.packed = torch.ops.quantized.linear_prepack(qweight, None if bias is None else bias.float())
        elif self.int4:
            q, step, zero = _int4_groups(weight)
            self.packed = torch._convert_weight_to_int4pack_for_cpu(q, 1)
            self.scales = torch.stack([step, zero], dim=-1).transpose(0, 1).contiguous().to(torch.bfloat16)
        elif mode in ("int8", "int4"):
            w = weight.float()
            scales = w.abs().amax(dim=1).clamp(min=1e-8) / 127.0
            self.packed = torch.round(w / scales[:, None]).clamp(-128, 127).to(torch.int8).contiguous()
            self.scales = scales.to(torch.bfloat16)
        if mode in ("int8", "int4"):
            self.bias = None if bias is None else bias.to(torch.bfloat16)
            prompt_dtype = torch.bfloat16 if weight.device.type != "cpu" or cpu_has_fast_bf16() else torch.float32
            self.prompt_weight = weight.detach().to(prompt_dtype, copy=True).contiguous()  # the model drops `weight`
            self.prompt_bias = None if bias is None else bias.detach().to(prompt_dtype, copy=True)

    def __call__(self, x: Tensor, quantized_rows: Tensor | bool | None = None) -> Tensor:
        """x @ W.T (+ bias). `quantized_rows` (int8/int4 modes): which rows take the quantized
        weights, the others taking the bf16 ones: all (True), none (False) or a bool mask
        (decided once per step by the caller); None: by the number of rows."""
        if self.mode == "torch":
            return F.linear(x, self.weight, self.bias)
        if self.mode == "mkl":
            return torch.ops.mkl._mkl_linear(x, self.packed, self.weight, self.bias, 8)
        if self.mode == "dynint8":
            return torch.ops.quantized.linear_dynamic(x, self.packed, True)
        if quantized_rows is None:
            return self._quantized(x) if x.shape[0] <= INT8_MAX_ROWS else self._prompt_rows(x)
        if quantized_rows is True:
            return self._quantized(x)
        if quantized_rows is False:
            return self._prompt_rows(x)
        out = x.new_empty(x.shape[0], self.prompt_weight.shape[0])
        out[quantized_rows] = self._quantized(x[quantized_rows])
        out[~quantized_rows] = self._prompt_rows(x[~quantized_rows])
        return out

    def _quantized(self, x: Tensor) -> Tensor:
        if self.int4:
            out = torch._weight_int4pack_mm_for_cpu(x, self.packed, INT4_GROUP, self.scales)
        else:
            out = torch._weight_int8pack_mm(x, self.packed, self.scales)
        return out if self.bias is None else out + self.bias

    def _prompt_rows(self, x: Tensor) -> Tensor:
        """Prompt rows: bf16 in and out, multiplied in the prompt weight's dtype."""
        return F.linear(x.to(self.prompt_weight.dtype), self.prompt_weight, self.prompt_bias).to(x.dtype)


def default_linear_mode(device: torch.device, dtype: torch.dtype) -> str:
    if device.type == "cpu" and dtype == torch.float32 and torch.backends.mkl.is_available():
        return "mkl"
    return "torch"
