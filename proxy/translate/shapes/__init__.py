"""Client shapes: how a client speaks (OpenAI chat, Anthropic messages, OpenAI responses).

Each shape module offers the same small set of names (see `ClientShape`): it parses the
client's request into a canonical `ChatRequest`, renders canonical events back in the
client's own shape, and frames errors in the client's own envelope.
"""

from typing import Protocol

from proxy.translate.canonical import Answer, ChatRequest, Event
from proxy.translate.errors import ProxyError


class StreamRenderer(Protocol):
    """Canonical events in, the client's stream bytes out (SSE framed)."""

    def render(self, event: Event) -> bytes: ...

    def end(self) -> bytes:
        """What closes a complete stream (e.g. `data: [DONE]`, `message_stop`)."""
        ...

    def error(self, err: ProxyError) -> bytes:
        """An error event that ends a stream which has already begun."""
        ...


class ClientShape(Protocol):
    """What each module in proxy/translate/shapes/ provides, as module-level names."""

    def parse(self, body: dict) -> ChatRequest:
        """Validates the client's JSON body; raises ProxyError(400, …, param=field)."""
        ...

    def render(
        self,
        answer: Answer,
        *,
        model: str,
        cost_usd: float | None,
        request: ChatRequest | None = None,
    ) -> dict:
        """A whole (non-streamed) answer as the client's JSON object; `model` is the
        name the client asked for; `cost_usd` goes into the usage object as `cost`;
        `request` lets a shape echo the request's settings (Responses does)."""
        ...

    def stream_renderer(
        self, *, model: str, include_usage: bool, price, request: ChatRequest | None = None
    ) -> StreamRenderer: ...

    def error_body(self, err: ProxyError) -> bytes:
        """A whole error response body in the client's envelope."""
        ...


# Each /v1 endpoint's client shape. Endpoints whose shape parses into the canonical
# model (`TRANSLATABLE`) can be served by any provider kind; the others only natively.
from proxy.translate.shapes import anthropic, openai_chat, responses  # noqa: E402

SHAPES = {
    "chat": openai_chat, "completions": openai_chat, "embeddings": openai_chat,
    "messages": anthropic, "count_tokens": anthropic, "responses": responses,
}  # fmt: skip
TRANSLATABLE = frozenset({"chat", "messages", "responses"})
