"""An OpenAI chat-completions request, checked field by field, in canonical form.

Errors name the field the way OpenAI's own do (`messages[1].content[0].text`).
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
from proxy.translate.errors import bad_request
from proxy.translate.shapes.fields import (
    at_least,
    check_fields,
    get,
    invalid_type,
    invalid_value,
    is_bool,
    is_dict,
    is_int,
    is_list,
    is_num,
    is_str,
    is_str_list,
    is_str_or_dict,
    is_str_or_list,
    metadata,
    missing,
    need,
    shown,
)

CANONICAL_FIELDS = {
    "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
    "temperature", "top_p", "stop", "tools", "tool_choice", "parallel_tool_calls",
    "response_format", "user", "web_search_options",
}  # fmt: skip
# Every top-level field of chat completions with a type to check; the ones outside
# CANONICAL_FIELDS stay in `extra`, type-checked, for a same-kind upstream.
BODY_CHECKS = {
    "model": is_str, "messages": is_list, "stream": is_bool, "stream_options": is_dict,
    "max_tokens": is_int, "max_completion_tokens": is_int, "temperature": is_num,
    "top_p": is_num, "n": is_int, "stop": is_str_or_list, "tools": is_list,
    "parallel_tool_calls": is_bool, "response_format": is_dict, "user": is_str,
    "web_search_options": is_dict, "seed": is_int, "presence_penalty": is_num,
    "frequency_penalty": is_num, "logprobs": is_bool, "top_logprobs": is_int,
    "logit_bias": is_dict, "metadata": is_dict, "store": is_bool, "reasoning_effort": is_str,
    "service_tier": is_str, "modalities": is_str_list, "audio": is_dict, "prediction": is_dict,
    "prompt_cache_key": is_str, "safety_identifier": is_str, "verbosity": is_str,
}  # fmt: skip
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant",
         "tool": "tool"}  # fmt: skip
LEGACY = {
    "functions": "`functions` is not supported for this model: send them as `tools`.",
    "function_call": "`function_call` is not supported for this model: use `tool_choice`.",
}  # fmt: skip


def parse(body: dict) -> ChatRequest:
    """A chat-completions body, checked field by field (nothing else checks a translated
    body), in canonical form; a 400 naming the field for anything it cannot read."""
    check_fields(body, BODY_CHECKS, required=("model", "messages"))
    for name, message in LEGACY.items():
        if body.get(name) is not None:
            raise bad_request(message, name, "unsupported_parameter")
    raw_messages = body["messages"]
    if not raw_messages:
        raise invalid_value("'messages' must contain at least one message.", "messages")
    options = body.get("stream_options") or {}
    tools = [_tool(t, i) for i, t in enumerate(body.get("tools") or [])]
    if body.get("web_search_options") is not None:
        search = body["web_search_options"]  # chat's own switch for a hosted web search
        tools.append(Tool(name="web_search", hosted="web_search", options=search))
    at_least(body.get("n"), 1, "n")
    metadata(body)
    max_tokens = at_least(body.get("max_tokens"), 1, "max_tokens")
    max_tokens = (
        at_least(body.get("max_completion_tokens"), 1, "max_completion_tokens") or max_tokens
    )
    return ChatRequest(
        model=body["model"],
        messages=[_message(m, f"messages[{i}]") for i, m in enumerate(raw_messages)],
        stream=body.get("stream") is True,
        include_usage=get(options, "include_usage", is_bool, "stream_options.include_usage")
        is True,
        max_tokens=max_tokens,
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        stop=_stop(body.get("stop")),
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=body.get("parallel_tool_calls"),
        response_format=_response_format(body.get("response_format")),
        user=body.get("user"),
        extra={k: v for k, v in body.items() if k not in CANONICAL_FIELDS},
    )


def _stop(raw: object) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw]
    for i, item in enumerate(raw):  # type: ignore[arg-type]  # a list: checked above
        if not isinstance(item, str):
            raise invalid_type(f"stop[{i}]", "a string")
    return list(raw)  # type: ignore[arg-type]


def _message(raw: object, at: str) -> Message:
    if not isinstance(raw, dict):
        raise invalid_type(at, "an object")
    role = need(raw, "role", is_str, f"{at}.role")
    if role not in ROLES:
        raise invalid_value(
            f"Invalid value for '{at}.role': {shown(role)}; use system, developer, user, "
            "assistant or tool.",
            f"{at}.role",
        )
    role = ROLES[role]
    get(raw, "name", is_str, f"{at}.name")
    get(raw, "refusal", is_str, f"{at}.refusal")
    content = raw.get("content")
    if content is None and role != "assistant":
        raise missing(f"{at}.content")
    calls = get(raw, "tool_calls", is_list, f"{at}.tool_calls", [])
    tool_call_id = get(raw, "tool_call_id", is_str, f"{at}.tool_call_id")
    if role == "tool" and tool_call_id is None:
        raise missing(f"{at}.tool_call_id")
    parts = _parts(content, f"{at}.content")
    message = Message(role=role, content=parts)
    if role == "assistant":
        message.tool_calls = [_call(c, f"{at}.tool_calls[{j}]") for j, c in enumerate(calls)]
    elif role == "tool":
        message.tool_call_id = tool_call_id
        # A breakpoint on a result's part marks the whole result (Anthropic's tool_result).
        marks = [p.cache_control for p in parts if isinstance(p, TextPart) and p.cache_control]
        message.cache_control = marks[-1] if marks else None
    return message


def _call(raw: object, at: str) -> ToolCall:
    if not isinstance(raw, dict):
        raise invalid_type(at, "an object")
    kind = get(raw, "type", is_str, f"{at}.type", "function")
    if kind != "function":
        raise invalid_value(
            f"Invalid value for '{at}.type': {shown(kind)}; only function calls can be "
            "sent to this model.",
            f"{at}.type",
        )
    fn = need(raw, "function", is_dict, f"{at}.function")
    return ToolCall(
        id=need(raw, "id", is_str, f"{at}.id"),
        name=need(fn, "name", is_str, f"{at}.function.name"),
        arguments=need(fn, "arguments", is_str, f"{at}.function.arguments"),
    )


def _parts(content: object, at: str) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(content)]
    if not isinstance(content, list):
        raise invalid_type(at, "a string or an array")
    return [_part(part, f"{at}[{j}]") for j, part in enumerate(content)]


def _part(part: object, at: str) -> Part:
    if not isinstance(part, dict):
        raise invalid_type(at, "an object")
    kind = need(part, "type", is_str, f"{at}.type")
    if kind == "text":
        return TextPart(
            need(part, "text", is_str, f"{at}.text"),
            cache_control=get(part, "cache_control", is_dict, f"{at}.cache_control"),
        )
    if kind == "refusal":
        return TextPart(need(part, "refusal", is_str, f"{at}.refusal"))
    if kind == "image_url":
        image = need(part, "image_url", is_str_or_dict, f"{at}.image_url")
        if isinstance(image, str):  # some clients send the URL itself
            return _image(image, None)
        url = need(image, "url", is_str, f"{at}.image_url.url")
        return _image(url, get(image, "detail", is_str, f"{at}.image_url.detail"))
    if kind in ("input_audio", "file"):
        raise invalid_value(
            f"Content parts of type {kind!r} ('{at}.type') are not supported for this model: "
            "send text and images.",
            f"{at}.type",
        )
    raise invalid_value(
        f"Invalid value for '{at}.type': {shown(kind)}; use text, image_url or refusal.",
        f"{at}.type",
    )


def _image(url: str, detail: str | None) -> ImagePart:
    if url.startswith("data:") and ";base64," in url:
        head, data = url[5:].split(";base64,", 1)
        return ImagePart(media_type=head, data=data, detail=detail)
    return ImagePart(url=url, detail=detail)


def _tool(raw: object, i: int) -> Tool:
    at = f"tools[{i}]"
    if not isinstance(raw, dict):
        raise invalid_type(at, "an object")
    kind = get(raw, "type", is_str, f"{at}.type", "function")
    cache_control = get(raw, "cache_control", is_dict, f"{at}.cache_control")
    if kind != "function":
        # A tool the provider would run (or a custom one): the provider kind accepts it,
        # or refuses or drops it by name.
        inner = raw.get(kind)
        name = raw.get("name") or (inner.get("name") if isinstance(inner, dict) else None)
        options = {k: v for k, v in raw.items() if k != "type"}
        return Tool(
            name=name if isinstance(name, str) and name else kind,
            hosted=kind,
            options=options,
            cache_control=cache_control,
        )
    fn = need(raw, "function", is_dict, f"{at}.function")
    name = need(fn, "name", is_str, f"{at}.function.name")
    if not name:
        raise invalid_value(f"'{at}.function.name' must not be empty.", f"{at}.function.name")
    return Tool(
        name=name,
        description=get(fn, "description", is_str, f"{at}.function.description"),
        parameters=get(fn, "parameters", is_dict, f"{at}.function.parameters")
        or {"type": "object", "properties": {}},
        strict=get(fn, "strict", is_bool, f"{at}.function.strict"),
        cache_control=cache_control,
    )


def _tool_choice(raw: object) -> ToolChoice | None:
    if raw is None:
        return None
    if isinstance(raw, str) and raw in ("auto", "none", "required"):
        return ToolChoice(mode=raw)  # type: ignore[arg-type]
    if isinstance(raw, dict):
        kind = get(raw, "type", is_str, "tool_choice.type", "function")
        if kind == "function":
            fn = need(raw, "function", is_dict, "tool_choice.function")
            return ToolChoice(
                mode="tool", name=need(fn, "name", is_str, "tool_choice.function.name")
            )
        raise invalid_value(
            f"Invalid value for 'tool_choice.type': {shown(kind)}; only a function can be "
            "chosen for this model.",
            "tool_choice.type",
        )
    raise invalid_value(
        'Invalid value for \'tool_choice\': use "auto", "none", "required" or '
        '{"type": "function", "function": {"name": …}}.',
        "tool_choice",
    )


def _response_format(raw: dict | None) -> dict | None:
    if raw is None:
        return None
    kind = need(raw, "type", is_str, "response_format.type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = need(raw, "json_schema", is_dict, "response_format.json_schema")
        need(schema, "name", is_str, "response_format.json_schema.name")
        get(schema, "schema", is_dict, "response_format.json_schema.schema")
        get(schema, "description", is_str, "response_format.json_schema.description")
        get(schema, "strict", is_bool, "response_format.json_schema.strict")
        return raw
    raise invalid_value(
        f"Invalid value for 'response_format.type': {shown(kind)}; use text, json_object or "
        "json_schema.",
        "response_format.type",
    )
