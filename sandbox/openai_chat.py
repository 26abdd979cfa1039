"""POST /v1/chat/completions in OpenAI's wire format, streamed or not."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from .answers import (
    MESSAGE_OVERHEAD,
    Reply,
    ToolCall,
    as_stops,
    content_text,
    content_tokens,
    echo,
    last_turn,
    pad,
    scripted_reply,
    split_chars,
    split_text,
    structured,
    text_reply,
    tool_call,
    tool_echo,
    tool_reply,
    tools_tokens,
)
from .options import Options, Settings
from .shapes import invalid_type, invalid_value, is_int, missing, optional
from .wire import ApiError, JsonResponse, Response, StreamResponse, dumps, new_id, sse_data

FINGERPRINT = "fp_sandbox"
FINISH = {"end": "stop", "stop_sequence": "stop", "length": "length", "tool": "tool_calls"}
ROLES = ("system", "assistant", "user", "function", "tool", "developer")
TOOL_ROLES = frozenset({"tool", "function"})  # `function`: the tool result before `tool`
TOOL_CHOICES = ("none", "auto", "required")


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
    if not is_int(value) or value < 1:
        raise ApiError(400, "`max_tokens` must be a positive integer.", param="max_tokens")
    return value


def choice_count(body: dict[str, Any]) -> int:
    n = body.get("n")
    if n is None:
        return 1
    if not is_int(n) or not 1 <= n <= 128:
        raise ApiError(400, "`n` must be an integer between 1 and 128.", param="n")
    return n


def check_common(body: dict[str, Any]) -> None:
    """The fields chat and legacy completions share: wrong types answer 400, not 500."""
    optional(body, "stream", bool, "a boolean")
    optional(body, "stream_options", dict, "an object")
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str | list):
        raise invalid_type("stop", "one of a string or array of strings", stop)


def include_usage(body: dict[str, Any]) -> bool:
    stream_options = body.get("stream_options")
    return isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))


def _check_part_list(where: str, parts: list[Any]) -> None:
    for j, part in enumerate(parts):
        if not isinstance(part, dict):
            raise invalid_type(f"{where}[{j}]", "an object", part)


def _check_call(where: str, call: object) -> None:
    if not isinstance(call, dict):
        raise invalid_type(where, "an object", call)
    if call.get("type", "function") != "function":
        return  # `custom` tool calls carry `custom.input`; nothing here reads them
    function = call.get("function")
    if function is None:
        raise missing(f"{where}.function")
    if not isinstance(function, dict):
        raise invalid_type(f"{where}.function", "an object", function)
    for key in ("name", "arguments"):
        value = function.get(key)
        if value is None:
            raise missing(f"{where}.function.{key}")
        if not isinstance(value, str):
            raise invalid_type(f"{where}.function.{key}", "a string", value)


def check_messages(messages: list[Any]) -> None:
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise invalid_type(where, "an object", message)
        role = message.get("role")
        if role is None:
            raise missing(f"{where}.role")
        if not isinstance(role, str) or role not in ROLES:
            raise invalid_value(f"{where}.role", role, ROLES)
        content = message.get("content")
        if isinstance(content, list):
            _check_part_list(f"{where}.content", content)
        elif content is not None and not isinstance(content, str):
            raise invalid_type(f"{where}.content", "one of a string or array of objects", content)
        calls = message.get("tool_calls")
        if calls is not None:
            if not isinstance(calls, list):
                raise invalid_type(f"{where}.tool_calls", "an array", calls)
            for j, call in enumerate(calls):
                _check_call(f"{where}.tool_calls[{j}]", call)


def _tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The offered tools, checked; only function tools are ever called."""
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise invalid_type("tools", "an array", tools)
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise invalid_type(f"tools[{i}]", "an object", tool)
        if tool.get("type", "function") != "function":
            continue
        function = tool.get("function")
        if function is None:
            raise missing(f"tools[{i}].function")
        if not isinstance(function, dict):
            raise invalid_type(f"tools[{i}].function", "an object", function)
        if not isinstance(function.get("name"), str):
            raise invalid_type(f"tools[{i}].function.name", "a string", function.get("name"))
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise invalid_type(f"tools[{i}].function.parameters", "an object", parameters)
    return tools


def _function_tools(tools: list[Any]) -> list[dict[str, Any]]:
    return [t["function"] for t in tools if t.get("type", "function") == "function"]


def _tool_choice(body: dict[str, Any]) -> object:
    choice = body.get("tool_choice")
    if choice is None:
        return "auto"
    if isinstance(choice, str):
        if choice not in TOOL_CHOICES:
            raise invalid_value("tool_choice", choice, TOOL_CHOICES)
        return choice
    if not isinstance(choice, dict):
        raise invalid_type("tool_choice", "one of a string or object", choice)
    return choice


def _called_tools(body: dict[str, Any], opts: Options) -> list[dict[str, Any]]:
    tools = _function_tools(_tools(body))
    choice = _tool_choice(body)
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
    fmt = optional(body, "response_format", dict, "an object")
    if not isinstance(fmt, dict):
        return None
    spec = fmt.get("json_schema")
    if spec is not None and not isinstance(spec, dict):
        raise invalid_type("response_format.json_schema", "an object", spec)
    return structured(fmt.get("type"), (spec or {}).get("schema"), text)


def answer(body: dict[str, Any], messages: list[Any], opts: Options, chunks: int) -> Reply:
    last = last_turn(messages)
    called = _called_tools(body, opts)  # checks `tools` and `tool_choice` either way
    if last.get("role") in TOOL_ROLES:
        text = tool_echo(content_text(last.get("content")))
    elif opts.tool:
        return scripted_reply(opts.tool, "call_")
    elif called:
        calls = [tool_call(t["name"], t.get("parameters"), "call_") for t in called]
        return tool_reply(calls)
    else:
        users = [m for m in messages if m.get("role") == "user"]
        text = echo(content_text(users[-1].get("content")) if users else "")
    reply = _json_answer(body, text)
    text = reply if reply is not None else pad(text, chunks)
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


def chat_completion(
    body: dict[str, Any], opts: Options, settings: Settings, headers: Mapping[str, str]
) -> Response:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "`messages` must be a non-empty array.", param="messages")
    check_messages(messages)
    check_common(body)
    optional(body, "parallel_tool_calls", bool, "a boolean")
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
