"""What the router reads from a chat request: the task-carrying text and a conversation summary.

Only the last user turn carries the task; a long shared system prompt or few-shot block would
make every prompt look the same to the embedding, so it is summarised as counts, not read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Approximate tokens from characters: cheap, and good enough for features kept in coarse ranges.
CHARS_PER_TOKEN = 4.0
# Outside ASCII a character is often a token or more (CJK: about 1 with tiktoken, 1.5-3 with
# small byte-level vocabularies); counting them as a quarter would let a long Chinese prompt
# look as if it fitted a small context window.
TOKENS_PER_NON_ASCII_CHAR = 1.5


def approx_tokens(text: str) -> int:
    ascii_chars = len(text.encode("ascii", "ignore"))
    return int(ascii_chars / CHARS_PER_TOKEN + (len(text) - ascii_chars) * TOKENS_PER_NON_ASCII_CHAR)

# Multiple-choice option blocks ("A. ...", "(b) ...") and a trailing "Answer:" are format, not task.
_OPTION_LINE = re.compile(r"^\s*\(?[A-Ha-h][\.\)]\s+\S.*$")
_ANSWER_TAIL = re.compile(r"\s*(Answer|A)\s*:\s*$")
# Few-shot blocks: a prompt with several "Q: ... A: ..." (or Question/Answer) pairs; the task is the last one.
_LEADING_LABEL = re.compile(r"^\s*(?:Q|Question|Problem)\s*:\s*", re.IGNORECASE)
_SHOT_SPLIT = re.compile(r"(?im)^[ \t]*(?:Q|Question|Problem|Input)[ \t]*[:.]\s*")
# Unlabelled few-shot blocks (lm-eval style): examples that end in a filled-in answer line ("Answer: B",
# or "Answer:" with the answer on the next line) and a blank line, then the task, ending in the same
# label left empty. Only that closing empty label marks one: "Output: true" in a task's own examples does not.
_ANSWERED_SHOT = re.compile(r"(?im)^[ \t]*(answer|output|label|solution)[ \t]*:[ \t]*(?:\n[ \t]*)?\S[^\n]{0,80}\n[ \t]*\n")
_FILLED_ANSWER = re.compile(r"(?im)^[ \t]*(?:answer|a|output|solution)[ \t]*:[ \t]*\S")
_EMPTY_LABEL_TAIL = re.compile(r"(?i)(answer|output|label|solution)[ \t]*:\s*$")
# A plan: lines numbered 1, 2, 3, ... ("3.", "3)", "Step 3:"); this many steps make a long one.
_PLAN_STEP = re.compile(r"(?im)^[ \t]*(?:step[ \t]*)?(\d{1,3})[ \t]*[.):][ \t]+\S")
LONG_PLAN_STEPS = 8


@dataclass(frozen=True)
class RequestSummary:
    """Everything the difficulty estimator and the policies read about one call."""

    task_text: str  # the task-carrying part of the last user turn (options and few-shot stripped)
    last_user_chars: int
    prompt_tokens: int  # whole conversation, approximate unless the caller passes a real count
    user_turns: int
    messages: int
    system_chars: int
    tools_offered: int
    tool_required: bool
    response_format: str | None  # "json_schema", "json_object", or None
    has_images: bool = False
    tools_enabled: bool = False  # tools offered and tool_choice is not "none": the model may call one
    long_plan: bool = False  # the last user or assistant turn holds a plan of LONG_PLAN_STEPS or more steps
    multiple_choice: bool = False  # the last turn ends in lettered options: a one-letter answer, no worked solution


def message_text(content: Any) -> str:
    """Text of an OpenAI message content (a string, or a list of parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    raise TypeError(f"message content must be a string or a list of parts, got {type(content).__name__}")


def _has_image(content: Any) -> bool:
    return isinstance(content, list) and any(isinstance(p, Mapping) and p.get("type") in ("image_url", "input_image") for p in content)


def _option_block_start(lines: list[str]) -> int:
    """Index where a trailing block of two or more option lines starts (len(lines) if none)."""
    end = len(lines)
    while end > 0 and _OPTION_LINE.match(lines[end - 1]):
        end -= 1
    return end if len(lines) - end >= 2 else len(lines)


def is_multiple_choice(text: str) -> bool:
    lines = text.rstrip().splitlines()
    if lines and _ANSWER_TAIL.fullmatch(lines[-1]):
        lines.pop()
    return _option_block_start(lines) < len(lines)


def strip_options(text: str) -> str:
    """Drop a trailing multiple-choice block and 'Answer:' so that only the question stem remains."""
    lines = text.rstrip().splitlines()
    if lines and _ANSWER_TAIL.fullmatch(lines[-1]):
        lines.pop()
    return "\n".join(lines[: _option_block_start(lines)]).strip()


def plan_steps(text: str) -> int:
    """Length of the longest run of steps numbered 1, 2, 3, ... in `text`."""
    longest = expected = 0
    for match in _PLAN_STEP.finditer(text):
        n = int(match.group(1))
        expected = n if n == 1 or n == expected else 0
        if expected:
            longest = max(longest, n)
            expected = n + 1
    return longest


def task_part(text: str, max_chars: int = 1500) -> str:
    """The part of a user turn that carries the task.

    Few-shot prompts keep only their last example; very long turns keep their head (instructions
    usually lead) and tail (the question usually ends), which also bounds the cost of later steps.
    """
    shots = _SHOT_SPLIT.split(text)
    # At least one worked example before the real question, which is still unanswered (a task
    # listing its own "Input: 29 / Output: true" examples is not a few-shot block).
    if len(shots) >= 3 and not _FILLED_ANSWER.search(shots[-1]):
        text = shots[-1]
    elif tail := _EMPTY_LABEL_TAIL.search(text[-40:]):
        label = tail.group(1).lower()
        answered = [m.end() for m in _ANSWERED_SHOT.finditer(text) if m.group(1).lower() == label]
        if answered:
            text = text[answered[-1] :]
    text = _LEADING_LABEL.sub("", strip_options(text), count=1)
    if len(text) > max_chars:
        head = max_chars // 4
        text = text[:head] + "\n...\n" + text[-(max_chars - head) :]
    return text


def summarize_request(
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Any] | None = None,
    tool_choice: Any = None,
    response_format: Mapping[str, Any] | None = None,
    prompt_tokens: int | None = None,
) -> RequestSummary:
    """Summarise an OpenAI chat request (messages, tools, tool_choice, response_format)."""
    if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)):
        raise TypeError("messages must be a list of {'role': ..., 'content': ...} mappings")
    last_user = last_assistant = ""
    user_turns = system_chars = total_tokens = 0
    has_images = False
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or "role" not in m:
            raise ValueError(f"message {i} must be a mapping with a 'role'")
        text = message_text(m.get("content"))
        total_tokens += approx_tokens(text)
        has_images = has_images or _has_image(m.get("content"))
        if m["role"] == "user":
            user_turns += 1
            last_user = text
        elif m["role"] == "assistant":
            last_assistant = text
        elif m["role"] in ("system", "developer"):
            system_chars += len(text)
    required = _tool_call_required(tool_choice)
    fmt = None
    if response_format is not None:
        fmt = str(response_format.get("type")) if response_format.get("type") != "text" else None
    return RequestSummary(
        task_text=task_part(last_user),
        last_user_chars=len(last_user),
        prompt_tokens=prompt_tokens if prompt_tokens is not None else total_tokens,
        user_turns=user_turns,
        messages=len(messages),
        system_chars=system_chars,
        tools_offered=len(tools or ()),
        tool_required=bool(tools) and required,
        response_format=fmt,
        has_images=has_images,
        tools_enabled=bool(tools) and tool_choice != "none",
        long_plan=max(plan_steps(last_user), plan_steps(last_assistant)) >= LONG_PLAN_STEPS,
        multiple_choice=is_multiple_choice(last_user[-3000:]),
    )


def _tool_call_required(tool_choice: Any) -> bool:
    """"required", a named function or custom tool, or allowed_tools in mode "required"."""
    if tool_choice == "required":
        return True
    if not isinstance(tool_choice, Mapping):
        return False
    if tool_choice.get("type") in ("function", "custom"):
        return True
    allowed = tool_choice.get("allowed_tools")
    return tool_choice.get("type") == "allowed_tools" and isinstance(allowed, Mapping) and allowed.get("mode") == "required"


def summarize_prompt(prompt: str) -> RequestSummary:
    """A single-turn request holding `prompt` as its only user message (evaluation CSVs)."""
    return summarize_request([{"role": "user", "content": prompt}])
