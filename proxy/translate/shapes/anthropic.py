"""The Anthropic Messages client shape (`POST /v1/messages`), for calls served by another
provider kind. (An Anthropic-kind upstream gets the client's body as it is: see
providers.anthropic.)"""

import uuid

import orjson

from proxy.translate.canonical import (
    Answer,
    ChatRequest,
    Event,
    Finish,
    Start,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)
from proxy.translate.errors import ProxyError
from proxy.translate.shapes.anthropic_parse import parse
from proxy.translate.sse import frame

__all__ = ["error_body", "parse", "render", "stream_renderer"]

STOP_REASONS = {
    "stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
    "content_filter": "refusal",
}  # fmt: skip
ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
    403: "permission_error", 404: "not_found_error", 413: "request_too_large",
    429: "rate_limit_error", 503: "overloaded_error", 529: "overloaded_error",
    504: "timeout_error",
}  # fmt: skip


def _message_id(upstream_id: str) -> str:
    return upstream_id if upstream_id.startswith("msg_") else "msg_" + uuid.uuid4().hex[:24]


def _stop(finish: Finish | None) -> tuple[str, str | None]:
    if finish is None:
        return "end_turn", None
    if finish.reason == "stop" and finish.stop_sequence is not None:
        return "stop_sequence", finish.stop_sequence
    return STOP_REASONS[finish.reason], None


def _usage(usage: Usage | None, cost_usd: float | None) -> dict:
    """Anthropic counts cache reads and writes apart from `input_tokens`; canonical
    `input` includes both."""
    usage = usage or Usage()
    out: dict = {
        "input_tokens": max(0, usage.input - usage.cached - usage.cache_write),
        "output_tokens": usage.output,
        "cache_read_input_tokens": usage.cached,
        "cache_creation_input_tokens": usage.cache_write,
    }
    if cost_usd is not None:
        out["cost"] = cost_usd
    return out


def _tool_use(call: ToolCall) -> dict:
    try:
        input_ = orjson.loads(call.arguments or "{}")
    except orjson.JSONDecodeError:
        input_ = None  # Anthropic's clients expect an object; broken JSON has no better one
    input_ = input_ if isinstance(input_, dict) else {}
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": input_}


def render(
    answer: Answer, *, model: str, cost_usd: float | None, request: ChatRequest | None = None
) -> dict:
    content = [{"type": "text", "text": answer.text}] if answer.text else []
    content.extend(_tool_use(c) for c in answer.tool_calls)
    stop_reason, stop_sequence = _stop(answer.finish)
    return {
        "id": _message_id(answer.id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": _usage(answer.usage, cost_usd),
    }


def _event(kind: str, data: dict) -> bytes:
    return frame(orjson.dumps({"type": kind, **data}), event=kind)


class MessagesStreamRenderer:
    """Canonical events as Anthropic's stream: message_start, then per content block
    content_block_start / _delta… / _stop (a ping after the first start, as Anthropic
    does), then message_delta with the stop reason and usage, and message_stop.

    An OpenAI-kind upstream reports usage only at its end, so message_start carries
    zeros and the real counts (input, cache reads, output, cost) arrive in
    message_delta, whose counts are cumulative totals in Anthropic's API."""

    def __init__(self, *, model: str, price) -> None:
        self.model, self.price = model, price  # price: Pricer
        self.started = False
        self.blocks = 0  # content blocks opened so far
        self.open: int | None = None  # the open block's index
        self.open_text = False  # the open block is a text block
        self.tool_blocks: dict[int, int] = {}  # canonical tool index → block index
        self.finish: Finish | None = None
        self.usage: Usage | None = None

    def _start(self, upstream_id: str = "") -> bytes:
        if self.started:
            return b""
        self.started = True
        message = {"id": _message_id(upstream_id), "type": "message", "role": "assistant",
                   "model": self.model, "content": [], "stop_reason": None,
                   "stop_sequence": None,
                   "usage": {"input_tokens": 0, "output_tokens": 0}}  # fmt: skip
        return _event("message_start", {"message": message})

    def _close(self) -> bytes:
        if self.open is None:
            return b""
        index, self.open, self.open_text = self.open, None, False
        return _event("content_block_stop", {"index": index})

    def _open(self, block: dict) -> bytes:
        out = self._start() + self._close()
        self.open = self.blocks
        self.blocks += 1
        out += _event("content_block_start", {"index": self.open, "content_block": block})
        return out + (_event("ping", {}) if self.open == 0 else b"")

    def render(self, event: Event) -> bytes:
        match event:
            case Start(id=upstream_id):
                return self._start(upstream_id)
            case TextDelta(text=text):
                out = b"" if self.open_text else self._open({"type": "text", "text": ""})
                self.open_text = True
                delta = {"type": "text_delta", "text": text}
                return out + _event("content_block_delta", {"index": self.open, "delta": delta})
            case ToolCallStart(index=index, id=id_, name=name):
                out = self._open({"type": "tool_use", "id": id_, "name": name, "input": {}})
                self.tool_blocks[index] = self.blocks - 1
                return out
            case ToolCallDelta(index=index, arguments=arguments):
                if index not in self.tool_blocks or not arguments:
                    return b""
                delta = {"type": "input_json_delta", "partial_json": arguments}
                block = self.tool_blocks[index]
                return _event("content_block_delta", {"index": block, "delta": delta})
            case Finish():
                self.finish = event
                return self._close()
            case Usage():
                self.usage = event
        return b""

    def end(self) -> bytes:
        out = self._start() + self._close()
        stop_reason, stop_sequence = _stop(self.finish)
        cost = self.price(self.usage).usd if self.usage is not None else None
        delta = {"stop_reason": stop_reason, "stop_sequence": stop_sequence}
        out += _event("message_delta", {"delta": delta, "usage": _usage(self.usage, cost)})
        return out + _event("message_stop", {})

    def error(self, err: ProxyError) -> bytes:
        return _event("error", _error(err))


def stream_renderer(
    *, model: str, include_usage: bool, price, request: ChatRequest | None = None
) -> MessagesStreamRenderer:
    """`include_usage` is ignored: Anthropic streams always carry usage."""
    return MessagesStreamRenderer(model=model, price=price)


def _error(err: ProxyError) -> dict:
    """The error type Anthropic's clients act on (its SDKs retry overloaded_error and
    rate_limit_error), from the status: an upstream's own error type mid-stream reaches
    here as the status it means (overloaded_error as 529, rate_limit_error as 429 …)."""
    default = "api_error" if err.status >= 500 else "invalid_request_error"
    return {"error": {"type": ERROR_TYPES.get(err.status, default), "message": err.message}}


def error_body(err: ProxyError) -> bytes:
    return orjson.dumps({"type": "error", **_error(err)})
