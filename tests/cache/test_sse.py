import json

from openai.types.chat import ChatCompletion, ChatCompletionChunk
from tests_cache_helpers import completion

from cache.sse import DONE_EVENT, completion_to_chunks, replay_sse, wants_usage_chunk


def parse(events: list[bytes]) -> list[ChatCompletionChunk]:
    assert events[-1] == DONE_EVENT
    chunks = []
    for event in events[:-1]:
        assert event.startswith(b"data: ") and event.endswith(b"\n\n")
        chunks.append(ChatCompletionChunk.model_validate(json.loads(event[6:])))
    return chunks


def test_text_answer_replays_as_valid_chunks_and_reassembles():
    body = completion("Paris is the capital of France. " * 20)
    ChatCompletion.model_validate(body)
    chunks = parse(list(replay_sse(body, piece_chars=50)))
    assert all(c.object == "chat.completion.chunk" and c.id == body["id"] for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == body["choices"][0]["message"]["content"]
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)
    assert len(chunks) > 3  # split into several content pieces


def test_usage_chunk_when_asked():
    body = completion("hi")
    chunks = parse(list(replay_sse(body, include_usage=True)))
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 17
    assert wants_usage_chunk({"stream_options": {"include_usage": True}})
    assert not wants_usage_chunk({"stream": True})
    no_usage = {k: v for k, v in body.items() if k != "usage"}  # an upstream that sent none
    assert all(c.choices for c in parse(list(replay_sse(no_usage, include_usage=True))))


def test_tool_call_answer_replays_with_tool_call_deltas():
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
    body = completion(None, finish_reason="tool_calls", tool_calls=[call])
    chunks = parse(list(replay_sse(body)))
    deltas = [tc for c in chunks for ch in c.choices for tc in (ch.delta.tool_calls or [])]
    assert len(deltas) == 1 and deltas[0].id == "call_1" and deltas[0].function.arguments == '{"city":"Paris"}'
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert chunks[0].choices[0].delta.content is None  # as live: a tool-call answer has no text, not ""


def test_reasoning_content_is_replayed_ahead_of_the_answer():
    body = completion("42", reasoning_content="6*7=42")
    events = list(replay_sse(body))
    deltas = [json.loads(e[6:])["choices"][0]["delta"] for e in events[:-1]]
    assert deltas[1] == {"reasoning_content": "6*7=42"} and "".join(d.get("content") or "" for d in deltas) == "42"
    assert deltas[0]["content"] == ""


def test_a_stream_rebuilt_for_the_cache_keeps_its_reasoning_and_replays_as_it_came():
    from gateway.streaming import StreamAccount

    def event(delta: dict, finish: str | None = None) -> bytes:
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    usage = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
    account = StreamAccount(client_wants_usage=True)
    for piece in (event({"role": "assistant", "content": ""}), event({"reasoning_content": "6*7"}), event({"reasoning_content": "=42"}),
                  event({"content": "42"}), event({}, "stop"), b"data: " + json.dumps(usage).encode() + b"\n\n", DONE_EVENT):
        account.feed(piece)
    whole = account.as_completion("chatcmpl-x", "m")
    assert whole["choices"][0]["message"] == {"role": "assistant", "content": "42", "reasoning_content": "6*7=42"}
    replayed = [json.loads(e[6:])["choices"][0]["delta"] for e in list(replay_sse(whole))[:-1]]
    assert "".join(d.get("reasoning_content") or "" for d in replayed) == "6*7=42"


def test_message_fields_beyond_text_are_replayed_and_a_stream_carrying_them_is_not_cached():
    from gateway.streaming import StreamAccount

    citation = {"type": "url_citation", "url_citation": {"url": "https://example.org/paris", "start_index": 0, "end_index": 5}}
    body = {"id": "c1", "created": 1, "model": "m", "service_tier": "default", "system_fingerprint": "fp",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris", "annotations": [citation]}, "finish_reason": "stop"}]}
    chunks = list(completion_to_chunks(body))
    assert [c["choices"][0]["delta"]["annotations"] for c in chunks if "annotations" in c["choices"][0]["delta"]] == [[citation]]
    assert all(c["service_tier"] == "default" and c["system_fingerprint"] == "fp" for c in chunks)

    account = StreamAccount(client_wants_usage=False)
    for chunk in chunks:
        account.feed(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    account.feed(b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}\n\n')
    assert account.as_completion("c1", "m") is None  # the cached copy could not hold the annotations
    plain = StreamAccount(client_wants_usage=False)
    for chunk in completion_to_chunks({**body, "choices": [{**body["choices"][0], "message": {"role": "assistant", "content": "Paris"}}]}):
        plain.feed(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    plain.feed(b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}\n\n')
    rebuilt = plain.as_completion("c1", "m")
    assert rebuilt["service_tier"] == "default" and rebuilt["system_fingerprint"] == "fp"
