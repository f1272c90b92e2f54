"""Every other provider (Anthropic, Bedrock, Vertex, Gemini, ...) through litellm's async API.

litellm is imported on first use: it is slow to import and, unless told otherwise, fetches
its price map from the network at import time.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import orjson

from billing.usage import TokenUsage
from gateway.providers.base import Call, Reply, UpstreamError, error_for_status, retry_after_seconds

_litellm: Any = None
_APIError: type[Exception] = Exception  # replaced by openai.APIError, litellm's error base, on load


def load_litellm() -> Any:
    """litellm, imported once (it is slow) and set up offline: the bundled price map, no telemetry."""
    global _litellm, _APIError
    if _litellm is None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        os.environ.setdefault("LITELLM_LOG", "ERROR")
        import litellm
        import openai

        _APIError = openai.APIError
        litellm.telemetry = False
        litellm.drop_params = True
        _litellm = litellm
    return _litellm


def _translate_error(exc: Exception, deployment_id: str) -> UpstreamError:
    status = getattr(exc, "status_code", None) or 502
    message = getattr(exc, "message", None) or str(exc)
    if status == 408 or "timeout" in type(exc).__name__.lower():
        return UpstreamError(504, f"upstream {deployment_id} timed out", type="timeout", code="upstream_timeout", retryable=True)
    headers = getattr(getattr(exc, "response", None), "headers", None)  # the HTTP response litellm's error carries
    return error_for_status(status, message, retry_after=retry_after_seconds(headers))


def _kwargs(call: Call) -> dict[str, Any]:
    params = call.deployment.litellm_params
    kwargs = {k: v for k, v in call.body.items() if k != "model"}
    kwargs.update(
        model=params.model,
        api_base=params.api_base,
        api_key=params.resolved_api_key(),
        timeout=params.timeout,
        num_retries=0,  # retries and fallbacks are the dispatcher's job
    )
    if params.api_version:
        kwargs["api_version"] = params.api_version
    if params.extra_headers or call.extra_headers:
        kwargs["extra_headers"] = {**params.extra_headers, **call.extra_headers}
    return {k: v for k, v in kwargs.items() if v is not None}


class LiteLLMProvider:
    async def send(self, call: Call) -> Reply:
        lib = load_litellm()
        try:
            if call.endpoint == "chat":
                response = await lib.acompletion(**_kwargs(call))
            elif call.endpoint == "completions":
                response = await lib.atext_completion(**_kwargs(call))
            else:
                response = await lib.aembedding(**_kwargs(call))
        except _APIError as exc:
            raise _translate_error(exc, call.deployment.id) from exc
        body = response.model_dump(exclude_none=True)
        body.pop("_hidden_params", None)
        return Reply(body=orjson.dumps(body), usage=TokenUsage.from_openai(body.get("usage")))

    async def open_stream(self, call: Call) -> _LiteLLMStream:
        lib = load_litellm()
        try:
            stream = await lib.acompletion(**_kwargs(call)) if call.endpoint == "chat" else await lib.atext_completion(**_kwargs(call))
        except _APIError as exc:
            raise _translate_error(exc, call.deployment.id) from exc
        return _LiteLLMStream(stream, call.deployment.id)

    async def aclose(self) -> None:
        return None


class _LiteLLMStream:
    def __init__(self, stream: Any, deployment_id: str):
        self._stream = stream
        self._deployment_id = deployment_id

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                payload = chunk.model_dump(exclude_none=True)
                payload.pop("_hidden_params", None)
                yield b"data: " + orjson.dumps(payload) + b"\n\n"
        except _APIError as exc:
            raise UpstreamError(502, f"upstream {self._deployment_id} broke off the stream: {exc}", code="upstream_stream_broken") from exc
        yield b"data: [DONE]\n\n"

    def close(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            # Scheduled, not awaited: this runs in the `finally` of a possibly cancelled stream.
            asyncio.get_running_loop().create_task(close())
