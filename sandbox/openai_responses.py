"""POST /v1/responses in OpenAI's Responses wire format, streamed or not.

`input` is a string or a list of items: messages (with `input_text`, `output_text`,
`input_image`... parts), `function_call`, `function_call_output`, `reasoning`, and any other
item type, which only counts towards the input tokens. Tools of every type are accepted
(function, namespace, custom, web_search, MCP...); only function tools, at the top level or
inside a namespace, are ever called. The sandbox keeps no state, so `previous_response_id`
always names a response it does not have.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import count
from typing import Any

from .answers import (
    MESSAGE_OVERHEAD,
    Reply,
    content_text,
    content_tokens,
    count_words,
    echo,
    kind_of,
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
from .wire import ApiError, JsonResponse, Response, StreamResponse, new_id, sse_event

BAD_EVENT = b"event: response.output_text.delta\ndata: {not json\n\n"
MESSAGE_ROLES = ("user", "assistant", "system", "developer")
TOOL_CHOICES = ("none", "auto", "required")
MIN_OUTPUT_TOKENS = 16
ID_BYTES = 24
# Optional top-level fields: the type each must have when present and not null.
FIELDS: tuple[tuple[str, type | tuple[type, ...], str], ...] = (
    ("instructions", str, "a string"),
    ("stream", bool, "a boolean"),
    ("stream_options", dict, "an object"),
    ("parallel_tool_calls", bool, "a boolean"),
    ("store", bool, "a boolean"),
    ("background", bool, "a boolean"),
    ("temperature", (int, float), "a decimal"),
    ("top_p", (int, float), "a decimal"),
    ("top_logprobs", int, "an integer"),
    ("max_tool_calls", int, "an integer"),
    ("metadata", dict, "an object"),
    ("reasoning", dict, "an object"),
    ("text", dict, "an object"),
    ("include", list, "an array"),
    ("user", str, "a string"),
    ("truncation", str, "a string"),
    ("service_tier", str, "a string"),
    ("prompt_cache_key", str, "a string"),
    ("safety_identifier", str, "a string"),
    ("previous_response_id", str, "a string"),
)

Event = Callable[..., bytes]


@dataclass(frozen=True, slots=True)
class Function:
    """A callable function tool; `namespace` names the namespace tool it sits in."""

    name: str
    parameters: object
    namespace: str | None = None


def _or(value: object, default: object) -> object:
    return default if value is None else value


def _string(where: str, value: object) -> None:
    if value is None:
        raise missing(where)
    if not isinstance(value, str):
        raise invalid_type(where, "a string", value)


def _parts(where: str, content: object) -> None:
    """A message's content: a string, or a list of typed part objects of any type."""
    if content is None:
        raise missing(where)
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise invalid_type(where, "one of a string or array of input content parts", content)
    for j, part in enumerate(content):
        if not isinstance(part, dict):
            raise invalid_type(f"{where}[{j}]", "an object", part)
        _string(f"{where}[{j}].type", part.get("type"))


def _check_item(where: str, item: object) -> None:
    if not isinstance(item, dict):
        raise invalid_type(where, "an input item object", item)
    kind = item.get("type")
    if kind is None and "role" not in item:
        raise missing(f"{where}.type")
    if kind is not None and not isinstance(kind, str):
        raise invalid_type(f"{where}.type", "a string", kind)
    if kind in (None, "message"):
        role = item.get("role")
        if role is None:
            raise missing(f"{where}.role")
        if not isinstance(role, str) or role not in MESSAGE_ROLES:
            raise invalid_value(f"{where}.role", role, MESSAGE_ROLES)
        _parts(f"{where}.content", item.get("content"))
    elif kind == "function_call":
        for key in ("call_id", "name", "arguments"):
            _string(f"{where}.{key}", item.get(key))
    elif kind == "function_call_output":
        _string(f"{where}.call_id", item.get("call_id"))
        output = item.get("output")
        if isinstance(output, list):
            _parts(f"{where}.output", output)
        else:
            _string(f"{where}.output", output)


