"""Provider prompt-caching hints, as pure functions over an OpenAI-format request dict.

Anthropic-style providers cache a prompt prefix up to each `cache_control` breakpoint (at most 4
per request, and only when the prefix reaches a model-dependent minimum). We mark the stable
prefix: the tools, the system prompt and the conversation so far. OpenAI-style providers cache
automatically; a `prompt_cache_key` derived from tenant and run routes a run's calls to the same
warm cache.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cache.canonical import hash_parts

MAX_BREAKPOINTS = 4
EPHEMERAL = {"type": "ephemeral"}

# (pattern on the model name, minimum cacheable prefix in tokens); first match wins.
_ANTHROPIC_MINIMUMS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"haiku-4|haiku-4-5|4-5-haiku"), 4096),
    (re.compile(r"opus-4-[56]|opus-4\.[56]"), 4096),
    (re.compile(r"haiku"), 2048),
    (re.compile(r"sonnet-4-6|sonnet-4\.6"), 2048),
)
DEFAULT_ANTHROPIC_MINIMUM = 1024


def anthropic_min_cacheable_tokens(model: str) -> int:
    name = model.lower()
    for pattern, minimum in _ANTHROPIC_MINIMUMS:
        if pattern.search(name):
            return minimum
    return DEFAULT_ANTHROPIC_MINIMUM


def approx_tokens(text: str) -> int:
    """About 4 characters per token; a conservative default when no tokenizer count is at hand."""
    return (len(text) + 3) // 4


@dataclass(frozen=True)
class BreakpointPlan:
    request: dict[str, Any]
    breakpoints: list[str]  # where breakpoints went, e.g. ["tools", "system", "messages[3]"]
    prefix_tokens: int  # estimated tokens up to the last breakpoint


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(_text_of(v) for v in value)
    if isinstance(value, dict):
        return " ".join(_text_of(v) for k, v in sorted(value.items()) if k != "cache_control")
    return "" if value is None else str(value)


def _has_cache_control(request: dict[str, Any]) -> bool:
    for tool in request.get("tools") or []:
        if isinstance(tool, dict) and "cache_control" in tool:
            return True
    for message in request.get("messages") or []:
        if isinstance(message, dict):
            if "cache_control" in message:
                return True
            content = message.get("content")
            if isinstance(content, list) and any(isinstance(p, dict) and "cache_control" in p for p in content):
                return True
    return False


def _mark_message(message: dict[str, Any]) -> bool:
    """Put a breakpoint on a message's last content block; False if it has no block to carry one."""
    content = message.get("content")
    if isinstance(content, str):
        if not content:
            return False
        message["content"] = [{"type": "text", "text": content, "cache_control": dict(EPHEMERAL)}]
        return True
    if isinstance(content, list) and content and isinstance(content[-1], dict):
        content[-1]["cache_control"] = dict(EPHEMERAL)
        return True
    return False


def _mark_tool(tool: dict[str, Any]) -> bool:
    tool["cache_control"] = dict(EPHEMERAL)
    return True


def add_anthropic_cache_breakpoints(
    request: dict[str, Any],
    model: str | None = None,
    count_tokens: Callable[[str], int] = approx_tokens,
    include_last_message: bool = True,
) -> BreakpointPlan:
    """Return a copy of `request` with `cache_control` breakpoints on its stable prefix.

    Breakpoints, in prefix order, each only when the prefix up to it reaches the model's minimum:
    the last tool, the last system message, the last earlier turn (the message before the final
    one), and with `include_last_message` the final message too, so the next turn of an agent
    loop (which resends this whole prompt plus new messages) reads it from cache. A request that
    already carries `cache_control` anywhere is returned unchanged: the caller chose.
    """
    if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
        raise ValueError("request must be a dict with a 'messages' list")
    minimum = anthropic_min_cacheable_tokens(model or str(request.get("model", "")))
    if _has_cache_control(request):
        return BreakpointPlan(request, [], 0)
    out = copy.deepcopy(request)
    messages: list[dict[str, Any]] = out["messages"]
    tools = out.get("tools") or []

    # Anthropic's prefix order is tools, then system, then the conversation.
    candidates: list[tuple[str, int, Callable[[], bool]]] = []  # (label, prefix tokens, mark)
    running = count_tokens(_text_of(tools)) if tools else 0
    if tools and isinstance(tools[-1], dict):
        candidates.append(("tools", running, lambda: _mark_tool(tools[-1])))
    system_idx = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") in ("system", "developer")]
    for i in system_idx:
        running += count_tokens(_text_of(messages[i].get("content")))
    if system_idx:
        last_sys = messages[system_idx[-1]]
        candidates.append(("system", running, lambda m=last_sys: _mark_message(m)))
    conversation = [i for i in range(len(messages)) if i not in set(system_idx)]
    for pos, i in enumerate(conversation):
        running += count_tokens(_text_of(messages[i].get("content"))) + count_tokens(_text_of(messages[i].get("tool_calls")))
        is_last = pos == len(conversation) - 1
        if pos == len(conversation) - 2 or (is_last and include_last_message):
            candidates.append((f"messages[{i}]", running, lambda m=messages[i]: _mark_message(m)))

    placed: list[tuple[str, int]] = []
    for label, tokens, mark in candidates:
        if tokens >= minimum and mark():
            placed.append((label, tokens))
    # At most 4 candidates exist (tools, system, previous turn, last turn) = MAX_BREAKPOINTS.
    return BreakpointPlan(out, [p[0] for p in placed], placed[-1][1] if placed else 0)


def prompt_cache_key(tenant: str, run_id: str | None, stable_prefix: Any = None) -> str:
    """OpenAI `prompt_cache_key`: one per tenant and run, so a run's calls share a warm cache.

    Without a run id, the key is derived from the tenant and the stable prefix (e.g. the system
    prompt), so calls sharing that prefix land together. Tenants never share a key.
    """
    if not tenant:
        raise ValueError("prompt_cache_key needs a tenant")
    if run_id:
        return "tm-" + hash_parts("prompt-cache-key", tenant, "run", run_id)[:40]
    return "tm-" + hash_parts("prompt-cache-key", tenant, "prefix", stable_prefix)[:40]


def with_prompt_cache_key(request: dict[str, Any], tenant: str, run_id: str | None) -> dict[str, Any]:
    """Copy of an OpenAI-style request with `prompt_cache_key` set, unless the caller set one."""
    if request.get("prompt_cache_key"):
        return request
    system = [m.get("content") for m in request.get("messages") or [] if isinstance(m, dict) and m.get("role") in ("system", "developer")]
    out = dict(request)
    out["prompt_cache_key"] = prompt_cache_key(tenant, run_id, {"system": system, "tools": request.get("tools")})
    return out
