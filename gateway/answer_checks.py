"""Checks on a whole chat answer, for the cascade: confidence, valid JSON, a usable tool call."""

from __future__ import annotations

import orjson


def mean_logprob(answer: dict) -> float | None:
    choices = answer.get("choices") or []
    content = ((choices[0].get("logprobs") or {}).get("content") or []) if choices else []
    values = [item["logprob"] for item in content if isinstance(item, dict) and "logprob" in item]
    return sum(values) / len(values) if values else None


def _message(answer: dict) -> dict:
    choices = answer.get("choices") or []
    return (choices[0].get("message") or {}) if choices else {}


def valid_json(answer: dict, body: dict) -> bool:
    fmt = body.get("response_format") or {}
    if fmt.get("type") not in ("json_object", "json_schema"):
        return True
    try:
        orjson.loads(_message(answer).get("content") or "")
    except orjson.JSONDecodeError:
        return False
    return True


def valid_tool_call(answer: dict, body: dict) -> bool:
    choice = body.get("tool_choice")
    required = choice == "required" or isinstance(choice, dict)
    if not body.get("tools") or not required:
        return True
    calls = _message(answer).get("tool_calls") or []
    try:
        return bool(calls) and all(isinstance(orjson.loads(c["function"]["arguments"]), dict) for c in calls)
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return False
