"""OpenAI request fields -> SamplingParams, and engine results -> OpenAI response bodies."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from local_engine.engine import RequestError
from local_engine.sequence import SamplingParams, TokenLogprob
from local_engine.tokenizer import Tokenizer

_TOOL_CALL = re.compile(r"<tool_call>\s*(\{.*?\})\s*</tool_call>", re.DOTALL)


def _number(body: dict[str, Any], key: str, default: Any, kind: type = float) -> Any:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(f"'{key}' must be a number")
    return kind(value)


def flag(body: dict[str, Any], key: str) -> bool:
    """A true/false field: absent or null is false; "false", 1 or "yes" are refused, not guessed at."""
    value = body.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RequestError(f"'{key}' must be true or false")
    return value


def _count(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"'{key}' must be an integer")
    return value


def _logit_bias(value: Any) -> dict[int, float]:
    """OpenAI's {"token id as a string": bias}."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RequestError("'logit_bias' must be an object of token ids to numbers")
    try:
        return {int(token): bias for token, bias in value.items()}
    except ValueError:
        raise RequestError("'logit_bias' keys must be token ids") from None


def sampling_params(body: dict[str, Any], chat: bool) -> SamplingParams:
    """Validate and translate OpenAI sampling fields (plus top_k, repetition_penalty, ignore_eos)."""
    if body.get("n") not in (None, 1):
        raise RequestError("only n=1 is supported")
    max_tokens = body.get("max_completion_tokens") if chat else None
    max_tokens = max_tokens if max_tokens is not None else body.get("max_tokens")
    stop = body.get("stop") or []
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
        raise RequestError("'stop' must be a string or a list of non-empty strings")
    logprobs = body.get("logprobs")
    top_logprobs = _count(body.get("top_logprobs") or 0, "top_logprobs")
    if not chat and isinstance(logprobs, int) and not isinstance(logprobs, bool):
        top_logprobs, logprobs = logprobs, True  # legacy completions: logprobs=N
    else:
        logprobs = flag(body, "logprobs")
    if max_tokens is not None:
        max_tokens = _count(max_tokens, "max_completion_tokens" if chat and body.get("max_completion_tokens") is not None else "max_tokens")
    stop_token_ids = body.get("stop_token_ids") or []
    if not isinstance(stop_token_ids, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in stop_token_ids):
        raise RequestError("'stop_token_ids' must be a list of token ids")
    if chat and top_logprobs and not logprobs:
        raise RequestError("'top_logprobs' needs 'logprobs': true")
    json_schema, json_object = None, False
    fmt = body.get("response_format")
    if fmt is not None:
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind == "json_object":
            json_object = True
        elif kind == "json_schema":
            spec = fmt.get("json_schema")
            schema = spec.get("schema") if isinstance(spec, dict) else None
            if not isinstance(schema, dict):
                raise RequestError("response_format.json_schema.schema must be a JSON schema object")
            json_schema = json.dumps(schema)
        elif kind != "text":
            raise RequestError("response_format.type must be text, json_object or json_schema")
    try:
        return SamplingParams(
            max_tokens=int(max_tokens) if max_tokens is not None else 512,
            temperature=_number(body, "temperature", 1.0),
            top_p=_number(body, "top_p", 1.0),
            top_k=_number(body, "top_k", 0, int),
            repetition_penalty=_number(body, "repetition_penalty", 1.0),
            frequency_penalty=_number(body, "frequency_penalty", 0.0),
            presence_penalty=_number(body, "presence_penalty", 0.0),
            stop=stop,
            stop_token_ids=stop_token_ids,
            ignore_eos=flag(body, "ignore_eos"),
            seed=body.get("seed"),
            logprobs=logprobs,
            top_logprobs=int(top_logprobs),
            json_schema=json_schema,
            json_object=json_object,
            logit_bias=_logit_bias(body.get("logit_bias")),
        )
    except (TypeError, ValueError, OverflowError) as exc:
        raise RequestError(str(exc)) from exc


def include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise RequestError("'stream_options' must be an object")
    return bool((options or {}).get("include_usage"))


