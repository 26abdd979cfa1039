"""Canonical events as a Responses API event stream.

The event order is OpenAI's: response.created, response.in_progress, then per output
item output_item.added → (content_part.added → output_text.delta… → output_text.done →
content_part.done | function_call_arguments.delta… → .done) → output_item.done, and last
response.completed (response.incomplete when the answer was cut short).
"""

import time

from proxy.translate.canonical import (
    ChatRequest,
    Event,
    Finish,
    Pricer,
    Start,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)
from proxy.translate.errors import ProxyError
from proxy.translate.shapes.responses_object import (
    INCOMPLETE,
    call_item,
    message_item,
    new_id,
    response_object,
    usage_object,
)
from proxy.translate.sse import frame
from proxy.translate.wire import dumps


class _OpenCall:
    def __init__(self, output_index: int, call: ToolCall) -> None:
        self.id, self.output_index, self.call, self.open = new_id("fc"), output_index, call, True


class ResponsesStreamRenderer:
    """Canonical events as Responses stream events, each numbered by `sequence_number`."""

    def __init__(self, *, model: str, price: Pricer, request: ChatRequest | None = None) -> None:
        self.model, self.price, self.request = model, price, request
        self.id, self.created_at = new_id("resp"), int(time.time())
        self.seq, self.started = 0, False
        self.output: list[dict | None] = []  # items by output_index; None while open
        self.text: tuple[str, int, str] | None = None  # the open message: id, index, text
        self.calls: dict[int, _OpenCall] = {}  # by canonical tool-call index
        self.finish: Finish | None = None
        self.usage: Usage | None = None

    def _event(self, type_: str, **fields: object) -> bytes:
        # The Response object echoes the request's tools and metadata: a client's schema
        # may be nested deeper than orjson writes, which `dumps` falls back for.
        data = dumps({"type": type_, **fields, "sequence_number": self.seq})
        self.seq += 1
        return frame(data, event=type_)

    def _response(self, status: str, **fields: object) -> dict:
        return response_object(
            id=self.id, created_at=self.created_at, model=self.model, status=status,
            output=[item for item in self.output if item is not None], request=self.request,
            **fields,
        )  # fmt: skip

    def _start(self) -> bytes:
        if self.started:
            return b""
        self.started = True
        response = self._response("in_progress")
        return self._event("response.created", response=response) + self._event(
            "response.in_progress", response=response
        )

    def _open_text(self) -> bytes:
        item_id, index = new_id("msg"), len(self.output)
        self.output.append(None)
        self.text = (item_id, index, "")
        part = {"type": "output_text", "text": "", "annotations": []}
        return self._event(
            "response.output_item.added",
            output_index=index,
            item=message_item(item_id, None, "in_progress"),
        ) + self._event(
            "response.content_part.added",
            item_id=item_id, output_index=index, content_index=0, part=part,
        )  # fmt: skip

    def _close_text(self, status: str = "completed") -> bytes:
        if self.text is None:
            return b""
        (item_id, index, text), self.text = self.text, None
        item = message_item(item_id, text, status)
        self.output[index] = item
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        return (
            self._event("response.output_text.done", **where, text=text, logprobs=[])
            + self._event("response.content_part.done", **where, part=item["content"][0])
            + self._event("response.output_item.done", output_index=index, item=item)
        )

    def _close_calls(self) -> bytes:
        out = b""
        for state in self.calls.values():
            if state.open:
                state.open = False
                item = call_item(state.id, state.call, "completed", self.request)
                self.output[state.output_index] = item
                out += self._event(
                    "response.function_call_arguments.done", item_id=state.id,
                    output_index=state.output_index, arguments=state.call.arguments,
                ) + self._event(
                    "response.output_item.done", output_index=state.output_index, item=item
                )  # fmt: skip
        return out

    def render(self, event: Event) -> bytes:
        match event:
            case Start():
                return self._start()  # the response id is ours, not the upstream's
            case TextDelta(text=text) if text:
                out = self._start()
                if self.text is None:
                    out += self._close_calls() + self._open_text()
                item_id, index, so_far = self.text
                self.text = (item_id, index, so_far + text)
                return out + self._event(
                    "response.output_text.delta", item_id=item_id, output_index=index,
                    content_index=0, delta=text, logprobs=[],
                )  # fmt: skip
            case ToolCallStart(index=index, id=id_, name=name):
                # Calls arrive one after another: a new one closes the text or call before it.
                out = self._start() + self._close_text() + self._close_calls()
                state = _OpenCall(len(self.output), ToolCall(id=id_, name=name, arguments=""))
                self.calls[index] = state
                self.output.append(None)
                item = call_item(state.id, state.call, "in_progress", self.request)
                return out + self._event(
                    "response.output_item.added", output_index=state.output_index, item=item
                )
            case ToolCallDelta(index=index, arguments=arguments) if index in self.calls:
                state = self.calls[index]
                state.call.arguments += arguments
                return self._event(
                    "response.function_call_arguments.delta", item_id=state.id,
                    output_index=state.output_index, delta=arguments,
                )  # fmt: skip
            case Finish():
                self.finish = event
            case Usage():
                self.usage = event  # OpenAI-kind upstreams send it after the finish
        return b""

    def end(self) -> bytes:
        out = self._start()
        if not self.output:  # nothing at all was said: an empty message, as render() gives
            out += self._open_text()
        cut = bool(self.finish and self.finish.reason in INCOMPLETE)
        out += self._close_text("incomplete" if cut else "completed") + self._close_calls()
        cost = self.price(self.usage).usd if self.usage is not None else None
        response = self._response(
            "completed", finish=self.finish, usage=usage_object(self.usage, cost)
        )
        return out + self._event(f"response.{response['status']}", response=response)

    def error(self, err: ProxyError) -> bytes:
        """OpenAI's `error` event; once the response was announced, `response.failed` too,
        so clients waiting for a terminal lifecycle event get one."""
        out = self._event("error", code=err.code or err.type, message=err.message, param=err.param)
        if not self.started:
            return out
        code = "rate_limit_exceeded" if err.status == 429 else "server_error"
        failed = self._response("failed", error={"code": code, "message": err.message})
        return out + self._event("response.failed", response=failed)


def stream_renderer(
    *, model: str, include_usage: bool, price: Pricer, request: ChatRequest | None = None
) -> ResponsesStreamRenderer:
    """`include_usage` is accepted for the shape protocol: Responses streams always end
    with usage (in response.completed)."""
    return ResponsesStreamRenderer(model=model, price=price, request=request)
