"""Responses API request bodies (`POST /v1/responses`) into the canonical `ChatRequest`.

Messages (a developer or system message anywhere is a system message in its place),
function tools, function calls and their outputs are carried; a `namespace` tool's
functions become plain function tools named `<namespace>__<name>` (see
`fields.flat_tool_name`), mapped back to the client's name and namespace when the answer
is rendered; a tool OpenAI would run itself (web search, file search, MCP …) becomes a
hosted `Tool` that the provider kind carries, refuses or drops by name. Anything that
needs OpenAI's stored state gets a 400 that says so. Every field is type-checked here
(nothing else checks a translated body): a wrong one is a 400 naming it.
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
    flat_tool_name,
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
    is_str_or_list,
    metadata,
    need,
    shown,
)

# Fields given a canonical meaning below (`instructions` is the first system message,
# `text.format` the response format); the rest (store, metadata, reasoning, include,
# prompt_cache_key, client_metadata, text.verbosity, service_tier …) stay in `extra`: advice
# a provider kind passes on where it has the field, and names as left out where not.
CANONICAL_FIELDS = {
    "model", "input", "stream", "max_output_tokens", "temperature", "top_p", "tools",
    "tool_choice", "parallel_tool_calls", "user", "instructions", "text",
}  # fmt: skip
BODY_CHECKS = {
    "model": is_str, "input": is_str_or_list, "instructions": is_str, "stream": is_bool,
    "stream_options": is_dict, "max_output_tokens": is_int, "temperature": is_num,
    "top_p": is_num, "tools": is_list, "parallel_tool_calls": is_bool, "user": is_str,
    "metadata": is_dict, "text": is_dict, "reasoning": is_dict, "include": is_str_list,
    "store": is_bool, "prompt_cache_key": is_str, "client_metadata": is_dict,
    "service_tier": is_str, "truncation": is_str, "top_logprobs": is_int,
    "background": is_bool, "max_tool_calls": is_int, "safety_identifier": is_str,
    "prompt_cache_retention": is_str,
}  # fmt: skip
_STORED_STATE = {
    "previous_response_id": "previous_response_id is not supported: this gateway does not store responses; send the whole conversation in `input`.",
    "conversation": "conversation is not supported: this gateway does not store conversations; send the whole conversation in `input`.",
    "prompt": "prompt is not supported: stored prompt templates live in OpenAI's own API; send the prompt's text in `instructions` and `input`.",
}  # fmt: skip
_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
# The Responses API's web search tool, by each of its names.
WEB_SEARCH = frozenset(
    {"web_search", "web_search_2025_08_26", "web_search_preview", "web_search_preview_2025_03_11"}
)


def parse(body: dict) -> ChatRequest:
    """A Responses request body, validated field by field, in canonical form."""
    for name, message in _STORED_STATE.items():
        if body.get(name) is not None:
            raise bad_request(message, name, "unsupported_parameter")
    check_fields(body, BODY_CHECKS, required=("model", "input"))
    if body.get("background") is True:
        raise bad_request(
            "background is not supported: this gateway does not store responses to fetch "
            "later; leave it out and wait for the answer, or stream it.",
            "background",
            "unsupported_parameter",
        )
    at_least(body.get("max_output_tokens"), 1, "max_output_tokens")
    metadata(body)
    text = body.get("text") or {}
    get(text, "verbosity", is_str, "text.verbosity")
    get(
        body.get("stream_options") or {},
        "include_obfuscation",
        is_bool,
        "stream_options.include_obfuscation",
    )
    reasoning = body.get("reasoning") or {}
    for key in ("effort", "summary", "generate_summary"):
        get(reasoning, key, is_str, f"reasoning.{key}")

    tools, names = _tools(body.get("tools") or [])
    messages: list[Message] = []
    if body.get("instructions"):
        messages.append(Message(role="system", content=[TextPart(body["instructions"])]))
    raw_input = body["input"]
    if isinstance(raw_input, str):
        if not raw_input:
            raise invalid_value("'input' must not be empty.", "input")
        messages.append(Message(role="user", content=[TextPart(raw_input)]))
    else:
        if not raw_input:
            raise invalid_value("'input' must contain at least one item.", "input")
        flat = {(v["namespace"], v["name"]): k for k, v in names.items()}
        for i, item in enumerate(raw_input):
            _item(item, f"input[{i}]", messages, flat)
    # What the Response object echoes as the client sent it, and the namespaced names.
    state = {k: body[k] for k in ("instructions", "text", "tools") if body.get(k)}
    if names:
        state["names"] = names
    extra = {k: v for k, v in body.items() if k not in CANONICAL_FIELDS}
    advice = {k: v for k, v in text.items() if k != "format"}
    if advice:
        extra["text"] = advice  # verbosity and the like: the format is response_format
    return ChatRequest(
        model=body["model"],
        messages=messages,
        stream=body.get("stream") is True,
        include_usage=True,  # Responses always end with usage, streamed or not
        max_tokens=body.get("max_output_tokens"),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), tools, names),
        parallel_tool_calls=body.get("parallel_tool_calls"),
        response_format=_response_format(text),
        user=body.get("user"),
        extra=extra,
        shape_state=state,
    )


def _item(item: object, at: str, messages: list[Message], flat: dict[tuple[str, str], str]) -> None:
    if not isinstance(item, dict):
        raise invalid_type(at, "an object")
    get(item, "id", is_str, f"{at}.id")
    get(item, "status", is_str, f"{at}.status")
    kind = get(item, "type", is_str, f"{at}.type", "message" if "role" in item else None)
    if kind == "message":
        role = need(item, "role", is_str, f"{at}.role")
        if role not in _ROLES:
            raise invalid_value(
                f"Invalid value for '{at}.role': {shown(role)}; use user, assistant, system or "
                "developer.",
                f"{at}.role",
            )
        content = need(item, "content", is_str_or_list, f"{at}.content")
        messages.append(Message(role=_ROLES[role], content=_parts(content, f"{at}.content")))
    elif kind == "function_call":
        call_id = need(item, "call_id", is_str, f"{at}.call_id")
        name = need(item, "name", is_str, f"{at}.name")
        namespace = get(item, "namespace", is_str, f"{at}.namespace")
        arguments = need(item, "arguments", is_str, f"{at}.arguments")
        if namespace is not None:  # the provider knows the function by its flattened name
            name = flat.get((namespace, name)) or flat_tool_name(namespace, name)
        call = ToolCall(id=call_id, name=name, arguments=arguments)
        # Consecutive calls (and a text answer before them) are one assistant turn.
        if messages and messages[-1].role == "assistant":
            messages[-1].tool_calls.append(call)
        else:
            messages.append(Message(role="assistant", tool_calls=[call]))
    elif kind == "function_call_output":
        call_id = need(item, "call_id", is_str, f"{at}.call_id")
        get(item, "name", is_str, f"{at}.name")
        get(item, "namespace", is_str, f"{at}.namespace")
        output = need(item, "output", is_str_or_list, f"{at}.output")
        parts = _parts(output, f"{at}.output")
        messages.append(Message(role="tool", content=parts, tool_call_id=call_id))
    elif kind == "reasoning":
        pass  # a reasoning model's own notes, passed back with its output: nothing to send
    else:
        raise invalid_value(
            f"Unsupported input item type {shown(kind)} at '{at}': this gateway accepts "
            "message, function_call and function_call_output items.",
            f"{at}.type",
        )


def _parts(content: object, at: str) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)]
    parts: list[Part] = []
    for j, part in enumerate(content):  # type: ignore[arg-type]  # a list: checked before
        here = f"{at}[{j}]"
        if not isinstance(part, dict):
            raise invalid_type(here, "an object")
        kind = need(part, "type", is_str, f"{here}.type")
        if kind in ("input_text", "output_text"):
            parts.append(
                TextPart(
                    need(part, "text", is_str, f"{here}.text"),
                    cache_control=get(part, "cache_control", is_dict, f"{here}.cache_control"),
                )
            )
        elif kind == "refusal":
            parts.append(TextPart(need(part, "refusal", is_str, f"{here}.refusal")))
        elif kind == "input_image":
            parts.append(_image(part, here))
        elif kind == "input_file":
            raise invalid_value(
                f"File inputs are not supported at '{here}': send the file's text as input_text.",
                here,
            )
        else:
            raise invalid_value(
                f"Unsupported content part type {shown(kind)} at '{here}': use input_text, "
                "output_text or input_image.",
                f"{here}.type",
            )
    return parts


def _image(part: dict, here: str) -> ImagePart:
    if part.get("file_id") is not None and part.get("image_url") is None:
        raise invalid_value(
            f"Images by file_id are not supported ('{here}.file_id'): send image_url, as a URL "
            "or a base64 data: URL.",
            f"{here}.file_id",
        )
    url = need(part, "image_url", is_str, f"{here}.image_url")
    detail = get(part, "detail", is_str, f"{here}.detail")
    if url.startswith("data:") and ";base64," in url:
        media_type, data = url[5:].split(";base64,", 1)
        return ImagePart(media_type=media_type, data=data, detail=detail)
    return ImagePart(url=url, detail=detail)


def _tools(raw: list) -> tuple[list[Tool], dict[str, dict]]:
    """The canonical tools, and the flattened names of namespaced functions → the client's
    `{"namespace", "name"}`."""
    functions = {
        t.get("name")
        for t in raw
        if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("name"), str)
    }
    tools: list[Tool] = []
    names: dict[str, dict] = {}
    for i, tool in enumerate(raw):
        at = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise invalid_type(at, "an object")
        kind = need(tool, "type", is_str, f"{at}.type")
        if kind == "function":
            tools.append(_function(tool, at))
        elif kind == "namespace":
            namespace = _name(tool, at)
            description = get(tool, "description", is_str, f"{at}.description")
            inner = need(tool, "tools", is_list, f"{at}.tools")
            for j, member in enumerate(inner):
                here = f"{at}.tools[{j}]"
                if not isinstance(member, dict):
                    raise invalid_type(here, "an object")
                member_kind = need(member, "type", is_str, f"{here}.type")
                name = _name(member, here)
                flat = flat_tool_name(namespace, name, functions | names.keys())
                names[flat] = {"namespace": namespace, "name": name}
                if member_kind == "function":
                    function = _function(member, here)
                    function.name = flat
                    if description:  # what the namespace is for, said with each of its tools
                        function.description = f"{namespace}: {description}\n\n" + (
                            function.description or ""
                        )
                    tools.append(function)
                else:
                    options = {k: v for k, v in member.items() if k != "type"}
                    tools.append(Tool(name=flat, hosted=member_kind, options=options, param=here))
        else:
            hosted = "web_search" if kind in WEB_SEARCH else kind
            name = tool.get("name")
            options = {k: v for k, v in tool.items() if k != "type"}
            tools.append(
                Tool(
                    name=name if isinstance(name, str) and name else hosted,
                    hosted=hosted,
                    options=options,
                    param=at,  # namespaces flatten: the canonical index may differ
                )
            )
    return tools, names


def _name(raw: dict, at: str) -> str:
    name = need(raw, "name", is_str, f"{at}.name")
    if not name:
        raise invalid_value(f"'{at}.name' must not be empty.", f"{at}.name")
    return name


def _function(raw: dict, at: str) -> Tool:
    return Tool(
        name=_name(raw, at),
        description=get(raw, "description", is_str, f"{at}.description"),
        parameters=get(raw, "parameters", is_dict, f"{at}.parameters")
        or {"type": "object", "properties": {}},
        strict=get(raw, "strict", is_bool, f"{at}.strict"),
    )


def _tool_choice(raw: object, tools: list[Tool], names: dict[str, dict]) -> ToolChoice | None:
    if raw is None:
        return None
    if isinstance(raw, str) and raw in ("auto", "none", "required"):
        return ToolChoice(mode=raw)  # type: ignore[arg-type]
    if isinstance(raw, dict) and raw.get("type") == "function":
        name = need(raw, "name", is_str, "tool_choice.name")
        namespace = get(raw, "namespace", is_str, "tool_choice.namespace")
        chosen = [k for k, v in names.items() if v["name"] == name]
        if namespace is not None:
            chosen = [k for k in chosen if names[k]["namespace"] == namespace]
        if (namespace is not None or all(t.name != name for t in tools)) and len(chosen) == 1:
            name = chosen[0]  # a namespaced function, by its flattened name
        return ToolChoice(mode="tool", name=name)
    raise invalid_value(
        'Invalid value for \'tool_choice\': use "auto", "none", "required" or '
        '{"type": "function", "name": …}.',
        "tool_choice",
    )


def _response_format(text: dict) -> dict | None:
    fmt = get(text, "format", is_dict, "text.format")
    if fmt is None:
        return None
    kind = need(fmt, "type", is_str, "text.format.type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = {
            "name": need(fmt, "name", is_str, "text.format.name"),
            "schema": need(fmt, "schema", is_dict, "text.format.schema"),
        }
        for key, check in (("description", is_str), ("strict", is_bool)):
            value = get(fmt, key, check, f"text.format.{key}")
            if value is not None:
                schema[key] = value
        return {"type": "json_schema", "json_schema": schema}
    raise invalid_value(
        f"Invalid value for 'text.format.type': {shown(kind)}; use text, json_object or "
        "json_schema.",
        "text.format.type",
    )
