"""An Anthropic Messages request, validated as Anthropic does, in canonical form.

Errors name the field the way Anthropic's own do (`messages.0.content.1.type: …`): any
value of the wrong type, however deep, is a 400 naming its path, never another exception.

What has a canonical meaning is kept: system blocks one part each (with their cache
breakpoints), `{"role": "system"}` turns inside `messages` in their place, cache_control
on text, image and tool_result blocks and on tools, tool `strict`, server tools as hosted
tools, `output_config.format` as `response_format`. Advice with no canonical field
(`thinking`, `context_management`, `output_config.effort`, metadata other than user_id,
`top_k` …) stays in `extra` under its own name. What the parse itself sets aside (past
thinking blocks, a tool's `defer_loading` …) is named in `extra` too, under a dotted key
such as `tools.defer_loading` whose value lists where it was: a builder that has no use
for an extra `left_out`s it, so it shows in x-jinf-dropped.
"""

import re

from proxy.translate.canonical import (
    ChatRequest,
    ImagePart,
    Message,
    Part,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
)
from proxy.translate.errors import ProxyError
from proxy.translate.wire import dumps

CANONICAL_FIELDS = {
    "model", "messages", "system", "max_tokens", "stream", "temperature", "top_p",
    "stop_sequences", "tools", "tool_choice", "metadata", "output_config", "output_format",
}  # fmt: skip
# Advice kept in `extra`, checked for its type so a builder may rely on it.
ADVICE_TYPES: dict[str, tuple[type, str]] = {
    "thinking": (dict, "an object"), "context_management": (dict, "an object"),
    "top_k": (int, "an integer"), "service_tier": (str, "a string"),
}  # fmt: skip
ROLES = ("user", "assistant", "system")
CHOICES = {"auto": "auto", "any": "required", "tool": "tool", "none": "none"}
# Blocks of an assistant's earlier turn that only Anthropic can replay: its own thinking,
# and the calls and results of tools it ran itself. Set aside (and named) elsewhere.
SET_ASIDE_BLOCKS = frozenset(
    {"thinking", "redacted_thinking", "server_tool_use", "mcp_tool_use", "mcp_tool_result",
     "container_upload"}
)  # fmt: skip
# A custom tool's fields with a canonical meaning; the rest (defer_loading,
# input_examples, allowed_callers …) are set aside.
TOOL_FIELDS = frozenset({"type", "name", "description", "input_schema", "strict", "cache_control"})
VERSION = re.compile(r"_\d{8}$")  # web_search_20250305 → web_search


def _bad(field: str, problem: str) -> ProxyError:
    return ProxyError(400, f"{field}: {problem}", param=field)


def _typed(value: object, kind: type, field: str, expected: str) -> None:
    """None passes (absent); a bool is only a bool; an int is also a number."""
    if value is None:
        return
    accepted = (int, float) if kind is float else kind
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, accepted):
        raise _bad(field, f"Input should be {expected}.")


def _object(value: object, field: str) -> dict:
    if not isinstance(value, dict):
        raise _bad(field, "Input should be a valid dictionary or object.")
    return value


