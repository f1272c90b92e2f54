"""The fast path: OpenAI-compatible upstreams through one pooled aiohttp session.

Bodies are forwarded as bytes; the reply is parsed once (orjson) only to read its usage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import orjson

from billing.usage import TokenUsage
from cache.sse import DONE_EVENT, replay_sse
from gateway.providers.base import (
    ENDPOINT_PATHS,
    Call,
    Reply,
    ReplyStream,
    UpstreamError,
    error_for_status,
    retry_after_seconds,
    unless_client_gone,
)
from gateway.settings import OPENAI_COMPATIBLE_BASES, OWN_ENGINE_PROVIDER


def _error_from_status(status: int, body: bytes, headers: aiohttp.typedefs.LooseHeaders) -> UpstreamError:
    try:
        error = orjson.loads(body)["error"]
        message, code = error["message"], error.get("code")
        envelope = isinstance(message, str)
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        message, code, envelope = None, None, False
    if not envelope:  # an HTML page, a framework's default: the client gets the gateway's envelope
        message = body[:500].decode("utf-8", "replace").strip() or f"upstream returned HTTP {status}"
    else:  # OpenAI's envelope, with every field the SDKs read (Ollama and others send only a message)
        body = orjson.dumps({"error": {"type": "invalid_request_error", "param": None, "code": None, **error}})
    return error_for_status(status, message, retry_after=retry_after_seconds(headers), body=body if envelope else None, error_code=code)


class OpenAICompatProvider:
    def __init__(self, max_connections: int = 1000):
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._targets: dict[tuple[str, str], tuple[str, dict[str, str], aiohttp.ClientTimeout]] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300, keepalive_timeout=60)
            self._session = aiohttp.ClientSession(connector=connector, skip_auto_headers=("User-Agent",))
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _target(self, call: Call) -> tuple[str, dict[str, str], aiohttp.ClientTimeout]:
        """URL, headers and timeouts of a deployment's endpoint, built once per deployment."""
        key = (call.deployment.id, call.endpoint)
        target = self._targets.get(key)
        if target is None:
            d, params = call.deployment, call.deployment.litellm_params
            base = params.api_base or OPENAI_COMPATIBLE_BASES[d.provider]
            headers = {"Content-Type": "application/json", **params.extra_headers}
            api_key = params.resolved_api_key()
            if api_key:
                headers["Authorization"] = f"Bearer {api_key}"
            # sock_read bounds the wait for the first byte and every later read; total bounds all.
            timeout = aiohttp.ClientTimeout(total=params.timeout, connect=params.connect_timeout, sock_read=params.first_byte_timeout)
            target = self._targets[key] = (base.rstrip("/") + ENDPOINT_PATHS[call.endpoint], headers, timeout)
        return target

    async def _post(self, call: Call) -> aiohttp.ClientResponse:
        url, headers, timeout = self._target(call)
        if call.extra_headers:
            headers = {**headers, **call.extra_headers}
        try:
            response = await self._client().post(url, data=orjson.dumps(call.body), headers=headers, timeout=timeout)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamError(504, f"upstream {call.deployment.id} timed out", type="timeout", code="upstream_timeout", retryable=True) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(502, f"could not reach upstream {call.deployment.id}: {exc}", code="upstream_unreachable", retryable=True) from exc
        if response.status >= 400:
            body = await response.read()
            response.release()
            raise _error_from_status(response.status, body, response.headers)
        return response

    async def _read_json(self, response: aiohttp.ClientResponse, call: Call) -> tuple[bytes, dict]:
        try:
            body = await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise UpstreamError(504, f"upstream {call.deployment.id} stopped mid-reply", code="upstream_timeout", retryable=True) from exc
        finally:
            response.release()
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError(502, "upstream returned a body that is not JSON", code="upstream_bad_reply", retryable=True) from exc
        if not isinstance(parsed, dict):
            raise UpstreamError(502, "upstream returned JSON that is not an object", code="upstream_bad_reply", retryable=True)
        return body, parsed

    async def send(self, call: Call) -> Reply:
        if call.deployment.provider == OWN_ENGINE_PROVIDER:  # our own compute: stop it when nobody waits
            body, parsed = await unless_client_gone(self._whole(call), call.client_gone, f"the engine of {call.deployment.id}")
        else:
            body, parsed = await self._whole(call)
        return Reply(body=body, usage=TokenUsage.from_openai(parsed.get("usage")))

    async def _whole(self, call: Call) -> tuple[bytes, dict]:
        body, parsed = await self._read_json(await self._post(call), call)
        if call.endpoint != "embeddings" and not _choices_well_formed(parsed.get("choices")):
            raise UpstreamError(502, f"upstream {call.deployment.id} answered with choices that are not objects", code="upstream_bad_reply", retryable=True)
        return body, parsed

    async def open_stream(self, call: Call) -> ReplyStream:
        response = await self._post(call)
        if response.content_type != "application/json":
            return _ByteStream(response, call.deployment.id)
        # A server that ignores `stream: true` answers whole: replay its answer as a stream.
        _, parsed = await self._read_json(response, call)
        if not _choices_well_formed(parsed.get("choices")):
            raise UpstreamError(502, "upstream answered a stream request with a body that has no choices", code="upstream_bad_reply", retryable=True)
        if call.endpoint == "chat":
            # Its usage rides in a last chunk (shown to the client only if it asked); without
            # usage, no such chunk: an empty-choices chunk would break `chunk.choices[0]`.
            return _ReplayedStream(b"".join(replay_sse(parsed, include_usage=parsed.get("usage") is not None)))
        return _ReplayedStream(b"data: " + orjson.dumps(parsed) + b"\n\n" + DONE_EVENT)  # a completions body is its own chunk


def _choices_well_formed(choices: object) -> bool:
    """A list of objects, each message (when there is one) an object: what clients index into."""
    if not isinstance(choices, list):
        return False
    return all(isinstance(c, dict) and isinstance(c.get("message", {}), dict) for c in choices)


class _ReplayedStream:
    def __init__(self, payload: bytes):
        self._payload = payload

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._payload

    def close(self) -> None:
        """Nothing is open: the answer was read whole."""


def _buffered_before_the_break(content: aiohttp.StreamReader) -> bytes:
    """What arrived before a stream broke. aiohttp raises the payload error ahead of the bytes it
    still holds and has no public way to take them, hence its private reader."""
    read = getattr(content, "_read_nowait", None)
    return read(-1) if read is not None else b""


class _ByteStream:
    """Raw upstream bytes, in whatever pieces the network delivers them."""

    def __init__(self, response: aiohttp.ClientResponse, deployment_id: str):
        self._response = response
        self._deployment_id = deployment_id

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for piece in self._response.content.iter_any():
                yield piece
        except (TimeoutError, aiohttp.ClientError) as exc:
            if rest := _buffered_before_the_break(self._response.content):
                yield rest  # generated, and billed upstream: the client gets it and the account counts it
            raise UpstreamError(502, f"upstream {self._deployment_id} broke off the stream: {exc}", code="upstream_stream_broken") from exc

    def close(self) -> None:
        # Closing (not releasing) drops the connection, which tells the upstream to stop generating.
        self._response.close()
