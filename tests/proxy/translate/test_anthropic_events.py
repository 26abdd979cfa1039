"""Anthropic answers, whole and streamed, as canonical events: stop reasons, block
indexes to tool indexes, cumulative usage with cache reads and writes, server tool blocks
skipped, refusals of broken input that keep the upstream's error status."""

import orjson
import pytest

from proxy.translate.canonical import Answer, Finish, TextDelta, UpstreamFailed, Usage
from proxy.translate.providers.anthropic import ADAPTER as anthropic


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
    assert answer.usage == Usage(input=10 + 6 + 2, output=9, cached=6, cache_write=2)
    whole = {"id": "m", "model": "c", "content": [], "stop_reason": "end_turn", "usage": usage}
    assert anthropic.parse_answer(whole)[-1] == Usage(input=16, output=1, cached=6)
    written = {**usage, "cache_creation_input_tokens": 40}
    assert anthropic.parse_answer({**whole, "usage": written})[-1] == Usage(
        input=56, output=1, cached=6, cache_write=40
    )


SEARCH_USE = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search",
              "input": {"query": "weather"}}  # fmt: skip
SEARCH_RESULT = {
    "type": "web_search_tool_result",
    "tool_use_id": "srvtoolu_1",
    "content": [{"type": "web_search_result", "url": "https://x.test", "title": "X",
                 "encrypted_content": "abc", "page_age": None}],
}  # fmt: skip


def test_server_tool_blocks_are_skipped_whole_and_streamed() -> None:
    cited = {"type": "text", "text": "It is sunny.",
             "citations": [{"type": "web_search_result_location", "url": "https://x.test"}]}  # fmt: skip
    whole = {
        "id": "msg_1", "model": "m", "stop_reason": "end_turn",
        "content": [{"type": "text", "text": "Searching. "}, SEARCH_USE, SEARCH_RESULT, cited,
                    {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": [1]}}],
        "usage": {"input_tokens": 5, "output_tokens": 3,
                  "server_tool_use": {"web_search_requests": 1}},
    }  # fmt: skip
    answer = Answer.of(anthropic.parse_answer(whole))
    assert answer.text == "Searching. It is sunny."
    assert [(c.id, c.name, c.arguments) for c in answer.tool_calls] == [("t1", "f", '{"a":[1]}')]
    assert answer.usage == Usage(input=5, output=3)

    stream = b"".join([
        sse("message_start", message={"id": "msg_2", "model": "m", "usage": {"input_tokens": 5}}),
        sse("content_block_start", index=0, content_block={**SEARCH_USE, "input": {}}),
        sse("content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": '{"query":'}),
        sse("content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": '"w"}'}),
        sse("content_block_stop", index=0),
        sse("content_block_start", index=1, content_block=SEARCH_RESULT),
        sse("content_block_stop", index=1),
        sse("content_block_start", index=2, content_block={"type": "text", "text": "", "citations": []}),
        sse("content_block_delta", index=2, delta={"type": "citations_delta", "citation": {"url": "u"}}),
        sse("content_block_delta", index=2, delta={"type": "text_delta", "text": "Sunny."}),
        sse("content_block_start", index=3, content_block={"type": "thinking", "thinking": ""}),
        sse("content_block_delta", index=3, delta={"type": "thinking_delta", "thinking": "hm"}),
        sse("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 4}),
        sse("message_stop"),
    ])  # fmt: skip
    parser = anthropic.stream_parser()
    answer = Answer.of(parser.feed(stream))
    assert parser.done and answer.text == "Sunny." and answer.tool_calls == []
    assert answer.usage == Usage(input=5, output=4)


@pytest.mark.parametrize(
    "event",
    [
        {"type": "message_start", "message": "not an object"},
        {"type": "message_start", "message": {"usage": [1, 2]}},
        {"type": "content_block_start", "index": [0], "content_block": {"type": "tool_use"}},
        {"type": "content_block_start", "content_block": None},
        {"type": "content_block_delta", "index": {}, "delta": "x"},
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": 5}},
        {"type": "content_block_delta", "delta": {"type": "input_json_delta", "partial_json": {}}},
        {"type": "message_delta", "delta": [], "usage": "lots"},
        {"type": 7},
    ],
)
def test_stream_parser_survives_odd_shapes(event: dict) -> None:
    events = anthropic.stream_parser().feed(sse(str(event["type"]), **event))
    assert all(not isinstance(e, TextDelta) or isinstance(e.text, str) for e in events)


def test_parse_answer_survives_odd_blocks() -> None:
    body = {"content": [{"type": "text", "text": 5}, {"type": "tool_use", "input": "x"},
                        {"type": None}], "usage": "n/a", "stop_reason": 3}  # fmt: skip
    answer = Answer.of(anthropic.parse_answer(body))
    assert answer.text == "" and answer.finish == Finish("stop") and answer.usage is None
    assert [(c.id, c.name, c.arguments) for c in answer.tool_calls] == [("", "", "{}")]


@pytest.mark.parametrize(
    ("kind", "status"),
    [("overloaded_error", 529), ("rate_limit_error", 429), ("invalid_request_error", 400),
     ("api_error", 502), ("timeout_error", 504), ("something_new", 502)],
)  # fmt: skip
def test_error_events_keep_the_upstream_status(kind: str, status: int) -> None:
    error = {"type": "error", "error": {"type": kind, "message": "no"}}
    parser = anthropic.stream_parser()
    with pytest.raises(UpstreamFailed) as caught:
        parser.feed(sse("message_start", message={"id": "m"}) + sse("error", **error))
    assert caught.value.status == status and str(caught.value) == "no"
    assert [type(e).__name__ for e in caught.value.partial] == ["Start"]
    with pytest.raises(UpstreamFailed) as caught:
        anthropic.parse_answer(error)
    assert caught.value.status == status
