"""Anthropic-kind upstreams (Anthropic's Messages API, and servers that speak it).

An Anthropic-shape request passes through: only `model` is replaced with the upstream's
id. Answers come back with the client's model name and `cost` in their usage.
"""

import httpx
import orjson

from proxy.canonical import UpstreamFailed, Usage, carrying
from proxy.providers.anthropic_translate import (
    API_VERSION,
    build,
    parse_answer,
    send,
    stream_parser,
    usage_of,
)
from proxy.sse import SSEDecoder, frame, typed_events
from proxy.table import DeploymentEntry

__all__ = [
    "NativeStreamRelay",
    "build",
    "build_native",
    "native_usage",
    "parse_answer",
    "rewrite_native_answer",
    "stream_parser",
]


def build_native(
    deployment: DeploymentEntry, body: dict, *, stream: bool, client_headers: dict[bytes, bytes]
) -> httpx.Request:
    payload = dict(body)
    payload["model"] = deployment.upstream_model
    if stream:
        payload["stream"] = True
    given = {k.lower(): v for k, v in client_headers.items()}
    headers = {"anthropic-version": given.get(b"anthropic-version", API_VERSION.encode()).decode()}
    if given.get(b"anthropic-beta"):
        headers["anthropic-beta"] = given[b"anthropic-beta"].decode()
    return send(deployment, payload, headers)


def native_usage(body: dict) -> Usage | None:
    return usage_of(body.get("usage"))


def rewrite_native_answer(body: dict, model: str, cost_usd: float | None) -> dict:
    body["model"] = model
    if isinstance(body.get("usage"), dict) and cost_usd is not None:
        body["usage"]["cost"] = cost_usd
    return body


class NativeStreamRelay:
    """Rewrites an Anthropic upstream stream for the client, event by event.

    Each event is parsed once to set the client's model name, to read usage (input from
    message_start, the final counts from message_delta, which then carries `cost`) and
    to count what was generated in case the stream is cut short. `usage` stays None
    until message_delta: a stream cut before it is estimated by the relay instead."""

    def __init__(self, *, model: str, price) -> None:
        self.model = model
        self.price = price  # callable(Usage) -> (cost_pico, cost_usd)
        self.decoder = SSEDecoder()
        self.counts: dict = {}  # the usage so far, in Anthropic's fields
        self.usage: Usage | None = None
        self.cost_pico = 0
        self.generated_chars = 0
        self.done = False

    def feed(self, raw: bytes) -> bytes:
        out: list[bytes] = []
        with carrying(out):
            for name, event, kind in typed_events(self.decoder, raw):
                if kind == "error":
                    error = event.get("error")
                    message = error.get("message") if isinstance(error, dict) else None
                    raise UpstreamFailed(str(message or "upstream error"))
                self._rewrite(kind, event)
                out.append(frame(orjson.dumps(event), event=name or str(kind)))
        return b"".join(out)

    def _rewrite(self, kind: object, event: dict) -> None:
        if kind == "message_start" and isinstance(event.get("message"), dict):
            event["message"]["model"] = self.model
            self.counts.update(event["message"].get("usage") or {})
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            self.generated_chars += sum(
                len(delta.get(k) or "") for k in ("text", "partial_json", "thinking")
            )
        elif kind == "message_delta" and isinstance(event.get("usage"), dict):
            self.counts.update({k: v for k, v in event["usage"].items() if v is not None})
            self.usage = usage_of(self.counts) or Usage()
            self.cost_pico, cost_usd = self.price(self.usage)
            event["usage"]["cost"] = cost_usd
        elif kind == "message_stop":
            self.done = True
