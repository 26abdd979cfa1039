"""POST /v1/chat/completions in OpenAI's wire format, streamed or not."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from .answers import (
    MESSAGE_OVERHEAD,
    Reply,
    ToolCall,
    as_stops,
    content_text,
    content_tokens,
    echo,
    pad,
    schema_value,
    split_chars,
    split_text,
    text_reply,
    tool_call,
    tool_echo,
    tool_reply,
    tools_tokens,
)
from .options import Options, Settings
from .wire import ApiError, JsonResponse, Response, StreamResponse, dumps, new_id, sse_data

FINGERPRINT = "fp_sandbox"
FINISH = {"end": "stop", "stop_sequence": "stop", "length": "length", "tool": "tool_calls"}


def usage(prompt: int, completion: int, cached: int) -> dict[str, Any]:
    """OpenAI's usage object; `cached` tokens are part of `prompt`."""
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def max_tokens_of(body: dict[str, Any]) -> int | None:
    value = body.get("max_completion_tokens", body.get("max_tokens"))
    if value is None:
        return None
    if not isinstance(value, int) or value < 1:
        raise ApiError(400, "`max_tokens` must be a positive integer.", param="max_tokens")
    return value


def choice_count(body: dict[str, Any]) -> int:
    n = body.get("n") or 1
    if not isinstance(n, int) or not 1 <= n <= 128:
        raise ApiError(400, "`n` must be an integer between 1 and 128.", param="n")
    return n


def include_usage(body: dict[str, Any]) -> bool:
    stream_options = body.get("stream_options")
    return isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))


def _function_tools(tools: list[Any]) -> list[dict[str, Any]]:
    return [
        t["function"] for t in tools if isinstance(t, dict) and isinstance(t.get("function"), dict)
    ]


def _called_tools(body: dict[str, Any], opts: Options) -> list[dict[str, Any]]:
    tools = _function_tools(body.get("tools") or [])
    choice = body.get("tool_choice", "auto")
    if not tools or choice == "none":
        return []
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        named = [t for t in tools if t.get("name") == name]
        if not named:
            raise ApiError(
                400,
                f"Invalid value for 'tool_choice': no function named {name!r} in 'tools'.",
                param="tool_choice",
            )
        return named
    if opts.parallel and body.get("parallel_tool_calls") is not False and len(tools) >= 2:
        return tools[:2]
    return tools[:1]


def _json_answer(body: dict[str, Any], text: str) -> str | None:
    fmt = body.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_object":
        return json.dumps({"answer": text})
    if kind == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {}
        return json.dumps(schema_value(schema))
    return None


def answer(body: dict[str, Any], messages: list[Any], opts: Options, chunks: int) -> Reply:
    last = messages[-1] if isinstance(messages[-1], dict) else {}
    if last.get("role") != "tool":
        called = _called_tools(body, opts)
        if called:
            calls = [tool_call(t.get("name", ""), t.get("parameters"), "call_") for t in called]
            return tool_reply(calls)
    if last.get("role") == "tool":
        text = tool_echo(content_text(last.get("content")))
    else:
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        text = echo(content_text(users[-1].get("content")) if users else "")
    structured = _json_answer(body, text)
    text = structured if structured is not None else pad(text, chunks)
    return text_reply(text, max_tokens=max_tokens_of(body), stops=as_stops(body.get("stop")))


def prompt_tokens(messages: list[Any], tools: object) -> int:
    total = tools_tokens(tools)
    for message in messages:
        if not isinstance(message, dict):
            continue
        total += MESSAGE_OVERHEAD + content_tokens(message.get("content"))
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            total += 1 + content_tokens(function.get("arguments") or "")
    return total


def _message(reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if reply.tool_calls else reply.text,
        "refusal": None,
        "annotations": [],
    }
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in reply.tool_calls
        ]
    return message


def _deltas(reply: Reply, chunks: int) -> Iterator[tuple[dict[str, Any], str | None]]:
    if reply.tool_calls:
        for index, call in enumerate(reply.tool_calls):
            yield _tool_head(index, call), None
            for fragment in split_chars(call.arguments, chunks):
                yield {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}, None
    else:
        yield {"role": "assistant", "content": "", "refusal": None}, None
        for piece in split_text(reply.text, chunks):
            yield {"content": piece}, None
    yield {}, FINISH[reply.reason]


def _tool_head(index: int, call: ToolCall) -> dict[str, Any]:
    head: dict[str, Any] = {
        "tool_calls": [
            {
                "index": index,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
        ]
    }
    if index == 0:
        return {"role": "assistant", "content": None, "refusal": None, **head}
    return head


def _stream(
    envelope: dict[str, Any], reply: Reply, n: int, chunks: int, totals: dict[str, Any] | None
) -> Iterator[bytes]:
    # Serialise the envelope once; each chunk only serialises its choice.
    head = b"data: " + dumps(envelope)[:-1].encode() + b',"choices":['
    for delta, finish in _deltas(reply, chunks):
        for index in range(n):
            choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            yield head + dumps(choice).encode() + b"]}\n\n"
    if totals is not None:
        yield sse_data({**envelope, "choices": [], "usage": totals})
    yield b"data: [DONE]\n\n"


def chat_completion(body: dict[str, Any], opts: Options, settings: Settings) -> Response:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "`messages` must be a non-empty array.", param="messages")
    n = choice_count(body)
    chunks = opts.stream_chunks(settings)
    reply = answer(body, messages, opts, chunks)
    prompt = prompt_tokens(messages, body.get("tools")) + opts.cached
    totals = usage(prompt, reply.output_tokens * n, opts.cached)
    envelope: dict[str, Any] = {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }
    if body.get("stream"):
        envelope["object"] = "chat.completion.chunk"
        with_usage = include_usage(body)
        if with_usage:
            envelope["usage"] = None
        return StreamResponse(_stream(envelope, reply, n, chunks, totals if with_usage else None))
    message = _message(reply)
    choices = [
        {"index": i, "message": message, "logprobs": None, "finish_reason": FINISH[reply.reason]}
        for i in range(n)
    ]
    return JsonResponse({**envelope, "choices": choices, "usage": totals})
