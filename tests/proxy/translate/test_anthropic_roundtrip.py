"""Tool loops through the translation, as properties: an Anthropic client's body parsed
and built again for an Anthropic upstream (or an OpenAI one), or a canonical request built
and parsed back, keeps every tool call's id, name and arguments, every result with its
call, and every system text in its place; answers keep their tool calls on the way back."""

import orjson
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message as SDKMessage
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.translate.canonical import Answer, ChatRequest, Cost, Message, TextPart, ToolCall
from proxy.translate.providers import KINDS
from proxy.translate.shapes import anthropic as shape
from proxy.translate.sse import SSEDecoder
from proxy.translate.wire import Upstream

UP = Upstream("https://api.test", "k", "up")
anthropic, openai = KINDS["anthropic"], KINDS["openai"]

SCALARS = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8)
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)  # fmt: skip
INPUTS = st.dictionaries(st.text(max_size=6), JSON, max_size=4)
IDS = st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12)
NAMES = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-", min_size=1, max_size=20)
TEXTS = st.text(min_size=1, max_size=12)


@st.composite
def loops(draw) -> dict:
    """An Anthropic body: system blocks, then rounds of assistant tool calls (in parallel)
    answered by a user turn of their results, system turns here and there."""
    messages: list[dict] = [{"role": "user", "content": draw(TEXTS)}]
    used: set[str] = set()
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            messages.append({"role": "system", "content": [{"type": "text", "text": draw(TEXTS)}]})
        calls = []
        for _ in range(draw(st.integers(1, 3))):
            id_ = draw(IDS.filter(lambda i: i not in used))
            used.add(id_)
            calls.append(
                {"type": "tool_use", "id": id_, "name": draw(NAMES), "input": draw(INPUTS)}
            )
        lead = [{"type": "text", "text": draw(TEXTS)}] if draw(st.booleans()) else []
        messages.append({"role": "assistant", "content": lead + calls})
        results = [
            {"type": "tool_result", "tool_use_id": c["id"], "content": draw(TEXTS),
             **({"is_error": True} if draw(st.booleans()) else {})}
            for c in calls
        ]  # fmt: skip
        messages.append({"role": "user", "content": results})
    system = [{"type": "text", "text": t} for t in draw(st.lists(TEXTS, max_size=3))]
    return {"model": "m", "max_tokens": 9, "system": system, "messages": messages}


def blocks(messages: list[dict], kind: str) -> list[dict]:
    return [b for m in messages if isinstance(m["content"], list) for b in m["content"]
            if b["type"] == kind]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(loops())
def test_an_anthropic_tool_loop_parsed_and_built_again_is_the_same_loop(body: dict) -> None:
    request = shape.parse(body)
    sent = orjson.loads(anthropic.build(UP, request).body)
    assert blocks(sent["messages"], "tool_use") == blocks(body["messages"], "tool_use")
    assert blocks(sent["messages"], "tool_result") == blocks(body["messages"], "tool_result")
    assert sent.get("system", []) == body["system"]
    roles = [m["role"] for m in sent["messages"]]
    assert roles == [m["role"] for m in body["messages"]]  # system turns where they were


@settings(max_examples=100, deadline=None)
@given(loops())
def test_an_anthropic_tool_loop_toward_openai_keeps_every_call(body: dict) -> None:
    request = shape.parse(body)
    sent = orjson.loads(openai.build(UP, request).body)
    calls = [c for m in sent["messages"] for c in m.get("tool_calls") or ()]
    assert [(c["id"], c["function"]["name"], orjson.loads(c["function"]["arguments"]))
            for c in calls] == [(b["id"], b["name"], b["input"])
                                for b in blocks(body["messages"], "tool_use")]  # fmt: skip
    results = [m["tool_call_id"] for m in sent["messages"] if m["role"] == "tool"]
    assert results == [b["tool_use_id"] for b in blocks(body["messages"], "tool_result")]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(IDS, NAMES, INPUTS), min_size=1, max_size=4, unique_by=lambda c: c[0]))
def test_canonical_calls_built_and_parsed_back_are_the_same_calls(calls) -> None:
    tool_calls = [ToolCall(i, n, orjson.dumps(a).decode()) for i, n, a in calls]
    request = ChatRequest("m", [
        Message("user", [TextPart("q")]),
        Message("assistant", [], tool_calls=tool_calls),
        *(Message("tool", [TextPart(f"r{k}")], tool_call_id=c.id) for k, c in enumerate(tool_calls)),
    ])  # fmt: skip
    back = shape.parse(orjson.loads(anthropic.build(UP, request).body))
    assert [m.role for m in back.messages] == ["user", "assistant", *["tool"] * len(calls)]
    assert [(c.id, c.name, orjson.loads(c.arguments)) for c in back.messages[1].tool_calls] == [
        (i, n, a) for i, n, a in calls
    ]
    assert [m.tool_call_id for m in back.messages[2:]] == [i for i, _, _ in calls]


def price(usage) -> Cost:
    return Cost(usage.input, usage.input / 1e12)


def sse(kind: str, **data) -> bytes:
    return f"event: {kind}\ndata: ".encode() + orjson.dumps({"type": kind, **data}) + b"\n\n"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(IDS, NAMES, INPUTS), min_size=1, max_size=3, unique_by=lambda c: c[0]),
       st.integers(0, 50), st.integers(0, 50), st.integers(0, 50))  # fmt: skip
def test_answers_keep_their_calls_and_cache_counts_on_the_way_back(calls, plain, read, written):
    usage = {"input_tokens": plain, "output_tokens": 3, "cache_read_input_tokens": read,
             "cache_creation_input_tokens": written}  # fmt: skip
    content = [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in calls]
    whole = {"id": "msg_1", "model": "up", "content": content, "stop_reason": "tool_use",
             "usage": usage}  # fmt: skip
    rendered = shape.render(Answer.of(anthropic.parse_answer(whole)), model="c", cost_usd=None)
    message = SDKMessage.model_validate(rendered)
    assert [(b.id, b.name, b.input) for b in message.content] == [tuple(c) for c in calls]
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens,
            message.usage.cache_creation_input_tokens) == (plain, read, written)  # fmt: skip

    stream = [sse("message_start", message={"id": "msg_1", "model": "up", "usage": usage})]
    for k, (i, n, a) in enumerate(calls):
        stream.append(sse("content_block_start", index=k,
                          content_block={"type": "tool_use", "id": i, "name": n, "input": {}}))  # fmt: skip
        args = orjson.dumps(a).decode()
        for part in (args[: len(args) // 2], args[len(args) // 2 :]):
            delta = {"type": "input_json_delta", "partial_json": part}
            stream.append(sse("content_block_delta", index=k, delta=delta))
        stream.append(sse("content_block_stop", index=k))
    stream.append(
        sse("message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 3})
    )
    stream.append(sse("message_stop"))
    parser = anthropic.stream_parser()
    renderer = shape.stream_renderer(model="c", include_usage=True, price=price)
    out = b"".join(renderer.render(e) for e in parser.feed(b"".join(stream))) + renderer.end()
    snapshot, bufs = None, {}
    for _, data in SSEDecoder().feed(out):
        snapshot = accumulate_event(
            event=orjson.loads(data), current_snapshot=snapshot, json_bufs=bufs
        )
    assert snapshot is not None
    assert [(b.id, b.name, b.input) for b in snapshot.content] == [tuple(c) for c in calls]
    assert (snapshot.usage.input_tokens, snapshot.usage.cache_read_input_tokens,
            snapshot.usage.cache_creation_input_tokens) == (plain, read, written)  # fmt: skip
