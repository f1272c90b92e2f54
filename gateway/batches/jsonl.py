"""Reading a batch input file: one JSON request per line, as OpenAI's Batch API defines it.

`parse_input` checks what a file alone can tell (JSON, fields, method, url, unique custom ids);
what depends on the key and the models is checked when a batch is created (validation.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.body import MAX_NESTING, deeper_than_writable

ENDPOINTS = {"/v1/chat/completions": "chat", "/v1/completions": "completions", "/v1/embeddings": "embeddings"}
MAX_REPORTED_ERRORS = 100
# A line that is not blank, from its first non-blank byte to its end (JSON ignores the whitespace around).
_TEXT_LINE = re.compile(rb"\S[^\n]*")


@dataclass(frozen=True)
class InputLine:
    line_no: int  # 0-based position among the requests
    file_line: int  # 1-based line number in the file, as errors report it
    custom_id: str
    url: str
    body: dict[str, Any]


@dataclass(frozen=True)
class LineError:
    code: str
    message: str
    line: int | None = None  # 1-based line of the input file
    param: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "param": self.param, "line": self.line}


@dataclass
class ParsedInput:
    lines: list[InputLine]
    errors: list[LineError]

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_input(data: bytes, max_lines: int, max_custom_id_chars: int) -> ParsedInput:
    """The file's requests and its bad lines. Lines are read one at a time (blank ones skipped
    without a Python step each), and reading stops at the first request past `max_lines`."""
    lines: list[InputLine] = []
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    number, at = 1, 0
    for match in _TEXT_LINE.finditer(data):
        number += data.count(b"\n", at, match.start())
        at = match.start()
        if len(lines) + len(errors) == max_lines:  # every error so far names a line: this is request max_lines + 1
            errors.append(LineError("too_many_requests", f"The file holds more than {max_lines} requests; a batch may hold at most {max_lines}."))
            return ParsedInput([], errors)
        line, error = _parse_line(match.group(), number, len(lines), max_custom_id_chars)
        if error is None and line is not None:
            first = seen.get(line.custom_id)
            if first is not None:
                error = LineError("duplicate_custom_id", f"The custom_id {line.custom_id!r} is already used on line {first}; each request needs its own.", number, "custom_id")
            else:
                seen[line.custom_id] = number
        if error is not None:
            errors.append(error)
        elif line is not None:
            lines.append(line)
    if not lines and not errors:
        errors.append(LineError("empty_file", "The file holds no requests: write one JSON request per line."))
    return ParsedInput(lines, errors)


def _parse_line(raw: bytes, number: int, index: int, max_custom_id_chars: int) -> tuple[InputLine | None, LineError | None]:
    try:
        item = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, LineError("invalid_json_line", f"Line {number} is not valid JSON: {exc}", number)
    if not isinstance(item, dict):
        return None, LineError("invalid_request", f"Line {number} must be a JSON object with custom_id, method, url and body.", number)
    if deeper_than_writable(raw, item):
        return None, LineError("invalid_request", f"Line {number} is nested more than {MAX_NESTING} levels deep.", number)
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return None, LineError("missing_custom_id", f"Line {number} needs a non-empty string custom_id.", number, "custom_id")
    if len(custom_id) > max_custom_id_chars:
        return None, LineError("invalid_custom_id", f"Line {number}: custom_id is longer than {max_custom_id_chars} characters.", number, "custom_id")
    if item.get("method") != "POST":
        return None, LineError("invalid_method", f"Line {number}: method must be \"POST\", not {item.get('method')!r}.", number, "method")
    url = item.get("url")
    if url not in ENDPOINTS:
        allowed = ", ".join(ENDPOINTS)
        return None, LineError("invalid_url", f"Line {number}: url {url!r} is not one of {allowed}.", number, "url")
    body = item.get("body")
    if not isinstance(body, dict):
        return None, LineError("invalid_body", f"Line {number}: body must be a JSON object (the request to {url}).", number, "body")
    unknown = sorted(set(item) - {"custom_id", "method", "url", "body"})
    if unknown:
        return None, LineError("invalid_request", f"Line {number} has unknown fields {unknown}.", number, unknown[0])
    return InputLine(index, number, custom_id, url, body), None


def reported(errors: list[LineError]) -> list[dict[str, Any]]:
    """The errors as a batch's `errors.data`: the first ones, and a count of the rest."""
    out = [e.as_json() for e in errors[:MAX_REPORTED_ERRORS]]
    if len(errors) > MAX_REPORTED_ERRORS:
        out.append(LineError("too_many_errors", f"{len(errors) - MAX_REPORTED_ERRORS} more lines have errors.").as_json())
    return out
