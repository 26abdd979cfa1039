"""Provider kinds: how an upstream speaks. One module per kind (`openai`, `anthropic`).

Each module offers the same small set of names (see `ProviderKind`): for a client of
another shape, it builds its upstream request from a canonical `ChatRequest` and turns
the answer, whole or streamed, into canonical events; for a client of its own shape, it
passes the request and the answer through, touching only `model` and reading usage.
"""

from typing import Protocol

import httpx

from proxy.canonical import ChatRequest, Event
from proxy.table import DeploymentEntry


class StreamParser(Protocol):
    """The upstream's stream bytes in, canonical events out. Raises
    canonical.UpstreamFailed on bad JSON or an error event; `done` once the stream's
    own end marker arrived (`[DONE]`, `message_stop`)."""

    done: bool

    def feed(self, raw: bytes) -> list[Event]: ...


class ProviderKind(Protocol):
    def build(self, deployment: DeploymentEntry, request: ChatRequest) -> httpx.Request:
        """The upstream request for a translated call (streams ask for usage)."""
        ...

    def parse_answer(self, body: dict) -> list[Event]:
        """A whole upstream answer as events: Start, text/tool events, Finish, Usage."""
        ...

    def stream_parser(self) -> StreamParser: ...