def _items(body: dict[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("input")
    if raw is None:
        raise missing("input")
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    if not isinstance(raw, list):
        raise invalid_type("input", "one of a string or array of input items", raw)
    for i, item in enumerate(raw):
        _check_item(f"input[{i}]", item)
    return raw


def _check_function(where: str, tool: dict[str, Any]) -> None:
    _string(f"{where}.name", tool.get("name"))
    parameters = tool.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise invalid_type(f"{where}.parameters", "an object", parameters)


def _check_tool(where: str, tool: object, *, nested: bool = False) -> None:
    if not isinstance(tool, dict):
        raise invalid_type(where, "an object", tool)
    kind = tool.get("type")
    _string(f"{where}.type", kind)
    if kind == "function":
        _check_function(where, tool)
    elif kind == "namespace" and not nested:
        _string(f"{where}.name", tool.get("name"))
        children = tool.get("tools")
        if children is None:
            raise missing(f"{where}.tools")
        if not isinstance(children, list):
            raise invalid_type(f"{where}.tools", "an array", children)
        for j, child in enumerate(children):
            _check_tool(f"{where}.tools[{j}]", child, nested=True)


def _tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise invalid_type("tools", "an array", tools)
    for i, tool in enumerate(tools):
        _check_tool(f"tools[{i}]", tool)
    return tools


def _functions(tools: list[dict[str, Any]]) -> list[Function]:
    """The function tools, in order, a namespace's own functions where the namespace is."""
    found: list[Function] = []
    for tool in tools:
        if tool["type"] == "function":
            found.append(Function(tool["name"], tool.get("parameters")))
        elif tool["type"] == "namespace":
            found.extend(
                Function(child["name"], child.get("parameters"), tool["name"])
                for child in tool["tools"]
                if child["type"] == "function"
            )
    return found


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


def _called(body: dict[str, Any], opts: Options, functions: list[Function]) -> list[Function]:
    """What the model calls when not scripted: the first function tool (two with
    `parallel=1`), or the one `tool_choice` names."""
    choice = _tool_choice(body)
    if not functions or choice == "none":
        return []
    if isinstance(choice, dict) and choice.get("type") == "function":
        named = [f for f in functions if f.name == choice.get("name")]
        if not named:
            raise ApiError(
                400,
                f"Tool choice 'function' not found in 'tools' parameter: {choice.get('name')!r}.",
                param="tool_choice",
            )
        return named[:1]
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        listed = choice.get("tools") if isinstance(choice.get("tools"), list) else []
        names = {kind_of(t, "name") for t in listed if isinstance(t, dict)} - {None}
        functions = [f for f in functions if f.name in names]
    if opts.parallel and body.get("parallel_tool_calls") is not False and len(functions) >= 2:
        return functions[:2]
    return functions[:1]


def _is_tool_output(item: dict[str, Any]) -> bool:
    """`function_call_output`, `custom_tool_call_output`, `local_shell_call_output`..."""
    kind = item.get("type")
    return isinstance(kind, str) and kind.endswith("_output")


def _max_output_tokens(body: dict[str, Any]) -> int | None:
    value = body.get("max_output_tokens")
    if value is None:
        return None
    if not is_int(value):
        raise invalid_type("max_output_tokens", "an integer", value)
    if value < MIN_OUTPUT_TOKENS:
        raise ApiError(
            400,
            "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= "
            f"{MIN_OUTPUT_TOKENS}, but got {value} instead.",
            param="max_output_tokens",
            code="integer_below_min_value",
        )
    return value


def _format(body: dict[str, Any]) -> dict[str, Any] | None:
    fmt = (body.get("text") or {}).get("format")
    if fmt is not None and not isinstance(fmt, dict):
        raise invalid_type("text.format", "an object", fmt)
    return fmt


def answer(
    body: dict[str, Any], items: list[dict[str, Any]], opts: Options, chunks: int
) -> tuple[Reply, list[str | None]]:
    """The reply, and the namespace of each of its tool calls."""
    functions = _functions(_tools(body))
    called = _called(body, opts, functions)  # checks `tool_choice` either way
    last = last_turn(items)
    if _is_tool_output(last):
        text = tool_echo(content_text(last.get("output")))
    elif opts.tool:
        offered = next((f for f in functions if f.name == opts.tool), None)
        return scripted_reply(opts.tool, "call_"), [offered.namespace if offered else None]
    elif called:
        calls = [tool_call(f.name, f.parameters, "call_") for f in called]
        return tool_reply(calls), [f.namespace for f in called]
    else:
        users = [i for i in items if i.get("type", "message") == "message"]
        users = [i for i in users if i.get("role") == "user"]
        text = echo(content_text(users[-1].get("content")) if users else "")
    fmt = _format(body) or {}
    reply = structured(fmt.get("type"), fmt.get("schema"), text)
    text = reply if reply is not None else pad(text, chunks)
    return text_reply(text, max_tokens=_max_output_tokens(body), stops=[]), []


def input_tokens(body: dict[str, Any], items: list[dict[str, Any]]) -> int:
    """Instructions, items and tool definitions, counted as the chat handler counts them."""
    total = content_tokens(body.get("instructions")) + tools_tokens(body.get("tools"))
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            total += MESSAGE_OVERHEAD + content_tokens(item.get("content"))
        elif kind == "function_call":
            total += 1 + count_words(item["arguments"])
        elif _is_tool_output(item):
            total += content_tokens(item.get("output"))
        else:
            total += count_words(json.dumps(item))
    return total


def usage(prompt: int, completion: int, cached: int) -> dict[str, Any]:
    """The Responses usage object; `cached` tokens are part of `prompt`."""
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def _output(reply: Reply, namespaces: list[str | None]) -> list[dict[str, Any]]:
    if not reply.tool_calls:
        status = "incomplete" if reply.reason == "length" else "completed"
        message = {"id": new_id("msg_", ID_BYTES), "type": "message", "status": status}
        return [{**message, "content": [_text_part(reply.text)], "role": "assistant"}]
    items = []
    for call, namespace in zip(reply.tool_calls, namespaces, strict=True):
        item = {
            "id": new_id("fc_", ID_BYTES),
            "type": "function_call",
            "status": "completed",
            "arguments": call.arguments,
            "call_id": call.id,
            "name": call.name,
        }
        if namespace is not None:
            item["namespace"] = namespace
        items.append(item)
    return items


def _envelope(body: dict[str, Any], fmt: dict[str, Any] | None) -> dict[str, Any]:
    """The request settings a Response echoes, with the API's defaults for those not sent."""
    reasoning = body.get("reasoning") or {}
    text = body.get("text") or {}
    return {
        "background": _or(body.get("background"), False),
        "error": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "model": body["model"],
        "parallel_tool_calls": _or(body.get("parallel_tool_calls"), True),
        "previous_response_id": None,
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "safety_identifier": body.get("safety_identifier"),
        "service_tier": "default",
        "store": _or(body.get("store"), True),
        "temperature": _or(body.get("temperature"), 1.0),
        "text": {"format": fmt or {"type": "text"}, "verbosity": text.get("verbosity") or "medium"},
        "tool_choice": _or(body.get("tool_choice"), "auto"),
        "tools": body.get("tools") or [],
        "top_logprobs": _or(body.get("top_logprobs"), 0),
        "top_p": _or(body.get("top_p"), 1.0),
        "truncation": _or(body.get("truncation"), "disabled"),
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def _obfuscation(delta: str) -> str:
    """Random padding the real API adds to deltas so their sizes do not give tokens away."""
    return secrets.token_urlsafe(12)[: max(2, 16 - len(delta))]


def _stream_message(event: Event, index: int, item: dict[str, Any], chunks: int, pad_: bool):
    where = {"item_id": item["id"], "output_index": index, "content_index": 0}
    part = item["content"][0]
    opening = {**item, "status": "in_progress", "content": []}
    yield event("response.output_item.added", output_index=index, item=opening)
    yield event("response.content_part.added", **where, part=_text_part(""))
    for piece in split_text(part["text"], chunks):
        extra = {"obfuscation": _obfuscation(piece)} if pad_ else {}
        yield event("response.output_text.delta", **where, delta=piece, logprobs=[], **extra)
    yield event("response.output_text.done", **where, text=part["text"], logprobs=[])
    yield event("response.content_part.done", **where, part=part)
    yield event("response.output_item.done", output_index=index, item=item)


def _stream_call(event: Event, index: int, item: dict[str, Any], chunks: int, pad_: bool):
    where = {"item_id": item["id"], "output_index": index}
    opening = {**item, "status": "in_progress", "arguments": ""}
    yield event("response.output_item.added", output_index=index, item=opening)
    for fragment in split_chars(item["arguments"], chunks):
        extra = {"obfuscation": _obfuscation(fragment)} if pad_ else {}
        yield event("response.function_call_arguments.delta", **where, delta=fragment, **extra)
    done = {"name": item["name"], "arguments": item["arguments"]}
    yield event("response.function_call_arguments.done", **where, **done)
    yield event("response.output_item.done", output_index=index, item=item)


def _stream(final: dict[str, Any], chunks: int, pad_: bool) -> Iterator[bytes]:
    numbers = count()

    def event(kind: str, **fields: Any) -> bytes:
        return sse_event(kind, {"type": kind, "sequence_number": next(numbers), **fields})

    opening = {
        **final,
        "status": "in_progress",
        "completed_at": None,
        "incomplete_details": None,
        "output": [],
        "usage": None,
    }
    yield event("response.created", response=opening)
    yield event("response.in_progress", response=opening)
    for index, item in enumerate(final["output"]):
        streamer = _stream_message if item["type"] == "message" else _stream_call
        yield from streamer(event, index, item, chunks, pad_)
    yield event(f"response.{final['status']}", response=final)


def create(
    body: dict[str, Any], opts: Options, settings: Settings, headers: Mapping[str, str]
) -> Response:
    for key, kinds, expected in FIELDS:
        optional(body, key, kinds, expected)
    previous = body.get("previous_response_id")
    if previous is not None:
        raise ApiError(
            400,
            f"Previous response with id '{previous}' not found.",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    items = _items(body)
    chunks = opts.stream_chunks(settings)
    fmt = _format(body)
    reply, namespaces = answer(body, items, opts, chunks)
    prompt = input_tokens(body, items) + opts.cached
    created = int(time.time())
    incomplete = reply.reason == "length"
    final = {
        "id": new_id("resp_", ID_BYTES),
        "object": "response",
        "created_at": created,
        "status": "incomplete" if incomplete else "completed",
        "completed_at": None if incomplete else created,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        **_envelope(body, fmt),
        "output": _output(reply, namespaces),
        "usage": usage(prompt, reply.output_tokens, opts.cached),
    }
    if body.get("stream"):
        stream_options = body.get("stream_options") or {}
        pad_ = stream_options.get("include_obfuscation") is not False
        return StreamResponse(_stream(final, chunks, pad_), bad_event=BAD_EVENT)
    return JsonResponse(final)
