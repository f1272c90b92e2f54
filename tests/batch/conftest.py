"""Fixtures for the batch tests: a fake upstream with priced models, JSONL builders, waiting."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from billing.prices import Price
from tests.fakes.openai_upstream import FakeOpenAI

CHEAP = Price(input=1e-6, output=2e-6)
STRONG = Price(input=1e-5, output=3e-5)
TERMINAL = ("completed", "failed", "expired", "cancelled")


@pytest.fixture(scope="session")
def fake() -> Iterator[FakeOpenAI]:
    upstream = FakeOpenAI().start()
    yield upstream
    upstream.stop()


def model_list(fake: FakeOpenAI) -> list[dict[str, Any]]:
    def model(name: str, upstream: str, price: Price, tier: str, mode: str = "chat") -> dict[str, Any]:
        info = {"tier": tier, "mode": mode, "input_cost_per_token": price.input, "output_cost_per_token": price.output, "max_output_tokens": 4096}
        params = {"model": f"openai/{upstream}", "api_base": fake.base_url, "api_key": fake.api_key, "max_retries": 0}
        return {"model_name": name, "litellm_params": params, "model_info": info}

    return [
        model("cheap", "batch-cheap", CHEAP, "cheap"),
        model("strong", "batch-strong", STRONG, "strong"),
        model("slow", "batch-slow", CHEAP, "cheap"),
        model("broken", "batch-broken", CHEAP, "cheap"),
        model("flaky", "batch-flaky", CHEAP, "cheap"),
        model("embed", "batch-embed", Price(input=1e-7, output=0.0), "cheap", mode="embedding"),
    ]


def chat_line(custom_id: str, model: str = "cheap", text: str | None = None, max_tokens: int = 32) -> dict[str, Any]:
    body = {"model": model, "messages": [{"role": "user", "content": text or f"question {custom_id}"}], "max_tokens": max_tokens}
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}


def jsonl(items: list[dict[str, Any]]) -> bytes:
    return b"\n".join(orjson.dumps(item) for item in items) + b"\n"


def upload(client: Any, items: list[dict[str, Any]] | bytes, name: str = "input.jsonl") -> Any:
    data = items if isinstance(items, bytes) else jsonl(items)
    return client.files.create(file=(name, io.BytesIO(data)), purpose="batch")


def wait_for(client: Any, batch_id: str, until: Any = TERMINAL, timeout: float = 60.0) -> Any:
    """Poll the batch until `until(batch)` holds (or its status is one of `until`)."""
    check = until if callable(until) else (lambda b: b.status in until)
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if check(batch):
            return batch
        if time.monotonic() > deadline:
            raise AssertionError(f"batch {batch_id} still {batch.status} {batch.request_counts} after {timeout}s")
        time.sleep(0.1)


def file_lines(client: Any, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    return [orjson.loads(line) for line in client.files.content(file_id).read().splitlines() if line.strip()]


def priced(lines: list[dict[str, Any]], price: Price) -> int:
    """What the output lines cost: each answer's upstream-reported usage at the model's price."""
    from billing.usage import TokenUsage

    total = 0
    for line in lines:
        usage = line["response"]["body"]["usage"]
        total += price.cost_nanos(TokenUsage(usage["prompt_tokens"], usage["completion_tokens"]))
    return total


class batch_env:  # noqa: N801 - used as a context manager like mock.patch
    """TOKENMILL_BATCHES__* for the gateways (and workers) a test module starts."""

    def __init__(self, **values: Any):
        self.values = {f"TOKENMILL_BATCHES__{k.upper()}": str(v) for k, v in values.items()}
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> dict[str, str]:
        for k, v in self.values.items():
            self.saved[k] = os.environ.get(k)
            os.environ[k] = v
        return self.values

    def __exit__(self, *exc: object) -> None:
        for k, old in self.saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old
