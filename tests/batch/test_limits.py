"""Batches at the edges of what can be sized and stored, on SQLite and PostgreSQL (embedded worker):
text parts that are not text, output bounds no model writes, worst cases past 64 bits, usage
counts past 32 bits, and results the database refuses."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import openai
import orjson
import pytest

from billing.budgets.definitions import set_budget
from billing.db import db_session
from gateway.batches import validation
from tests.batch.conftest import batch_env, chat_line, file_lines, model_list, upload, wait_for
from tests.fakes.openai_upstream import FakeOpenAI, Raw
from tests.support.db import database_url
from tests.support.gateway import GatewayUnderTest, start_gateway

ENV = {"chunk_size": 10, "line_concurrency": 4, "lease_seconds": 2, "sweep_seconds": 0.3, "stall_seconds": 2, "max_file_bytes": 64 * 1024, "retry_backoff_seconds": 0.05}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    """This module's own upstream: its scripted replies must not reach other modules' tests."""
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def gw(request: pytest.FixtureRequest, upstream: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayUnderTest]:
    tmp = tmp_path_factory.mktemp("limits")
    with database_url(request.param, request, tmp, "bl") as url, batch_env(**ENV):
        gateway = start_gateway(url, str(tmp), model_list=model_list(upstream), cache={"enabled": False})
        try:
            assert gateway.services.jobs is not None, "the embedded worker should run: no Redis is configured"
            yield gateway
        finally:
            gateway.stop()


def create(client: openai.OpenAI, items: list[dict[str, Any]]) -> Any:
    return client.batches.create(input_file_id=upload(client, items).id, endpoint="/v1/chat/completions", completion_window="24h")


def worst_nanos(batch: Any) -> int:
    return round(float(batch.model_extra["tokenmill"]["worst_case_usd"]) * 1e9)


def reply_with_usage(prompt_tokens: int) -> Raw:
    body = {
        "id": "chatcmpl-big", "object": "chat.completion", "created": 1, "model": "upstream",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "counted"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 1, "total_tokens": prompt_tokens + 1},
    }
    return Raw(orjson.dumps(body))


def calls(fake: FakeOpenAI, marker: str) -> int:
    return sum(1 for body in fake.requests if marker in str(body.get("messages")))


def test_a_text_part_that_is_not_a_string_fails_its_line_and_is_counted_on_a_live_call(gw, upstream):
    key = gw.new_key(f"text-{uuid.uuid4().hex[:6]}")
    client = gw.openai(key)

    def odd(custom_id: str, text: Any) -> dict[str, Any]:
        line = chat_line(custom_id)
        line["body"]["messages"][0]["content"] = [{"type": "text", "text": "look"}, {"type": "text", "text": text}]
        return line

    batch = create(client, [chat_line("fine"), odd("null", None), odd("number", 7)])
    assert batch.status == "failed" and batch.request_counts.total == 0
    assert [(e.line, e.code, e.param) for e in batch.errors.data] == [
        (2, "invalid_body", "body.messages[0].content[1].text"), (3, "invalid_body", "body.messages[0].content[1].text"),
    ]
    assert batch.errors.data[0].message.startswith("Line 2: ") and "expected a string, but got null" in batch.errors.data[0].message
    assert "got a number" in batch.errors.data[1].message

    # A live call is the upstream's to judge; with a budget, admission counts its prompt first.
    with db_session(gw.db) as session:
        budget = set_budget(session, tenant_id=gw.principal_tenant(key), limit_usd=5.0)
    gw.wait_until(lambda: any(b.id == budget.id for b in gw.services.admission.book.all()), timeout=10)
    upstream.script("batch-cheap", reply="read it")
    try:
        body = odd("live", None)["body"]
        with gw.http(key) as http:
            answer = http.post("/v1/chat/completions", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"] == "read it"
    finally:
        upstream.scripts.pop("batch-cheap", None)


def test_an_output_bound_no_model_writes_fails_its_line_and_a_large_one_is_sized_at_the_models_limit(gw):
    client = gw.openai(gw.new_key(f"bound-{uuid.uuid4().hex[:6]}"))
    above = chat_line("above")
    above["body"] = {**above["body"], "max_completion_tokens": 2**31}
    absurd = create(client, [chat_line("small"), chat_line("absurd", max_tokens=10**17), above])
    assert absurd.status == "failed"
    assert [(e.line, e.code, e.param) for e in absurd.errors.data] == [(2, "invalid_body", "body.max_tokens"), (3, "invalid_body", "body.max_completion_tokens")]
    assert "Expected a value <= 2147483647, but got 100000000000000000" in absurd.errors.data[0].message
    # Past the model's own limit (4,096 output tokens) but a real number: accepted, and its worst
    # case is what the model can write, not what the line asks for.
    large = create(client, [chat_line("sized", max_tokens=2**31 - 1)])
    at_limit = create(client, [chat_line("sized", max_tokens=4096)])
    assert large.status == at_limit.status == "in_progress"
    assert worst_nanos(large) == worst_nanos(at_limit) < 4097 * 2_000 + 1_000_000
    for batch in (large, at_limit):
        assert wait_for(client, batch.id).status == "completed"


def test_a_batch_whose_worst_case_passes_what_can_be_held_fails_at_the_line_that_passes_it(gw, monkeypatch):
    client = gw.openai(gw.new_key(f"sum-{uuid.uuid4().hex[:6]}"))
    items = [chat_line(f"sum-{i}", text="the same question") for i in range(4)]
    one = worst_nanos(create(client, items[:1]))
    # The real limit (2**63 - 1 nano-dollars) needs lines no test model prices; the rule is the same.
    monkeypatch.setattr(validation, "MAX_WORST_CASE", int(2.5 * one))
    batch = create(client, items)
    assert batch.status == "failed"
    assert [(e.line, e.code) for e in batch.errors.data] == [(3, "batch_too_large"), (4, "batch_too_large")]
    assert batch.errors.data[0].message.startswith("Line 3: with this request the batch's worst case passes")


def test_a_usage_past_32_bits_is_stored_and_the_batch_completes(gw, upstream):
    marker = f"huge-{uuid.uuid4().hex[:8]}"
    upstream.script("batch-broken", raw=reply_with_usage(3_000_000_000))
    try:
        client = gw.openai(gw.new_key(f"usage-{uuid.uuid4().hex[:6]}"))
        batch = create(client, [chat_line("ok"), chat_line("huge", model="broken", text=marker)])
        done = wait_for(client, batch.id, timeout=30)
    finally:
        upstream.scripts.pop("batch-broken", None)
    assert (done.status, done.request_counts.completed, done.request_counts.failed) == ("completed", 2, 0)
    assert done.usage.input_tokens > 3_000_000_000
    assert [line["custom_id"] for line in file_lines(client, done.output_file_id)] == ["ok", "huge"]
    rows = gw.usage_rows(run_id=done.id)
    assert sorted(r.prompt_tokens for r in rows)[-1] == 3_000_000_000 and len(rows) == 2
    assert calls(upstream, marker) == 1


def test_a_result_the_database_cannot_take_fails_its_line_once_and_the_batch_ends(gw, upstream):
    """2**53 prompt tokens (a count the usage parser still trusts) at $10 per million cost $90
    billion: more nano-dollars than a 64-bit column holds, on either database. Left pending, the
    line went upstream again after every stall, and the batch never ended."""
    marker = f"priceless-{uuid.uuid4().hex[:8]}"
    upstream.script("batch-strong", raw=reply_with_usage(2**53))
    try:
        client = gw.openai(gw.new_key(f"refused-{uuid.uuid4().hex[:6]}"))
        batch = create(client, [chat_line("fine"), chat_line("priceless", model="strong", text=marker), chat_line("also-fine")])
        done = wait_for(client, batch.id, timeout=30)
    finally:
        upstream.scripts.pop("batch-strong", None)
    assert (done.status, done.request_counts.completed, done.request_counts.failed) == ("completed", 2, 1)
    assert [line["custom_id"] for line in file_lines(client, done.output_file_id)] == ["fine", "also-fine"]
    [failed] = file_lines(client, done.error_file_id)
    assert failed["custom_id"] == "priceless" and failed["response"]["status_code"] == 500
    assert failed["response"]["body"]["error"]["code"] == "result_not_stored"
    assert calls(upstream, marker) == 1  # sent upstream once, not again by the chunk's redo
    assert sorted(r.request_id for r in gw.usage_rows(run_id=done.id)) == sorted(
        line["response"]["request_id"] for line in file_lines(client, done.output_file_id)
    )


def test_line_figures_that_add_up_past_64_bits_end_the_batch_with_its_totals_capped(gw, upstream):
    """Two lines of 2**53 prompt tokens at $1 per million: each cost fits a 64-bit column, their
    sum does not; the batch used to stay unfinished."""
    marker = f"sum-{uuid.uuid4().hex[:8]}"
    upstream.script("batch-broken", raw=reply_with_usage(2**53))
    try:
        client = gw.openai(gw.new_key(f"sum-{uuid.uuid4().hex[:6]}"))
        batch = create(client, [chat_line("one", model="broken", text=marker), chat_line("two", model="broken", text=marker + "b")])
        done = wait_for(client, batch.id, timeout=30)
    finally:
        upstream.scripts.pop("batch-broken", None)
    assert (done.status, done.request_counts.completed, done.request_counts.failed) == ("completed", 2, 0)
    rows = gw.usage_rows(run_id=done.id)
    assert len(rows) == 2 and sum(r.cost_nanos for r in rows) > 2**63 - 1  # the ledger keeps each line whole
