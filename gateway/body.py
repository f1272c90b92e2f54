"""Reading and validating request bodies: size limit, JSON (UTF-8), then the OpenAI schema."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.datastructures import Headers
from starlette.requests import Request

from gateway.errors import body_too_large, invalid_request

M = TypeVar("M", bound=BaseModel)
# orjson parses up to 1024 levels of nesting but writes only 254: a body deeper than what the
# gateway can pass on (upstream, into a cache key) is the request's fault, not a 500.
MAX_NESTING = 254


def deeper_than_writable(raw: bytes, data: Any) -> bool:
    """Is `data` (parsed from `raw`) nested deeper than orjson can write back? The bracket count
    bounds the depth, so the full check runs only for bodies with that many brackets."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_NESTING:
        return False
    try:
        orjson.dumps(data)
    except orjson.JSONEncodeError:
        return True
    return False


def declared_too_large(headers: Headers, limit: int) -> bool:
    """Does the request's Content-Length already say its body is over `limit`?"""
    declared = headers.get("content-length")
    return declared is not None and declared.isdigit() and int(declared) > limit


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    if declared_too_large(request.headers, limit):
        raise body_too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise body_too_large(limit)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        raise invalid_request("The request body is empty; send a JSON object.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # orjson rejects malformed UTF-8 as well as malformed JSON.
        raise invalid_request(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise invalid_request("The request body must be a JSON object.")
    if deeper_than_writable(raw, data):
        raise invalid_request(f"The request body is nested more than {MAX_NESTING} levels deep.")
    return data


def param_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def validate(schema: type[M], data: dict[str, Any]) -> M:
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        # Drop pydantic's union/branch markers such as 'str' or 'list[...]' from the location.
        loc = tuple(p for p in first["loc"] if isinstance(p, int) or not any(c in str(p) for c in "[]")
                    and p not in ("str", "int", "float", "bool", "function-after") and not str(p).endswith("-tool"))
        path = param_path(loc)
        message = first["msg"].removeprefix("Value error, ")
        raise invalid_request(f"Invalid value for '{path}': {message}" if path else message, param=path or None) from None
