"""Refusing a malformed request body in the provider's own words.

OpenAI names the field as a path (`messages[0].content`) and says `Invalid type for
'messages[0].content': expected ..., but got an integer instead.`; Anthropic speaks
pydantic: `messages.0.content: Input should be a valid list`.
"""

from __future__ import annotations

from collections.abc import Sequence

from .wire import ApiError


def kind(value: object) -> str:
    """A JSON value's type as OpenAI's errors name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def invalid_type(param: str, expected: str, value: object) -> ApiError:
    message = f"Invalid type for '{param}': expected {expected}, but got {kind(value)} instead."
    return ApiError(400, message, param=param, code="invalid_type")


def missing(param: str) -> ApiError:
    message = f"Missing required parameter: '{param}'."
    return ApiError(400, message, param=param, code="missing_required_parameter")


def invalid_value(param: str, value: object, supported: Sequence[str]) -> ApiError:
    quoted = [f"'{s}'" for s in supported]
    listed = ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 1 else quoted[0]
    shown = value if isinstance(value, str) else kind(value)
    message = f"Invalid value: '{shown}'. Supported values are: {listed}."
    return ApiError(400, message, param=param, code="invalid_value")


def optional(
    body: dict[str, object], key: str, types: type | tuple[type, ...], expected: str
) -> object:
    """`body[key]`, which may be absent or null, else must be one of `types` (never a bool
    where a number is wanted)."""
    value = body.get(key)
    if value is None:
        return None
    wants_bool = types is bool or (isinstance(types, tuple) and bool in types)
    if not isinstance(value, types) or (isinstance(value, bool) and not wants_bool):
        raise invalid_type(key, expected, value)
    return value


def anthropic(loc: str, message: str) -> ApiError:
    """An Anthropic 400: `loc` is the dotted field path, `message` pydantic's sentence."""
    return ApiError(400, f"{loc}: {message}")
