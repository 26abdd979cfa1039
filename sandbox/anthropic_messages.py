"""POST /v1/messages and /v1/messages/count_tokens in Anthropic's wire format.

`{"role": "system"}` entries inside `messages` need the mid-conversation system beta in the
`anthropic-beta` header, unless the server's settings say `system_turns_need_beta=False`
(the API once they are generally available). Tools of any type are accepted; only client
tools (no `type`, or `custom`) are ever called, server tools such as web search never are.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .answers import (
    MESSAGE_OVERHEAD,
    Reply,
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
from .shapes import anthropic, is_int
from .wire import ApiError, JsonResponse, Response, StreamResponse, new_id, sse_event

STOP_REASONS = {
    "end": "end_turn",
    "stop_sequence": "stop_sequence",
    "length": "max_tokens",
    "tool": "tool_use",
}
BAD_EVENT = b"event: content_block_delta\ndata: {not json\n\n"
MID_CONVERSATION_SYSTEM = "mid-conversation-system-2026-04-07"
ROLES = ("user", "assistant")
CLIENT_TOOL_TYPES = (None, "custom")
TOOL_CHOICES = ("auto", "any", "tool", "none")
NOT_AN_OBJECT = "Input should be a valid dictionary or object to extract fields from"


def betas(headers: Mapping[str, str]) -> frozenset[str]:
    """The `anthropic-beta` header's comma-separated list."""
    return frozenset(
        filter(None, (b.strip() for b in headers.get("anthropic-beta", "").split(",")))
    )


def _either(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]}"


def _blocks(loc: str, content: object, *, required: bool = True) -> None:
    """A string or a list of blocks, each an object with a `type`; unknown types are fine."""
    if content is None:
        if required:
            raise anthropic(loc, "Field required")
        return
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise anthropic(loc, "Input should be a valid list")
    for j, block in enumerate(content):
        if not isinstance(block, dict):
            raise anthropic(f"{loc}.{j}", NOT_AN_OBJECT)
        if not isinstance(block.get("type"), str):
            raise anthropic(f"{loc}.{j}.type", "Field required")


def _messages(
    body: dict[str, Any], headers: Mapping[str, str], settings: Settings
) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if messages is None:
        raise anthropic("messages", "Field required")
    if not isinstance(messages, list):
        raise anthropic("messages", "Input should be a valid list")
    if not messages:
        raise ApiError(400, "messages: at least one message is required")
    system_ok = not settings.system_turns_need_beta or MID_CONVERSATION_SYSTEM in betas(headers)
    roles = (*ROLES, "system") if system_ok else ROLES
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise anthropic(f"messages.{i}", NOT_AN_OBJECT)
        role = message.get("role")
        if role is None:
            raise anthropic(f"messages.{i}.role", "Field required")
        if not isinstance(role, str) or role not in roles:
            raise anthropic(f"messages.{i}.role", f"Input should be {_either(roles)}")
        _blocks(f"messages.{i}.content", message.get("content"))
    return messages


