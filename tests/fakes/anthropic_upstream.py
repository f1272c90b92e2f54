"""A fake Anthropic Messages API on loopback (reached through litellm), with prompt-cache usage."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.server import ThreadedServer


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(block.get("text", "") for block in content or [] if isinstance(block, dict))


class FakeAnthropic:
    def __init__(self, api_key: str = "sk-ant-test"):
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.cache_read_tokens = 0  # what the next reply reports as read from the prompt cache
        self.overloaded_streams = 0  # this many streams answer 200 and then only an overloaded_error event
        self.truncated_streams = 0  # this many streams end after two words, without message_delta or message_stop
        self._ids = itertools.count(1)
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/messages", self._messages)
        self.server = ThreadedServer(app)

    @property
    def base_url(self) -> str:
        return self.server.url

    def start(self) -> FakeAnthropic:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def usage_for(self, body: dict[str, Any], output_tokens: int) -> dict[str, int]:
        total_in = max(1, len(orjson.dumps(body.get("messages")) + orjson.dumps(body.get("system") or "")) // 4)
        read = min(self.cache_read_tokens, total_in)
        return {"input_tokens": total_in - read, "output_tokens": output_tokens, "cache_read_input_tokens": read, "cache_creation_input_tokens": 0}

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("x-api-key") != self.api_key:
            return web.json_response({"type": "error", "error": {"type": "authentication_error", "message": "bad key"}}, status=401)
        body = orjson.loads(await request.read())
        self.requests.append(body)
        self.paths.append(request.path)
        last = next((m for m in reversed(body["messages"]) if m["role"] == "user"), {"content": ""})
        text = f"claude says: {_text_of(last['content'])}"
        words = text.split(" ")
        usage = self.usage_for(body, len(words))
        mid = f"msg_fake{next(self._ids)}"
        if not body.get("stream"):
            return web.json_response(
                {
                    "id": mid,
                    "type": "message",
                    "role": "assistant",
                    "model": body["model"],
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": usage,
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)

        async def send(kind: str, data: dict[str, Any]) -> None:
            await response.write(f"event: {kind}\n".encode() + b"data: " + orjson.dumps({"type": kind, **data}) + b"\n\n")

        if self.overloaded_streams > 0:
            self.overloaded_streams -= 1
            await send("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})
            return response

        start_usage = {**usage, "output_tokens": 1}
        await send("message_start", {"message": {"id": mid, "type": "message", "role": "assistant", "model": body["model"], "content": [], "stop_reason": None, "usage": start_usage}})
        await send("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        truncated = self.truncated_streams > 0
        self.truncated_streams -= int(truncated)
        for i, word in enumerate(words):
            if truncated and i == 2:
                return response
            await send("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": word + (" " if i < len(words) - 1 else "")}})
        await send("content_block_stop", {"index": 0})
        await send("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": usage["output_tokens"]}})
        await send("message_stop", {})
        return response
