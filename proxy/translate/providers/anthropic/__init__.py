"""The `anthropic` kind: Anthropic's Messages API and servers that speak it.

Anthropic-shape clients are served natively (`native.py`: messages and count_tokens);
other shapes through the Messages API (`translate.py`)."""

from proxy.translate.canonical import ChatRequest, Event, Pricer, Usage
from proxy.translate.providers.anthropic import native, translate
from proxy.translate.wire import Upstream, UpstreamRequest


class AnthropicKind:
    kind = "anthropic"
    label = "Anthropic"
    native = frozenset({"messages", "count_tokens"})
    optional_native: frozenset[str] = frozenset()

    def native_request(
        self,
        upstream: Upstream,
        endpoint: str,
        body: dict,
        *,
        stream: bool,
        client_headers: dict[bytes, bytes],
    ) -> UpstreamRequest:
        return native.request(
            upstream, endpoint, body, stream=stream, client_headers=client_headers
        )

    def native_answer(
        self, endpoint: str, body: dict, *, model: str, price: Pricer
    ) -> tuple[dict, Usage | None]:
        if endpoint == "count_tokens":
            return body, None  # a count, not a generation: nothing to rewrite or charge
        return native.answer(body, model=model, price=price)

    def native_stream(self, endpoint: str, *, model: str, include_usage: bool, price: Pricer):
        return native.StreamRelay(model=model, price=price)

    def build(self, upstream: Upstream, request: ChatRequest) -> UpstreamRequest:
        return translate.build(upstream, request)

    def parse_answer(self, body: dict) -> list[Event]:
        return translate.parse_answer(body)

    def stream_parser(self) -> translate.MessagesStreamParser:
        return translate.MessagesStreamParser()


ADAPTER = AnthropicKind()
