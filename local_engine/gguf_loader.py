"""Load a GGUF file (llama.cpp format): config and tokenizer from metadata, tensors dequantized.

llama-arch GGUF files store Q and K with llama.cpp's rotary permutation; it is undone here so
the weights follow the Hugging Face rotate_half layout the decoder uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers, processors

from local_engine.config import ModelConfig, ModelLoadError
from local_engine.tokenizer import Tokenizer

_ARCHS = {"llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3"}
_PERMUTED_ARCHS = {"llama"}
_LAYER_NAMES = {
    "attn_norm.weight": "input_layernorm.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_q.bias": "self_attn.q_proj.bias",
    "attn_k.bias": "self_attn.k_proj.bias",
    "attn_v.bias": "self_attn.v_proj.bias",
    "attn_output.weight": "self_attn.o_proj.weight",
    "attn_output.bias": "self_attn.o_proj.bias",
    "attn_q_norm.weight": "self_attn.q_norm.weight",
    "attn_k_norm.weight": "self_attn.k_norm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
# Pre-tokenizer regexes by tokenizer.ggml.pre (as llama.cpp and HF's tokenizer.json define them).
_LLAMA3_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
_QWEN2_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def open_reader(path: Path) -> Any:
    import gguf

    try:
        return gguf.GGUFReader(str(path))
    except (ValueError, OSError) as exc:
        raise ModelLoadError(f"{path}: not a readable GGUF file ({exc})") from exc


def _field(reader: Any, key: str, default: Any = ..., path: Path | None = None) -> Any:
    f = reader.fields.get(key)
    if f is None:
        if default is ...:
            raise ModelLoadError(f"{path}: GGUF metadata field {key!r} is missing")
        return default
    return f.contents()


def read_config(reader: Any, path: Path) -> ModelConfig:
    arch_name = _field(reader, "general.architecture", path=path)
    if arch_name not in _ARCHS:
        raise ModelLoadError(f"{path}: general.architecture={arch_name!r} is not supported (llama, qwen2, qwen3)")
    a = arch_name
    names = {t.name for t in reader.tensors}
    if "rope_freqs.weight" in names:
        raise ModelLoadError(f"{path}: tensor 'rope_freqs.weight' (Llama 3.1 RoPE factors) is not supported in GGUF; use the HF folder")
    num_heads = int(_field(reader, f"{a}.attention.head_count", path=path))
    hidden = int(_field(reader, f"{a}.embedding_length", path=path))
    num_kv = int(_field(reader, f"{a}.attention.head_count_kv", num_heads))
    head_dim = int(_field(reader, f"{a}.attention.key_length", hidden // num_heads))
    tokens = _field(reader, "tokenizer.ggml.tokens", path=path)
    scaling = None
    scaling_type = _field(reader, f"{a}.rope.scaling.type", None)
    if scaling_type not in (None, "none"):
        if scaling_type not in ("linear", "yarn"):
            raise ModelLoadError(f"{path}: {a}.rope.scaling.type={scaling_type!r} is not supported (linear, yarn)")
        scaling = {
            "rope_type": scaling_type,
            "factor": float(_field(reader, f"{a}.rope.scaling.factor", path=path)),
            "original_max_position_embeddings": _field(reader, f"{a}.rope.scaling.original_context_length", None),
        }
    eos = _field(reader, "tokenizer.ggml.eos_token_id", None)
    eot = _field(reader, "tokenizer.ggml.eot_token_id", None)
    return ModelConfig(
        arch=_ARCHS[a],
        vocab_size=int(_field(reader, f"{a}.vocab_size", len(tokens))),
        hidden_size=hidden,
        intermediate_size=int(_field(reader, f"{a}.feed_forward_length", path=path)),
        num_layers=int(_field(reader, f"{a}.block_count", path=path)),
        num_heads=num_heads,
        num_kv_heads=num_kv,
        head_dim=head_dim,
        rms_norm_eps=float(_field(reader, f"{a}.attention.layer_norm_rms_epsilon", 1e-6)),
        rope_theta=float(_field(reader, f"{a}.rope.freq_base", 10000.0)),
        rope_scaling=scaling,
        max_position_embeddings=int(_field(reader, f"{a}.context_length", 4096)),
        tie_word_embeddings="output.weight" not in names,
        attention_bias="blk.0.attn_q.bias" in names,
        o_proj_bias="blk.0.attn_output.bias" in names,
        qk_norm="blk.0.attn_q_norm.weight" in names,
        bos_token_id=_field(reader, "tokenizer.ggml.bos_token_id", None),
        eos_token_ids=[int(t) for t in dict.fromkeys(x for x in (eos, eot) if x is not None)],
    )


def _unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Undo llama.cpp's convert permute (interleaved rotary pairs -> rotate_half halves)."""
    dim = w.shape[0] // n_head // 2
    return w.reshape(n_head, dim, 2, *w.shape[1:]).swapaxes(2, 1).reshape(w.shape)