class _Parse:
    """One body's parse: the canonical pieces, and what it set aside, by name."""

    def __init__(self) -> None:
        self.set_aside: dict[str, list[str]] = {}

    def aside(self, name: str, where: str) -> None:
        self.set_aside.setdefault(name, []).append(where)

    def request(self, body: object) -> ChatRequest:
        if not isinstance(body, dict):
            raise ProxyError(400, "The request body should be a JSON object.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _bad("model", "Field required: name the model to use, as a string.")
        max_tokens = body.get("max_tokens")
        if max_tokens is None:
            raise _bad("max_tokens", "Field required: set the most tokens the answer may use.")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise _bad("max_tokens", "Input should be an integer of at least 1.")
        raw_messages = body.get("messages")
        if not isinstance(raw_messages, list) or not raw_messages:
            raise _bad("messages", "Input should be a non-empty list of messages.")
        stream = body.get("stream", False)
        _typed(stream, bool, "stream", "a valid boolean")
        for name in ("temperature", "top_p"):
            _typed(body.get(name), float, name, "a valid number")
        for name, (kind, expected) in ADVICE_TYPES.items():
            _typed(body.get(name), kind, name, expected)
        messages = self.system(body.get("system"))
        for i, raw in enumerate(raw_messages):
            messages.extend(self.message(raw, f"messages.{i}"))
        choice, parallel = _tool_choice(body.get("tool_choice"))
        extra = {k: v for k, v in body.items() if k not in CANONICAL_FIELDS}
        user = _metadata(body.get("metadata"), extra)
        response_format = _output(body, extra)
        tools = self.tools(body.get("tools"))
        extra.update(self.set_aside)
        return ChatRequest(
            model=model,
            messages=messages,
            stream=stream is True,
            include_usage=True,  # Anthropic streams always carry usage
            max_tokens=max_tokens,
            temperature=body.get("temperature"),
            top_p=body.get("top_p"),
            stop=_stop_sequences(body.get("stop_sequences")),
            tools=tools,
            tool_choice=choice,
            parallel_tool_calls=parallel,
            response_format=response_format,
            user=user,
            extra=extra,
        )

    # --- System and messages ----------------------------------------------------------

    def system(self, raw: object) -> list[Message]:
        """The system prompt: a string, or text blocks kept one part each."""
        if raw is None or raw == "":
            return []
        if isinstance(raw, str):
            return [Message("system", [TextPart(raw)])]
        if not isinstance(raw, list):
            raise _bad("system", "Input should be a string or a list of text blocks.")
        parts = self.system_parts(raw, "system")
        return [Message("system", parts)] if parts else []

    def system_parts(self, blocks: list, where: str) -> list[Part]:
        parts: list[Part] = []
        for i, block in enumerate(blocks):
            at = f"{where}.{i}"
            if _kind(block, at) != "text":
                raise _bad(f"{at}.type", "System content blocks must be text blocks.")
            parts.append(_text(block, at))
        return parts

    def message(self, raw: object, where: str) -> list[Message]:
        raw = _object(raw, where)
        role = raw.get("role")
        if role not in ROLES:
            raise _bad(f"{where}.role", "Input should be 'user', 'assistant' or 'system'.")
        content = raw.get("content")
        if isinstance(content, str):
            return [Message(role, [TextPart(content)])]
        if not isinstance(content, list):
            raise _bad(f"{where}.content", "Input should be a string or a list of content blocks.")
        if role == "system":  # a system turn in the conversation: stays in its place
            return [Message("system", self.system_parts(content, f"{where}.content"))]
        out: list[Message] = []
        current = Message(role)
        for j, block in enumerate(content):
            at = f"{where}.content.{j}"
            kind = _kind(block, at)
            if kind == "text":
                current.content.append(_text(block, at))
            elif kind == "image":
                current.content.append(_image(block, at))
            elif kind == "tool_use" and role == "assistant":
                current.tool_calls.append(self.tool_use(block, at))
            elif kind == "tool_result" and role == "user":
                if current.content:
                    out.append(current)
                    current = Message(role)
                out.append(self.tool_result(block, at))
            elif role == "assistant" and (
                kind in SET_ASIDE_BLOCKS or kind.endswith("_tool_result")
            ):
                self.aside(f"messages.{kind}", at)
            else:
                allowed = (
                    "text, image, tool_use" if role == "assistant" else "text, image, tool_result"
                )
                raise _bad(
                    f"{at}.type",
                    f"Unsupported block type {kind!r} in a {role} message; use {allowed}.",
                )
        if current.content or current.tool_calls or not out:
            out.append(current)
        return out

    def tool_use(self, block: dict, at: str) -> ToolCall:
        id_, name, input_ = block.get("id"), block.get("name"), block.get("input")
        if not isinstance(id_, str) or not id_:
            raise _bad(f"{at}.id", "Field required: the tool call's id, as a string.")
        if not isinstance(name, str) or not name:
            raise _bad(f"{at}.name", "Field required: the tool's name, as a string.")
        if not isinstance(input_, dict):
            raise _bad(f"{at}.input", "Input should be a valid dictionary or object.")
        if _cache_control(block, at) is not None:
            self.aside("messages.cache_control", f"{at}.cache_control")
        try:
            arguments = dumps(input_).decode()
        except ProxyError:
            raise _bad(f"{at}.input", "The tool input is nested too deeply.") from None
        return ToolCall(id=id_, name=name, arguments=arguments)

    def tool_result(self, block: dict, at: str) -> Message:
        tool_use_id = block.get("tool_use_id")
        if not isinstance(tool_use_id, str) or not tool_use_id:
            raise _bad(f"{at}.tool_use_id", "Field required: the id of the tool_use it answers.")
        is_error = block.get("is_error")
        _typed(is_error, bool, f"{at}.is_error", "a valid boolean")
        content = block.get("content", "")
        parts: list[Part] = []
        if isinstance(content, str):
            parts.append(TextPart(content))
        elif isinstance(content, list):
            for k, item in enumerate(content):
                where = f"{at}.content.{k}"
                kind = _kind(item, where)
                if kind == "text":
                    parts.append(_text(item, where))
                elif kind == "image":
                    parts.append(_image(item, where))
                elif kind == "tool_reference":  # tool search found a tool: say which
                    name = item.get("tool_name")
                    if not isinstance(name, str):
                        raise _bad(f"{where}.tool_name", "Input should be a valid string.")
                    parts.append(TextPart(f"Tool available: {name}"))
                else:
                    raise _bad(f"{where}.type", "Tool results may hold text and image blocks.")
        elif content is not None:
            raise _bad(f"{at}.content", "Input should be a string or a list of content blocks.")
        return Message(
            "tool",
            parts,
            tool_call_id=tool_use_id,
            is_error=is_error is True,
            cache_control=_cache_control(block, at),
        )

    # --- Tools ------------------------------------------------------------------------

    def tools(self, raw: object) -> list[Tool]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise _bad("tools", "Input should be a list of tools.")
        return [self.tool(_object(tool, f"tools.{i}"), f"tools.{i}") for i, tool in enumerate(raw)]

    def tool(self, tool: dict, at: str) -> Tool:
        kind, name = tool.get("type"), tool.get("name")
        _typed(kind, str, f"{at}.type", "a valid string")
        cache_control = _cache_control(tool, at)
        if kind not in (None, "custom"):  # a server tool: the provider runs it
            hosted = VERSION.sub("", kind)
            _typed(name, str, f"{at}.name", "a valid string")
            options = {k: v for k, v in tool.items() if k not in ("type", "name", "cache_control")}
            return Tool(name or hosted, hosted=hosted, options=options, cache_control=cache_control)
        if not isinstance(name, str) or not name:
            raise _bad(f"{at}.name", "Field required: each tool needs a name, as a string.")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            raise _bad(f"{at}.input_schema", "Field required: a JSON schema object.")
        description, strict = tool.get("description"), tool.get("strict")
        _typed(description, str, f"{at}.description", "a valid string")
        _typed(strict, bool, f"{at}.strict", "a valid boolean")
        for key in tool:
            if key not in TOOL_FIELDS:
                self.aside(f"tools.{key}", f"{at}.{key}")
        return Tool(name, description, schema, strict=strict, cache_control=cache_control)


def parse(body: dict) -> ChatRequest:
    return _Parse().request(body)


# --- Blocks ---------------------------------------------------------------------------


def _kind(block: object, at: str) -> str:
    block = _object(block, at)
    kind = block.get("type")
    if not isinstance(kind, str):
        raise _bad(f"{at}.type", "Field required: each content block needs a type.")
    return kind


def _cache_control(block: dict, at: str) -> dict | None:
    value = block.get("cache_control")
    if value is None:
        return None
    value = _object(value, f"{at}.cache_control")
    if not isinstance(value.get("type"), str):
        raise _bad(f"{at}.cache_control.type", "Field required: e.g. 'ephemeral'.")
    return value


def _text(block: dict, at: str) -> TextPart:
    text = block.get("text")
    if not isinstance(text, str):
        raise _bad(f"{at}.text", "Input should be a valid string.")
    return TextPart(text, cache_control=_cache_control(block, at))


def _image(block: dict, at: str) -> ImagePart:
    source = _object(block.get("source"), f"{at}.source")
    kind = source.get("type")
    cache_control = _cache_control(block, at)
    if kind == "base64":
        media_type, data = source.get("media_type"), source.get("data")
        if not isinstance(media_type, str):
            raise _bad(f"{at}.source.media_type", "Input should be a valid string.")
        if not isinstance(data, str):
            raise _bad(f"{at}.source.data", "Input should be a valid string.")
        return ImagePart(media_type=media_type, data=data, cache_control=cache_control)
    if kind == "url":
        url = source.get("url")
        if not isinstance(url, str):
            raise _bad(f"{at}.source.url", "Input should be a valid string.")
        return ImagePart(url=url, cache_control=cache_control)
    raise _bad(f"{at}.source.type", "An image source should be 'base64' data or a 'url'.")


# --- Top-level fields -----------------------------------------------------------------


def _metadata(raw: object, extra: dict) -> str | None:
    """`user_id` is the canonical user; any other metadata is advice, kept in `extra`."""
    if raw is None:
        return None
    metadata = _object(raw, "metadata")
    user = metadata.get("user_id")
    _typed(user, str, "metadata.user_id", "a valid string")
    rest = {k: v for k, v in metadata.items() if k != "user_id"}
    if rest:
        extra["metadata"] = rest
    return user


def _output(body: dict, extra: dict) -> dict | None:
    """Structured outputs (`output_config.format`, or the beta's `output_format`) as
    OpenAI's `response_format`; the rest of output_config (effort …) stays advice."""
    fmt, where = body.get("output_format"), "output_format"
    config = body.get("output_config")
    if config is not None:
        config = _object(config, "output_config")
        rest = {k: v for k, v in config.items() if k != "format"}
        if rest:
            extra["output_config"] = rest
        if config.get("format") is not None:
            fmt, where = config["format"], "output_config.format"
    if fmt is None:
        return None
    fmt = _object(fmt, where)
    if fmt.get("type") != "json_schema":
        raise _bad(f"{where}.type", "Input should be 'json_schema'.")
    schema = _object(fmt.get("schema"), f"{where}.schema")
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}


def _tool_choice(raw: object) -> tuple[ToolChoice | None, bool | None]:
    if raw is None:
        return None, None
    kind = raw.get("type") if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or not isinstance(kind, str) or kind not in CHOICES:
        raise _bad("tool_choice", "Input should be an object of type auto, any, tool or none.")
    name = raw.get("name")
    if kind == "tool" and (not isinstance(name, str) or not name):
        raise _bad("tool_choice.name", "Field required: the tool to use.")
    disable = raw.get("disable_parallel_tool_use")
    _typed(disable, bool, "tool_choice.disable_parallel_tool_use", "a valid boolean")
    choice = ToolChoice(CHOICES[kind], name if kind == "tool" else None)  # type: ignore[arg-type]
    return choice, (False if disable else None)


def _stop_sequences(raw: object) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise _bad("stop_sequences", "Input should be a list of strings.")
    return list(raw)
