"""Chat templates rendered with jinja2 the way Hugging Face `apply_chat_template` does."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any

import jinja2
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment


class TemplateError(ValueError):
    """The chat template rejected the conversation (raise_exception) or failed to render."""


def _raise_exception(message: str) -> None:
    raise TemplateError(message)


def _tojson(x: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None, sort_keys: bool = False) -> str:
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


class _GenerationTag(Extension):
    """HF's `{% generation %}...{% endgeneration %}` marks assistant spans; rendering ignores it."""

    tags = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> jinja2.nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.Scope(body, lineno=lineno)


@lru_cache(maxsize=16)
def _compile(template: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[_GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env.from_string(template)


def template_supports_tools(template: str) -> bool:
    return "tools" in template


def _tools_system_text(tools: list[dict[str, Any]]) -> str:
    # Hermes-style fallback for templates that do not render tools themselves.
    lines = "\n".join(json.dumps(t, ensure_ascii=False) for t in tools)
    return (
        "You may call one or more functions to assist with the user query.\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n"
        f"<tools>\n{lines}\n</tools>\n"
        "For each function call, return a json object with function name and arguments within "
        '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
    )


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def _call_json(call: dict[str, Any]) -> str:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    try:
        arguments = json.loads(arguments) if isinstance(arguments, str) else arguments
    except json.JSONDecodeError:
        pass  # the model's own malformed arguments: shown as the string it wrote
    return json.dumps({"name": function.get("name"), "arguments": arguments}, ensure_ascii=False)


def _hermes_history(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier tool calls and their results as text, for templates that know neither: an
    assistant's calls become <tool_call> blocks (the form the fallback asks the model to use),
    a tool result a user turn in <tool_response> tags, so the model sees what it called and got."""
    out = []
    for m in messages:
        if m.get("role") == "assistant" and m.get("tool_calls"):
            blocks = "\n".join(f"<tool_call>\n{_call_json(c)}\n</tool_call>" for c in m["tool_calls"] if isinstance(c, dict))
            rest = {k: v for k, v in m.items() if k != "tool_calls"}
            out.append({**rest, "content": f"{_text(m.get('content'))}\n{blocks}".strip()})
        elif m.get("role") == "tool":
            out.append({"role": "user", "content": f"<tool_response>\n{_text(m.get('content'))}\n</tool_response>"})
        else:
            out.append(m)
    return out


def render_chat(
    template: str,
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None = None,
    add_generation_prompt: bool = True,
    bos_token: str = "",
    eos_token: str = "",
    **kwargs: Any,
) -> str:
    """Render `messages` (and `tools`) with an HF chat template.

    Templates that do not reference `tools` get the tool definitions in the system message,
    and ones that do not reference `tool_calls` get earlier calls and results as text, so the
    model still sees them.
    """
    if "tool_calls" not in template and any(m.get("tool_calls") or m.get("role") == "tool" for m in messages):
        messages = _hermes_history(messages)
    if tools and not template_supports_tools(template):
        messages = [dict(m) for m in messages]
        text = _tools_system_text(tools)
        if messages and messages[0].get("role") == "system":
            messages[0]["content"] = f"{messages[0].get('content') or ''}\n\n{text}"
        else:
            messages.insert(0, {"role": "system", "content": text})
        tools = None
    try:
        return _compile(template).render(
            messages=messages,
            tools=tools,
            add_generation_prompt=add_generation_prompt,
            bos_token=bos_token,
            eos_token=eos_token,
            **kwargs,
        )
    except TemplateError:
        raise
    except jinja2.TemplateError as exc:
        raise TemplateError(f"chat template failed to render: {exc}") from exc
