"""Which requests the semantic cache may see, and the two parts it compares them by.

A request is split into its context (system prompt, earlier turns, every output-affecting
parameter: hashed, must match exactly) and its question (the text of the last user turn:
compared semantically). Requests with tools or tool calls, non-text last turns, last turns that
are no question (text to proofread, translate, rewrite), instructions that make the user's turn
text to work on, several choices or log-probabilities are never served semantically.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cache.canonical import canonical_message, canonical_params, hash_parts

# The embedder truncates long texts (MiniLM at 256 word pieces): two long questions differing
# after the cut would embed alike, so long questions are left to the exact cache.
DEFAULT_MAX_QUESTION_CHARS = 800
# ... and 800 characters of digits and punctuation can hold more word pieces than it reads.
MAX_QUESTION_PIECES = 256
# The rules compare questions. A last turn that is text to work on ("She have a apple." under a
# proofreading system prompt, "Translate to French: I really like it.", "hello world" for an
# upper-caser) differs in what they do not look at (grammar, articles, letter case): it gets
# exact hits only. A question ends in "?" or opens like one, and fits on one line.
_QUESTION_OPENING = re.compile(
    r"(?:what|whats|what's|how|why|who|whom|whose|when|where|which|is|are|was|were|am|do|does|did|can|could|"
    r"should|would|will|shall|may|might|must|has|have|had|isn't|aren't|don't|doesn't|didn't|can't|won't|"
    r"explain|describe|define|tell me|list|name|recommend|suggest|compare)\b",
    re.IGNORECASE,
)


# Instructions that make the user's turns text to work on, not questions to answer: under "Translate
# the user's message into French", "How do I learn Python?" and "How can I learn Python?" want
# different outputs although they ask the same. The system prompt and earlier turns are matched
# exactly, so two such requests agree on the instruction; the question must then match exactly too.
_TEXT_TASK = re.compile(
    r"\b(?:translat|paraphras|rewrit|rephras|reword|proofread|spell[- ]?check|summari[sz]|tl;?dr|classif|categori[sz]|"
    r"transliterat|reverse|upper-?case|lower-?case|capitali[sz]|sentiment|grammar|punctuat|tokeni[sz]|"
    r"(?:repeat|echo|count|extract|detect|label|tag|grade|score|rate|format|convert|encode|decode)\w*\W+(?:\w+\W+){0,4}?"
    r"(?:user|input|message|text|sentence|phrase|word|letter|character|question|query|prompt|following))",
    re.IGNORECASE,
)


def sets_a_text_task(messages: list[dict[str, Any]]) -> bool:
    """A system prompt or an earlier user turn asks for work on the user's text (see _TEXT_TASK)."""
    for message in messages:
        if message.get("role") in ("system", "developer", "user"):
            text = _message_text(message)
            if text and _TEXT_TASK.search(text):
                return True
    return False


@dataclass(frozen=True)
class SemanticQuery:
    context_hash: str
    question: str


@dataclass(frozen=True)
class Ineligible:
    reason: str


def _message_text(message: dict[str, Any]) -> str | None:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "\n".join(str(p.get("text", "")) for p in content)
    return None


def word_pieces(text: str) -> int:
    """How many word pieces the embedder's tokenizer makes of `text` ([CLS] and [SEP] included)."""
    from local_engine.embedder_tokenizer import minilm_tokenizer

    return len(minilm_tokenizer(max_pieces=100_000).encode(text).ids)


def is_question(text: str) -> bool:
    """One line that ends in "?" or opens as a question or a request for an explanation does."""
    return "\n" not in text and (text.endswith(("?", "？")) or _QUESTION_OPENING.match(text) is not None)


def semantic_query(request: dict[str, Any], max_question_chars: int = DEFAULT_MAX_QUESTION_CHARS) -> SemanticQuery | Ineligible:
    """The (context hash, question) of a request, or why the semantic cache must not touch it."""
    if request.get("tools") or request.get("functions"):
        return Ineligible("request offers tools")
    if request.get("tool_choice") not in (None, "none") or request.get("function_call") is not None:
        return Ineligible("request sets tool_choice")
    if request.get("n") not in (None, 1):
        return Ineligible("more than one choice requested")
    if request.get("logprobs") or request.get("top_logprobs") is not None:
        return Ineligible("log-probabilities requested")
    if request.get("prediction") is not None or request.get("audio") is not None:
        return Ineligible("prediction or audio requested")
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return Ineligible("no messages")
    for message in messages:
        if message.get("role") in ("tool", "function") or message.get("tool_calls") or message.get("function_call"):
            return Ineligible("conversation holds tool calls")
    last = messages[-1]
    if last.get("role") != "user":
        return Ineligible("last message is not a user turn")
    question = _message_text(last)
    if question is None:
        return Ineligible("last user turn is not plain text")
    question = question.strip()
    if not question:
        return Ineligible("empty question")
    if len(question) > max_question_chars:
        return Ineligible(f"question longer than {max_question_chars} characters")
    if not is_question(question):
        return Ineligible("last user turn is not a question (text to work on gets exact hits only)")
    if sets_a_text_task(messages[:-1]):
        return Ineligible("the instructions make the user's turn text to work on (exact hits only)")
    if word_pieces(question) > MAX_QUESTION_PIECES:
        return Ineligible(f"question longer than the embedder reads ({MAX_QUESTION_PIECES} word pieces)")
    last_meta = {k: v for k, v in last.items() if k != "content"}
    context = hash_parts(
        "semantic-context",
        [canonical_message(m) for m in messages[:-1]],
        canonical_params(request),
        last_meta,
    )
    return SemanticQuery(context, question)
