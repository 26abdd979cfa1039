"""The `openai` kind: OpenAI and any OpenAI-compatible server (vLLM, Ollama, Together …).

OpenAI-shape clients are served natively (`native.py`, and `responses.py` for the
Responses API, which a compatible server may lack); other shapes through chat
completions (`translate.py`)."""

from proxy.translate.canonical import ChatRequest, Event, Pricer, Usage
from proxy.translate.providers.openai import native, responses, translate
from proxy.translate.wire import Upstream, UpstreamRequest


class OpenAIKind:
    kind = "openai"
    label = "OpenAI-compatible"
    native = frozenset({"chat", "completions", "embeddings", "responses"})
    # A compatible server may not have the Responses API: a 404 or 405 there sends the
    # call through chat completions instead.
    optional_native = frozenset({"responses"})

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
        if endpoint == "responses":
            return responses.answer(body, model=model, price=price)
        return native.answer(body, model=model, price=price)

    def native_stream(self, endpoint: str, *, model: str, include_usage: bool, price: Pricer):
        if endpoint == "responses":
            return responses.StreamRelay(model=model, price=price)
        return native.StreamRelay(model=model, include_usage=include_usage, price=price)

    def build(self, upstream: Upstream, request: ChatRequest) -> UpstreamRequest:
        return translate.build(upstream, request)

    def parse_answer(self, body: dict) -> list[Event]:
        return translate.parse_answer(body)

    def stream_parser(self) -> translate.ChatStreamParser:
        return translate.ChatStreamParser()


ADAPTER = OpenAIKind()
