"""What a POST /v1/responses body says, checked as OpenAI checks it: the top-level
fields' types, the input items, the tools and tool_choice, max_output_tokens and the text
format. A wrong type is a 400 in OpenAI's envelope (sandbox.shapes); reading what the
checked body asks for is sandbox.openai_responses' job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .shapes import invalid_type, invalid_value, is_int, missing, optional
from .wire import ApiError

MESSAGE_ROLES = ("user", "assistant", "system", "developer")
TOOL_CHOICES = ("none", "auto", "required")
MIN_OUTPUT_TOKENS = 16
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


def check_top_level(body: dict[str, Any]) -> None:
    """The optional fields' types; a previous response the sandbox cannot have."""
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


@dataclass(frozen=True, slots=True)
class Function:
    """A callable function tool; `namespace` names the namespace tool it sits in."""

    name: str
    parameters: object
    namespace: str | None = None


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


def items(body: dict[str, Any]) -> list[dict[str, Any]]:
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


def tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise invalid_type("tools", "an array", tools)
    for i, tool in enumerate(tools):
        _check_tool(f"tools[{i}]", tool)
    return tools


def functions(tools: list[dict[str, Any]]) -> list[Function]:
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


def tool_choice(body: dict[str, Any]) -> object:
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


def max_output_tokens(body: dict[str, Any]) -> int | None:
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


def text_format(body: dict[str, Any]) -> dict[str, Any] | None:
    fmt = (body.get("text") or {}).get("format")
    if fmt is not None and not isinstance(fmt, dict):
        raise invalid_type("text.format", "an object", fmt)
    return fmt
