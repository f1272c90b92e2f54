"""The input file format, checked line by line before anything runs."""

from __future__ import annotations

import tracemalloc

import orjson

from gateway.batches.jsonl import parse_input, reported
from tests.batch.conftest import chat_line, jsonl


def codes(data: bytes, max_lines: int = 100) -> list[tuple[str, int | None]]:
    return [(e.code, e.line) for e in parse_input(data, max_lines, 64).errors]


def test_good_lines_keep_their_order_and_blank_lines_are_skipped():
    data = jsonl([chat_line("a"), chat_line("b")]) + b"\n   \n" + jsonl([chat_line("c")])
    parsed = parse_input(data, 100, 64)
    assert parsed.ok
    assert [(line.line_no, line.file_line, line.custom_id) for line in parsed.lines] == [(0, 1, "a"), (1, 2, "b"), (2, 5, "c")]
    assert parsed.lines[0].body["model"] == "cheap"


def test_each_kind_of_bad_line_is_named_with_its_line_number():
    bad = [
        b'{"custom_id": "x", "method": "POST"',  # not JSON
        b"[1, 2]",
        orjson.dumps({**chat_line("ok-1"), "method": "GET"}),
        orjson.dumps({**chat_line("ok-2"), "url": "/v1/images/generations"}),
        orjson.dumps({**chat_line("ok-3"), "body": "hello"}),
        orjson.dumps({k: v for k, v in chat_line("gone").items() if k != "custom_id"}),
        orjson.dumps(chat_line("x" * 65)),
        orjson.dumps({**chat_line("extra"), "priority": 1}),
        orjson.dumps(chat_line("dup")),
        orjson.dumps(chat_line("dup")),
    ]
    assert codes(b"\n".join(bad)) == [
        ("invalid_json_line", 1), ("invalid_request", 2), ("invalid_method", 3), ("invalid_url", 4), ("invalid_body", 5),
        ("missing_custom_id", 6), ("invalid_custom_id", 7), ("invalid_request", 8), ("duplicate_custom_id", 10),
    ]
    duplicate = parse_input(b"\n".join(bad), 100, 64).errors[-1]
    assert "line 9" in duplicate.message


def test_empty_files_and_too_many_lines_are_refused():
    assert codes(b"\n\n") == [("empty_file", None)]
    assert codes(jsonl([chat_line(str(i)) for i in range(4)]), max_lines=3) == [("too_many_requests", None)]


def test_the_reported_errors_are_capped_with_a_count_of_the_rest():
    data = b"\n".join(b"not json" for _ in range(130))
    out = reported(parse_input(data, 1000, 64).errors)
    assert len(out) == 101 and out[-1]["code"] == "too_many_errors" and "30 more" in out[-1]["message"]
    assert out[0] == {"code": "invalid_json_line", "message": out[0]["message"], "param": None, "line": 1}


def _peak_bytes(call) -> int:  # noqa: ANN001 - () -> object
    """The most memory Python allocated while `call` ran (its result freed first)."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_file_of_blank_lines_is_refused_without_a_copy_of_each_line():
    blank = b"  \n" * (8 * 1024 * 1024 // 3)  # 2.8 million blank lines
    assert codes(blank) == [("empty_file", None)]
    assert codes(b"\r\n" * 1_000_000) == [("empty_file", None)]
    # Splitting the body into a list of lines took over 100 MiB here (2 GB for the 100 MiB limit).
    assert _peak_bytes(lambda: parse_input(blank, 100, 64)) < 1024 * 1024


def test_reading_stops_at_the_first_request_past_the_limit():
    data = jsonl([chat_line(str(i)) for i in range(3)]) + b"\n\n" + jsonl([chat_line(str(i)) for i in range(3, 20_000)]) + b"not json\n" * 1000
    parsed = parse_input(data, 3, 64)
    # Nothing after request 4 was read (the bad lines at the end are not reported), nothing kept.
    assert [(e.code, e.line) for e in parsed.errors] == [("too_many_requests", None)] and parsed.lines == []
    assert "more than 3 requests" in parsed.errors[0].message
    assert _peak_bytes(lambda: parse_input(data, 3, 64)) < 1024 * 1024
    # The bad lines met before the limit are still reported, each with its line number.
    assert codes(b"not json\n\n" + jsonl([chat_line(str(i)) for i in range(5)]), max_lines=3) == [("invalid_json_line", 1), ("too_many_requests", None)]
    assert parse_input(b"\n" + jsonl([chat_line("a")]), 1, 64).lines[0].file_line == 2
