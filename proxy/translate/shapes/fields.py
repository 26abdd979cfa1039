"""Type checks of a client body's known fields, for the shapes whose parsers read them:
a wrong type gets a 400 naming the field, before anything reaches an upstream."""

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


TYPE_NAMES = {
    is_int: "an integer", is_num: "a number", is_str: "a string", is_bool: "a boolean",
    is_list: "an array", is_dict: "an object", is_str_or_list: "a string or an array",
    is_str_or_dict: "a string or an object",
}  # fmt: skip


def invalid_type(param: str, expected: str) -> ProxyError:
    return bad_request(f"Invalid type for '{param}': expected {expected}.", param, "invalid_type")


def check_fields(body: dict, checks: dict[str, Check], required: tuple[str, ...] = ()) -> None:
    for name in required:
        if body.get(name) is None:
            raise bad_request(
                f"Missing required parameter: '{name}'.", name, "missing_required_parameter"
            )
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
