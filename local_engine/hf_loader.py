"""Load a Hugging Face model folder: config.json, *.safetensors, tokenizer.json, tokenizer_config.json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from tokenizers import Tokenizer as HFTokenizer

from local_engine.config import ModelConfig, ModelLoadError
from local_engine.tokenizer import Tokenizer


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise ModelLoadError(f"{path}: must hold a JSON object, not a {type(value).__name__}")
    return value


def read_config(folder: Path) -> ModelConfig:
    path = folder / "config.json"
    if not path.is_file():
        raise ModelLoadError(f"{folder}: config.json not found (expected a Hugging Face model folder or a .gguf file)")
    cfg = ModelConfig.from_hf_dict(_read_json(path), source=str(path))
    gen_path = folder / "generation_config.json"
    if gen_path.is_file():
        generation = _read_json(gen_path)
        eos = generation.get("eos_token_id")
        extra = [eos] if isinstance(eos, int) else list(eos or [])
        cfg.eos_token_ids = list(dict.fromkeys(cfg.eos_token_ids + extra))
        if generation.get("do_sample", True):
            cfg.sampling_defaults = {k: float(generation[k]) for k in ("temperature", "top_p", "top_k") if isinstance(generation.get(k), (int, float))}
    return cfg


def iter_safetensors(folder: Path, dtype: torch.dtype) -> Iterator[tuple[str, torch.Tensor]]:
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ModelLoadError(f"{folder}: no *.safetensors weight files found")
    for file in files:
        try:
            handle = safe_open(str(file), framework="pt")
        except (SafetensorError, OSError) as exc:
            raise ModelLoadError(f"{file}: not a readable safetensors file ({exc})") from exc
        with handle as f:
            for name in f.keys():
                yield name, f.get_tensor(name).to(dtype)


def _token_str(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("content")
    return value


def read_tokenizer(folder: Path, cfg: ModelConfig) -> Tokenizer:
    tok_path = folder / "tokenizer.json"
    if not tok_path.is_file():
        raise ModelLoadError(f"{folder}: tokenizer.json not found")
    try:
        tok = HFTokenizer.from_file(str(tok_path))
    except Exception as exc:  # the tokenizers library raises a bare Exception for a malformed file
        raise ModelLoadError(f"{tok_path}: not a tokenizer the tokenizers library can read ({exc})") from exc
    tcfg_path = folder / "tokenizer_config.json"
    tcfg = _read_json(tcfg_path) if tcfg_path.is_file() else {}
    template = tcfg.get("chat_template")
    if isinstance(template, list):  # named templates: use "default"
        named = {t.get("name"): t.get("template") for t in template}
        template = named.get("default") or next(iter(named.values()), None)
    jinja_path = folder / "chat_template.jinja"
    if template is None and jinja_path.is_file():
        template = jinja_path.read_text()
    eos_token = _token_str(tcfg.get("eos_token"))
    eos_ids = list(cfg.eos_token_ids)
    if eos_token is not None and tok.token_to_id(eos_token) is not None:
        eos_ids.append(tok.token_to_id(eos_token))
    return Tokenizer(
        tok=tok,
        chat_template=template,
        bos_token=_token_str(tcfg.get("bos_token")),
        eos_token=eos_token,
        eos_token_ids=list(dict.fromkeys(eos_ids)),
    )
