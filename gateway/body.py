"""Reading and validating request bodies: size limit, JSON (UTF-8), then the OpenAI schema."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from gateway.errors import body_too_large, invalid_request

M = TypeVar("M", bound=BaseModel)


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
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
        loc = tuple(p for p in first["loc"] if isinstance(p, int) or not any(c in str(p) for c in "[]") and p not in ("str", "int", "float", "bool", "function-after"))
        path = param_path(loc)
        message = first["msg"].removeprefix("Value error, ")
        raise invalid_request(f"Invalid value for '{path}': {message}" if path else message, param=path or None) from None
