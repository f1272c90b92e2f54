"""RoPE scaling tables against transformers' own implementations; unknown kinds fail clearly."""

from __future__ import annotations

import pytest
import torch
import transformers
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

from local_engine.config import ModelConfig, ModelLoadError
from local_engine.rope import rope_inv_freq

SCALINGS = {
    "linear": {"rope_type": "linear", "factor": 4.0},
    "llama3": {
        "rope_type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 1024,
    },
    "yarn": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1024},
}


@pytest.mark.parametrize("kind", sorted(SCALINGS))
def test_inv_freq_matches_transformers(kind):
    params = dict(SCALINGS[kind], rope_theta=500000.0)
    hf_cfg = transformers.LlamaConfig(hidden_size=256, num_attention_heads=4, max_position_embeddings=4096, rope_parameters=params)
    expected, expected_factor = ROPE_INIT_FUNCTIONS[kind](hf_cfg, "cpu")
    ours = ModelConfig.from_hf_dict(hf_cfg.to_dict())
    inv_freq, factor = rope_inv_freq(ours)
    torch.testing.assert_close(inv_freq, expected.float())
    assert factor == pytest.approx(expected_factor)


def test_unknown_rope_type_names_the_field():
    cfg = ModelConfig.from_hf_dict(
        {
            "model_type": "llama",
            "vocab_size": 10,
            "hidden_size": 8,
            "intermediate_size": 8,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "rope_scaling": {"rope_type": "longrope", "factor": 2.0},
        }
    )
    with pytest.raises(ModelLoadError, match="rope_type='longrope'"):
        rope_inv_freq(cfg)


def test_unsupported_architecture_names_model_type():
    with pytest.raises(ModelLoadError, match="model_type='gpt2'"):
        ModelConfig.from_hf_dict({"model_type": "gpt2"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"num_attention_heads": 0}, "'num_attention_heads' is missing or not a positive integer"),
        ({"num_key_value_heads": "2"}, "'num_key_value_heads' must be a positive integer"),
        ({"rope_scaling": "linear"}, "'rope_scaling' must be an object"),
    ],
)
def test_mistyped_config_fields_are_named(change, message):
    base = {"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2}
    with pytest.raises(ModelLoadError, match=message):
        ModelConfig.from_hf_dict({**base, **change})


def test_unreadable_model_files_name_the_file(tmp_path):
    from local_engine.hf_loader import iter_safetensors, read_config, read_tokenizer

    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(ModelLoadError, match="config.json: must hold a JSON object"):
        read_config(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(ModelLoadError, match="model.safetensors: not a readable safetensors file"):
        next(iter_safetensors(tmp_path, torch.float32))
    (tmp_path / "tokenizer.json").write_text('{"model": {"type": 5}}')
    with pytest.raises(ModelLoadError, match="tokenizer.json: not a tokenizer"):
        read_tokenizer(tmp_path, None)
