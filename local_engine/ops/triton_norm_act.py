"""Triton kernels for the row-wise ops: fused residual-add RMSNorm and SiLU-and-mul.

Both are memory-bound: one program reads a row once and writes it once, all math in fp32.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

Tensor = torch.Tensor


@triton.jit
def _rms_norm_kernel(
    X, R, W, OUT, H_OUT,
    stride_x, stride_r, stride_o, stride_h,
    eps,
    HIDDEN: tl.constexpr,
    BLOCK: tl.constexpr,
    HAS_RESIDUAL: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    offs = tl.arange(0, BLOCK)
    mask = offs < HIDDEN
    x = tl.load(X + row * stride_x + offs, mask=mask, other=0.0)
    if HAS_RESIDUAL:
        r = tl.load(R + row * stride_r + offs, mask=mask, other=0.0)
        # The residual stream stays in the model dtype, as in HF: round the sum before normalising.
        x = (x.to(tl.float32) + r.to(tl.float32)).to(H_OUT.dtype.element_ty)
        tl.store(H_OUT + row * stride_h + offs, x, mask=mask)
    xf = x.to(tl.float32)
    rstd = 1.0 / tl.sqrt(tl.sum(xf * xf, axis=0) / HIDDEN + eps)
    # HF Llama: normalise in fp32, cast to the input dtype, then multiply by the weight.
    normed = (xf * rstd).to(OUT.dtype.element_ty).to(tl.float32)
    w = tl.load(W + offs, mask=mask, other=0.0).to(tl.float32)
    tl.store(OUT + row * stride_o + offs, (normed * w).to(OUT.dtype.element_ty), mask=mask)


def launch_rms_norm(x: Tensor, weight: Tensor, eps: float, residual: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """x, residual: [T, H] with unit last stride; returns (normed, x + residual or None)."""
    rows, hidden = x.shape
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    new_residual = torch.empty_like(out) if residual is not None else None
    if rows == 0:
        return out, new_residual
    block = triton.next_power_of_2(hidden)
    num_warps = min(16, max(1, block // 256))
    _rms_norm_kernel[(rows,)](
        x, residual if residual is not None else x, weight, out,
        new_residual if new_residual is not None else out,
        x.stride(0),
        residual.stride(0) if residual is not None else 0,
        out.stride(0),
        new_residual.stride(0) if new_residual is not None else 0,
        float(eps),
        HIDDEN=hidden, BLOCK=block, HAS_RESIDUAL=residual is not None,
        num_warps=num_warps,
    )
    return out, new_residual


@triton.jit
def _silu_and_mul_kernel(X, OUT, stride_x, stride_o, INTER: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = cols < INTER
    gate = tl.load(X + row * stride_x + cols, mask=mask, other=0.0).to(tl.float32)
    up = tl.load(X + row * stride_x + INTER + cols, mask=mask, other=0.0).to(tl.float32)
    silu = gate / (1.0 + tl.exp(-gate))
    tl.store(OUT + row * stride_o + cols, (silu * up).to(OUT.dtype.element_ty), mask=mask)


def launch_silu_and_mul(x: Tensor) -> Tensor:
    """x: [T, 2I] with unit last stride; returns silu(x[:, :I]) * x[:, I:] as [T, I]."""
    rows, width = x.shape
    inter = width // 2
    out = torch.empty((rows, inter), dtype=x.dtype, device=x.device)
    if rows == 0 or inter == 0:
        return out
    block = min(1024, triton.next_power_of_2(inter))
    num_warps = min(8, max(1, block // 128))
    grid = (rows, triton.cdiv(inter, block))
    _silu_and_mul_kernel[grid](x, out, x.stride(0), out.stride(0), INTER=inter, BLOCK=block, num_warps=num_warps)
    return out
