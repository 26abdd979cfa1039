"""Provider kinds: how an upstream speaks. One folder per kind, one line per kind in
`KINDS`; the Provider model, the routes file and the relay all read this map.

An adapter serves the endpoints in `native` in the client's own shape (the body passes
through, only `model` is rewritten and usage read) and every other translatable shape
through the canonical model (`build`, `parse_answer`, `stream_parser`).

Adding a kind: a folder `providers/<kind>/` whose `__init__` defines `ADAPTER` with the
members of `Adapter` below, and its line in `KINDS`. No migration: the Provider model's
`kind` is validated against this map.
"""

from typing import Protocol

from proxy.translate.canonical import ChatRequest, Event, Pricer, Usage
from proxy.translate.providers import anthropic, openai
from proxy.translate.wire import Upstream, UpstreamRequest


class StreamParser(Protocol):
    """The upstream's stream bytes in, canonical events out. Raises
    canonical.UpstreamFailed on bad JSON or an error event; `done` once the stream's
    own end marker arrived (`[DONE]`, `message_stop`)."""

    done: bool

    def feed(self, raw: bytes) -> list[Event]: ...


class NativeStream(Protocol):
    """The upstream's stream bytes in, the same stream out for a client of its shape,
    with the client's model name; `usage` once the upstream said it."""

    done: bool
    usage: Usage | None
    generated_chars: int

    def feed(self, raw: bytes) -> bytes: ...


class Adapter(Protocol):
    kind: str
    label: str
    native: frozenset[str]  # endpoints served in the client's own shape
    optional_native: frozenset[str]  # of those, what a server of this kind may lack

    def native_request(
        self,
        upstream: Upstream,
        endpoint: str,
        body: dict,
        *,
        stream: bool,
        client_headers: dict[bytes, bytes],
    ) -> UpstreamRequest: ...

    def native_answer(
        self, endpoint: str, body: dict, *, model: str, price: Pricer
    ) -> tuple[dict, Usage | None]:
        """A whole native answer with the client's model name and `cost`; its usage."""
        ...

    def native_stream(
        self, endpoint: str, *, model: str, include_usage: bool, price: Pricer
    ) -> NativeStream: ...

    def build(self, upstream: Upstream, request: ChatRequest) -> UpstreamRequest:
        """The upstream request for a translated call (streams ask for usage)."""
        ...

    def parse_answer(self, body: dict) -> list[Event]:
        """A whole upstream answer as events: Start, text/tool events, Finish, Usage."""
        ...

    def stream_parser(self) -> StreamParser: ...


KINDS: dict[str, Adapter] = {
    "openai": openai.ADAPTER,
    "anthropic": anthropic.ADAPTER,
}
