"""A minimal, fast OpenAI-compatible upstream for benchmarks (raw asyncio + uvloop).

It spends as little CPU as possible per request, so what a benchmark measures is the
gateway in front of it. Answers POST */chat/completions, streaming or not, with usage.
"""

from __future__ import annotations

import argparse
import asyncio

import orjson

REPLY = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "bench-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "The answer is 42."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 20, "completion_tokens": 6, "total_tokens": 26},
}
CHUNK = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000, "model": "bench-model"}


def _http(body: bytes, content_type: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body


def _stream_body(include_usage: bool) -> bytes:
    events = [{**CHUNK, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    for word in ["The ", "answer ", "is ", "42", "."]:
        events.append({**CHUNK, "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]})
    events.append({**CHUNK, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if include_usage:
        events.append({**CHUNK, "choices": [], "usage": REPLY["usage"]})
    return b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events) + b"data: [DONE]\n\n"


PLAIN = _http(orjson.dumps(REPLY), b"application/json")
STREAM = _http(_stream_body(False), b"text/event-stream")
STREAM_USAGE = _http(_stream_body(True), b"text/event-stream")


class Upstream(asyncio.Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            length = 0
            for line in self.buffer[:head_end].split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            body, self.buffer = self.buffer[head_end + 4 : end], self.buffer[end:]
            if b'"stream":true' in body or b'"stream": true' in body:
                self.transport.write(STREAM_USAGE if b'"include_usage":true' in body or b'"include_usage": true' in body else STREAM)
            else:
                self.transport.write(PLAIN)


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Upstream, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvloop

    uvloop.run(serve(args.port))


if __name__ == "__main__":
    main()
