"""Every other provider (Anthropic, Bedrock, Vertex, Gemini, ...) through litellm's async API.

litellm is imported on first use: it is slow to import and, unless told otherwise, fetches
its price map from the network at import time.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from typing import Any

import orjson

from billing.usage import TokenUsage
from gateway.providers.base import Call, Reply, UpstreamError, error_for_status, retry_after_seconds

_litellm: Any = None
_APIError: type[Exception] = Exception  # replaced by openai.APIError, litellm's error base, on load
_ContextWindowError: type[Exception] = Exception  # replaced by litellm.ContextWindowExceededError on load

# The request fields a client's body carries on to litellm: OpenAI's, and nothing else. litellm
# reads every other keyword as an option of its own (base_url, api_key, extra_headers,
# custom_llm_provider, mock_response, ...): forwarded, a client would choose where the
# deployment's API key goes, or get an invented answer billed as a real one.
FORWARDED_FIELDS = frozenset(
    {
        # chat
        "messages", "temperature", "top_p", "n", "stream", "stream_options", "stop", "max_tokens", "max_completion_tokens",
        "presence_penalty", "frequency_penalty", "logit_bias", "user", "response_format", "seed", "tools", "tool_choice",
        "parallel_tool_calls", "logprobs", "top_logprobs", "functions", "function_call", "reasoning_effort", "modalities", "audio",
        "prediction", "service_tier", "web_search_options", "verbosity", "safety_identifier", "thinking", "top_k",
        # legacy completions
        "prompt", "suffix", "echo", "best_of",
        # embeddings
        "input", "dimensions", "encoding_format",
    }
)


# Parameters that change what an answer holds, which litellm would drop without a word.
SHAPE_PARAMS = ("n", "logprobs", "top_logprobs")


def load_litellm() -> Any:
    """litellm, imported once (it is slow) and set up offline: the bundled price map, no telemetry."""
    global _litellm, _APIError, _ContextWindowError
    if _litellm is None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        os.environ.setdefault("LITELLM_LOG", "ERROR")
        import litellm
        import openai

        _APIError = openai.APIError
        _ContextWindowError = litellm.ContextWindowExceededError
        litellm.telemetry = False
        litellm.drop_params = True
        _litellm = litellm
    return _litellm


# "litellm.APIConnectionError: APIConnectionError: AnthropicException - ...": litellm's nesting of class names.
_CLASS_PREFIXES = re.compile(r"^(?:(?:litellm\.)?[A-Za-z]+(?:Error|Exception)\s*(?::|-)\s*)+")


def _client_message(exc: Exception) -> str:
    """litellm's message for the client: its first line (litellm appends the Python traceback of a
    reply it could not parse, with the server's paths), without litellm's own class prefix."""
    message = (getattr(exc, "message", None) or str(exc)).split("\nTraceback", 1)[0].strip()
    first = message.splitlines()[0] if message else type(exc).__name__
    return (_CLASS_PREFIXES.sub("", first) or first)[:1000]


def _translate_error(exc: Exception, deployment_id: str) -> UpstreamError:
    status = getattr(exc, "status_code", None) or 502
    message = _client_message(exc)
    if status == 408 or "timeout" in type(exc).__name__.lower():
        return UpstreamError(504, f"upstream {deployment_id} timed out", type="timeout", code="upstream_timeout", retryable=True)
    # The upstream's own headers (Retry-After): litellm keeps them apart from the placeholder
    # response its errors carry.
    headers = getattr(exc, "litellm_response_headers", None) or getattr(getattr(exc, "response", None), "headers", None)
    code = "context_length_exceeded" if isinstance(exc, _ContextWindowError) else None  # may fit another deployment
    return error_for_status(status, message, retry_after=retry_after_seconds(headers), error_code=code)


def _asked(name: str, value: Any) -> bool:
    """Whether a shape-changing parameter is really asked for (n=1 and logprobs=false are not)."""
    if name == "n":
        return isinstance(value, int) and not isinstance(value, bool) and value > 1
    return value is not None and value is not False and value != 0


def _refuse_dropped_params(call: Call) -> None:
    """litellm drops parameters a provider lacks (drop_params), and n=3 would come back as one
    choice, logprobs as none: another deployment may have them; if none does, the client hears so."""
    if call.endpoint != "chat":
        return
    asked = [k for k in SHAPE_PARAMS if _asked(k, call.body.get(k))]
    if not asked:
        return
    params = call.deployment.litellm_params
    supported = load_litellm().get_supported_openai_params(model=params.upstream_model, custom_llm_provider=params.provider) or []
    missing = [k for k in asked if k not in supported]
    if missing:
        raise UpstreamError(
            400,
            f"model {call.deployment.model_name!r} ({params.provider}) does not support {', '.join(missing)}",
            type="invalid_request_error",
            code="unsupported_parameter",
            try_next=True,
        )


def _kwargs(call: Call) -> dict[str, Any]:
    _refuse_dropped_params(call)
    params = call.deployment.litellm_params
    kwargs = {k: v for k, v in call.body.items() if k in FORWARDED_FIELDS}
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
        body = _for_client(response.model_dump(exclude_none=True))
        return Reply(body=orjson.dumps(body), usage=TokenUsage.from_openai(body.get("usage")))

    async def open_stream(self, call: Call) -> _LiteLLMStream:
        lib = load_litellm()
        try:
            stream = await lib.acompletion(**_kwargs(call)) if call.endpoint == "chat" else await lib.atext_completion(**_kwargs(call))
            # The first chunk before the stream counts as open: an upstream that answers 200 and
            # then sends an error event (Anthropic's overloaded_error) is retried or falls back like
            # one that answered 529, since nothing has reached the client yet.
            iterator = stream.__aiter__()
            try:
                first = await iterator.__anext__()
            except StopAsyncIteration:
                first = None
        except _APIError as exc:
            raise _translate_error(exc, call.deployment.id) from exc
        return _LiteLLMStream(stream, iterator, first, call.deployment.id)

    async def aclose(self) -> None:
        return None


def _for_client(payload: dict[str, Any]) -> dict[str, Any]:
    """A reply or chunk without litellm's additions: its hidden parameters, and the wholesale cost
    it puts in usage (the client's price is the gateway's, with its markup)."""
    payload.pop("_hidden_params", None)
    usage = payload.get("usage")
    if isinstance(usage, dict):
        usage.pop("cost", None)
    return payload


class _LiteLLMStream:
    def __init__(self, stream: Any, iterator: AsyncIterator[Any], first: Any, deployment_id: str):
        self._stream = stream
        self._iterator = iterator
        self._first = first
        self._deployment_id = deployment_id

    async def _chunks(self) -> AsyncIterator[Any]:
        if self._first is not None:
            yield self._first
        async for chunk in self._iterator:
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._chunks():
                payload = _for_client(chunk.model_dump(exclude_none=True))
                if self._invented_finish(payload):
                    raise UpstreamError(
                        502, f"upstream {self._deployment_id} ended the stream before its stop reason", code="upstream_stream_broken"
                    )
                yield b"data: " + orjson.dumps(payload) + b"\n\n"
        except _APIError as exc:
            raise UpstreamError(502, f"upstream {self._deployment_id} broke off the stream: {exc}", code="upstream_stream_broken") from exc
        yield b"data: [DONE]\n\n"

    def _invented_finish(self, payload: dict[str, Any]) -> bool:
        """litellm closes a stream the upstream cut short (no message_delta / message_stop from
        Anthropic) with a finish_reason "stop" of its own: the client would take a truncated answer
        for a whole one. Its stream wrapper records the reasons the provider really sent."""
        if not any(isinstance(c, dict) and c.get("finish_reason") for c in payload.get("choices") or ()):
            return False
        if not hasattr(self._stream, "received_finish_reason"):
            return False  # not litellm's wrapper: nothing to tell the reasons apart by
        sent = getattr(self._stream, "received_finish_reason", None) or getattr(self._stream, "intermittent_finish_reason", None)
        return sent is None

    def close(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            # Scheduled, not awaited: this runs in the `finally` of a possibly cancelled stream.
            asyncio.get_running_loop().create_task(close())
