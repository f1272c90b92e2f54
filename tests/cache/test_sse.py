import json

from openai.types.chat import ChatCompletion, ChatCompletionChunk
from tests_cache_helpers import completion

from cache.sse import DONE_EVENT, replay_sse, wants_usage_chunk


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


def test_tool_call_answer_replays_with_tool_call_deltas():
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
    body = completion(None, finish_reason="tool_calls", tool_calls=[call])
    chunks = parse(list(replay_sse(body)))
    deltas = [tc for c in chunks for ch in c.choices for tc in (ch.delta.tool_calls or [])]
    assert len(deltas) == 1 and deltas[0].id == "call_1" and deltas[0].function.arguments == '{"city":"Paris"}'
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
