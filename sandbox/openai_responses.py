"""POST /v1/responses in OpenAI's Responses wire format, streamed or not.

`input` is a string or a list of items: messages (with `input_text`, `output_text`,
`input_image`... parts), `function_call`, `function_call_output`, `reasoning`, and any other
item type, which only counts towards the input tokens. Tools of every type are accepted
(function, namespace, custom, web_search, MCP...); only function tools, at the top level or
inside a namespace, are ever called. The sandbox keeps no state, so `previous_response_id`
always names a response it does not have. The body is checked first, in
sandbox.openai_responses_request; this module answers it.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from itertools import count
from typing import Any

from . import openai_responses_request as request
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
from .wire import ApiError, JsonResponse, Response, StreamResponse, new_id, sse_event

BAD_EVENT = b"event: response.output_text.delta\ndata: {not json\n\n"
ID_BYTES = 24
Event = Callable[..., bytes]


def _or(value: object, default: object) -> object:
    return default if value is None else value


def _called(
    body: dict[str, Any], opts: Options, functions: list[request.Function]
) -> list[request.Function]:
    """What the model calls when not scripted: the first function tool (two with
    `parallel=1`), or the one `tool_choice` names."""
    choice = request.tool_choice(body)
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


def answer(
    body: dict[str, Any], items: list[dict[str, Any]], opts: Options, chunks: int
) -> tuple[Reply, list[str | None]]:
    """The reply, and the namespace of each of its tool calls."""
    functions = request.functions(request.tools(body))
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
    fmt = request.text_format(body) or {}
    reply = structured(fmt.get("type"), fmt.get("schema"), text)
    text = reply if reply is not None else pad(text, chunks)
    return text_reply(text, max_tokens=request.max_output_tokens(body), stops=[]), []


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
    request.check_top_level(body)
    items = request.items(body)
    chunks = opts.stream_chunks(settings)
    fmt = request.text_format(body)
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
