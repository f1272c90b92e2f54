"""Replay a cached `chat.completion` as the SSE stream an OpenAI streaming call would have produced."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

DONE_EVENT = b"data: [DONE]\n\n"


def _chunk(body: dict[str, Any], choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": body.get("id", ""),
        "object": "chat.completion.chunk",
        "created": body.get("created", 0),
        "model": body.get("model", ""),
        "choices": choices,
    }
    if body.get("system_fingerprint") is not None:
        chunk["system_fingerprint"] = body["system_fingerprint"]
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def _split(text: str, piece_chars: int) -> list[str]:
    return [text[i : i + piece_chars] for i in range(0, len(text), piece_chars)] or [""]


def completion_to_chunks(
    body: dict[str, Any], include_usage: bool = False, piece_chars: int = 256
) -> Iterator[dict[str, Any]]:
    """The `chat.completion.chunk` objects for a completion body, in stream order.

    Per choice: a role delta, content deltas (split into pieces of `piece_chars`), tool-call deltas
    (one per call, complete arguments), then a finish delta. With `include_usage` (the caller sent
    `stream_options.include_usage`), a last chunk with no choices carries the usage.
    """
    if piece_chars < 1:
        raise ValueError("piece_chars must be positive")
    for choice in body.get("choices", []):
        index = choice.get("index", 0)
        message = choice.get("message") or {}
        yield _chunk(body, [{"index": index, "delta": {"role": message.get("role", "assistant"), "content": ""}, "finish_reason": None}])
        content = message.get("content")
        if isinstance(content, str) and content:
            for piece in _split(content, piece_chars):
                yield _chunk(body, [{"index": index, "delta": {"content": piece}, "finish_reason": None}])
        if message.get("refusal"):
            yield _chunk(body, [{"index": index, "delta": {"refusal": message["refusal"]}, "finish_reason": None}])
        for call_index, call in enumerate(message.get("tool_calls") or []):
            fn = call.get("function") or {}
            delta_call = {
                "index": call_index,
                "id": call.get("id"),
                "type": call.get("type", "function"),
                "function": {"name": fn.get("name"), "arguments": fn.get("arguments", "")},
            }
            yield _chunk(body, [{"index": index, "delta": {"tool_calls": [delta_call]}, "finish_reason": None}])
        yield _chunk(body, [{"index": index, "delta": {}, "finish_reason": choice.get("finish_reason", "stop")}])
    if include_usage:
        yield _chunk(body, [], usage=body.get("usage"))


def replay_sse(body: dict[str, Any], include_usage: bool = False, piece_chars: int = 256) -> Iterator[bytes]:
    """SSE bytes (`data: {...}\\n\\n` per chunk, then `data: [DONE]`) for a StreamingResponse."""
    for chunk in completion_to_chunks(body, include_usage=include_usage, piece_chars=piece_chars):
        yield b"data: " + orjson.dumps(chunk) + b"\n\n"
    yield DONE_EVENT


def wants_usage_chunk(request: dict[str, Any]) -> bool:
    options = request.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))
