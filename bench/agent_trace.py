"""A scripted 30-turn coding agent and the deterministic model that answers it (issue 6 trace).

Each turn the agent makes one main call (a long stable system prompt, three tool definitions,
the whole conversation so far with every tool result appended; temperature 0), then one side
call that summarises the latest tool output (the agent re-reads files, so the same summary
request recurs: an exact cache can answer it), and every other turn a short question about
the project's documentation (some are paraphrases of earlier ones, some differ from an earlier
one by a number or a qualifier: a semantic cache may serve the former and must not serve the latter).

`think(prompt)` is the model behind the fake providers: its answer is a function of the
conversation's content only. For documentation questions it answers by meaning: the
paraphrases listed in DOCS_QUESTIONS share one answer (as a good model at temperature 0 would
give the same facts), while questions that differ in meaning get different answers, so a wrong
semantic hit shows up as a changed answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fake_priced_upstreams import Answer, Prompt

SYSTEM_PROMPT = (
    "You are CodeFixer, an autonomous software agent. You work in a repository through tools. "
    "Rules: read before you edit; run the tests after each change; keep diffs minimal; explain "
    "each step in one sentence; never invent file contents; stop when the tests pass. "
) * 24  # about 1,500 tokens: a realistic agent system prompt
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{desc} " * 30,
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
        },
    }
    for name, desc in (
        ("read_file", "Read a file of the repository and return its text."),
        ("search_code", "Search the repository for a symbol and return matching lines."),
        ("run_tests", "Run the test suite and return the failures."),
    )
]
TOOL_NAMES = tuple(t["function"]["name"] for t in TOOLS)
FILES = ("src/app.py", "src/db.py", "src/api.py", "tests/test_app.py", "README.md")
TASK = "The test suite fails on main. Find and fix the bug."
SUMMARY_SYSTEM = "Summarise tool output for an agent's scratchpad in two sentences."
DOCS_SYSTEM = "You answer questions about the CodeFixer repository's documentation in one short paragraph."

# (question, meaning): the fake model answers by meaning. In the order the agent asks them.
DOCS_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("How do I run the test suite?", "run-tests"),
    ("Which Python version does the project require?", "python-required"),
    ("How can I run the test suite?", "run-tests"),
    ("What does error code 404 mean in the API?", "error-404"),
    ("How do I run the test suite in parallel?", "run-tests-parallel"),
    ("What does error code 500 mean in the API?", "error-500"),
    ("What Python version does the project require?", "python-required"),
    ("How do I run the tests?", "run-tests"),
    ("Which Python version does the project support?", "python-supported"),
    ("How do I run the test suite?", "run-tests"),
    ("What does the error code 404 mean in the API?", "error-404"),
    ("Where is the database connection configured?", "db-config"),
    ("Where do I configure the database connection?", "db-config"),
    ("How do I install the project's dependencies?", "install"),
    ("How can I install the project's dependencies?", "install"),
)
_MEANING = {question: meaning for question, meaning in DOCS_QUESTIONS}


def tool_output(name: str, path: str) -> str:
    """What a tool returns: deterministic, about 2,000 characters, the same for the same call."""
    seed = hashlib.sha256(f"{name}:{path}".encode()).hexdigest()
    return f"[{name} {path}]\n" + "\n".join(f"line {i}: {seed[i % 40 : i % 40 + 24]} value = {i * 7 % 13}" for i in range(60))


def planned_call(step: int) -> tuple[str, str]:
    """The tool call the model makes after `step` tool results: repeats with a period of 15."""
    return TOOL_NAMES[step % 3], FILES[(step * 2) % len(FILES)]


def think(prompt: Prompt) -> Answer:
    """The deterministic model behind the fakes (content in, answer out)."""
    digest = prompt.digest()
    if prompt.tools:
        step = sum(t.role == "tool" for t in prompt.turns)
        name, path = planned_call(step)
        return Answer(f"Step {step}: calling {name} on {path}.", ((name, json.dumps({"path": path})),))
    if prompt.system == SUMMARY_SYSTEM:
        return Answer(f"Summary {digest[:16]}: the output lists 60 values; nothing failed.")
    question = prompt.last_user()
    meaning = _MEANING.get(question)
    if prompt.system == DOCS_SYSTEM and meaning is not None:
        return Answer(
            f"Docs answer [{meaning}] {hashlib.sha256(meaning.encode()).hexdigest()[:24]}: see CONTRIBUTING.md, section '{meaning}'."
        )
    return Answer(f"Answer {digest[:16]}.")


Send = Callable[[dict[str, Any], str], dict[str, Any]]  # (request, kind) -> chat.completion as a dict


def run_agent(send: Send, turns: int = 30, model: str = "claude") -> list[dict[str, Any]]:
    """Drive the agent; `send` gets each request and its kind (main, summary, docs) and returns the
    reply body. Returns every reply body, in order."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": TASK}]
    replies = []
    for turn in range(turns):
        reply = send({"model": model, "messages": list(messages), "tools": TOOLS, "temperature": 0, "max_tokens": 512}, "main")
        replies.append(reply)
        message = reply["choices"][0]["message"]
        calls = message.get("tool_calls") or []
        if not calls:
            raise RuntimeError(f"turn {turn}: the model made no tool call: {message}")
        messages.append(
            {
                "role": "assistant",
                "content": message.get("content"),
                "tool_calls": [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["function"]["name"], "arguments": c["function"]["arguments"]},
                    }
                    for c in calls
                ],
            }
        )
        call = calls[0]
        output = tool_output(call["function"]["name"], json.loads(call["function"]["arguments"])["path"])
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": output})
        replies.append(
            send(
                {
                    "model": model,
                    "temperature": 0,
                    "max_tokens": 200,
                    "messages": [{"role": "system", "content": SUMMARY_SYSTEM}, {"role": "user", "content": output}],
                },
                "summary",
            )
        )
        if turn % 2 == 1:
            question = DOCS_QUESTIONS[(turn // 2) % len(DOCS_QUESTIONS)][0]
            replies.append(
                send(
                    {
                        "model": model,
                        "temperature": 0,
                        "max_tokens": 200,
                        "messages": [{"role": "system", "content": DOCS_SYSTEM}, {"role": "user", "content": question}],
                    },
                    "docs",
                )
            )
    return replies


def answer_of(reply: dict[str, Any]) -> str:
    """What a reply says (text, tool calls, finish reason), for comparing two runs."""
    choice = reply["choices"][0]
    message = choice["message"]
    calls = [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in message.get("tool_calls") or []]
    return json.dumps([message.get("content"), calls, choice.get("finish_reason")], sort_keys=True)
