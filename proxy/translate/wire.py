"""Where an upstream request goes and what it is, as plain values: the relay turns an
`UpstreamRequest` into an HTTP call; adapters only describe it."""

from collections.abc import Callable
from dataclasses import dataclass

import orjson

from proxy.translate.canonical import Pricer, Usage


@dataclass(frozen=True, slots=True)
class Upstream:
    """One deployment's provider endpoint and the upstream's own model id."""

    base_url: str  # without a trailing slash
    api_key: str
    model: str


@dataclass(slots=True)
class UpstreamRequest:
    url: str
    headers: dict[str, str]
    body: bytes


def dumps(value: object) -> bytes:
    """JSON bytes. orjson reads 1,024 levels of nesting but writes only 255; a deeper
    body that was accepted is written by the standard library instead."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        import json

        from proxy.translate.errors import bad_request

        try:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        except (RecursionError, ValueError, TypeError):
            raise bad_request("The request body is nested too deeply to relay.") from None


def priced(
    answer: dict,
    usage_of: Callable[[object], Usage | None],
    *,
    model: str,
    price: Pricer,
    force_model: bool = False,
) -> tuple[dict, Usage | None]:
    """A native answer as the client sees it: the client's model name, and `cost` in
    its usage, priced from the upstream's own counts (read by `usage_of`)."""
    if force_model or "model" in answer:
        answer["model"] = model
    usage = usage_of(answer.get("usage"))
    if usage is not None:
        answer["usage"]["cost"] = price(usage).usd
    return answer, usage
