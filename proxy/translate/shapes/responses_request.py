"""Responses API request bodies (`POST /v1/responses`) into the canonical `ChatRequest`.

Only what chat completions can express is accepted: messages, function tools, function
calls and their outputs. Anything that needs OpenAI's stored state or its hosted tools
gets a 400 that says so, instead of being silently dropped.
"""

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
from proxy.translate.errors import ProxyError, bad_request

# Fields given a canonical meaning below; the rest (store, metadata, text, instructions,
# reasoning, include, truncation …) stay in `extra`, where the Response object's echo
# finds them and no chat upstream ever sees them.
CANONICAL_FIELDS = {
    "model", "input", "stream", "max_output_tokens", "temperature", "top_p", "tools",
    "tool_choice", "parallel_tool_calls", "user",
}  # fmt: skip
_STORED_STATE = {
    "previous_response_id": "previous_response_id is not supported: this gateway does not store responses; send the whole conversation in `input`.",
    "conversation": "conversation is not supported: this gateway does not store conversations; send the whole conversation in `input`.",
}  # fmt: skip
_TYPES = {
    str: "a string", int: "an integer", bool: "a boolean", list: "an array", dict: "an object",
    float: "a number",
}  # fmt: skip
_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}


def _invalid_type(param: str, expected: str) -> ProxyError:
    return bad_request(f"Invalid type for '{param}': expected {expected}.", param, "invalid_type")


def _invalid_value(message: str, param: str) -> ProxyError:
    return bad_request(message, param, "invalid_value")


def _check(value: object, kind: type, param: str) -> None:
    """None passes (absent); a bool is only a bool; an int is also a number (float)."""
    if value is None:
        return
    accepted = (int, float) if kind is float else kind
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, accepted):
        raise _invalid_type(param, _TYPES[kind])


def _required_str(raw: dict, name: str, param: str) -> str:
    value = raw.get(name)
    if value is None:
        raise bad_request(
            f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
        )
    _check(value, str, param)
    return value


def parse(body: dict) -> ChatRequest:
    """A Responses request body, validated field by field, in canonical form."""
    for name, message in _STORED_STATE.items():
        if body.get(name) is not None:
            raise bad_request(message, name, "unsupported_parameter")
    model = _required_str(body, "model", "model")
    raw_input = body.get("input")
    if raw_input is None:
        raise bad_request(
            "Missing required parameter: 'input'.", "input", "missing_required_parameter"
        )
    if not isinstance(raw_input, str | list):
        raise _invalid_type("input", "a string or an array")
    for name, kind in (
        ("instructions", str), ("stream", bool), ("max_output_tokens", int),
        ("temperature", float), ("top_p", float), ("tools", list),
        ("parallel_tool_calls", bool), ("user", str), ("metadata", dict), ("text", dict),
    ):  # fmt: skip
        _check(body.get(name), kind, name)
    if body.get("max_output_tokens") is not None and body["max_output_tokens"] < 1:
        raise _invalid_value("'max_output_tokens' must be at least 1.", "max_output_tokens")

    messages: list[Message] = []
    if body.get("instructions"):
        messages.append(Message(role="system", content=[TextPart(body["instructions"])]))
    if isinstance(raw_input, str):
        messages.append(Message(role="user", content=[TextPart(raw_input)]))
    else:
        if not raw_input:
            raise _invalid_value("'input' must contain at least one item.", "input")
        for i, item in enumerate(raw_input):
            _item(item, i, messages)
    return ChatRequest(
        model=model,
        messages=messages,
        stream=bool(body.get("stream")),
        include_usage=True,  # Responses always end with usage, streamed or not
        max_tokens=body.get("max_output_tokens"),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        tools=[_tool(t, i) for i, t in enumerate(body.get("tools") or [])],
        tool_choice=_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=body.get("parallel_tool_calls"),
        response_format=_response_format(body.get("text")),
        user=body.get("user"),
        extra={k: v for k, v in body.items() if k not in CANONICAL_FIELDS},
    )


