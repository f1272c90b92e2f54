"""The ASGI entry point: the three hot OpenAI endpoints are served here directly; everything
else (admin API, UI, models, health, lifespan) goes to the FastAPI app.

Going through FastAPI's middleware stack and router costs more CPU per call than the rest of
the fast path put together, so the endpoints that carry the traffic skip it. They keep the
same behaviour: OpenAI error envelopes, never a 500 without one, one usage row per call.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from gateway.context import new_request_id
from gateway.deps import principal_of
from gateway.errors import APIError, internal_error

log = logging.getLogger(__name__)

HOT_ENDPOINTS = {"/v1/chat/completions": "chat", "/v1/completions": "completions", "/v1/embeddings": "embeddings"}


def _with_request_id(send: Send) -> Send:
    """Every response names its request (x-request-id): the pipeline sets the id of a call; any
    other answer (a refused key, the model list, an admin page) gets a fresh one."""

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
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_request_id(send)
        endpoint = HOT_ENDPOINTS.get(scope.get("path", ""))
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            response = APIError(405, "Method Not Allowed", code="method_not_allowed", headers={"allow": "POST"}).response()
            await response(scope, receive, send)
            return
        scope["app"] = self.app  # so request.app.state reaches the services
        request = Request(scope, receive)
        try:
            principal = await principal_of(request)
            response = await self.app.state.pipeline.handle(request, principal, endpoint)
        except APIError as exc:
            response = exc.response()
        except Exception:
            log.exception("unhandled error on %s", scope["path"])
            response = internal_error().response()
        await response(scope, receive, send)
