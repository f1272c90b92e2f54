"""A fake OpenAI-compatible provider on loopback, scripted per test.

It answers chat (echoing the last user message), completions and embeddings, streams word by
word, emits tool calls when tools are offered, and can be told to fail, stall or die mid-stream.
Usage numbers are deterministic functions of the request so tests can check the ledger.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.server import ThreadedServer


@dataclass
class Failure:
    status: int
    retry_after: float | None = None


@dataclass
class Raw:
    """A reply sent as is, for upstreams that break the rules (bad usage, HTML errors, odd streams)."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"


@dataclass
class Script:
    """Behaviour for one upstream model name."""

    failures: list[Failure] = field(default_factory=list)  # returned before any success, in order
    reply: str | None = None  # fixed reply text instead of the echo
    first_byte_delay: float = 0.0
    chunk_delay: float = 0.0
    die_after_chunks: int | None = None  # drop the connection mid-stream
    omit_usage: bool = False
    logprob: float = -0.05  # every token's logprob when the request asks for logprobs
    raw: Raw | None = None  # answer every call with these bytes instead
    honour_max_tokens: bool = False  # cut the reply at max_tokens words, finishing with "length"


def prompt_tokens_of(body: dict[str, Any]) -> int:
    """The fake's own token count: one per 4 bytes of the messages JSON, at least 1."""
    source = body.get("messages") or body.get("prompt") or body.get("input") or ""
    return max(1, len(orjson.dumps(source)) // 4)


def reply_words(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


class FakeOpenAI:
    def __init__(self, api_key: str = "sk-upstream-test"):
        self.api_key = api_key
        self.scripts: dict[str, Script] = {}
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.completed_streams = 0
        self.aborted_streams = 0
        self.abandoned_requests = 0  # the caller hung up during first_byte_delay
        self._ids = itertools.count(1)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_post("/v1/embeddings", self._embeddings)
        self.server = ThreadedServer(app)

    @property
    def base_url(self) -> str:
        return self.server.url + "/v1"

    def start(self) -> FakeOpenAI:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def script(self, model: str, **kwargs: Any) -> Script:
        self.scripts[model] = Script(**kwargs)
        return self.scripts[model]

    def reset(self) -> None:
        self.scripts.clear()
        self.requests.clear()
        self.headers.clear()

    # -- handlers ------------------------------------------------------------------------

    async def _admit(self, request: web.Request) -> tuple[dict[str, Any], Script] | web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": {"message": "bad upstream key", "type": "invalid_request_error"}}, status=401)
        body = orjson.loads(await request.read())
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        script = self.scripts.get(body.get("model", ""), Script())
        if script.first_byte_delay:
            await asyncio.sleep(script.first_byte_delay)
            if request.transport is None or request.transport.is_closing():
                self.abandoned_requests += 1
        if script.failures:
            failure = script.failures.pop(0)
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            return web.json_response(
                {"error": {"message": f"scripted failure {failure.status}", "type": "server_error"}}, status=failure.status, headers=headers
            )
        if script.raw is not None:
            return web.Response(body=script.raw.body, status=script.raw.status, headers={"Content-Type": script.raw.content_type})
        return body, script

    def _answer(self, body: dict[str, Any], script: Script) -> str:
        if script.reply is not None:
            return script.reply
        messages = body.get("messages") or []
        last_user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
        content = last_user.get("content")
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        return f"echo: {content}"

    @staticmethod
    def _tool_call(body: dict[str, Any]) -> dict[str, Any] | None:
        tools = body.get("tools")
        if not tools or body.get("tool_choice") == "none":
            return None
        if tools[0].get("type") == "custom":  # a free-form tool: its call carries input text
            return {"id": "call_fake_1", "type": "custom", "custom": {"name": tools[0]["custom"]["name"], "input": "*** Begin Patch\n*** End Patch"}}
        name = tools[0]["function"]["name"]
        return {"id": "call_fake_1", "type": "function", "function": {"name": name, "arguments": '{"city": "Paris", "unit": "celsius"}'}}

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        admitted = await self._admit(request)
        if isinstance(admitted, web.Response):
            return admitted
        body, script = admitted
        text = self._answer(body, script)
        finish = "stop"
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        if script.honour_max_tokens and limit and len(reply_words(text)) > limit:
            text, finish = "".join(reply_words(text)[:limit]), "length"
        tool_call = self._tool_call(body)
        completion_tokens = 12 if tool_call else len(reply_words(text))
        usage = {"prompt_tokens": prompt_tokens_of(body), "completion_tokens": completion_tokens, "total_tokens": prompt_tokens_of(body) + completion_tokens}
        cid = f"chatcmpl-fake{next(self._ids)}"
        if body.get("stream"):
            return await self._stream_chat(request, body, script, cid, text, tool_call, usage)
        message: dict[str, Any] = {"role": "assistant", "content": None if tool_call else text}
        if tool_call:
            message["tool_calls"] = [tool_call]
        n = body.get("n") or 1
        reply = {
            "id": cid,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": i, "message": message, "finish_reason": "tool_calls" if tool_call else finish, "logprobs": None} for i in range(n)],
        }
        if body.get("logprobs") and not tool_call:
            content = [{"token": w, "logprob": script.logprob, "bytes": list(w.encode()), "top_logprobs": []} for w in reply_words(text)]
            for choice in reply["choices"]:
                choice["logprobs"] = {"content": content}
        if not script.omit_usage:
            reply["usage"] = usage
        return web.Response(body=orjson.dumps(reply), content_type="application/json")

    async def _stream_chat(self, request, body, script, cid, text, tool_call, usage) -> web.StreamResponse:  # noqa: ANN001
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        base = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": body["model"]}

        def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            return b"data: " + orjson.dumps({**base, "choices": choices, **extra}) + b"\n\n"

        if tool_call:
            kind = tool_call["type"]
            part, field = ("custom", "input") if kind == "custom" else ("function", "arguments")
            args = tool_call[part][field]
            pieces = [
                {"index": 0, "id": tool_call["id"], "type": kind, part: {"name": tool_call[part]["name"], field: ""}},
                *({"index": 0, part: {field: args[i : i + 8]}} for i in range(0, len(args), 8)),
            ]
            deltas = [{"role": "assistant", "content": None, "tool_calls": [pieces[0]]}] + [{"tool_calls": [p]} for p in pieces[1:]]
            finish = "tool_calls"
        else:
            deltas = [{"role": "assistant", "content": ""}] + [{"content": w} for w in reply_words(text)]
            finish = "stop"
        try:
            for i, delta in enumerate(deltas):
                if script.die_after_chunks is not None and i >= script.die_after_chunks:
                    self.aborted_streams += 1
                    request.transport.close()  # the upstream dies without finishing
                    return response
                await response.write(event([{"index": 0, "delta": delta, "finish_reason": None, "logprobs": None}]))
                if script.chunk_delay:
                    await asyncio.sleep(script.chunk_delay)
            await response.write(event([{"index": 0, "delta": {}, "finish_reason": finish, "logprobs": None}]))
            if (body.get("stream_options") or {}).get("include_usage") and not script.omit_usage:
                await response.write(event([], usage=usage))
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
            self.completed_streams += 1
        except (ConnectionResetError, asyncio.CancelledError):
            self.aborted_streams += 1
            raise
        return response

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        admitted = await self._admit(request)
        if isinstance(admitted, web.Response):
            return admitted
        body, script = admitted
        prompt = body.get("prompt")
        text = script.reply if script.reply is not None else f"echo: {prompt if isinstance(prompt, str) else prompt[0]}"
        usage = {"prompt_tokens": prompt_tokens_of(body), "completion_tokens": len(reply_words(text)), "total_tokens": 0}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        base = {"id": f"cmpl-fake{next(self._ids)}", "object": "text_completion", "created": int(time.time()), "model": body["model"]}
        if body.get("stream"):
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            for word in reply_words(text):
                await response.write(b"data: " + orjson.dumps({**base, "choices": [{"index": 0, "text": word, "finish_reason": None, "logprobs": None}]}) + b"\n\n")
            if (body.get("stream_options") or {}).get("include_usage"):
                await response.write(b"data: " + orjson.dumps({**base, "choices": [], "usage": usage}) + b"\n\n")
            await response.write(b"data: [DONE]\n\n")
            return response
        reply = {**base, "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}], "usage": usage}
        return web.Response(body=orjson.dumps(reply), content_type="application/json")

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        admitted = await self._admit(request)
        if isinstance(admitted, web.Response):
            return admitted
        body, _ = admitted
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for i, text in enumerate(inputs):
            digest = hashlib.sha256(str(text).encode()).digest()
            data.append({"object": "embedding", "index": i, "embedding": [b / 255.0 for b in digest[:8]]})
        tokens = prompt_tokens_of(body)
        reply = {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        return web.Response(body=orjson.dumps(reply), content_type="application/json")
