"""Async front of the engine for in-process callers (the gateway) and the HTTP server.

A background thread steps the scheduler whenever work exists; each request streams its
deltas through an asyncio.Queue. Closing the stream early (client disconnect, cancellation)
aborts the request and frees its KV blocks.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

from local_engine.chat_template import TemplateError
from local_engine.config import EngineConfig
from local_engine.engine import LLMEngine, RequestError, RequestOutput
from local_engine.loader import LoadedModel
from local_engine.sequence import SamplingParams, TokenLogprob

log = logging.getLogger(__name__)


@dataclass
class GenerateRequest:
    """Exactly one of messages (chat), prompt (text) or prompt_token_ids."""

    params: SamplingParams = field(default_factory=SamplingParams)
    messages: list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    prompt: str | None = None
    prompt_token_ids: list[int] | None = None
    request_id: str | None = None
    chat_template_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class GenerateResult:
    """A whole completion (non-streaming)."""

    request_id: str
    text: str
    token_ids: list[int]
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    logprobs: list[TokenLogprob] | None


class EngineDeadError(RuntimeError):
    """The engine loop crashed; the message carries the original error."""


class _TextAlignedLogprobs:
    """With stop strings the engine holds back text that may begin one and cuts the text where one
    begins. A token's logprob waits until its text has gone out, and never goes if it does not."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.logprobs: list[TokenLogprob] = []
        self.sent = 0
        self.chars = 0

    def release(self, out: RequestOutput) -> RequestOutput:
        self.ids.extend(out.token_ids)
        self.logprobs.extend(out.logprobs or ())
        self.chars += len(out.text)
        covered = self.sent
        while covered < len(self.logprobs) and len(self.tokenizer.decode(self.ids[: covered + 1])) <= self.chars:
            covered += 1
        ready, self.sent = self.logprobs[self.sent : covered], covered
        return replace(out, logprobs=ready)


class AsyncEngine:
    def __init__(self, cfg: EngineConfig | None = None, loaded: LoadedModel | None = None):
        self.engine = LLMEngine(cfg or EngineConfig(), loaded)
        self.tokenizer = self.engine.tokenizer
        self._inbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._wake = threading.Event()
        self._streams: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = {}
        self._stopped = False
        self._dead: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="local-engine", daemon=True)
        self._thread.start()

    @property
    def model_name(self) -> str:
        return self.engine.model_name

    # ---- caller side --------------------------------------------------------------------------
    def prepare(self, request: GenerateRequest) -> GenerateRequest:
        """Tokenize and validate (template, ids, context length, JSON schema) in the caller's thread.

        Returns the request carrying prompt_token_ids, so errors surface before any streaming.
        """
        ids = self.encode(request)
        self.engine.check_request(ids, request.params)
        return replace(request, messages=None, tools=None, prompt=None, prompt_token_ids=ids)

    def encode(self, request: GenerateRequest) -> list[int]:
        tok = self.tokenizer
        given = [x is not None for x in (request.messages, request.prompt, request.prompt_token_ids)]
        if sum(given) != 1:
            raise RequestError("give exactly one of messages, prompt or prompt_token_ids")
        if request.messages is not None:
            try:
                return tok.encode_chat(request.messages, tools=request.tools, **request.chat_template_kwargs)
            except TemplateError as exc:
                raise RequestError(str(exc)) from exc
        if request.prompt is not None:
            return tok.encode(request.prompt, add_special_tokens=True)
        return list(request.prompt_token_ids)

    async def generate(self, request: GenerateRequest) -> AsyncIterator[RequestOutput]:
        """Stream deltas (text, token ids, logprobs) until one with finished=True.

        Raises RequestError for a request the engine cannot serve (before any output).
        """
        if self._dead is not None:
            raise EngineDeadError(f"the engine loop stopped: {self._dead!r}")
        prompt_ids = self.encode(request)
        rid = request.request_id or f"req-{uuid.uuid4().hex}"
        stream: asyncio.Queue = asyncio.Queue()
        self._streams[rid] = (asyncio.get_running_loop(), stream)
        self._send("add", (rid, prompt_ids, request.params))
        p = request.params
        aligned = _TextAlignedLogprobs(self.tokenizer) if p.stop and (p.logprobs or p.top_logprobs) else None
        finished = False
        try:
            while True:
                item = await stream.get()
                if isinstance(item, BaseException):
                    raise item
                finished = item.finished
                yield item if aligned is None else aligned.release(item)
                if finished:
                    return
        finally:
            self._streams.pop(rid, None)
            if not finished:
                self._send("abort", rid)

    async def complete(self, request: GenerateRequest) -> GenerateResult:
        """Run a request to the end and return the whole completion."""
        text, ids, logprobs, last = [], [], [], None
        async for out in self.generate(request):
            text.append(out.text)
            ids.extend(out.token_ids)
            if out.logprobs:
                logprobs.extend(out.logprobs)
            last = out
        wants_logprobs = request.params.logprobs or request.params.top_logprobs
        return GenerateResult(
            request_id=last.request_id,
            text="".join(text),
            token_ids=ids,
            finish_reason=last.finish_reason,
            prompt_tokens=last.prompt_tokens,
            completion_tokens=last.completion_tokens,
            cached_tokens=last.cached_tokens,
            logprobs=logprobs if wants_logprobs else None,  # generate() already kept them to the text
        )

    def num_requests(self) -> int:
        return len(self.engine.requests)

    @property
    def failure(self) -> BaseException | None:
        """Why the engine loop stopped (every request now fails), or None while it runs."""
        return self._dead

    def shutdown(self) -> None:
        self._stopped = True
        self._wake.set()
        self._thread.join(timeout=10)

    # ---- engine thread ------------------------------------------------------------------------
    def _send(self, kind: str, payload: Any) -> None:
        self._inbox.put((kind, payload))
        self._wake.set()

    def _deliver(self, rid: str, item: Any) -> None:
        target = self._streams.get(rid)
        if target is None:
            return
        loop, stream = target
        try:
            loop.call_soon_threadsafe(stream.put_nowait, item)
        except RuntimeError:  # the caller's loop is closed: nobody listens any more
            self._inbox.put(("abort", rid))

    def _drain_inbox(self) -> None:
        while True:
            try:
                kind, payload = self._inbox.get_nowait()
            except queue.Empty:
                return
            if kind == "add":
                rid, prompt_ids, params = payload
                if rid not in self._streams:  # cancelled before it started
                    continue
                try:
                    self.engine.add_request(rid, prompt_ids, params)
                except (RequestError, ValueError) as exc:
                    self._deliver(rid, exc if isinstance(exc, RequestError) else RequestError(str(exc)))
            else:
                self.engine.abort(payload)

    def _loop(self) -> None:
        while not self._stopped:
            self._drain_inbox()
            if not self.engine.has_unfinished():
                self._wake.wait(timeout=1.0)
                self._wake.clear()
                continue
            try:
                outputs = self.engine.step()
            except Exception as exc:  # a bug or OOM: fail every open request loudly, keep no half state
                log.exception("engine step failed")
                self._dead = exc
                for rid in list(self.engine.requests):
                    self._deliver(rid, EngineDeadError(f"engine step failed: {exc!r}"))
                    self.engine.abort(rid)
                return
            for out in outputs:
                self._deliver(out.request_id, out)
