"""The shared embedder: API contract, the static table, and MiniLM parity with transformers."""

from __future__ import annotations

import socket
import threading

import numpy as np
import pytest
import torch

from local_engine.embedder import KINDS, get_embedder
from local_engine.embedder_minilm import MiniLMEmbedder
from local_engine.embedder_static import STATIC_ASSET_DIR, StaticEmbedder
from local_engine.embedder_tokenizer import load_minilm_tokenizer, minilm_model_dir

SENTENCES = [
    "How do I reset my password?",
    "What is the capital of France? Answer in one word.",
    "def add(a, b):\n    return a + b",
    "Ünïcödé ist überall — 東京 is a city.",
]


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return get_embedder("minilm")


@pytest.mark.parametrize("kind", KINDS)
def test_shape_dtype_unit_norm_and_determinism(kind: str) -> None:
    emb = get_embedder(kind)
    vecs = emb.embed(SENTENCES)
    assert vecs.shape == (len(SENTENCES), emb.dim)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vecs, emb.embed(SENTENCES))
    # A text's vector does not depend on the rest of the batch (padding, ordering).
    np.testing.assert_allclose(emb.embed([SENTENCES[2]])[0], vecs[2], atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_paraphrase_is_closer_than_unrelated(kind: str) -> None:
    a, b, c = get_embedder(kind).embed(
        ["How can I change my account password?", "How do I reset my password?", "Best pizza toppings in Naples"]
    )
    assert a @ b > a @ c + 0.2


def test_get_embedder_is_cached_and_thread_safe() -> None:
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(get_embedder("static"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(e is seen[0] for e in seen)
    assert get_embedder() is seen[0]


def test_bad_input_gives_clear_errors() -> None:
    emb = get_embedder("static")
    with pytest.raises(ValueError, match="unknown embedder kind"):
        get_embedder("bert-large")
    with pytest.raises(TypeError, match="not a single string"):
        emb.embed("just one string")
    with pytest.raises(TypeError, match="item 1 is int"):
        emb.embed(["ok", 3])
    assert emb.embed([]).shape == (0, emb.dim)


def test_static_empty_text_gives_zero_row() -> None:
    vecs = get_embedder("static").embed(["", "hello"])
    assert not vecs[0].any()
    assert np.linalg.norm(vecs[1]) == pytest.approx(1.0, abs=1e-5)


def test_static_is_the_mean_of_the_shipped_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from safetensors.numpy import load_file

    tensors = load_file(str(STATIC_ASSET_DIR / "model.safetensors"))
    table = tensors["embeddings"].astype(np.float32) * tensors["scales"].astype(np.float32)[:, None]
    ids = load_minilm_tokenizer().encode(SENTENCES[1], add_special_tokens=False).ids
    expected = table[ids].mean(0)
    expected /= np.linalg.norm(expected)
    np.testing.assert_allclose(get_embedder("static").embed([SENTENCES[1]])[0], expected, atol=1e-5)
    assert (STATIC_ASSET_DIR / "model.safetensors").stat().st_size < 6_000_000


def test_static_matches_model2vec_encode() -> None:
    inner = get_embedder("static")._inner  # the StaticEmbedder behind the checked wrapper
    texts = SENTENCES + ["[UNK] pieces and 東京 ∑∫ symbols", "word " * 800]
    reference = inner.model.encode(texts, use_multiprocessing=False)
    np.testing.assert_allclose(inner.embed(texts), reference, atol=1e-6)


def test_static_loads_with_network_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the static embedder tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    emb = StaticEmbedder()
    assert emb.embed(["offline"]).shape == (1, 128)


def test_static_missing_table_says_how_to_build_it(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="embedder_distill"):
        StaticEmbedder(folder=tmp_path)


@pytest.mark.slow
def test_minilm_matches_transformers_bert(minilm: MiniLMEmbedder) -> None:
    from transformers import AutoTokenizer, BertModel

    folder = str(minilm_model_dir())
    ref_model = BertModel.from_pretrained(folder).eval()
    ref_tok = AutoTokenizer.from_pretrained(folder)
    texts = SENTENCES + ["word " * 400]  # the last one is truncated at 256 pieces
    batch = ref_tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.inference_mode():
        hidden = ref_model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    ref = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1).numpy()
    ours = minilm.embed(texts)
    np.testing.assert_allclose(ours, ref, atol=2e-5)
    assert batch["attention_mask"][-1].sum() == 256


def test_static_tracks_minilm_similarities(minilm: MiniLMEmbedder) -> None:
    """The distilled table is a cheap copy of MiniLM: pairwise similarities rank alike."""
    texts = [
        "How do I bake sourdough bread?",
        "Recipe for homemade sourdough loaf",
        "Solve 3x + 5 = 20 for x.",
        "What value of x satisfies 3x + 5 = 20?",
        "Explain quantum entanglement simply.",
        "Which team won the 2010 football world cup?",
    ]
    iu = np.triu_indices(len(texts), 1)
    full = (minilm.embed(texts) @ minilm.embed(texts).T)[iu]
    static_vecs = get_embedder("static").embed(texts)
    cheap = (static_vecs @ static_vecs.T)[iu]
    rank_corr = np.corrcoef(np.argsort(np.argsort(full)), np.argsort(np.argsort(cheap)))[0, 1]
    assert rank_corr > 0.6
