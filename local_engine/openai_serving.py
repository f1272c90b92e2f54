"""OpenAI request bodies in, OpenAI response bodies and SSE bytes out, over an AsyncEngine.

Shared by the engine's own HTTP server (`tokenmill engine serve`) and the gateway's in-process
local provider, so both speak exactly the same protocol. Validation happens in the `*_request`
methods, before any output: a RequestError there is a client error (HTTP 400).
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import orjson

from local_engine import openai_protocol as proto
from local_engine.async_engine import AsyncEngine, GenerateRequest
from local_engine.engine import RequestError

# When neither the request nor the model's generation_config sets them. OpenAI's default
# temperature of 1.0 makes small models ramble; these are SmolLM2's authors' recommendation.
FALLBACK_SAMPLING = {"temperature": 0.2, "top_p": 0.9}


def sse(obj: dict[str, Any] | str) -> bytes:
    return b"data: " + (obj.encode() if isinstance(obj, str) else orjson.dumps(obj)) + b"\n\n"


@dataclass(frozen=True)
class Prepared:
    gen: GenerateRequest
    include_usage: bool
    model: str  # the name replies carry
    tools: bool = False  # tools offered: <tool_call> blocks in the reply become tool_calls
    forced_call: bool = False  # tool_choice forced a call (so tools were offered): the reply is one {"name", "arguments"}


class OpenAIServing:
    def __init__(self, engine: AsyncEngine, sampling_defaults: dict[str, float] | None = None):
        self.engine = engine
        self.tok = engine.tokenizer
        self.sampling_defaults = sampling_defaults or engine.engine.model_config.sampling_defaults or FALLBACK_SAMPLING

    def _with_defaults(self, body: dict[str, Any]) -> dict[str, Any]:
        missing = {k: v for k, v in self.sampling_defaults.items() if body.get(k) is None}
        return {**body, **missing} if missing else body

    @property
    def model_name(self) -> str:
        return self.engine.model_name

    # -- chat ----------------------------------------------------------------------------

    def chat_request(self, body: dict[str, Any], model: str | None = None) -> Prepared:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise RequestError("'messages' must be a non-empty list of message objects")
        for i, m in enumerate(messages):
            if not isinstance(m.get("role"), str):
                raise RequestError(f"messages[{i}].role must be a string such as 'user' or 'assistant'")
            calls = m.get("tool_calls")
            if calls is not None and not (isinstance(calls, list) and all(_is_call(c) for c in calls)):
                raise RequestError(f"messages[{i}].tool_calls must be a list of {{id, type, function: {{name, arguments}}}} objects")
        tools, forced_schema = proto.tool_plan(body)
        params = proto.sampling_params(self._with_defaults(body), chat=True)
        if forced_schema is not None:
            params = replace(params, json_schema=forced_schema, json_object=False)
        gen = GenerateRequest(params=params, messages=proto.flatten_messages(messages), tools=tools, request_id=f"chatcmpl-{uuid.uuid4().hex}")
        include_usage = proto.include_usage(body)
        return Prepared(self.engine.prepare(gen), include_usage, model or self.model_name, bool(tools), forced_schema is not None)

    @staticmethod
    def _tool_calls(prepared: Prepared, text: str) -> tuple[str, list[dict[str, Any]]]:
        """(content, tool_calls) of a finished reply."""
        if prepared.forced_call:
            calls = proto.forced_tool_call(text)
            return ("" if calls else text), calls
        return proto.parse_tool_calls(text) if prepared.tools else (text, [])

    async def chat(self, prepared: Prepared) -> dict[str, Any]:
        result = await self.engine.complete(prepared.gen)
        text, calls = self._tool_calls(prepared, result.text)
        message: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
        if calls:
            message["tool_calls"] = calls
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls" if calls else result.finish_reason}
        if result.logprobs is not None:
            choice["logprobs"] = proto.chat_logprobs(self.tok, result.logprobs)
        out = proto.envelope("chat.completion", prepared.gen.request_id, prepared.model, [choice])
        out["usage"] = proto.usage(result.prompt_tokens, result.completion_tokens, result.cached_tokens)
        return out

    async def chat_stream(self, prepared: Prepared) -> AsyncIterator[bytes]:
        """Content streams token by token. With tools, text from a `<tool_call>` tag on (or what may
        be the start of one) is held back and sent as tool_calls deltas when the reply ends; a
        forced call is held back whole."""
        gen, created, model = prepared.gen, int(time.time()), prepared.model

        def chunk(delta: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
            return proto.envelope("chat.completion.chunk", gen.request_id, model, [choice], created)

        yield sse(chunk({"role": "assistant", "content": ""}))
        last = None
        held = ""  # text not sent yet because it may belong to a tool call
        pending: list = []  # logprobs of tokens not sent yet: they go out, in order, with the next chunk

        def take_logprobs() -> Any:
            nonlocal pending
            lp, pending = (proto.chat_logprobs(self.tok, pending) if pending else None), []
            return lp

        async for out in self.engine.generate(gen):
            last = out
            pending.extend(out.logprobs or ())
            if not prepared.tools:
                if out.text or pending:
                    yield sse(chunk({"content": out.text}, None, take_logprobs()))
                continue
            held += out.text
            safe = "" if prepared.forced_call else _before_possible_tag(held)
            if safe:
                held = held[len(safe) :]
                yield sse(chunk({"content": safe}, None, take_logprobs()))
        finish = last.finish_reason
        if prepared.tools:
            text, calls = self._tool_calls(prepared, held)
            if text:
                yield sse(chunk({"content": text}, None, take_logprobs()))
            if calls:
                deltas = [{"index": i, **call} for i, call in enumerate(calls)]
                yield sse(chunk({"tool_calls": deltas}, None, take_logprobs()))
                finish = "tool_calls"
        yield sse(chunk({}, finish))
        if prepared.include_usage:
            final = proto.envelope("chat.completion.chunk", gen.request_id, model, [], created)
            final["usage"] = proto.usage(last.prompt_tokens, last.completion_tokens, last.cached_tokens)
            yield sse(final)
        yield sse("[DONE]")

    # -- completions ---------------------------------------------------------------------

    def completion_request(self, body: dict[str, Any], model: str | None = None) -> Prepared:
        prompt = body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (str, list)):
            prompt = prompt[0]
        gen = GenerateRequest(params=proto.sampling_params(self._with_defaults(body), chat=False), request_id=f"cmpl-{uuid.uuid4().hex}")
        if isinstance(prompt, str):
            gen.prompt = prompt
        elif isinstance(prompt, list) and prompt and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
            gen.prompt_token_ids = prompt
        else:
            raise RequestError("'prompt' must be a string or a list of token ids (one prompt per request)")
        if body.get("echo"):
            raise RequestError("'echo' is not supported")
        include_usage = proto.include_usage(body)
        return Prepared(self.engine.prepare(gen), include_usage, model or self.model_name)

    async def completion(self, prepared: Prepared) -> dict[str, Any]:
        result = await self.engine.complete(prepared.gen)
        choice = {"index": 0, "text": result.text, "finish_reason": result.finish_reason, "logprobs": None}
        if result.logprobs is not None:
            choice["logprobs"] = proto.completion_logprobs(self.tok, result.logprobs)
        out = proto.envelope("text_completion", prepared.gen.request_id, prepared.model, [choice])
        out["usage"] = proto.usage(result.prompt_tokens, result.completion_tokens, result.cached_tokens)
        return out

    async def completion_stream(self, prepared: Prepared) -> AsyncIterator[bytes]:
        gen, created, model = prepared.gen, int(time.time()), prepared.model
        last, sent_chars = None, 0
        async for out in self.engine.generate(gen):
            last = out
            if out.text or out.finished:
                lp = proto.completion_logprobs(self.tok, out.logprobs, sent_chars) if out.logprobs else None
                choice = {"index": 0, "text": out.text, "finish_reason": out.finish_reason, "logprobs": lp}
                sent_chars += len(out.text)
                yield sse(proto.envelope("text_completion", gen.request_id, model, [choice], created))
        if prepared.include_usage and last is not None:
            final = proto.envelope("text_completion", gen.request_id, model, [], created)
            final["usage"] = proto.usage(last.prompt_tokens, last.completion_tokens, last.cached_tokens)
            yield sse(final)
        yield sse("[DONE]")


def _before_possible_tag(text: str) -> str:
    """The part of `text` that cannot be the start of a `<tool_call>` tag."""
    at = text.find(proto.TOOL_CALL_OPEN)
    if at >= 0:
        return text[:at]
    for keep in range(min(len(proto.TOOL_CALL_OPEN) - 1, len(text)), 0, -1):
        if proto.TOOL_CALL_OPEN.startswith(text[-keep:]):
            return text[:-keep]
    return text


def _encoded(vector: Any, encoding: str) -> list[float] | str:
    if encoding == "base64":  # what the openai SDK asks for by default: little-endian float32
        return base64.b64encode(vector.astype("<f4").tobytes()).decode()
    return vector.tolist()


def embeddings(body: dict[str, Any], kind: str | None = None) -> dict[str, Any]:
    """OpenAI embeddings from the shared embedder (`kind` "static" or "minilm"; default from body)."""
    from local_engine.embedder import KINDS, get_embedder

    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise RequestError("'input' must be a string or a non-empty list of strings")
    kind = kind or body.get("model") or "static"
    if kind not in KINDS:
        raise RequestError(f"embedding model {kind!r} is not served here (choose one of {', '.join(KINDS)})")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise RequestError("'encoding_format' must be float or base64")
    embedder = get_embedder(kind)
    dimensions = body.get("dimensions")
    if dimensions is not None and dimensions != embedder.dim:
        raise RequestError(f"{embedder.name} embeddings have {embedder.dim} dimensions; 'dimensions' cannot change that")
    vectors = embedder.embed(texts)
    from local_engine.embedder_tokenizer import minilm_tokenizer

    tokens = sum(len(e.ids) for e in minilm_tokenizer().encode_batch(texts))
    data = [{"object": "embedding", "index": i, "embedding": _encoded(v, encoding)} for i, v in enumerate(vectors)]
    return {"object": "list", "data": data, "model": embedder.name, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def _is_call(call: Any) -> bool:
    function = call.get("function") if isinstance(call, dict) else None
    return isinstance(function, dict) and isinstance(function.get("name"), str)
