"""The bundled SmolLM2-135M-Instruct GGUF: loads (Q4_1/Q8_0 dequantized, Q/K un-permuted), its
tokenizer matches transformers' GGUF tokenizer, it answers a chat, and JSON mode yields JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from local_engine.config import EngineConfig, ModelLoadError
from local_engine.engine import LLMEngine
from local_engine.gguf_loader import _unpermute
from local_engine.loader import bundled_model_path, load_model
from local_engine.sequence import SamplingParams

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine():
    return LLMEngine(EngineConfig(model=None, num_kv_blocks=256, block_size=16))


def _chat(engine: LLMEngine, text: str, **params) -> str:
    ids = engine.tokenizer.encode_chat([{"role": "user", "content": text}])
    out = engine.generate([ids], SamplingParams(**{"temperature": 0, "max_tokens": 48, **params}))[0]
    return engine.tokenizer.decode(out)


def test_bundled_config(engine):
    cfg = engine.model_config
    assert (cfg.arch, cfg.num_layers, cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads) == ("llama", 30, 576, 9, 3)
    assert cfg.tie_word_embeddings and cfg.eos_token_ids == [2]
    assert "<|im_start|>" in engine.tokenizer.chat_template


def test_tokenizer_matches_transformers_gguf_tokenizer(engine):
    from transformers import AutoTokenizer

    path = bundled_model_path()
    hf = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    text = "Hello world 12345 it's   fine\n\n  ok ünïcode 😀 <|im_start|>user\ndef f(x):\n\treturn x**2"
    assert engine.tokenizer.encode(text) == hf.encode(text)
    assert engine.tokenizer.decode(engine.tokenizer.encode(text), skip_special_tokens=False) == text


def test_capital_of_france(engine):
    assert "Paris" in _chat(engine, "What is the capital of France?")


def test_streamed_text_deltas_and_stop_strings(engine):
    ids = engine.tokenizer.encode_chat([{"role": "user", "content": "List three colours, one per line."}])
    params = SamplingParams(temperature=0, max_tokens=40)
    engine.add_request("free", ids, params)
    deltas, tokens = [], []
    while engine.has_unfinished():
        for out in engine.step():
            deltas.append(out.text)
            tokens.extend(out.token_ids)
    full = "".join(deltas)
    assert full == engine.tokenizer.decode(tokens) and len(full) > 10
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    engine.add_request("stopped", ids, SamplingParams(temperature=0, max_tokens=40, stop=[stop]))
    outs = []
    while engine.has_unfinished():
        outs.extend(engine.step())
    assert "".join(o.text for o in outs) == full[: full.index(stop)]
    assert outs[-1].finish_reason == "stop"


def test_json_object_mode_returns_parseable_json(engine):
    text = _chat(engine, "Describe a cat as a JSON object with fields name and age.", max_tokens=80, json_object=True)
    assert isinstance(json.loads(text), dict)


def test_json_schema_mode_follows_schema(engine):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    text = _chat(engine, "Give the largest city of France and its population.", max_tokens=80, json_schema=json.dumps(schema))
    value = json.loads(text)
    assert set(value) == {"city", "population"} and isinstance(value["population"], int)


def test_unpermute_inverts_llama_cpp_permute():
    def permute(w, n_head):  # llama.cpp convert_hf_to_gguf.py LlamaModel.permute
        return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

    w = np.arange(6 * 8 * 3, dtype=np.float32).reshape(6 * 8, 3)
    np.testing.assert_array_equal(_unpermute(permute(w, 6), 6), w)


def test_missing_and_bad_models_fail_clearly(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(tmp_path / "nope")
    with pytest.raises(ModelLoadError, match="config.json not found"):
        load_model(tmp_path)
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"not a gguf")
    with pytest.raises(ModelLoadError, match="x.gguf"):
        load_model(bad)


def test_token_bytes_rebuild_text_split_inside_a_character(engine):
    tok = engine.tokenizer
    text = "🌍🎉 héllo <|im_end|>"
    ids = tok.encode(text, add_special_tokens=False)
    assert any(tok.token_text(i) == "\ufffd" for i in ids)  # pieces of an emoji decode to nothing on their own
    assert b"".join(tok.token_bytes(i) for i in ids).decode("utf-8") == text
