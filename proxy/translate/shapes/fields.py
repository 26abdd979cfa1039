"""Type checks of a client body's known fields, for the shapes whose parsers read them:
a wrong type gets a 400 naming the field, before anything reaches an upstream.

A translated body is checked nowhere else, so the parsers read every value through these
helpers: whatever a client sends, the answer is a parse or a 400 that names the field
(`messages[1].content[0].text`), never another exception."""

import hashlib
import re
from collections.abc import Callable

from proxy.translate.errors import ProxyError, bad_request

Check = Callable[[object], bool]


def is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def is_str(v: object) -> bool:
    return isinstance(v, str)


def is_bool(v: object) -> bool:
    return isinstance(v, bool)


def is_list(v: object) -> bool:
    return isinstance(v, list)


def is_dict(v: object) -> bool:
    return isinstance(v, dict)


def is_str_or_list(v: object) -> bool:
    return isinstance(v, str | list)


def is_str_or_dict(v: object) -> bool:
    return isinstance(v, str | dict)


def is_str_list(v: object) -> bool:
    return isinstance(v, list) and all(isinstance(s, str) for s in v)


TYPE_NAMES = {
    is_int: "an integer", is_num: "a number", is_str: "a string", is_bool: "a boolean",
    is_list: "an array", is_dict: "an object", is_str_or_list: "a string or an array",
    is_str_or_dict: "a string or an object", is_str_list: "an array of strings",
}  # fmt: skip


def invalid_type(param: str, expected: str) -> ProxyError:
    return bad_request(f"Invalid type for '{param}': expected {expected}.", param, "invalid_type")


def invalid_value(message: str, param: str) -> ProxyError:
    return bad_request(message, param, "invalid_value")


def missing(param: str) -> ProxyError:
    return bad_request(
        f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
    )


def check_fields(body: dict, checks: dict[str, Check], required: tuple[str, ...] = ()) -> None:
    for name in required:
        if body.get(name) is None:
            raise missing(name)
    for name, check in checks.items():
        value = body.get(name)
        if value is not None and not check(value):
            raise invalid_type(name, TYPE_NAMES[check])


def get(raw: dict, name: str, check: Check, param: str, default: object = None):
    """`raw[name]` when it passes `check`, `default` when absent; else a 400 on `param`."""
    value = raw.get(name)
    if value is None:
        return default
    if not check(value):
        raise invalid_type(param, TYPE_NAMES[check])
    return value


def need(raw: dict, name: str, check: Check, param: str):
    """`raw[name]`, which must be there and pass `check`; else a 400 on `param`."""
    value = raw.get(name)
    if value is None:
        raise missing(param)
    if not check(value):
        raise invalid_type(param, TYPE_NAMES[check])
    return value


def at_least(value: int | None, low: int, param: str) -> int | None:
    if value is not None and value < low:
        raise invalid_value(f"Invalid value for '{param}': it must be at least {low}.", param)
    return value


def metadata(body: dict) -> None:
    """OpenAI's `metadata`: an object of strings (the Response object echoes it)."""
    for key, value in (body.get("metadata") or {}).items():
        if not isinstance(value, str):
            raise invalid_type(f"metadata.{key}", "a string")


def shown(value: object) -> str:
    """A value for an error message: short strings quoted, anything else by its type (a
    client's value may be megabytes long, nested 300 deep or a 5,000-digit number)."""
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:40] + "…")
    if value is None or isinstance(value, bool):
        return repr(value)
    return {int: "a number", float: "a number", list: "an array", dict: "an object"}.get(
        type(value), type(value).__name__
    )


# Tool names every provider kind accepts (OpenAI's and Anthropic's own pattern).
TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def flat_tool_name(
    namespace: str, name: str, taken: set[str] | frozenset[str] = frozenset()
) -> str:
    """The provider-side name of tool `name` in `namespace`: `namespace__name` when that is
    a valid tool name not `taken` by another tool, else a valid one ending in a hash of both."""
    plain = f"{namespace}__{name}"
    if TOOL_NAME.fullmatch(plain) and plain not in taken:
        return plain
    digest = hashlib.sha256(f"{namespace}\0{name}".encode()).hexdigest()[:10]
    return re.sub(r"[^a-zA-Z0-9_-]", "_", plain)[:53] + "_" + digest
