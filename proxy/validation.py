"""Request bodies: JSON objects whose known fields have the right types.

Unknown fields are left alone (they pass through to OpenAI-kind upstreams); known fields
of the wrong type get a 400 naming the field, before anything reaches an upstream.
"""

from collections.abc import Callable

import orjson

from proxy.errors import ProxyError

Check = Callable[[object], bool]


def _int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _str(v: object) -> bool:
    return isinstance(v, str)


def _bool(v: object) -> bool:
    return isinstance(v, bool)


def _list(v: object) -> bool:
    return isinstance(v, list)


def _dict(v: object) -> bool:
    return isinstance(v, dict)


def _str_or_list(v: object) -> bool:
    return isinstance(v, str | list)


def _str_or_dict(v: object) -> bool:
    return isinstance(v, str | dict)


TYPE_NAMES = {
    _int: "an integer", _num: "a number", _str: "a string", _bool: "a boolean",
    _list: "an array", _dict: "an object", _str_or_list: "a string or an array",
    _str_or_dict: "a string or an object",
}  # fmt: skip

_COMMON: dict[str, Check] = {
    "model": _str, "stream": _bool, "stream_options": _dict, "user": _str,
    "temperature": _num, "top_p": _num, "n": _int, "seed": _int, "max_tokens": _int,
    "presence_penalty": _num, "frequency_penalty": _num, "logit_bias": _dict,
    "stop": _str_or_list,
}  # fmt: skip

SCHEMAS: dict[str, tuple[dict[str, Check], tuple[str, ...]]] = {
    "object": ({}, ()),  # shapes that validate their own fields
    "chat": (
        {**_COMMON, "messages": _list, "tools": _list, "tool_choice": _str_or_dict,
         "parallel_tool_calls": _bool, "response_format": _dict, "logprobs": _bool,
         "top_logprobs": _int, "max_completion_tokens": _int, "metadata": _dict},
        ("model", "messages"),
    ),
    "completions": (
        {**_COMMON, "prompt": _str_or_list, "suffix": _str, "echo": _bool, "best_of": _int,
         "logprobs": _int},
        ("model", "prompt"),
    ),
    "embeddings": (
        {"model": _str, "input": _str_or_list, "dimensions": _int, "encoding_format": _str,
         "user": _str},
        ("model", "input"),
    ),
}  # fmt: skip


def bad_request(message: str, param: str | None = None, code: str | None = None) -> ProxyError:
    return ProxyError(400, message, param=param, code=code)


def parse_body(body: bytes, kind: str) -> dict:
    if not body:
        raise bad_request("The request body is empty; send a JSON object.")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    checks, required = SCHEMAS[kind]
    for name in required:
        if data.get(name) is None:
            raise bad_request(
                f"Missing required parameter: '{name}'.", name, "missing_required_parameter"
            )
    for name, check in checks.items():
        value = data.get(name)
        if value is not None and not check(value):
            raise bad_request(
                f"Invalid type for '{name}': expected {TYPE_NAMES[check]}.", name, "invalid_type"
            )
    if kind == "chat":
        _check_messages(data["messages"])
    if _int(data.get("n")) and data["n"] < 1:
        raise bad_request("'n' must be at least 1.", "n", "invalid_value")
    return data


def _check_messages(messages: list) -> None:
    if not messages:
        raise bad_request("'messages' must contain at least one message.", "messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise bad_request(
                f"Invalid type for 'messages[{i}]': expected an object.",
                f"messages[{i}]",
                "invalid_type",
            )
        if not isinstance(message.get("role"), str):
            raise bad_request(
                f"Missing required parameter: 'messages[{i}].role'.",
                f"messages[{i}].role",
                "missing_required_parameter",
            )
