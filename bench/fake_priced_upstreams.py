"""Fake LLM providers on loopback that bill prompt caching the way Anthropic and OpenAI do.

Both fakes turn the request into one provider-neutral `Prompt` and ask a bench-supplied
`think(prompt) -> Answer` what to reply, so the answer depends on the conversation's content
only: never on cache hints, the wire format or the model name. Input tokens are billed by the
provider's prompt-cache rules and reported in the provider's own usage fields; each fake also
keeps its own invoice (at the prices it is given) to check the gateway's ledger against.

- `FakeAnthropicAPI` (Messages API, reached through litellm with `anthropic/...` models):
  a prefix is cached only up to an explicit `cache_control` breakpoint whose prefix reaches
  `min_cacheable` tokens; a breakpoint reads the longest prefix written before within 20
  blocks back; the rest up to the last breakpoint is written (1.25x), reads cost 0.1x. Usage:
  input_tokens (uncached), cache_creation_input_tokens, cache_read_input_tokens.
- `FakeOpenAIAPI` (chat completions): caching is automatic, scoped by model and then by
  `prompt_cache_key` (absent = one shared pool per model); prompts of 1,024 tokens or more read their longest earlier-seen
  prefix, in 128-token steps. Usage: prompt_tokens_details.cached_tokens.

Tokens are counted as 4 characters each, on the text of each block.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.server import ThreadedServer

ANTHROPIC_LOOKBACK_BLOCKS = 20
OPENAI_MIN_CACHED = 1024
OPENAI_CACHE_STEP = 128


@dataclass(frozen=True)
class Prices:
    """USD per token, as the provider invoices them."""

    input: float
    output: float
    cache_read: float
    cache_write: float


# Published list prices (USD per million tokens / 1e6), kept independent of the gateway's price book.
CLAUDE_SONNET_4_5 = Prices(3e-6, 15e-6, 0.30e-6, 3.75e-6)
GPT_4O = Prices(2.5e-6, 10e-6, 1.25e-6, 2.5e-6)
GPT_4_1 = Prices(2e-6, 8e-6, 0.50e-6, 2e-6)
GPT_4O_MINI = Prices(0.15e-6, 0.6e-6, 0.075e-6, 0.15e-6)


def approx_tokens(text: str) -> int:
    return (len(text) + 3) // 4


# ---------------------------------------------------------------- the provider-neutral prompt


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text


@dataclass(frozen=True)
class Turn:
    role: str  # user | assistant | tool
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True)
class Prompt:
    system: str
    turns: tuple[Turn, ...]
    tools: tuple[str, ...]  # names of the tools offered
    tool_choice: Any = None
    response_format: Any = None

    def digest(self) -> str:
        payload = [
            self.system,
            [(t.role, t.text, [(c.id, c.name, c.arguments) for c in t.tool_calls], t.tool_call_id) for t in self.turns],
            self.tools,
            self.tool_choice,
            self.response_format,
        ]
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def last_user(self) -> str:
        return next((t.text for t in reversed(self.turns) if t.role == "user"), "")


@dataclass(frozen=True)
class Answer:
    text: str | None
    tool_calls: tuple[tuple[str, str], ...] = ()  # (name, JSON arguments)

    def output_tokens(self) -> int:
        return max(1, approx_tokens((self.text or "") + "".join(n + a for n, a in self.tool_calls)))


Think = Callable[[Prompt], Answer]


def _text(content: Any) -> str:
    """The text of an OpenAI or Anthropic content value (string or list of blocks)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_text(p.get("text", p.get("content"))) if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def _has_cache_control(value: Any) -> bool:
    if isinstance(value, dict):
        return "cache_control" in value or any(_has_cache_control(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_cache_control(v) for v in value)
    return False


def _block_text(block: dict[str, Any]) -> str:
    """What an Anthropic content block holds, whatever its wire form: a string and a list of
    text blocks are the same content (and the same cached prefix)."""
    kind = block.get("type")
    if kind == "tool_use":
        return f"tool_use {block.get('id')} {block.get('name')} {json.dumps(block.get('input'), sort_keys=True)}"
    if kind == "tool_result":
        return f"tool_result {block.get('tool_use_id')} {_text(block.get('content'))}"
    return f"{kind} {_text([block])}"


def _strip_cache_control(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_strip_cache_control(v) for v in value]
    return value


# ---------------------------------------------------------------- prompt-cache rules


@dataclass(frozen=True)
class Bill:
    prompt_tokens: int
    cache_read: int
    cache_write: int
    output_tokens: int

    def cost(self, prices: Prices) -> float:
        uncached = self.prompt_tokens - self.cache_read - self.cache_write
        return (
            uncached * prices.input
            + self.cache_read * prices.cache_read
            + self.cache_write * prices.cache_write
            + self.output_tokens * prices.output
        )


def _prefix_hashes(blocks: list[str]) -> tuple[list[int], list[str]]:
    cumulative, hashes, h, total = [], [], hashlib.sha256(), 0
    for text in blocks:
        h.update(text.encode())
        h.update(b"\x00")
        total += approx_tokens(text)
        cumulative.append(total)
        hashes.append(h.hexdigest())
    return cumulative, hashes


def anthropic_cache(blocks: list[tuple[str, bool]], seen: set[str], min_cacheable: int) -> tuple[int, int, int]:
    """(prompt tokens, read, written) by Anthropic's rules; `seen` holds the prefixes written so far."""
    cumulative, hashes = _prefix_hashes([text for text, _ in blocks])
    total = cumulative[-1] if cumulative else 0
    breakpoints = [i for i, (_, marked) in enumerate(blocks) if marked and cumulative[i] >= min_cacheable]
    read = 0
    for bp in breakpoints:
        for j in range(bp, max(-1, bp - ANTHROPIC_LOOKBACK_BLOCKS), -1):
            if hashes[j] in seen:
                read = max(read, cumulative[j])
                break
    write = max(0, cumulative[breakpoints[-1]] - read) if breakpoints else 0
    seen.update(hashes[i] for i in breakpoints)
    return total, read, write


def openai_cache(blocks: list[str], seen: set[str]) -> tuple[int, int]:
    """(prompt tokens, cached) by OpenAI's automatic rules; `seen` holds this cache key's prefixes."""
    cumulative, hashes = _prefix_hashes(blocks)
    total = cumulative[-1] if cumulative else 0
    if total < OPENAI_MIN_CACHED:
        return total, 0
    read = max((c for c, h in zip(cumulative, hashes, strict=True) if h in seen), default=0)
    read = read // OPENAI_CACHE_STEP * OPENAI_CACHE_STEP if read >= OPENAI_MIN_CACHED else 0
    seen.update(h for c, h in zip(cumulative, hashes, strict=True) if c >= OPENAI_MIN_CACHED)
    return total, read


# ---------------------------------------------------------------- the servers


@dataclass
class Ledger:
    """What the fake provider would invoice."""

    calls: int = 0
    prompt_tokens: int = 0
    cache_read: int = 0
    cache_write: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    by_model: dict[str, int] = field(default_factory=dict)

    def add(self, model: str, bill: Bill, prices: Prices) -> None:
        self.calls += 1
        self.prompt_tokens += bill.prompt_tokens
        self.cache_read += bill.cache_read
        self.cache_write += bill.cache_write
        self.output_tokens += bill.output_tokens
        self.cost_usd += bill.cost(prices)
        self.by_model[model] = self.by_model.get(model, 0) + 1


class _FakeProvider:
    def __init__(self, think: Think, prices: dict[str, Prices], api_key: str, prompt_caching: bool):
        self.think = think
        self.prices = prices  # by upstream model name
        self.api_key = api_key
        self.prompt_caching = prompt_caching
        self.requests: list[dict[str, Any]] = []
        self.ledger = Ledger()
        self._seen: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self.server: ThreadedServer

    def reset(self, prompt_caching: bool | None = None) -> None:
        """Forget the prompt cache, the requests and the invoice (a fresh account)."""
        with self._lock:
            self.requests.clear()
            self.ledger = Ledger()
            self._seen.clear()
            if prompt_caching is not None:
                self.prompt_caching = prompt_caching

    def price(self, model: str) -> Prices:
        if model not in self.prices:
            raise web.HTTPBadRequest(
                text=json.dumps({"error": {"message": f"unknown model {model!r}", "type": "invalid_request_error"}}),
                content_type="application/json",
            )
        return self.prices[model]

    def start(self) -> _FakeProvider:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()


class FakeAnthropicAPI(_FakeProvider):
    def __init__(
        self, think: Think, prices: dict[str, Prices], api_key: str = "sk-ant-bench", prompt_caching: bool = True, min_cacheable: int = 1024
    ):
        super().__init__(think, prices, api_key, prompt_caching)
        self.min_cacheable = min_cacheable
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/messages", self._messages)
        self.server = ThreadedServer(app)

    @property
    def base_url(self) -> str:
        return self.server.url

    @staticmethod
    def blocks(body: dict[str, Any]) -> list[tuple[str, bool]]:
        """Cache blocks in Anthropic's prefix order: tools, system, then every message's blocks."""
        out: list[tuple[str, bool]] = []
        for tool in body.get("tools") or []:
            out.append((json.dumps(_strip_cache_control(tool), sort_keys=True), _has_cache_control(tool)))
        system = body.get("system")
        for block in [{"type": "text", "text": system}] if isinstance(system, str) else system or []:
            out.append(("system:" + _text([block]), _has_cache_control(block)))
        for message in body.get("messages") or []:
            content = message.get("content")
            for block in [{"type": "text", "text": content}] if isinstance(content, str) else content or []:
                out.append((message["role"] + ":" + _block_text(block), _has_cache_control(block)))
        return out

    @staticmethod
    def prompt(body: dict[str, Any]) -> Prompt:
        system = body.get("system")
        turns: list[Turn] = []
        for message in body.get("messages") or []:
            content = message.get("content")
            blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
            texts, calls = [], []
            for block in blocks:
                kind = block.get("type")
                if kind == "tool_result":
                    turns.append(Turn("tool", _text(block.get("content")), tool_call_id=block.get("tool_use_id")))
                elif kind == "tool_use":
                    calls.append(ToolCall(block["id"], block["name"], json.dumps(block.get("input") or {}, sort_keys=True)))
                elif kind == "text":
                    texts.append(block.get("text", ""))
            if texts or calls:
                turns.append(Turn(message["role"], "".join(texts), tuple(calls)))
        tool_choice = body.get("tool_choice")
        return Prompt(
            _text(system),
            tuple(turns),
            tuple(t.get("name", "") for t in body.get("tools") or []),
            tool_choice.get("type") if isinstance(tool_choice, dict) else tool_choice,
        )

    async def _messages(self, request: web.Request) -> web.Response:
        if request.headers.get("x-api-key") != self.api_key:
            return web.json_response({"type": "error", "error": {"type": "authentication_error", "message": "bad key"}}, status=401)
        body = orjson.loads(await request.read())
        prices = self.price(body["model"])
        prompt = self.prompt(body)
        answer = self.think(prompt)
        digest = prompt.digest()
        with self._lock:
            self.requests.append(body)
            seen = self._seen.setdefault("account", set()) if self.prompt_caching else set()
            total, read, write = anthropic_cache(self.blocks(body), seen, self.min_cacheable)
            bill = Bill(total, read, write, answer.output_tokens())
            self.ledger.add(body["model"], bill, prices)
        content: list[dict[str, Any]] = []
        if answer.text:
            content.append({"type": "text", "text": answer.text})
        for i, (name, arguments) in enumerate(answer.tool_calls):
            content.append({"type": "tool_use", "id": f"toolu_{digest[:20]}{i}", "name": name, "input": json.loads(arguments)})
        usage = {
            "input_tokens": total - read - write,
            "output_tokens": bill.output_tokens,
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
        }
        return web.json_response(
            {
                "id": f"msg_{digest[:20]}",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": content,
                "stop_reason": "tool_use" if answer.tool_calls else "end_turn",
                "stop_sequence": None,
                "usage": usage,
            }
        )


class FakeOpenAIAPI(_FakeProvider):
    def __init__(self, think: Think, prices: dict[str, Prices], api_key: str = "sk-openai-bench", prompt_caching: bool = True):
        super().__init__(think, prices, api_key, prompt_caching)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        self.server = ThreadedServer(app)

    @property
    def base_url(self) -> str:
        return self.server.url + "/v1"

    @staticmethod
    def blocks(body: dict[str, Any]) -> list[str]:
        out = [json.dumps(tool, sort_keys=True) for tool in body.get("tools") or []]
        for m in body.get("messages") or []:
            out.append(json.dumps([m.get("role"), _text(m.get("content")), m.get("tool_calls"), m.get("tool_call_id")], sort_keys=True))
        return out

    @staticmethod
    def prompt(body: dict[str, Any]) -> Prompt:
        system, turns = "", []
        for m in body.get("messages") or []:
            if m.get("role") in ("system", "developer"):
                system += _text(m.get("content"))
                continue
            calls = tuple(
                ToolCall(c["id"], c["function"]["name"], json.dumps(json.loads(c["function"]["arguments"] or "{}"), sort_keys=True))
                for c in m.get("tool_calls") or []
            )
            turns.append(Turn(m["role"], _text(m.get("content")), calls, m.get("tool_call_id")))
        return Prompt(
            system,
            tuple(turns),
            tuple(t["function"]["name"] for t in body.get("tools") or []),
            body.get("tool_choice"),
            body.get("response_format"),
        )

    async def _chat(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": {"message": "bad upstream key", "type": "invalid_request_error"}}, status=401)
        body = orjson.loads(await request.read())
        if body.get("stream"):
            return web.json_response({"error": {"message": "this fake does not stream", "type": "invalid_request_error"}}, status=400)
        prices = self.price(body["model"])
        prompt = self.prompt(body)
        answer = self.think(prompt)
        digest = prompt.digest()
        with self._lock:
            self.requests.append(body)
            scope = f"{body['model']}|{body.get('prompt_cache_key') or ''}"  # caches are per model, then per key
            seen = self._seen.setdefault(scope, set()) if self.prompt_caching else set()
            total, read = openai_cache(self.blocks(body), seen)
            bill = Bill(total, read, 0, answer.output_tokens())
            self.ledger.add(body["model"], bill, prices)
        message: dict[str, Any] = {"role": "assistant", "content": answer.text}
        if answer.tool_calls:
            message["tool_calls"] = [
                {"id": f"call_{digest[:20]}{i}", "type": "function", "function": {"name": n, "arguments": a}}
                for i, (n, a) in enumerate(answer.tool_calls)
            ]
        usage = {
            "prompt_tokens": total,
            "completion_tokens": bill.output_tokens,
            "total_tokens": total + bill.output_tokens,
            "prompt_tokens_details": {"cached_tokens": read},
        }
        return web.json_response(
            {
                "id": f"chatcmpl-{digest[:20]}",
                "object": "chat.completion",
                "created": 1700000000,
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls" if answer.tool_calls else "stop"}
                ],
                "usage": usage,
            }
        )
