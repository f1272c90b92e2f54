"""Canonical form of an OpenAI chat request and the exact-cache key derived from it.

Two requests get the same key exactly when they would make the same upstream call: same tenant
scope, same model or route, same messages, tools and every parameter that may change the output.
JSON key order, JSON formatting, `null` request and message fields, `0` versus `0.0` and the
formatting of tool-call argument strings do not change the key (a `null` inside a schema or the
arguments does); parameters that only change delivery (stream, user,
metadata, ...) are left out.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import orjson

KEY_VERSION = "tm-cache-v2"

# Request fields that only change delivery or bookkeeping, never what the model answers. Every
# other field is part of the key: providers and engines accept fields beyond OpenAI's (top_k,
# repetition_penalty, chat_template_kwargs, thinking, ...) and the gateway passes them on, so
# an unknown field must count as one that changes the answer.
DELIVERY_FIELDS: frozenset[str] = frozenset(
    {"model", "messages", "stream", "stream_options", "user", "metadata", "store", "service_tier", "prompt_cache_key", "safety_identifier"}
)


class CacheRequestError(ValueError):
    """The request or cache header cannot be used by the cache; the message says why (a 400)."""


@dataclass(frozen=True)
class CacheScope:
    """Hard isolation boundary of every cache entry: the tenant and the model or route asked for.

    It comes from the authenticated principal and the request's `model` field, never from prompt
    text. `partition` lets an operator split a tenant further (e.g. per API key) when needed.
    """

    tenant: str
    model: str
    partition: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.tenant, str) or not self.tenant:
            raise CacheRequestError("cache scope needs a non-empty tenant id")
        if not isinstance(self.model, str) or not self.model:
            raise CacheRequestError("cache scope needs a non-empty model or route name")

    def digest(self) -> str:
        """A fixed-length id of the scope, safe for index names, Redis keys and SQL columns."""
        return _sha256([KEY_VERSION, "scope", self.tenant, self.model, self.partition])[:32]


# Integers orjson cannot write (beyond 64 bits) and floats past 2**53, where float and int part ways.
_INT64 = range(-(2**63), 2**64)
_EXACT_FLOAT_INTS = 2.0**53


def canonical_value(value: Any, *, drop_none: bool = False) -> Any:
    """Recursively normalise JSON-like data: integral floats become ints, and with `drop_none` the
    None fields of this object (not of the data inside it: in a JSON schema or tool arguments,
    `"const": null` is not the same as nothing) go."""
    if isinstance(value, dict):
        return {str(k): canonical_value(v) for k, v in value.items() if not (drop_none and v is None)}
    if isinstance(value, (list, tuple)):
        return [canonical_value(v) for v in value]
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise CacheRequestError("request holds a number that is not JSON data (NaN or infinity)")
        return int(value) if value.is_integer() and abs(value) < _EXACT_FLOAT_INTS else value
    if isinstance(value, int) and not isinstance(value, bool) and value not in _INT64:
        return {"\x00int": str(value)}  # exact, and writable; no JSON text yields this key by accident
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    raise CacheRequestError(f"request holds a value that is not JSON data: {type(value).__name__}")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _canonical_arguments(arguments: Any) -> Any:
    """Tool-call arguments are a JSON *string*; formatting inside it must not change the key. The
    upstream gets the string as it is, so it is read exactly (no NaN, big integers kept whole);
    a string that is not strict JSON stays as it is."""
    if not isinstance(arguments, str):
        return canonical_value(arguments)
    try:
        return {"json": canonical_value(json.loads(arguments, parse_constant=_no_constants))}
    except (ValueError, CacheRequestError):
        return arguments


def canonical_content(content: Any) -> Any:
    """A content list holding a single text part means the same as the plain string."""
    if isinstance(content, list) and len(content) == 1 and isinstance(content[0], dict):
        part = content[0]
        if part.get("type") == "text" and isinstance(part.get("text"), str) and len(part) == 2:
            return part["text"]
    return canonical_value(content)


def canonical_message(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise CacheRequestError("each message must be a JSON object")
    if not isinstance(message.get("role"), str):
        raise CacheRequestError("each message needs a string 'role'")
    out = canonical_value({k: v for k, v in message.items() if k not in ("content", "tool_calls")}, drop_none=True)
    if message.get("content") is not None:
        out["content"] = canonical_content(message["content"])
    calls = message.get("tool_calls")
    if calls:
        if not isinstance(calls, list):
            raise CacheRequestError("'tool_calls' must be a list")
        canon_calls = []
        for call in calls:
            call = canonical_value(call, drop_none=True)
            fn = call.get("function")
            if isinstance(fn, dict) and "arguments" in fn:
                fn["arguments"] = _canonical_arguments(fn["arguments"])
            canon_calls.append(call)
        out["tool_calls"] = canon_calls
    return out


def canonical_messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise CacheRequestError("request needs a non-empty 'messages' list")
    return [canonical_message(m) for m in messages]


def canonical_params(request: dict[str, Any]) -> dict[str, Any]:
    """The parameters of a request that may change its answer (all but DELIVERY_FIELDS), normalised."""
    return canonical_value({k: v for k, v in request.items() if k not in DELIVERY_FIELDS}, drop_none=True)


def canonical_request(request: dict[str, Any]) -> dict[str, Any]:
    """The part of the request the answer depends on, in canonical form (model excluded: it is in the scope)."""
    if not isinstance(request, dict):
        raise CacheRequestError("request must be a JSON object")
    return {"messages": canonical_messages(request), "params": canonical_params(request)}


def _sha256(parts: list[Any]) -> str:
    # orjson: compact UTF-8 with sorted keys, the same canonical bytes as json.dumps(sort_keys=True,
    # separators=(",", ":"), ensure_ascii=False) for these values, several times faster.
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()


def exact_key(scope: CacheScope, request: dict[str, Any]) -> str:
    """The exact-cache key: sha256 over the scope and the canonical request (64 hex chars)."""
    return _sha256([KEY_VERSION, "exact", scope.tenant, scope.model, scope.partition, canonical_request(request)])


def hash_parts(*parts: Any) -> str:
    """sha256 over canonical JSON of the parts; used for context hashes elsewhere in the package."""
    return _sha256([KEY_VERSION, *[canonical_value(p) for p in parts]])