def tool_plan(body: dict[str, Any]) -> tuple[list[dict[str, Any]] | None, str | None]:
    """`tools` and `tool_choice` -> (the tools to render into the prompt, the JSON schema the reply
    must follow when a call is forced). A forced call ("required", or one named function) is
    produced by constrained decoding as {"name": ..., "arguments": {...}}, so even a small model
    returns a call to a tool that exists, with arguments that fit its parameters."""
    tools, choice = body.get("tools"), body.get("tool_choice")
    if tools is not None and (not isinstance(tools, list) or not all(_function_name(t) for t in tools)):
        raise RequestError("'tools' must be a list of {type: function, function: {name, parameters}} objects")
    if choice is None or choice == "auto":
        return tools or None, None
    if choice == "none":
        return None, None
    if not tools:
        raise RequestError("'tool_choice' forces a tool call but no 'tools' are given")
    if choice == "required":
        forced = tools
    elif isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        forced = [t for t in tools if _function_name(t) == name]
        if not forced:
            raise RequestError(f"'tool_choice' names the function {name!r}, which is not among 'tools'")
    else:
        raise RequestError("'tool_choice' must be 'none', 'auto', 'required' or {type: function, function: {name}}")
    options = [_call_schema(t) for t in forced]
    return tools, json.dumps(options[0] if len(options) == 1 else {"anyOf": options})


def _function_name(tool: Any) -> str | None:
    if not isinstance(tool, dict) or tool.get("type", "function") != "function" or not isinstance(tool.get("function"), dict):
        return None
    name = tool["function"].get("name")
    return name if isinstance(name, str) and name else None


def _call_schema(tool: dict[str, Any]) -> dict[str, Any]:
    parameters = tool["function"].get("parameters")
    if not isinstance(parameters, dict) or not parameters.get("properties"):
        parameters = {"type": "object", "additionalProperties": True}
    return {
        "type": "object",
        "properties": {"name": {"const": _function_name(tool)}, "arguments": parameters},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def forced_tool_call(text: str) -> list[dict[str, Any]]:
    """The reply of a forced call ({"name", "arguments"}) as OpenAI tool_calls; [] when it was cut
    short (max_tokens) and is not complete JSON."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return []
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return []
    return [_tool_call(obj["name"], obj.get("arguments", {}))]


def _tool_call(name: str, arguments: Any) -> dict[str, Any]:
    return {
        "id": f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        "function": {"name": name, "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments)},
    }


TOOL_CALL_OPEN = "<tool_call>"


def parse_tool_calls(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Hermes/Qwen-style <tool_call>{"name":..,"arguments":..}</tool_call> blocks -> OpenAI tool_calls."""
    calls = []
    for m in _TOOL_CALL.finditer(text):
        try:
            obj = json.loads(m.group(1))
        except json.JSONDecodeError:
            continue
        if not isinstance(obj, dict) or "name" not in obj:
            continue
        calls.append(_tool_call(obj["name"], obj.get("arguments", {})))
    if calls:
        text = _TOOL_CALL.sub("", text).strip()
    return text, calls


def chat_logprobs(tokenizer: Tokenizer, items: list[TokenLogprob]) -> dict[str, Any]:
    def entry(tid: int, lp: float) -> dict[str, Any]:
        return {"token": tokenizer.token_text(tid), "logprob": lp, "bytes": list(tokenizer.token_bytes(tid))}

    return {"content": [{**entry(i.token_id, i.logprob), "top_logprobs": [entry(t, lp) for t, lp in i.top]} for i in items]}


def completion_logprobs(tokenizer: Tokenizer, items: list[TokenLogprob], start_offset: int = 0) -> dict[str, Any]:
    """Legacy completions logprobs; `text_offset` is each token's character offset in the text
    (from `start_offset`, where the chunk begins in a stream)."""
    tokens = [tokenizer.token_text(i.token_id) for i in items]
    offsets, at = [], start_offset
    for token in tokens:
        offsets.append(at)
        at += len(token)
    return {
        "tokens": tokens,
        "token_logprobs": [i.logprob for i in items],
        "top_logprobs": [{tokenizer.token_text(t): lp for t, lp in i.top} for i in items],
        "text_offset": offsets,
    }


def usage(prompt_tokens: int, completion_tokens: int, cached_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": cached_tokens},
    }


def envelope(kind: str, request_id: str, model: str, choices: list[dict[str, Any]], created: int | None = None) -> dict[str, Any]:
    return {"id": request_id, "object": kind, "created": created or int(time.time()), "model": model, "choices": choices}


def flatten_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI messages with content parts -> messages with string content (what templates expect)."""
    return [_flatten_content(m) for m in messages]


def _flatten_content(message: dict[str, Any]) -> dict[str, Any]:
    """OpenAI content parts [{type: text, text}] -> a string the chat template can render."""
    content = message.get("content")
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise RequestError("only text content parts are supported")
            parts.append(str(part.get("text", "")))
        message = {**message, "content": "".join(parts)}
    elif content is None:
        message = {**message, "content": ""}
    elif not isinstance(content, str):
        raise RequestError("message content must be a string or a list of text parts")
    return message
