"""The ASGI entry point: the three hot OpenAI endpoints are served here directly; everything
else (admin API, UI, models, health, lifespan) goes to the FastAPI app.

Going through FastAPI's middleware stack and router costs more CPU per call than the rest of
the fast path put together, so the endpoints that carry the traffic skip it. They keep the
same behaviour: OpenAI error envelopes, never a 500 without one, one usage row per call.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from gateway.body import declared_too_large
from gateway.context import new_request_id
from gateway.deps import principal_of
from gateway.errors import APIError, body_too_large, internal_error

log = logging.getLogger(__name__)

HOT_ENDPOINTS = {"/v1/chat/completions": "chat", "/v1/completions": "completions", "/v1/embeddings": "embeddings"}
# A file upload streams to disk under its own, larger limit (routes/files_batches.py); every other
# body the app reads (admin API, feedback, forms) is held to max_body_bytes before FastAPI sees it.
UPLOAD_PATH = "/v1/files"
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


async def _bounded_body(scope: Scope, receive: Receive, limit: int) -> Receive | None:
    """A receive that replays the request body read here, or None when the body is over `limit`."""
    if declared_too_large(Headers(scope=scope), limit):
        return None
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":  # the client left: the app sees that
            break
        size += len(message.get("body", b""))
        if size > limit:
            return None
        if not message.get("more_body", False):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


def _named(response: Response) -> Response:
    """A hot-path answer the pipeline did not make (a refused key, a wrong method) with its own x-request-id."""
    response.headers["x-request-id"] = new_request_id()
    return response


def _with_request_id(send: Send) -> Send:
    """Every response of the FastAPI app (models, admin, health) names its request too: a fresh
    x-request-id unless the route set one."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers") or []
            if not any(name == b"x-request-id" for name, _ in headers):
                message["headers"] = [*headers, (b"x-request-id", new_request_id().encode())]
        await send(message)

    return sending


class HotPathApp:
    def __init__(self, app: FastAPI):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = HOT_ENDPOINTS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if endpoint is None:
            if scope["type"] == "http" and scope["method"] in BODY_METHODS and scope["path"] != UPLOAD_PATH:
                limit = self.app.state.services.settings.max_body_bytes
                bounded = await _bounded_body(scope, receive, limit)
                if bounded is None:
                    await _named(body_too_large(limit).response())(scope, receive, send)
                    return
                receive = bounded
            await self.app(scope, receive, _with_request_id(send) if scope["type"] == "http" else send)
            return
        if scope["method"] != "POST":
            response = APIError(405, "Method Not Allowed", code="method_not_allowed", headers={"allow": "POST"}).response()
            await _named(response)(scope, receive, send)
            return
        scope["app"] = self.app  # so request.app.state reaches the services
        request = Request(scope, receive)
        try:
            principal = await principal_of(request)
            response = await self.app.state.pipeline.handle(request, principal, endpoint)  # names its request itself
        except APIError as exc:
            response = _named(exc.response())
        except Exception:
            log.exception("unhandled error on %s", scope["path"])
            response = _named(internal_error().response())
        await response(scope, receive, send)
