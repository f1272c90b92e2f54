"""Replay a cached `chat.completion` as the SSE stream an OpenAI streaming call would have produced."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

DONE_EVENT = b"data: [DONE]\n\n"
_STREAMED_APART = frozenset({"role", "content", "reasoning_content", "refusal", "tool_calls"})
ENVELOPE_FIELDS = ("system_fingerprint", "service_tier")  # a completion's fields every chunk repeats


def _chunk(body: dict[str, Any], choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": body.get("id", ""),
        "object": "chat.completion.chunk",
        "created": body.get("created", 0),
        "model": body.get("model", ""),
        "choices": choices,
    }
    for key in ENVELOPE_FIELDS:
        if body.get(key) is not None:
            chunk[key] = body[key]
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def _split(text: str, piece_chars: int) -> list[str]:
    return [text[i : i + piece_chars] for i in range(0, len(text), piece_chars)] or [""]


def _logprob_tokens(content: Any, logprobs: Any) -> list[dict[str, Any]] | None:
    """The content logprob entries when their tokens spell the content exactly, else None."""
    entries = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, str) or not content or not isinstance(entries, list) or not entries:
        return None
    if not all(isinstance(e, dict) and isinstance(e.get("token"), str) for e in entries):
        return None
    return entries if "".join(e["token"] for e in entries) == content else None


def completion_to_chunks(
    body: dict[str, Any], include_usage: bool = False, piece_chars: int = 256
) -> Iterator[dict[str, Any]]:
    """The `chat.completion.chunk` objects for a completion body, in stream order.

    Per choice: a role delta, reasoning_content when the answer has it, content deltas (one per token with its logprobs when the answer has
    them, else pieces of `piece_chars`), a refusal, the message's other fields (annotations, ...) in one delta, tool-call deltas
    (one per call, complete arguments), then a finish delta. With `include_usage` (the caller sent
    `stream_options.include_usage`) and a usage in the body, a last chunk with no choices carries it.
    """
    if piece_chars < 1:
        raise ValueError("piece_chars must be positive")
    for choice in body.get("choices", []):
        index = choice.get("index", 0)
        message = choice.get("message") or {}
        content = message.get("content")
        # As a live stream opens: "" for a text answer, null for one that is only tool calls.
        opening = {"role": message.get("role", "assistant"), "content": "" if isinstance(content, str) else None}
        yield _chunk(body, [{"index": index, "delta": opening, "finish_reason": None}])
        reasoning = message.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:  # vLLM / DeepSeek reasoning, streamed ahead of the answer
            yield _chunk(body, [{"index": index, "delta": {"reasoning_content": reasoning}, "finish_reason": None}])
        logprobs = choice.get("logprobs")
        tokens = _logprob_tokens(content, logprobs)
        if tokens is not None:  # one chunk per token, each with its logprobs, as OpenAI streams them
            for entry in tokens:
                yield _chunk(body, [{"index": index, "delta": {"content": entry["token"]}, "logprobs": {"content": [entry]}, "finish_reason": None}])
        elif isinstance(content, str) and content:
            for n, piece in enumerate(_split(content, piece_chars)):
                extra = {"logprobs": logprobs} if n == 0 and logprobs else {}
                yield _chunk(body, [{"index": index, "delta": {"content": piece}, **extra, "finish_reason": None}])
        if message.get("refusal"):
            yield _chunk(body, [{"index": index, "delta": {"refusal": message["refusal"]}, "finish_reason": None}])
        # Whatever else the message holds (annotations with their citations, audio, ...) comes whole in one delta.
        rest = {k: v for k, v in message.items() if k not in _STREAMED_APART and v is not None}
        if rest:
            yield _chunk(body, [{"index": index, "delta": rest, "finish_reason": None}])
        for call_index, call in enumerate(message.get("tool_calls") or []):
            kind = call.get("type", "function")
            delta_call = {"index": call_index, "id": call.get("id"), "type": kind}
            if kind == "custom":  # a free-form tool's call carries its input text
                custom = call.get("custom") or {}
                delta_call["custom"] = {"name": custom.get("name"), "input": custom.get("input", "")}
            else:
                fn = call.get("function") or {}
                delta_call["function"] = {"name": fn.get("name"), "arguments": fn.get("arguments", "")}
            yield _chunk(body, [{"index": index, "delta": {"tool_calls": [delta_call]}, "finish_reason": None}])
        yield _chunk(body, [{"index": index, "delta": {}, "finish_reason": choice.get("finish_reason", "stop")}])
    if include_usage and body.get("usage") is not None:  # an answer that came without usage gets no empty usage chunk
        yield _chunk(body, [], usage=body["usage"])


def replay_sse(body: dict[str, Any], include_usage: bool = False, piece_chars: int = 256) -> Iterator[bytes]:
    """SSE bytes (`data: {...}\\n\\n` per chunk, then `data: [DONE]`) for a StreamingResponse."""
    for chunk in completion_to_chunks(body, include_usage=include_usage, piece_chars=piece_chars):
        yield b"data: " + orjson.dumps(chunk) + b"\n\n"
    yield DONE_EVENT


def wants_usage_chunk(request: dict[str, Any]) -> bool:
    options = request.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))
