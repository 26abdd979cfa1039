"""The OpenAI chat-completions client shape, for calls served by another provider kind:
requests parse in openai_chat_parse, answers render here.

(An OpenAI-kind upstream gets the client's body as it is: see providers.openai.)
"""

import time
import uuid

import orjson

from proxy.translate.canonical import (
    Answer,
    ChatRequest,
    Event,
    Finish,
    Start,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)
from proxy.translate.errors import ProxyError
from proxy.translate.shapes.openai_chat_parse import parse
from proxy.translate.sse import frame

__all__ = ["error_body", "parse", "render", "stream_renderer"]


# --- Rendering ------------------------------------------------------------------------


def _usage(usage: Usage, cost_usd: float | None) -> dict:
    out = {
        "prompt_tokens": usage.input,
        "completion_tokens": usage.output,
        "total_tokens": usage.input + usage.output,
        "prompt_tokens_details": {"cached_tokens": usage.cached},
    }
    if cost_usd is not None:
        out["cost"] = cost_usd
    return out


def _chat_id(upstream_id: str) -> str:
    return "chatcmpl-" + (upstream_id.split("_", 1)[-1] if upstream_id else uuid.uuid4().hex)


def render(
    answer: Answer, *, model: str, cost_usd: float | None, request: ChatRequest | None = None
) -> dict:
    message: dict = {"role": "assistant", "content": answer.text or None}
    if answer.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in answer.tool_calls
        ]
    out = {
        "id": _chat_id(answer.id),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": answer.finish.reason if answer.finish else "stop"}],
    }  # fmt: skip
    if answer.usage is not None:
        out["usage"] = _usage(answer.usage, cost_usd)
    return out


class ChatStreamRenderer:
    """Canonical events as `chat.completion.chunk`s; usage last, only when asked."""

    def __init__(self, *, model: str, include_usage: bool, price) -> None:
        self.model, self.include_usage, self.price = model, include_usage, price
        self.id = _chat_id("")
        self.created = int(time.time())
        self.started = False
        self.finish: Finish | None = None
        self.usage: Usage | None = None

    def _chunk(self, delta: dict | None, finish: str | None = None) -> bytes:
        chunk = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                 "model": self.model, "choices": [] if delta is None else
                 [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}  # fmt: skip
        if self.include_usage:
            chunk["usage"] = None
        return frame(orjson.dumps(chunk))

    def _start(self, upstream_id: str = "") -> bytes:
        if self.started:
            return b""
        self.started = True
        if upstream_id:
            self.id = _chat_id(upstream_id)
        return self._chunk({"role": "assistant", "content": ""})

    def render(self, event: Event) -> bytes:
        match event:
            case Start(id=upstream_id):
                return self._start(upstream_id)
            case TextDelta(text=text):
                return self._start() + self._chunk({"content": text})
            case ToolCallStart(index=index, id=id_, name=name):
                call = {"index": index, "id": id_, "type": "function",
                        "function": {"name": name, "arguments": ""}}  # fmt: skip
                return self._start() + self._chunk({"tool_calls": [call]})
            case ToolCallDelta(index=index, arguments=arguments):
                return self._chunk(
                    {"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}
                )
            case Finish():
                self.finish = event
                return self._start() + self._chunk({}, event.reason)
            case Usage():
                self.usage = event
        return b""

    def end(self) -> bytes:
        out = self._start()
        if self.finish is None:
            out += self._chunk({}, "stop")
        if self.include_usage and self.usage is not None:
            chunk = orjson.loads(self._chunk(None)[6:-2])
            chunk["usage"] = _usage(self.usage, self.price(self.usage).usd)
            out += frame(orjson.dumps(chunk))
        return out + frame(b"[DONE]")

    def error(self, err: ProxyError) -> bytes:
        return frame(err.body())


def stream_renderer(
    *, model: str, include_usage: bool, price, request: ChatRequest | None = None
) -> ChatStreamRenderer:
    return ChatStreamRenderer(model=model, include_usage=include_usage, price=price)


def error_body(err: ProxyError) -> bytes:
    return err.body()
