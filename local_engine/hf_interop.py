"""Build a transformers model holding exactly the engine's weights (for parity tests and benchmarks).

transformers is a test/bench dependency only, imported here lazily.
"""

from __future__ import annotations

import torch

from local_engine.model import DecoderModel

_HF_CLASSES = {"llama": "Llama", "mistral": "Mistral", "qwen2": "Qwen2", "qwen3": "Qwen3"}


def hf_config(model: DecoderModel):
    import transformers

    c = model.cfg
    name = _HF_CLASSES[c.arch]
    rope = {"rope_type": "default", "rope_theta": c.rope_theta}
    if c.rope_scaling:
        rope = {**c.rope_scaling, "rope_theta": c.rope_theta}
    kwargs = dict(
        vocab_size=c.vocab_size,
        hidden_size=c.hidden_size,
        intermediate_size=c.intermediate_size,
        num_hidden_layers=c.num_layers,
        num_attention_heads=c.num_heads,
        num_key_value_heads=c.num_kv_heads,
        head_dim=c.head_dim,
        rms_norm_eps=c.rms_norm_eps,
        max_position_embeddings=c.max_position_embeddings,
        tie_word_embeddings=c.tie_word_embeddings,
        rope_parameters=rope,
        bos_token_id=c.bos_token_id,
        eos_token_id=c.eos_token_ids[0] if c.eos_token_ids else None,
    )
    if c.arch in ("llama", "qwen3"):
        kwargs["attention_bias"] = c.attention_bias
    return getattr(transformers, f"{name}Config")(**kwargs), getattr(transformers, f"{name}ForCausalLM")


def to_hf_model(model: DecoderModel, dtype: torch.dtype | None = None):
    """A transformers *ForCausalLM with the same weights (un-fused); needs the fp32/bf16 params."""
    if model.linear_mode in ("int8", "int4", "dynint8"):
        raise ValueError("a quantized model no longer holds its float weights")
    config, cls = hf_config(model)
    c = model.cfg
    q, kv, inter = c.q_size, c.kv_size, c.intermediate_size
    state = {"model.embed_tokens.weight": model.embed_tokens.data, "model.norm.weight": model.norm.data}
    if model.lm_head is not None:
        state["lm_head.weight"] = model.lm_head.data
    for i, layer in enumerate(model.layers):
        p = f"model.layers.{i}."
        qkv = layer.qkv_proj.data
        state.update(
            {
                p + "input_layernorm.weight": layer.input_layernorm.data,
                p + "post_attention_layernorm.weight": layer.post_attention_layernorm.data,
                p + "self_attn.q_proj.weight": qkv[:q],
                p + "self_attn.k_proj.weight": qkv[q : q + kv],
                p + "self_attn.v_proj.weight": qkv[q + kv :],
                p + "self_attn.o_proj.weight": layer.o_proj.data,
                p + "mlp.gate_proj.weight": layer.gate_up_proj.data[:inter],
                p + "mlp.up_proj.weight": layer.gate_up_proj.data[inter:],
                p + "mlp.down_proj.weight": layer.down_proj.data,
            }
        )
        if layer.o_bias is not None:
            state[p + "self_attn.o_proj.bias"] = layer.o_bias.data
        if layer.qkv_bias is not None:
            b = layer.qkv_bias.data
            state.update(
                {p + "self_attn.q_proj.bias": b[:q], p + "self_attn.k_proj.bias": b[q : q + kv], p + "self_attn.v_proj.bias": b[q + kv :]}
            )
        if layer.q_norm is not None:
            state[p + "self_attn.q_norm.weight"] = layer.q_norm.data
            state[p + "self_attn.k_norm.weight"] = layer.k_norm.data
    hf = cls(config)
    missing, unexpected = hf.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not (c.tie_word_embeddings and k == "lm_head.weight")]:
        raise RuntimeError(f"weight names do not line up with transformers: {missing=} {unexpected=}")
    if c.tie_word_embeddings:
        hf.tie_weights()
    return hf.to(dtype or model.dtype).eval()
