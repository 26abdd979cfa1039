"""POST /v1/messages and /v1/messages/count_tokens in Anthropic's wire format."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .answers import (
    MESSAGE_OVERHEAD,
    Reply,
    as_stops,
    content_text,
    content_tokens,
    echo,
    pad,
    split_chars,
    split_text,
    text_reply,
    tool_call,
    tool_echo,
    tool_reply,
    tools_tokens,
)
from .options import Options, Settings
from .wire import ApiError, JsonResponse, Response, StreamResponse, new_id, sse_event

STOP_REASONS = {
    "end": "end_turn",
    "stop_sequence": "stop_sequence",
    "length": "max_tokens",
    "tool": "tool_use",
}
BAD_EVENT = b"event: content_block_delta\ndata: {not json\n\n"


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages: at least one message is required")
    if not all(isinstance(m, dict) for m in messages):
        raise ApiError(400, "messages: each message must be an object")
    return messages


def input_tokens(body: dict[str, Any]) -> int:
    """Uncached input tokens: system prompt, messages and tool definitions."""
    total = content_tokens(body.get("system")) + tools_tokens(body.get("tools"))
    for message in _messages(body):
        total += MESSAGE_OVERHEAD + content_tokens(message.get("content"))
    return total


def _tool_results(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if message.get("role") != "user" or not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


def _called_tools(body: dict[str, Any], opts: Options) -> list[dict[str, Any]]:
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and "name" in t]
    choice = body.get("tool_choice") or {"type": "auto"}
    kind = choice.get("type", "auto")
    if not tools or kind == "none":
        return []
    if kind == "tool":
        named = [t for t in tools if t["name"] == choice.get("name")]
        if not named:
            raise ApiError(400, f"tool_choice: no tool named {choice.get('name')!r} in tools")
        return named
    if opts.parallel and not choice.get("disable_parallel_tool_use") and len(tools) >= 2:
        return tools[:2]
    return tools[:1]


def answer(
    body: dict[str, Any], messages: list[dict[str, Any]], opts: Options, chunks: int
) -> Reply:
    results = _tool_results(messages[-1])
    if results:
        text = tool_echo(" ".join(content_text(r.get("content")) for r in results))
    else:
        called = _called_tools(body, opts)
        if called:
            calls = [tool_call(t["name"], t.get("input_schema"), "toolu_") for t in called]
            return tool_reply(calls)
        users = [m for m in messages if m.get("role") == "user"]
        text = echo(content_text(users[-1].get("content")) if users else "")
    text = pad(text, chunks)
    return text_reply(
        text, max_tokens=body["max_tokens"], stops=as_stops(body.get("stop_sequences"))
    )


def _content(reply: Reply) -> list[dict[str, Any]]:
    if reply.tool_calls:
        return [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": c.input}
            for c in reply.tool_calls
        ]
    return [{"type": "text", "text": reply.text}]


def _stream(message: dict[str, Any], reply: Reply, chunks: int) -> Iterator[bytes]:
    start_usage = {**message["usage"], "output_tokens": 1}
    opening = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    yield sse_event(
        "message_start", {"type": "message_start", "message": {**opening, "usage": start_usage}}
    )
    for index, block in enumerate(_content(reply)):
        if block["type"] == "tool_use":
            start = {**block, "input": {}}
            fragments = ["", *split_chars(reply.tool_calls[index].arguments, chunks)]
            deltas = [{"type": "input_json_delta", "partial_json": f} for f in fragments]
        else:
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in split_text(reply.text, chunks)]
        yield sse_event(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": start},
        )
        if index == 0:
            yield sse_event("ping", {"type": "ping"})
        for delta in deltas:
            yield sse_event(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
        yield sse_event("content_block_stop", {"type": "content_block_stop", "index": index})
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]}
    yield sse_event(
        "message_delta",
        {"type": "message_delta", "delta": delta, "usage": {"output_tokens": reply.output_tokens}},
    )
    yield sse_event("message_stop", {"type": "message_stop"})


def message_create(body: dict[str, Any], opts: Options, settings: Settings) -> Response:
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise ApiError(400, "max_tokens: Field required")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise ApiError(400, "max_tokens: must be a positive integer")
    messages = _messages(body)
    chunks = opts.stream_chunks(settings)
    reply = answer(body, messages, opts, chunks)
    message: dict[str, Any] = {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": _content(reply),
        "stop_reason": STOP_REASONS[reply.reason],
        "stop_sequence": reply.stop_sequence,
        "usage": {
            "input_tokens": input_tokens(body),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": opts.cached,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
            "output_tokens": reply.output_tokens,
            "service_tier": "standard",
        },
    }
    if body.get("stream"):
        return StreamResponse(_stream(message, reply, chunks), bad_event=BAD_EVENT)
    return JsonResponse(message)


def count_tokens(body: dict[str, Any], opts: Options, settings: Settings) -> Response:
    """Total input tokens, which a message reports as input plus cache-read tokens."""
    return JsonResponse({"input_tokens": input_tokens(body) + opts.cached})
