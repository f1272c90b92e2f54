"""Dataclass configs: the model's shape (from config.json or GGUF metadata) and the engine's knobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SUPPORTED_ARCHITECTURES = {
    "llama": "llama",
    "mistral": "mistral",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
}


class ModelLoadError(ValueError):
    """A model folder/file that is missing, malformed or not supported; the message names the culprit."""


@dataclass
class ModelConfig:
    arch: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling: dict[str, Any] | None = None
    max_position_embeddings: int = 4096
    tie_word_embeddings: bool = False
    attention_bias: bool = False  # bias on q/k/v
    o_proj_bias: bool = False
    qk_norm: bool = False
    bos_token_id: int | None = None
    eos_token_ids: list[int] = field(default_factory=list)
    # The model authors' sampling defaults (generation_config.json), used when a request sets none.
    sampling_defaults: dict[str, float] = field(default_factory=dict)

    @property
    def q_size(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_size(self) -> int:
        return self.num_kv_heads * self.head_dim

    def num_params(self) -> int:
        h, i = self.hidden_size, self.intermediate_size
        per_layer = h * (self.q_size + 2 * self.kv_size) + self.q_size * h + 3 * h * i + 2 * h
        embed = self.vocab_size * h * (1 if self.tie_word_embeddings else 2)
        return self.num_layers * per_layer + embed + h

    @classmethod
    def from_hf_dict(cls, cfg: dict[str, Any], source: str = "config.json") -> ModelConfig:
        """Build from a Hugging Face config.json dict; raise ModelLoadError naming the bad field."""
        model_type = cfg.get("model_type")
        if model_type not in SUPPORTED_ARCHITECTURES:
            raise ModelLoadError(
                f"{source}: model_type={model_type!r} is not supported (supported: {', '.join(sorted(SUPPORTED_ARCHITECTURES))})"
            )
        if cfg.get("hidden_act", "silu") != "silu":
            raise ModelLoadError(f"{source}: hidden_act={cfg.get('hidden_act')!r} is not supported (only silu)")
        for key in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"):
            if not isinstance(cfg.get(key), int) or isinstance(cfg.get(key), bool) or cfg[key] < 1:
                raise ModelLoadError(f"{source}: field {key!r} is missing or not a positive integer")
        num_heads = cfg["num_attention_heads"]
        num_kv = cfg.get("num_key_value_heads") or num_heads
        if not isinstance(num_kv, int) or num_kv < 1:
            raise ModelLoadError(f"{source}: field 'num_key_value_heads' must be a positive integer")
        head_dim = cfg.get("head_dim") or cfg["hidden_size"] // num_heads
        if num_heads % num_kv:
            raise ModelLoadError(f"{source}: num_attention_heads={num_heads} is not a multiple of num_key_value_heads={num_kv}")
        rope_params = dict(cfg.get("rope_parameters") or {})
        rope_theta = cfg.get("rope_theta", rope_params.get("rope_theta", 10000.0))
        scaling = cfg.get("rope_scaling") or rope_params or None
        if scaling is not None and not isinstance(scaling, dict):
            raise ModelLoadError(f"{source}: field 'rope_scaling' must be an object such as {{\"rope_type\": \"linear\", \"factor\": 2.0}}")
        if scaling is not None and scaling.get("rope_type", scaling.get("type", "default")) == "default":
            scaling = None
        max_pos = cfg.get("max_position_embeddings", 4096)
        if model_type == "mistral" and cfg.get("sliding_window"):
            # Sliding-window attention is not implemented: cap the context at the window, where it is exact.
            max_pos = min(max_pos, int(cfg["sliding_window"]))
        if cfg.get("mlp_bias"):
            raise ModelLoadError(f"{source}: mlp_bias=true is not supported")
        if model_type == "qwen2" and cfg.get("use_sliding_window"):
            raise ModelLoadError(f"{source}: use_sliding_window=true is not supported")
        eos = cfg.get("eos_token_id")
        eos_ids = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
        return cls(
            arch=SUPPORTED_ARCHITECTURES[model_type],
            vocab_size=cfg["vocab_size"],
            hidden_size=cfg["hidden_size"],
            intermediate_size=cfg["intermediate_size"],
            num_layers=cfg["num_hidden_layers"],
            num_heads=num_heads,
            num_kv_heads=num_kv,
            head_dim=head_dim,
            rms_norm_eps=float(cfg.get("rms_norm_eps", 1e-6)),
            rope_theta=float(rope_theta),
            rope_scaling=scaling,
            max_position_embeddings=int(max_pos),
            tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
            attention_bias=bool(cfg.get("attention_bias", model_type == "qwen2")),
            # Qwen2 biases q/k/v only; Llama and Qwen3's attention_bias also covers o_proj
            o_proj_bias=model_type in ("llama", "qwen3") and bool(cfg.get("attention_bias", False)),
            qk_norm=model_type == "qwen3",
            bos_token_id=cfg.get("bos_token_id"),
            eos_token_ids=eos_ids,
        )


@dataclass
class EngineConfig:
    """Knobs of one engine instance. `model` is an HF folder or a .gguf file; None = bundled SmolLM2."""

    model: str | None = None
    device: str = "cpu"
    dtype: str | None = None  # None: float32 on CPU, bfloat16 on CUDA
    linear_mode: str | None = None  # None: MKL-packed fp32 on CPU; "int8": CPU int8 weights, bf16 activations
    block_size: int = 16
    num_kv_blocks: int | None = None  # None: sized from kv_cache_memory_gb
    kv_cache_memory_gb: float = 1.0
    max_model_len: int | None = None  # None: the model's max_position_embeddings
    max_num_seqs: int = 64
    max_num_batched_tokens: int = 1024  # per-step token budget (decode tokens + prefill chunks)
    enable_prefix_caching: bool = True
    speculative_ngram: bool = True  # prompt-lookup speculation for greedy requests
    num_speculative_tokens: int = 8
    ngram_max: int = 4
    ngram_min: int = 2  # 1-token matches propose mostly noise that costs verification compute
    speculative_max_batch: int = 8  # above this many running requests, batching beats speculation
    cuda_graphs: bool = True
    cpu_threads: int | None = None  # None: leave torch's setting alone
    served_model_name: str | None = None

    @classmethod
    def for_gateway(
        cls,
        model: str | None,
        device: str = "cpu",
        max_batch_size: int = 8,
        kv_cache_tokens: int = 32768,
        linear_mode: str | None = "auto",
    ) -> EngineConfig:
        """The in-process engine from the gateway's LocalEngineSettings fields.

        linear_mode "auto": quantized decode weights on CPU (loader.cpu_linear_mode: int4 for a
        4-bit GGUF, else int8; faster, near-fp32 quality), the default path on CUDA.
        """
        block_size = 16
        if linear_mode == "auto":
            from local_engine.loader import cpu_linear_mode

            linear_mode = cpu_linear_mode(model) if device == "cpu" else None
        return cls(
            model=model,
            device=device,
            linear_mode=linear_mode,
            block_size=block_size,
            num_kv_blocks=max(1, -(-kv_cache_tokens // block_size)),
            max_num_seqs=max_batch_size,
            speculative_max_batch=max_batch_size,
        )