def iter_tensors(reader: Any, cfg: ModelConfig, dtype: torch.dtype, path: Path) -> Iterator[tuple[str, torch.Tensor]]:
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize

    for t in reader.tensors:
        shape = tuple(int(s) for s in reversed(t.shape.tolist()))
        try:
            if t.tensor_type in (GGMLQuantizationType.F32, GGMLQuantizationType.F16):
                arr = np.asarray(t.data).astype(np.float32).reshape(shape)
            else:
                arr = dequantize(t.data, t.tensor_type).reshape(shape)
        except NotImplementedError as exc:
            raise ModelLoadError(f"{path}: tensor {t.name!r} has unsupported type {t.tensor_type.name}") from exc
        name = t.name
        if name == "token_embd.weight":
            hf = "model.embed_tokens.weight"
        elif name == "output_norm.weight":
            hf = "model.norm.weight"
        elif name == "output.weight":
            hf = "lm_head.weight"
        elif name.startswith("blk."):
            _, idx, rest = name.split(".", 2)
            if rest not in _LAYER_NAMES:
                raise ModelLoadError(f"{path}: unexpected GGUF tensor {name!r}")
            hf = f"model.layers.{idx}.{_LAYER_NAMES[rest]}"
            if cfg.arch in _PERMUTED_ARCHS and rest in ("attn_q.weight", "attn_q.bias"):
                arr = _unpermute(arr, cfg.num_heads)
            elif cfg.arch in _PERMUTED_ARCHS and rest in ("attn_k.weight", "attn_k.bias"):
                arr = _unpermute(arr, cfg.num_kv_heads)
        else:
            raise ModelLoadError(f"{path}: unexpected GGUF tensor {name!r}")
        yield hf, torch.from_numpy(np.ascontiguousarray(arr)).to(dtype)


def _pre_tokenizer(pre: str | None, path: Path) -> Any:
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    if pre in ("smollm", "starcoder", "refact"):
        return pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
        )
    if pre in ("llama-bpe", "llama3", "smaug-bpe"):
        split = pre_tokenizers.Split(pattern=_tokenizers_regex(_LLAMA3_REGEX), behavior="isolated", invert=False)
        return pre_tokenizers.Sequence([split, byte_level])
    if pre in ("qwen2", "deepseek-r1-qwen"):
        split = pre_tokenizers.Split(pattern=_tokenizers_regex(_QWEN2_REGEX), behavior="isolated", invert=False)
        return pre_tokenizers.Sequence([split, byte_level])
    if pre in (None, "default", "gpt2", "gpt-2"):
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    raise ModelLoadError(f"{path}: tokenizer.ggml.pre={pre!r} is not supported (smollm, llama-bpe, qwen2, gpt2)")


def _tokenizers_regex(pattern: str) -> Any:
    from tokenizers import Regex

    return Regex(pattern)


def read_tokenizer(reader: Any, cfg: ModelConfig, path: Path) -> Tokenizer:
    kind = _field(reader, "tokenizer.ggml.model", path=path)
    if kind != "gpt2":
        raise ModelLoadError(f"{path}: tokenizer.ggml.model={kind!r} is not supported (only byte-level BPE, 'gpt2')")
    tokens: list[str] = list(_field(reader, "tokenizer.ggml.tokens", path=path))
    types = list(_field(reader, "tokenizer.ggml.token_type", [1] * len(tokens)))
    merges = [tuple(m.split(" ", 1)) for m in _field(reader, "tokenizer.ggml.merges", path=path)]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    tok = HFTokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = _pre_tokenizer(_field(reader, "tokenizer.ggml.pre", None), path)
    tok.decoder = decoders.ByteLevel()
    from tokenizers import AddedToken

    # token_type 3 = control (special), 4 = user-defined (added, not special)
    tok.add_tokens([AddedToken(tokens[i], special=False, normalized=False) for i, t in enumerate(types) if t == 4])
    tok.add_special_tokens([AddedToken(tokens[i], special=True, normalized=False) for i, t in enumerate(types) if t == 3])
    bos_id = cfg.bos_token_id
    bos = tokens[bos_id] if bos_id is not None and bos_id < len(tokens) else None
    if bos is not None and _field(reader, "tokenizer.ggml.add_bos_token", False):
        tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, bos_id)])
    eos_ids = cfg.eos_token_ids
    return Tokenizer(
        tok=tok,
        chat_template=_field(reader, "tokenizer.chat_template", None),
        bos_token=bos,
        eos_token=tokens[eos_ids[0]] if eos_ids else None,
        eos_token_ids=list(eos_ids),
    )
