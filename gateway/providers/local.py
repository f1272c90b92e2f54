"""The local tier in-process: Tokenmill's own engine, spoken to in OpenAI's protocol.

The engine loads in a background thread at start-up (the bundled GGUF takes seconds), so the
gateway answers health checks at once; the first local call waits for the load to finish.
Every `local/...` chat deployment is served by the one configured model; embedding deployments
use the shared embedder ("minilm" when the upstream name says so, else the static one).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import orjson

from billing.usage import TokenUsage
from gateway.providers.base import Call, Reply, UpstreamError, unless_client_gone
from gateway.settings import LocalEngineSettings

log = logging.getLogger(__name__)


class LocalProvider:
    def __init__(self, settings: LocalEngineSettings):
        self._settings = settings
        self._serving: asyncio.Future | None = None
        self._engine = None

    def start(self) -> None:
        """Begin loading the model in a worker thread (call from the running event loop); with
        `local_engine.enabled: false`, never (local chat calls then go to the next deployment)."""
        if self._serving is None and self._settings.enabled:
            self._serving = asyncio.ensure_future(asyncio.to_thread(self._load))

    def _load(self):  # noqa: ANN202 - local_engine.openai_serving.OpenAIServing
        from local_engine.async_engine import AsyncEngine
        from local_engine.config import EngineConfig
        from local_engine.openai_serving import OpenAIServing

        s = self._settings
        try:
            self._engine = AsyncEngine(EngineConfig.for_gateway(s.model, s.device, s.max_batch_size, s.kv_cache_tokens))
        except Exception:
            log.exception("the local engine could not load %s on %s; local chat calls go to the next deployment", s.model or "the bundled model", s.device)
            raise
        log.info("local engine ready: %s on %s", self._engine.model_name, s.device)
        return OpenAIServing(self._engine)

    @property
    def state(self) -> str:
        """idle (no call yet), loading, ready, disabled, or failed: ... (the load, or the engine loop later)."""
        if not self._settings.enabled:
            return "disabled"
        if self._serving is None:
            return "idle"
        if not self._serving.done():
            return "loading"
        if self._serving.cancelled():
            return "failed: cancelled"
        if self._serving.exception() is not None:
            return f"failed: {self._serving.exception()!r}"
        failure = self._engine.failure if self._engine is not None else None
        return "ready" if failure is None else f"failed: {failure!r}"

    @property
    def loop_failed(self) -> bool:
        """The loaded engine's loop stopped: every local call fails until the process restarts."""
        return self._engine is not None and self._engine.failure is not None

    async def _ready(self):  # noqa: ANN202
        if not self._settings.enabled:
            raise UpstreamError(503, "the local engine is disabled (local_engine.enabled: false)", code="local_engine_unavailable", try_next=True)
        self.start()
        try:
            return await asyncio.shield(self._serving)
        except (OSError, ValueError, RuntimeError) as exc:
            raise UpstreamError(503, f"the local engine could not start: {exc}", code="local_engine_unavailable", try_next=True) from exc

    async def send(self, call: Call) -> Reply:
        from local_engine.async_engine import EngineDeadError
        from local_engine.engine import RequestError
        from local_engine.openai_serving import embeddings

        try:
            if call.endpoint == "embeddings":
                kind = "minilm" if "minilm" in call.deployment.litellm_params.upstream_model.lower() else "static"
                body = await asyncio.to_thread(embeddings, call.body, kind)
            else:
                serving = await self._ready()
                name = call.deployment.litellm_params.upstream_model
                if call.endpoint == "chat":
                    work = serving.chat(serving.chat_request(call.body, name))
                else:
                    work = serving.completion(serving.completion_request(call.body, name))
                body = await unless_client_gone(work, call.client_gone, "the local engine")
        except RequestError as exc:
            raise _rejected(exc) from exc
        except EngineDeadError as exc:
            raise UpstreamError(503, str(exc), code="local_engine_unavailable", retryable=True) from exc
        if call.endpoint == "embeddings":
            body["model"] = call.deployment.litellm_params.upstream_model
        return Reply(body=orjson.dumps(body), usage=TokenUsage.from_openai(body.get("usage")))

    async def open_stream(self, call: Call) -> _LocalStream:
        from local_engine.engine import RequestError

        serving = await self._ready()
        name = call.deployment.litellm_params.upstream_model
        try:
            if call.endpoint == "chat":
                events = serving.chat_stream(serving.chat_request(call.body, name))
            else:
                events = serving.completion_stream(serving.completion_request(call.body, name))
        except RequestError as exc:
            raise _rejected(exc) from exc
        return _LocalStream(events)

    async def aclose(self) -> None:
        if self._serving is not None and not self._serving.done():
            await asyncio.gather(self._serving, return_exceptions=True)
        if self._engine is not None:
            await asyncio.to_thread(self._engine.shutdown)


def _rejected(exc: Exception) -> UpstreamError:
    # What the engine cannot serve (n > 1, images, a prompt over its context) another
    # deployment of the route or the fallbacks may: try it.
    code = getattr(exc, "code", None) or "local_rejected"
    return UpstreamError(400, str(exc), type="invalid_request_error", code=code, try_next=True)


class _LocalStream:
    def __init__(self, events: AsyncIterator[bytes]):
        self._events = events

    async def __aiter__(self) -> AsyncIterator[bytes]:
        from local_engine.async_engine import EngineDeadError

        try:
            async for event in self._events:
                yield event
        except EngineDeadError as exc:
            raise UpstreamError(503, str(exc), code="local_engine_unavailable") from exc

    def close(self) -> None:
        # Closing the engine's generator aborts the request and frees its KV blocks; it is
        # async, so it is scheduled (this runs in the `finally` of a cancelled stream).
        asyncio.get_running_loop().create_task(self._events.aclose())
