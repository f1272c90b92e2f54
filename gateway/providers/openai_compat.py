"""The fast path: OpenAI-compatible upstreams through one pooled aiohttp session.

Bodies are forwarded as bytes; the reply is parsed once (orjson) only to read its usage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import orjson

from billing.usage import TokenUsage
from gateway.providers.base import ENDPOINT_PATHS, Call, Reply, UpstreamError
from gateway.settings import OPENAI_COMPATIBLE_BASES, Deployment

_RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504, 529}


def _retry_after(headers: aiohttp.typedefs.LooseHeaders) -> float | None:
    value = headers.get("retry-after") if headers else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _error_from_status(status: int, body: bytes, headers) -> UpstreamError:  # noqa: ANN001
    try:
        message = orjson.loads(body)["error"]["message"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        message = body[:500].decode("utf-8", "replace") or f"upstream returned HTTP {status}"
    if status == 429:
        return UpstreamError(429, message, type="rate_limit_error", code="upstream_rate_limited", retryable=True, retry_after=_retry_after(headers))
    if status in (401, 403):
        return UpstreamError(502, f"upstream rejected the gateway's credentials: {message}", code="upstream_auth_failed")
    if status in _RETRYABLE_STATUS or status >= 500:
        return UpstreamError(502, f"upstream error (HTTP {status}): {message}", code="upstream_error", retryable=True)
    return UpstreamError(status, message, type="invalid_request_error", code="upstream_rejected", body=body)


class OpenAICompatProvider:
    def __init__(self, max_connections: int = 1000):
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300, keepalive_timeout=60)
            self._session = aiohttp.ClientSession(connector=connector, skip_auto_headers=("User-Agent",))
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    @staticmethod
    def _url(deployment: Deployment, endpoint: str) -> str:
        base = deployment.litellm_params.api_base or OPENAI_COMPATIBLE_BASES[deployment.provider]
        return base.rstrip("/") + ENDPOINT_PATHS[endpoint]

    @staticmethod
    def _headers(call: Call) -> dict[str, str]:
        headers = {"Content-Type": "application/json", **call.deployment.litellm_params.extra_headers, **call.extra_headers}
        key = call.deployment.litellm_params.resolved_api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    async def _post(self, call: Call) -> aiohttp.ClientResponse:
        params = call.deployment.litellm_params
        timeout = aiohttp.ClientTimeout(total=params.timeout, connect=params.connect_timeout, sock_read=params.first_byte_timeout)
        try:
            # sock_read bounds the wait for the first byte and every later read; total bounds all.
            response = await self._client().post(
                self._url(call.deployment, call.endpoint), data=orjson.dumps(call.body), headers=self._headers(call), timeout=timeout
            )
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamError(504, f"upstream {call.deployment.id} timed out", type="timeout", code="upstream_timeout", retryable=True) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(502, f"could not reach upstream {call.deployment.id}: {exc}", code="upstream_unreachable", retryable=True) from exc
        if response.status >= 400:
            body = await response.read()
            response.release()
            raise _error_from_status(response.status, body, response.headers)
        return response

    async def send(self, call: Call) -> Reply:
        response = await self._post(call)
        try:
            body = await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise UpstreamError(504, f"upstream {call.deployment.id} stopped mid-reply", code="upstream_timeout", retryable=True) from exc
        finally:
            response.release()
        try:
            usage = TokenUsage.from_openai(orjson.loads(body).get("usage"))
        except (orjson.JSONDecodeError, AttributeError) as exc:
            raise UpstreamError(502, "upstream returned a body that is not JSON", code="upstream_bad_reply", retryable=True) from exc
        return Reply(body=body, usage=usage)

    async def open_stream(self, call: Call) -> _ByteStream:
        return _ByteStream(await self._post(call), call.deployment.id)


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
            raise UpstreamError(502, f"upstream {self._deployment_id} broke off the stream: {exc}", code="upstream_stream_broken") from exc

    def close(self) -> None:
        # Closing (not releasing) drops the connection, which tells the upstream to stop generating.
        self._response.close()
