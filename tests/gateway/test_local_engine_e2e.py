"""The embedded default end to end: the bundled SmolLM2 answers through the gateway."""

from __future__ import annotations

import pytest

from tests.support.gateway import start_gateway


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):  # noqa: ANN201
    tmp = tmp_path_factory.mktemp("embedded")
    gw = start_gateway(f"sqlite:///{tmp}/embedded.db", str(tmp))  # no model_list: the embedded default
    yield gw
    gw.stop()


@pytest.mark.slow
def test_bundled_model_answers_a_chat_with_coherent_text(embedded):
    client = embedded.openai(timeout=300)
    raw = client.chat.completions.with_raw_response.create(
        model="tokenmill-local", messages=[{"role": "user", "content": "What is the capital of France?"}], temperature=0, max_tokens=24
    )
    reply = raw.parse()
    assert "Paris" in reply.choices[0].message.content
    assert raw.headers["x-tokenmill-model"] == "tokenmill-local" and "tier=local" in raw.headers["x-tokenmill-route"]
    row = embedded.wait_for_usage(raw.headers["x-request-id"])
    assert row.prompt_tokens == reply.usage.prompt_tokens > 0 and row.completion_tokens == reply.usage.completion_tokens > 0
    assert row.cost_nanos > 0  # local work is never free in the books

    chunks = list(
        client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "Say hello."}], max_tokens=8, stream=True, stream_options={"include_usage": True}
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()
    assert chunks[-1].usage.completion_tokens > 0


@pytest.mark.slow
def test_bundled_embedder_serves_embeddings(embedded):
    result = embedded.openai().embeddings.create(model="tokenmill-embed", input=["first text", "second text"])
    assert len(result.data) == 2 and len(result.data[0].embedding) == 384 and result.usage.prompt_tokens > 0
