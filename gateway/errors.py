"""OpenAI's error envelope: {"error": {"message", "type", "param", "code"}} with the right status."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

log = logging.getLogger(__name__)


class APIError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self, extra_headers: dict[str, str] | None = None) -> Response:
        headers = {**self.headers, **(extra_headers or {})}
        return Response(orjson.dumps(self.body()), status_code=self.status, media_type="application/json", headers=headers)


def invalid_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def invalid_api_key(message: str = "Incorrect API key provided.") -> APIError:
    return APIError(401, message, type="invalid_request_error", code="invalid_api_key")


def model_not_found(model: str) -> APIError:
    return APIError(
        404, f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found", param="model"
    )


def model_not_allowed(model: str) -> APIError:
    return APIError(403, f"This API key is not allowed to use the model `{model}`.", code="model_not_allowed", param="model")


def internal_error() -> APIError:
    return APIError(500, "The server had an error while processing your request.", type="server_error", code="internal_error")


def body_too_large(limit: int) -> APIError:
    return APIError(413, f"Request body exceeds the limit of {limit} bytes.", code="request_too_large")


_STATUS_TYPES = {
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(_request: Request, exc: APIError) -> Response:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        if first.get("type") == "json_invalid":  # its loc holds a character position, not a parameter
            return invalid_request(f"The request body is not valid JSON ({first['msg']}).").response()
        loc = [str(p) for p in first["loc"] if p not in ("body", "query", "path")]
        return invalid_request(first["msg"], param=".".join(loc) or None).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        kind, code = _STATUS_TYPES.get(exc.status_code, ("invalid_request_error", None))
        return APIError(exc.status_code, str(exc.detail), type=kind, code=code).response()

    @app.exception_handler(sqlalchemy.exc.DataError)
    async def _unstorable(_request: Request, exc: sqlalchemy.exc.DataError) -> Response:
        # The database refused a value the request carried (a NUL character in an id, a number
        # beyond its column): the request is at fault, and nothing was stored.
        log.info("request value refused by the database: %s", exc.orig)
        return invalid_request(f"A value in this request cannot be stored: {str(exc.orig).splitlines()[0]}").response()

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return internal_error().response()
