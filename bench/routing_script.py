"""The agent-like script of the routing benchmark and the deterministic model that answers it.

Sessions: a support chat, a tool-using coding agent, math word problems, JSON extraction with
`response_format`, and one-off chat and code requests (easy and hard mixed). Each session but
the one-offs is an agent run. `think(prompt)` answers from the conversation's content only,
never from the model name, so the same script sent to different models carries the same
conversation, token for token.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fake_priced_upstreams import Answer, Prompt

# ---------------------------------------------------------------- the model behind the fake


def think(prompt: Prompt) -> Answer:
    """Same answer whatever the model: tool calls while the task needs them, JSON when asked,
    else prose whose length grows with the question."""
    digest = prompt.digest()
    since_user = 0
    for turn in reversed(prompt.turns):
        if turn.role == "user":
            break
        since_user += turn.role == "tool"
    if prompt.tools and prompt.tool_choice != "none" and since_user < 2:
        name = prompt.tools[since_user % len(prompt.tools)]
        return Answer(None, ((name, json.dumps({"path": "utils.py"})),))
    if prompt.response_format:
        return Answer(json.dumps({"id": digest[:12], "fields": {"value": digest[12:20]}, "ok": True}))
    words = min(300, 20 + len(prompt.last_user()) // 5)
    return Answer(f"Answer {digest[:8]}: " + " ".join(f"w{int(digest[i % 60 : i % 60 + 2], 16)}" for i in range(words)))


def tool_result(name: str) -> str:
    seed = hashlib.sha256(name.encode()).hexdigest()
    return f"[{name} utils.py]\n" + "\n".join(f"{i:3d}  {seed[i % 40 : i % 40 + 20]}" for i in range(40))


# ---------------------------------------------------------------- the agent-like script


@dataclass(frozen=True)
class Step:
    user: str
    kind: str  # chat | tools | math | code | json
    tools: bool = False
    tool_choice: str | None = None
    response_format: dict[str, Any] | None = None


@dataclass(frozen=True)
class Session:
    name: str
    system: str
    steps: tuple[Step, ...]
    run: bool = True  # an agent run (x-tokenmill-run); one-off calls are not
    carry: bool = True  # the conversation accumulates across steps


CODE_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": desc,
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
        },
    }
    for name, desc in (
        ("read_file", "Read a file of the repository."),
        ("run_tests", "Run the test suite and return the failures."),
        ("write_file", "Replace a file's content."),
    )
]
PERSON_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "contact",
        "schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "email": {"type": "string"}, "phone": {"type": "string"}},
            "required": ["name", "email", "phone"],
        },
    },
}
JSON_OBJECT = {"type": "json_object"}

SESSIONS: tuple[Session, ...] = (
    Session(
        "support-chat",
        "You are a friendly support assistant for an online bookshop.",
        (
            Step("Hi! Are you open on Sundays?", "chat"),
            Step("Great, thanks. Do you ship to Canada?", "chat"),
            Step("How long does shipping usually take?", "chat"),
            Step("Thanks, that's all!", "chat"),
        ),
    ),
    Session(
        "coding-agent",
        "You are a coding agent. Use the tools to inspect and change the repository; keep diffs minimal.",
        (
            Step(
                "The function parse_duration in utils.py returns 90 for '1h30m' instead of 5400. Find the bug and fix it.",
                "tools",
                tools=True,
                tool_choice="required",
            ),
            Step("Now add a unit test covering '2h', '45m' and '1h30m', and make sure the whole suite passes.", "tools", tools=True),
            Step("Write the commit message for this change.", "chat", tools=True),
        ),
    ),
    Session(
        "math-tutor",
        "Solve the problem. Show your reasoning, then give the final answer on its own line.",
        (
            Step("What is 15% of 80?", "math"),
            Step("A shop sells pens at 3 for $2. How much do 18 pens cost?", "math"),
            Step(
                "Maria has twice as many apples as Tom. Together they have 27 apples. After Maria gives Tom 4 apples, how many does each have?",
                "math",
            ),
            Step(
                "A train leaves at 3:15pm traveling 62 mph; a second leaves 40 minutes later at 75 mph on the same track. When does the second "
                "overtake the first, and how far from the station?",
                "math",
            ),
            Step(
                "A tank fills in 6 hours with pipe A and in 9 hours with pipe B; pipe C drains it in 12 hours. With all three open, how long "
                "does the empty tank take to fill? Then, if pipe B is closed after 2 hours, how long in total?",
                "math",
            ),
        ),
        carry=False,
    ),
    Session(
        "extractor",
        "Extract structured data. Reply with JSON only.",
        (
            Step("Contact Jane Doe at jane@example.com or +1 555 0100.", "json", response_format=PERSON_SCHEMA),
            Step(
                "Classify the sentiment of: 'The delivery was late but the book is wonderful.' Use keys sentiment and confidence.",
                "json",
                response_format=JSON_OBJECT,
            ),
            Step(
                "Convert this address to JSON with street, city and postcode: 221B Baker Street, London NW1 6XE",
                "json",
                response_format=JSON_OBJECT,
            ),
            Step(
                "List every line item of this invoice as JSON objects with description, quantity, unit_price and total, and check that the totals "
                "add up: 3 x 'USB-C cable' at 9.99; 2 x 'Laptop stand' at 34.50; 1 x 'Shipping' at 7.00; invoice total 96.97.",
                "json",
                response_format=JSON_OBJECT,
            ),
        ),
        carry=False,
    ),
    Session(
        "one-offs",
        "You are a helpful assistant.",
        (
            Step("Translate 'good morning' into Spanish.", "chat"),
            Step("What's the capital of Australia?", "chat"),
            Step("Write a haiku about autumn.", "chat"),
            Step("Give me three name ideas for a coffee shop.", "chat"),
            Step("Summarise the plot of Romeo and Juliet in one sentence.", "chat"),
            Step("Explain the difference between a process and a thread in two sentences.", "chat"),
            Step(
                "Write a Python function that returns the n-th Fibonacci number using memoization, with type hints and a docstring.", "code"
            ),
            Step(
                "Write a SQL query that returns the top 5 customers by total order value in 2023 from tables customers(id, name) and "
                "orders(id, customer_id, total, created_at).",
                "code",
            ),
            Step("Implement a thread-safe LRU cache in Java with O(1) get and put, and explain the locking strategy.", "code"),
            Step("Prove that the square root of 2 is irrational.", "math"),
        ),
        run=False,
        carry=False,
    ),
)


Send = Callable[[dict[str, Any], Session, Step, str | None], dict[str, Any]]  # (request, session, step, run id) -> reply


def assistant_message(message: dict[str, Any]) -> dict[str, Any]:
    """A reply's message as the next request carries it."""
    out: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
    calls = message.get("tool_calls") or []
    if calls:
        out["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": {"name": c["function"]["name"], "arguments": c["function"]["arguments"]}}
            for c in calls
        ]
    return out


def run_script(send: Send, tag: str) -> int:
    """Drive every session through `send`; a tool-using step loops until the model answers in
    text (at most 4 calls). Returns the number of calls made."""
    made = 0
    for session in SESSIONS:
        run = f"{tag}-{session.name}" if session.run else None
        messages: list[dict[str, Any]] = [{"role": "system", "content": session.system}]
        for step in session.steps:
            if not session.carry:
                messages = messages[:1]
            messages.append({"role": "user", "content": step.user})
            for attempt in range(4):
                request: dict[str, Any] = {"messages": list(messages), "max_tokens": 400}
                if step.tools:
                    request["tools"] = CODE_TOOLS
                    if step.tool_choice and attempt == 0:
                        request["tool_choice"] = step.tool_choice
                if step.response_format:
                    request["response_format"] = step.response_format
                message = send(request, session, step, run)["choices"][0]["message"]
                made += 1
                messages.append(assistant_message(message))
                calls = message.get("tool_calls") or []
                if not calls:
                    break
                for c in calls:
                    messages.append({"role": "tool", "tool_call_id": c["id"], "content": tool_result(c["function"]["name"])})
    return made