def _tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The offered tools, checked; server tools and unknown types pass untouched."""
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise anthropic("tools", "Input should be a valid list")
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise anthropic(f"tools.{i}", NOT_AN_OBJECT)
        kind = tool.get("type")
        if kind is not None and not isinstance(kind, str):
            raise anthropic(f"tools.{i}.type", "Input should be a valid string")
        if kind not in CLIENT_TOOL_TYPES:
            continue
        name, schema = tool.get("name"), tool.get("input_schema")
        if not isinstance(name, str):
            problem = "Field required" if name is None else "Input should be a valid string"
            raise anthropic(f"tools.{i}.custom.name", problem)
        if not isinstance(schema, dict):
            problem = "Field required" if schema is None else "Input should be a valid dictionary"
            raise anthropic(f"tools.{i}.custom.input_schema", problem)
    return tools


def _tool_choice(body: dict[str, Any]) -> dict[str, Any]:
    choice = body.get("tool_choice")
    if choice is None:
        return {"type": "auto"}
    if not isinstance(choice, dict):
        raise anthropic("tool_choice", NOT_AN_OBJECT)
    kind = choice.get("type")
    if not isinstance(kind, str) or kind not in TOOL_CHOICES:
        expected = ", ".join(f"'{c}'" for c in TOOL_CHOICES)
        raise anthropic(
            "tool_choice",
            f"Input tag {str(kind)!r} found using 'type' does not match any of the expected "
            f"tags: {expected}",
        )
    if kind == "tool" and not isinstance(choice.get("name"), str):
        raise anthropic("tool_choice.tool.name", "Field required")
    return choice


def _check(body: dict[str, Any]) -> None:
    """The top-level fields the sandbox reads, besides messages and tools."""
    system = body.get("system")
    if system is not None and not isinstance(system, str):
        _blocks("system", system)
    for key, kinds, problem in (
        ("stream", bool, "Input should be a valid boolean"),
        ("stop_sequences", list, "Input should be a valid list"),
        ("thinking", dict, NOT_AN_OBJECT),
        ("output_format", dict, NOT_AN_OBJECT),
        ("output_config", dict, NOT_AN_OBJECT),
        ("metadata", dict, NOT_AN_OBJECT),
    ):
        value = body.get(key)
        if value is not None and not isinstance(value, kinds):
            raise anthropic(key, problem)
    config = body.get("output_config") or {}
    if config.get("format") is not None and not isinstance(config["format"], dict):
        raise anthropic("output_config.format", NOT_AN_OBJECT)
    _tool_choice(body)


def input_tokens(body: dict[str, Any], headers: Mapping[str, str], settings: Settings) -> int:
    """Uncached input tokens: system prompt, messages and tool definitions."""
    total = content_tokens(body.get("system")) + tools_tokens(_tools(body))
    for message in _messages(body, headers, settings):
        total += MESSAGE_OVERHEAD + content_tokens(message.get("content"))
    return total


def _tool_results(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if message.get("role") != "user" or not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


def _called_tools(body: dict[str, Any], opts: Options) -> list[dict[str, Any]]:
    tools = [t for t in _tools(body) if t.get("type") in CLIENT_TOOL_TYPES]
    choice = _tool_choice(body)
    kind = choice["type"]
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


def _json_answer(body: dict[str, Any], text: str) -> str | None:
    """Structured outputs: `output_config.format`, or the beta's older `output_format`."""
    fmt = (body.get("output_config") or {}).get("format") or body.get("output_format")
    if not isinstance(fmt, dict):
        return None
    return structured(fmt.get("type"), fmt.get("schema"), text)


def answer(
    body: dict[str, Any], messages: list[dict[str, Any]], opts: Options, chunks: int
) -> Reply:
    results = _tool_results(last_turn(messages))
    called = _called_tools(body, opts)  # checks `tools` and `tool_choice` either way
    if results:
        text = tool_echo(" ".join(content_text(r.get("content")) for r in results))
    elif opts.tool:
        return scripted_reply(opts.tool, "toolu_")
    elif called:
        calls = [tool_call(t["name"], t.get("input_schema"), "toolu_") for t in called]
        return tool_reply(calls)
    else:
        users = [m for m in messages if m.get("role") == "user"]
        text = echo(content_text(users[-1].get("content")) if users else "")
    reply = _json_answer(body, text)
    text = reply if reply is not None else pad(text, chunks)
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


def message_create(
    body: dict[str, Any], opts: Options, settings: Settings, headers: Mapping[str, str]
) -> Response:
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise ApiError(400, "max_tokens: Field required")
    if not is_int(max_tokens) or max_tokens < 1:
        raise ApiError(400, "max_tokens: must be a positive integer")
    messages = _messages(body, headers, settings)
    _check(body)
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
            "input_tokens": input_tokens(body, headers, settings),
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


def count_tokens(
    body: dict[str, Any], opts: Options, settings: Settings, headers: Mapping[str, str]
) -> Response:
    """Total input tokens, which a message reports as input plus cache-read tokens."""
    _check(body)
    return JsonResponse({"input_tokens": input_tokens(body, headers, settings) + opts.cached})
