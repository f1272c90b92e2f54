"""Streams pass through as bytes; this reads them on the side to account for every token.

The gateway always asks upstreams for a final usage chunk (stream_options.include_usage) so
the bill uses the provider's own counts; when the client did not ask for it, that chunk is
held back. If a stream ends early (client gone, upstream dead), the text seen so far is
counted with tiktoken instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import orjson
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from billing.money import format_usd
from billing.tokens import count_text_tokens
from billing.usage import TokenUsage
from cache.sse import DONE_EVENT, ENVELOPE_FIELDS

log = logging.getLogger(__name__)


_KEPT = {"content": "content", "reasoning_content": "reasoning", "refusal": "refusal"}  # delta key -> the list that keeps it
_DELTA_FIELDS = frozenset({"role", "content", "reasoning_content", "refusal", "tool_calls", "function_call"})


@dataclass
class StreamAccount:
    client_wants_usage: bool
    count_model: str = ""
    usage: TokenUsage | None = None
    generated: list[str] = field(default_factory=list)
    first_token_at: float | None = None
    saw_done: bool = False
    upstream_error: str | None = None
    content: list[str] = field(default_factory=list)  # the visible answer, for the response cache
    reasoning: list[str] = field(default_factory=list)  # reasoning_content deltas (vLLM, DeepSeek), kept with it
    refusal: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    extra_choices: bool = False  # tool calls or n > 1: not rebuilt as a whole completion
    logprobs: list = field(default_factory=list)  # choice 0's content logprobs, in order
    malformed: bool = False  # an event the gateway could not read: the stream is not cached
    unkept: bool = False  # a delta field the cached copy would not hold (annotations, audio): not cached
    envelope: dict = field(default_factory=dict)  # system_fingerprint, service_tier: kept with the cached copy
    _buffer: bytes = b""

    def feed(self, piece: bytes) -> bytes:
        """Take upstream bytes; return the bytes to send on (whole events only)."""
        data = self._buffer + piece
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        end = data.rfind(b"\n\n")
        if end < 0:
            self._buffer = data
            return b""
        self._buffer = data[end + 2 :]
        out: list[bytes] = []
        for event in data[: end + 2].split(b"\n\n"):
            if self.saw_done:
                break  # nothing follows [DONE] to the client (a blank line, a comment): the stream ended
            if event.strip(b"\n"):
                kept = self._process(event.strip(b"\n"))
                if kept:
                    out.append(kept + b"\n\n")
        return b"".join(out)

    def _process(self, event: bytes) -> bytes | None:
        """Account for one event; return what to send on (None drops it)."""
        if not event.startswith(b"data:"):
            return event  # comments, `event:` lines: pass through untouched
        payload = event[5:].strip()
        if payload == b"[DONE]":
            self.saw_done = True
            return DONE_EVENT[:-2]  # one spelling, whatever the upstream's spacing
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            chunk = None
        choices = (chunk.get("choices") or []) if isinstance(chunk, dict) else None
        if not isinstance(choices, list) or not all(isinstance(c, dict) and isinstance(c.get("delta"), dict | None) for c in choices):
            # An event no OpenAI client could read would break the caller's stream: drop it.
            log.warning("dropped a malformed upstream stream event: %r", payload[:200])
            self.malformed = True
            return None
        if "error" in chunk:
            self.upstream_error = str(chunk["error"])[:200]
        for key in ENVELOPE_FIELDS:
            if chunk.get(key) is not None:
                self.envelope.setdefault(key, chunk[key])
        for choice in choices:
            self._note_choice(choice)
        usage = chunk.get("usage")
        if usage:
            self.usage = TokenUsage.from_openai(usage) or self.usage
            if not self.client_wants_usage:
                if not choices:
                    return None
                del chunk["usage"]  # usage riding on a content chunk: strip just that field
                return b"data: " + orjson.dumps(chunk)
        return event

    def _note_choice(self, choice: dict) -> None:
        if choice.get("finish_reason"):
            self.finish_reason = str(choice["finish_reason"])
        if choice.get("index", 0) != 0:
            self.extra_choices = True
        delta = choice.get("delta")
        if delta is None:  # legacy completions stream
            text = choice.get("text")
            if isinstance(text, str) and text:
                self._mark_first()
                self.generated.append(text)
            return
        self._note_logprobs(choice.get("logprobs"))
        if any(v is not None and k not in _DELTA_FIELDS for k, v in delta.items()):
            self.unkept = True
        for key in ("content", "reasoning_content", "refusal"):
            text = delta.get(key)
            if isinstance(text, str) and text:
                self._mark_first()
                self.generated.append(text)
                getattr(self, _KEPT[key]).append(text)
        tool_calls = delta.get("tool_calls") or ()
        for tool_call in tool_calls if isinstance(tool_calls, list) else ():
            self.extra_choices = True
            self._mark_first()
            for part, keys in (("function", ("name", "arguments")), ("custom", ("name", "input"))):
                called = tool_call.get(part) if isinstance(tool_call, dict) else None
                for key in keys:
                    if isinstance(called, dict) and isinstance(called.get(key), str):
                        self.generated.append(called[key])

    def _note_logprobs(self, logprobs: object) -> None:
        """Keep the content logprobs for the cached copy; any other shape makes it uncacheable."""
        if logprobs is None:
            return
        content = logprobs.get("content") if isinstance(logprobs, dict) else None
        if isinstance(content, list) and set(logprobs) <= {"content", "refusal"} and not logprobs.get("refusal"):
            self.logprobs.extend(content)
        else:
            self.malformed = True

    def _mark_first(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()

    def as_completion(self, completion_id: str, model: str) -> dict | None:
        """The stream rebuilt as one chat.completion (plain text answers only), for the cache."""
        if self.extra_choices or self.malformed or self.unkept or self.usage is None or self.finish_reason is None:
            return None
        message = {"role": "assistant", "content": "".join(self.content)}
        if self.reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        if self.refusal:
            message["refusal"] = "".join(self.refusal)
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason,
                         "logprobs": {"content": self.logprobs} if self.logprobs else None}],
            "usage": self.usage.to_openai(),
            **self.envelope,
        }

    def final_usage(self, prompt_tokens_estimate: int) -> TokenUsage:
        """The upstream's usage if it arrived, else a count of what was actually generated."""
        if self.usage is not None:
            return self.usage
        return TokenUsage(
            prompt_tokens=prompt_tokens_estimate,
            completion_tokens=count_text_tokens("".join(self.generated), self.count_model),
        )


def sse_event(payload: dict) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def sse_comment(text: str) -> bytes:
    return b": " + text.encode() + b"\n\n"


def cost_comment(cost_nanos: int) -> bytes:
    """The SSE comment that ends every stream before [DONE] with its cost (the header said "streaming")."""
    return sse_comment(f"x-tokenmill-cost-usd {format_usd(cost_nanos)}")


class AccountedStream(StreamingResponse):
    """An SSE response whose bookkeeping runs even when its body never starts.

    A client that leaves while the upstream is still thinking is gone before the first byte:
    Starlette may then cancel the response before it iterates the body (no usage row), or, when
    the upstream's answer is already buffered, send the whole of it into a closed socket (a 200
    for an answer nobody got). Both end here as a 499 with the upstream hung up on.
    """

    def __init__(self, content: AsyncIterator[bytes], abandon: Callable[[], None] | None, headers: dict[str, str]):
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self._abandon = abandon

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if self._abandon is not None and await Request(scope, receive).is_disconnected():
                return
            await super().__call__(scope, receive, send)
        finally:
            if self._abandon is not None:
                self._abandon()  # does nothing once the body has started
