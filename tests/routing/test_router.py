"""The shipped router: weights load, scores are probabilities, and they order tasks sensibly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from local_engine.embedder import get_embedder
from routing.model import MODEL_PATH, DifficultyModel
from routing.request import summarize_prompt, summarize_request
from routing.router import Router, get_router

EASY = ["hi there!", "Thanks, that helped.", "Write a haiku about tea.", "What is the capital of Spain?"]
HARD = [
    "A store sells notebooks at $4 each. Lena buys 15, returns a fifth of them, then buys 3 packs of 6 at $20 per pack "
    "and pays 8% tax on everything. How much does she pay in total, and how many notebooks does she keep?",
    "Prove that every bounded monotone sequence of real numbers converges, then use it to show e = lim (1 + 1/n)^n exists.",
    "Implement a lock-free multi-producer queue in C++ with tests for ABA problems and explain the memory ordering.",
]


def test_shipped_weights_load_and_match_the_features() -> None:
    model = DifficultyModel.load()
    raw = json.loads(MODEL_PATH.read_text())
    assert len(model.feature_names) == len(raw["coef"]) and model.embedder_kind == "static"
    assert MODEL_PATH.stat().st_size < 200_000
    assert get_router() is get_router()


def test_scores_are_probabilities_and_easy_ranks_below_hard() -> None:
    scores = get_router().score_prompts(EASY + HARD)
    assert np.all((scores > 0) & (scores < 1))
    assert scores[: len(EASY)].max() < scores[len(EASY) :].min()


def test_precomputed_embedding_gives_the_same_score() -> None:
    router = get_router()
    summary = summarize_prompt(HARD[0])
    vec = get_embedder(router.embedder_kind).embed([summary.task_text])[0]
    assert router.score(summary, embedding=vec) == pytest.approx(router.score(summary), abs=1e-6)
    assert router.score(summary) == pytest.approx(float(router.score_prompts([HARD[0]])[0]), abs=1e-5)


def test_wrong_embedding_is_refused() -> None:
    router = get_router()
    with pytest.raises(ValueError, match="shape"):
        router.score(summarize_prompt("x"), embedding=np.zeros(384, dtype=np.float32))


def test_conversation_priors_raise_the_score() -> None:
    router = get_router()
    messages = [{"role": "user", "content": "List three colours."}]
    plain = router.score(summarize_request(messages))
    structured = router.score(summarize_request(messages, tools=[{}], response_format={"type": "json_schema"}))
    assert structured > plain


def test_out_of_range_features_are_clipped() -> None:
    """A prompt far outside the training ranges stays a probability and does not explode."""
    huge = "1 + 2 = 3. " * 5000
    score = get_router().score(summarize_prompt(huge))
    assert 0 < score < 1


def test_weights_for_another_embedder_are_refused() -> None:
    model = DifficultyModel.load()
    with pytest.raises(ValueError, match="trained with embedder"):
        Router(model=model, embedder=get_embedder("minilm"))


def test_missing_weights_say_how_to_train(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="routing.training.train"):
        DifficultyModel.load(tmp_path / "none.json")


def test_task_types_recognise_kinds_of_request() -> None:
    from routing.prototypes import task_types_for

    emb = get_embedder("static")
    types = task_types_for(emb)
    sims = types.similarities(emb.embed(["Write a Rust function that parses JSON and handles errors", "hey, how's it going?"]))
    assert types.names[int(sims[0].argmax())] == "code"
    assert types.names[int(sims[1].argmax())] == "chitchat"
    with pytest.raises(ValueError, match="embeddings must be"):
        types.similarities(np.zeros((1, 5), dtype=np.float32))


def test_few_shot_block_and_system_prompt_do_not_change_the_score() -> None:
    router = get_router()
    question = "Janet has 16 eggs, eats 3 and bakes with 4. She sells the rest at $2 each. How much does she make?"
    shots = "".join(f"Question: example {i} with {i} apples?\nAnswer: {i} + 1 = {i + 1}. The answer is {i + 1}\n\n" for i in range(8))
    bare = router.score(summarize_prompt(question))
    wrapped = router.score(summarize_prompt(shots + "Question: " + question + "\nAnswer:"))
    with_system = router.score(
        summarize_request([{"role": "system", "content": "Be terse. " * 300}, {"role": "user", "content": question}])
    )
    assert wrapped == pytest.approx(bare, abs=1e-6) and with_system == pytest.approx(bare, abs=1e-6)
    unlabelled = "".join(f"Tom has {i} apples and buys {i + 2} more. How many now?\nAnswer:\n{2 * i + 2}\n\n" for i in range(6))
    assert router.score(summarize_prompt(unlabelled + question + "\nAnswer:")) == pytest.approx(bare, abs=1e-6)


def test_routing_is_a_plain_library() -> None:
    import subprocess
    import sys

    code = "import sys, routing, routing.eval_cli; print(sorted(m for m in ('fastapi', 'celery', 'gateway') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
