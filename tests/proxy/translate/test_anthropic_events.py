"""Anthropic answers, whole and streamed, as canonical events: stop reasons, block
indexes to tool indexes, cumulative usage with cache tokens, refusals of broken input."""

import orjson
import pytest

from proxy.translate.canonical import Answer, Finish, UpstreamFailed, Usage
from proxy.providers import anthropic


def test_parse_answer_maps_every_stop_reason_and_refuses_errors() -> None:
    base = {
        "id": "msg_1",
        "model": "m",
        "content": [],
        "usage": {"input_tokens": 1, "output_tokens": 2},
    }
    reasons = {"end_turn": "stop", "pause_turn": "stop", "max_tokens": "length",
               "tool_use": "tool_calls", "refusal": "content_filter"}  # fmt: skip
    for upstream, ours in reasons.items():
        assert Answer.of(
            anthropic.parse_answer({**base, "stop_reason": upstream})
        ).finish == Finish(ours)
    for bad in (
        {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
        {"id": "x"},
    ):
        with pytest.raises(UpstreamFailed):
            anthropic.parse_answer(bad)
    parser = anthropic.stream_parser()
    with pytest.raises(UpstreamFailed, match="busy"):
        parser.feed(
            b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"busy"}}\n\n'
        )
    with pytest.raises(UpstreamFailed):
        anthropic.stream_parser().feed(b"event: content_block_delta\ndata: {not json\n\n")


def sse(kind: str, **data) -> bytes:
    return f"event: {kind}\ndata: ".encode() + orjson.dumps({"type": kind, **data}) + b"\n\n"


def test_stream_parser_maps_block_indexes_and_cumulative_usage() -> None:
    usage = {"input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 6}
    tool = {"type": "tool_use", "input": {}}
    stream = b"".join([
        sse("message_start", message={"id": "msg_9", "model": "claude", "usage": usage}),
        sse("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        sse("ping"),
        sse("content_block_delta", index=0, delta={"type": "text_delta", "text": "Hi"}),
        sse("content_block_stop", index=0),
        sse("content_block_start", index=1, content_block={**tool, "id": "t1", "name": "a"}),
        sse("content_block_start", index=2, content_block={**tool, "id": "t2", "name": "b"}),
        sse("content_block_delta", index=2, delta={"type": "input_json_delta", "partial_json": '{"x":'}),
        sse("content_block_delta", index=1, delta={"type": "input_json_delta", "partial_json": "{}"}),
        sse("content_block_delta", index=2, delta={"type": "input_json_delta", "partial_json": "1}"}),
        sse("something_new", index=3),
        sse("message_delta", delta={"stop_reason": "tool_use", "stop_sequence": None},
            usage={"output_tokens": 9, "cache_creation_input_tokens": 2, "input_tokens": None}),
        sse("message_stop"),
    ])  # fmt: skip
    parser = anthropic.stream_parser()
    events = [e for i in range(0, len(stream), 5) for e in parser.feed(stream[i : i + 5])]
    assert parser.done
    answer = Answer.of(events)
    assert (answer.id, answer.model, answer.text) == ("msg_9", "claude", "Hi")
    assert [(c.id, c.name, c.arguments) for c in answer.tool_calls] == [
        ("t1", "a", "{}"),
        ("t2", "b", '{"x":1}'),
    ]
    assert answer.finish == Finish("tool_calls")
    assert answer.usage == Usage(input=10 + 6 + 2, output=9, cached=6)
    whole = {"id": "m", "model": "c", "content": [], "stop_reason": "end_turn", "usage": usage}
    assert anthropic.parse_answer(whole)[-1] == Usage(input=16, output=1, cached=6)
