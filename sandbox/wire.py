"""What a sandbox handler hands back, and the bytes both providers put on the wire."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Flavour = Literal["openai", "anthropic"]

JSON_TYPE = (b"content-type", b"application/json")
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
]

_OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "The request was invalid."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("permission_error", None, "You are not allowed to use this model."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests (sandbox fault). Please try again in 1s.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}
_ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "The request was invalid."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use this resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit (sandbox fault)."),
    500: ("api_error", "Internal server error"),
    503: ("overloaded_error", "Overloaded"),
    529: ("overloaded_error", "Overloaded"),
}


class ApiError(Exception):
    """An error answer; the route's flavour decides the envelope."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        param: str | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code


@dataclass(slots=True)
class JsonResponse:
    payload: object
    status: int = 200


@dataclass(slots=True)
class StreamResponse:
    """SSE events, generated lazily so a long stream costs nothing before its first byte."""

    events: Iterable[bytes]
    bad_event: bytes = field(default=b"data: {not json\n\n")


Response = JsonResponse | StreamResponse


def dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def sse_data(obj: object) -> bytes:
    return b"data: " + dumps(obj).encode() + b"\n\n"


def sse_event(name: str, obj: object) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + dumps(obj).encode() + b"\n\n"


def new_id(prefix: str, nbytes: int = 12) -> str:
    return prefix + secrets.token_hex(nbytes)


def error_payload(flavour: Flavour, error: ApiError) -> dict[str, object]:
    """The provider's error envelope for `error`."""
    if flavour == "anthropic":
        kind, default = _ANTHROPIC_ERRORS.get(
            error.status, ("api_error" if error.status >= 500 else "invalid_request_error", "")
        )
        message = error.message or default or f"Sandbox fault {error.status}."
        return {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": new_id("req_", 10),
        }
    fallback = ("server_error" if error.status >= 500 else "invalid_request_error", None, "")
    kind, code, default = _OPENAI_ERRORS.get(error.status, fallback)
    message = error.message or default or f"Sandbox fault {error.status}."
    code = error.code or code
    return {"error": {"message": message, "type": kind, "param": error.param, "code": code}}


def error_headers(status: int) -> list[tuple[bytes, bytes]]:
    headers = [JSON_TYPE]
    if status == 429:
        headers.append((b"retry-after", b"1"))
    return headers
