"""Offline token counting with tiktoken, using the encoding files litellm ships.

tiktoken downloads its BPE files unless TIKTOKEN_CACHE_DIR points at a folder that has them;
litellm's wheel carries cl100k_base and o200k_base under that name-hashed layout.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

_O200K_MODELS = ("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4", "chatgpt-4o")
# Per-message framing tokens OpenAI documents for chat models.
_TOKENS_PER_MESSAGE = 3
_TOKENS_PER_REPLY = 3


def _point_tiktoken_at_litellm_files() -> None:
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        return
    spec = importlib.util.find_spec("litellm")  # finds the folder without importing litellm
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("litellm is not installed: it carries the offline tiktoken files")
    folder = Path(spec.submodule_search_locations[0]) / "litellm_core_utils" / "tokenizers"
    os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)


@lru_cache(maxsize=4)
def _encoding(name: str):  # noqa: ANN202 - tiktoken.Encoding
    _point_tiktoken_at_litellm_files()
    import tiktoken

    return tiktoken.get_encoding(name)


def encoding_name_for(model: str) -> str:
    bare = model.rsplit("/", 1)[-1]
    return "o200k_base" if bare.startswith(_O200K_MODELS) else "cl100k_base"


def count_text_tokens(text: str, model: str = "") -> int:
    if not text:
        return 0
    return len(_encoding(encoding_name_for(model)).encode(text, disallowed_special=()))


def _part_text(part: Any) -> str | None:
    """A content part's text, when it has text (a string); else None."""
    text = part.get("text") if isinstance(part, dict) else None
    return text if isinstance(text, str) else None


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(text for part in content if (text := _part_text(part)) is not None)
    return str(content)


# Images are billed as tokens too. A high-detail image is at most 1,445 tokens on gpt-4o (8 tiles)
# and about 1,600 on Claude (1.15 megapixels); a low-detail one is 85. An upper bound, since
# admission reserves the worst case.
_IMAGE_TOKENS = 1600
_LOW_DETAIL_IMAGE_TOKENS = 85


def _image_tokens(content: Any) -> int:
    if not isinstance(content, list):
        return 0
    total = 0
    for part in content:
        if isinstance(part, dict) and part.get("type") == "image_url":
            image = part.get("image_url")
            low = isinstance(image, dict) and image.get("detail") == "low"
            total += _LOW_DETAIL_IMAGE_TOKENS if low else _IMAGE_TOKENS
    return total


def _other_parts(content: Any) -> list[Any]:
    """Content parts that are neither text nor an image (input_audio, file, a part whose text is
    not a string, ...)."""
    if not isinstance(content, list):
        return []
    return [p for p in content if not ((isinstance(p, dict) and p.get("type") == "image_url") or _part_text(p) is not None)]


def count_chat_tokens(
    messages: list[dict[str, Any]], model: str = "", tools: list[Any] | None = None, extra: list[Any] | None = None
) -> int:
    """Prompt tokens of a chat request, the way OpenAI counts them (close for other vendors).
    What the upstream also reads and bills, but that has no exact offline count (tools, `extra`
    such as legacy functions or a JSON schema, audio or file parts), counts as its JSON text:
    admission reserves the worst case."""
    import orjson

    enc = _encoding(encoding_name_for(model))

    def as_json(value: Any) -> int:
        return len(enc.encode(orjson.dumps(value).decode(), disallowed_special=()))

    total = _TOKENS_PER_REPLY
    for message in messages:
        total += _TOKENS_PER_MESSAGE
        total += len(enc.encode(_content_text(message.get("content")), disallowed_special=()))
        total += _image_tokens(message.get("content"))
        if message.get("name"):
            total += 1
        for name in ("tool_calls", "function_call"):
            if message.get(name):
                total += as_json(message[name])
        if others := _other_parts(message.get("content")):
            total += as_json(others)
    for value in (tools, *(extra or [])):
        if value:
            total += as_json(value)
    return total


def count_request_tokens(endpoint: str, body: dict[str, Any], model: str = "") -> int:
    """The offline count of what an OpenAI request sends: chat messages, a prompt, or inputs."""
    if endpoint == "chat":
        extra = [body.get("functions"), body.get("response_format")]
        return count_chat_tokens(body.get("messages") or [], model, body.get("tools"), extra)
    value: Any = body.get("prompt") if endpoint == "completions" else body.get("input")
    if isinstance(value, str):
        return count_text_tokens(value, model)
    if not isinstance(value, list):
        return 0
    # A list of texts, of token ids, or of token-id lists; only strings are encoded.
    return sum(count_text_tokens(v, model) if isinstance(v, str) else len(v) if isinstance(v, list) else 1 for v in value)