def _item(item: object, i: int, messages: list[Message]) -> None:
    param = f"input[{i}]"
    if not isinstance(item, dict):
        raise _invalid_type(param, "an object")
    kind = item.get("type", "message" if "role" in item else None)
    if kind == "message":
        role = item.get("role")
        if role not in _ROLES:
            raise _invalid_value(
                f"Invalid value for '{param}.role': {role!r}; use user, assistant, system or developer.",
                f"{param}.role",
            )
        messages.append(Message(role=_ROLES[role], content=_parts(item.get("content"), param)))
    elif kind == "function_call":
        call = ToolCall(
            id=_required_str(item, "call_id", f"{param}.call_id"),
            name=_required_str(item, "name", f"{param}.name"),
            arguments=_required_str(item, "arguments", f"{param}.arguments"),
        )
        # Consecutive calls (and a text answer before them) are one assistant turn.
        if messages and messages[-1].role == "assistant":
            messages[-1].tool_calls.append(call)
        else:
            messages.append(Message(role="assistant", tool_calls=[call]))
    elif kind == "function_call_output":
        call_id = _required_str(item, "call_id", f"{param}.call_id")
        output = item.get("output")
        if output is None:
            raise bad_request(
                f"Missing required parameter: '{param}.output'.",
                f"{param}.output",
                "missing_required_parameter",
            )
        parts = _parts(output, param, field="output")
        messages.append(Message(role="tool", content=parts, tool_call_id=call_id))
    elif kind == "reasoning":
        pass  # a reasoning model's own notes, passed back with its output: nothing to send
    else:
        raise _invalid_value(
            f"Unsupported input item type {kind!r} at '{param}': this gateway accepts message, function_call and function_call_output items.",
            f"{param}.type",
        )


def _parts(content: object, param: str, field: str = "content") -> list[Part]:
    param = f"{param}.{field}"
    if isinstance(content, str):
        return [TextPart(content)]
    if not isinstance(content, list):
        raise _invalid_type(param, "a string or an array")
    parts: list[Part] = []
    for j, part in enumerate(content):
        here = f"{param}[{j}]"
        if not isinstance(part, dict):
            raise _invalid_type(here, "an object")
        kind = part.get("type")
        if kind in ("input_text", "output_text"):
            parts.append(TextPart(_required_str(part, "text", f"{here}.text")))
        elif kind == "refusal":
            parts.append(TextPart(_required_str(part, "refusal", f"{here}.refusal")))
        elif kind == "input_image":
            parts.append(_image(part, here))
        elif kind == "input_file":
            raise _invalid_value(
                f"File inputs are not supported at '{here}': send the file's text as input_text.",
                here,
            )
        else:
            raise _invalid_value(
                f"Unsupported content part type {kind!r} at '{here}': use input_text, output_text or input_image.",
                f"{here}.type",
            )
    return parts


def _image(part: dict, here: str) -> ImagePart:
    if part.get("file_id") is not None and part.get("image_url") is None:
        raise _invalid_value(
            f"Images by file_id are not supported ('{here}.file_id'): send image_url, as a URL or a base64 data: URL.",
            f"{here}.file_id",
        )
    url = _required_str(part, "image_url", f"{here}.image_url")
    detail = part.get("detail")
    _check(detail, str, f"{here}.detail")
    if url.startswith("data:") and ";base64," in url:
        media_type, data = url[5:].split(";base64,", 1)
        return ImagePart(media_type=media_type, data=data, detail=detail)
    return ImagePart(url=url, detail=detail)


def _tool(raw: object, i: int) -> Tool:
    param = f"tools[{i}]"
    if not isinstance(raw, dict):
        raise _invalid_type(param, "an object")
    if raw.get("type") != "function":
        raise _invalid_value(
            f"Only function tools are supported: '{param}' has type {raw.get('type')!r}. Hosted tools (web search, file search …) need OpenAI's own API.",
            f"{param}.type",
        )
    name = _required_str(raw, "name", f"{param}.name")
    _check(raw.get("description"), str, f"{param}.description")
    _check(raw.get("parameters"), dict, f"{param}.parameters")
    return Tool(
        name=name,
        description=raw.get("description"),
        parameters=raw.get("parameters") or {"type": "object", "properties": {}},
    )


def _tool_choice(raw: object) -> ToolChoice | None:
    if raw is None:
        return None
    if raw in ("auto", "none", "required"):
        return ToolChoice(mode=raw)
    if isinstance(raw, dict) and raw.get("type") == "function" and isinstance(raw.get("name"), str):
        return ToolChoice(mode="tool", name=raw["name"])
    raise _invalid_value(
        'Invalid value for \'tool_choice\': use "auto", "none", "required" or '
        '{"type": "function", "name": …}.',
        "tool_choice",
    )


def _response_format(text: dict | None) -> dict | None:
    fmt = (text or {}).get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise _invalid_type("text.format", "an object")
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = {
            "name": _required_str(fmt, "name", "text.format.name"),
            "schema": fmt.get("schema"),
        }
        if not isinstance(schema["schema"], dict):
            raise _invalid_type("text.format.schema", "an object")
        for key in ("description", "strict"):
            if fmt.get(key) is not None:
                schema[key] = fmt[key]
        return {"type": "json_schema", "json_schema": schema}
    raise _invalid_value(
        f"Invalid value for 'text.format.type': {kind!r}; use text, json_object or json_schema.",
        "text.format.type",
    )
