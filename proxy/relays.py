"""The two ways an upstream answer becomes the client's: native (the client speaks the
provider's shape: bytes through, `model` and `cost` rewritten, usage read) or translated
(the provider's answer into canonical events, rendered in the client's shape).

Both are one protocol, `Relay`, whole or streamed; neither writes anything about the
call: what they learn (usage, what was generated) the relay reads off them."""

from typing import Protocol

from proxy.call import Call
from proxy.table import DeploymentEntry
from proxy.translate.canonical import Answer, TextDelta, ToolCallDelta, UpstreamFailed, Usage
from proxy.translate.errors import ProxyError
from proxy.translate.shapes import SHAPES


class Relay(Protocol):
    done: bool  # a stream's end marker arrived
    usage: Usage | None  # what the upstream said was used, once it did
    generated_chars: int  # what was streamed so far, for an estimate when cut short

    def answer(self, body: dict) -> tuple[dict, Usage | None]:
        """A whole upstream answer as the client's JSON object, and its usage."""
        ...

    def feed(self, raw: bytes) -> bytes:
        """Upstream stream bytes in, the client's stream bytes out."""
        ...

    def end(self) -> bytes:
        """What closes a complete stream for the client."""
        ...

    def error(self, err: ProxyError) -> bytes:
        """An error event that ends a stream already begun, in the client's shape."""
        ...


class NativeRelay:
    def __init__(self, call: Call, deployment: DeploymentEntry) -> None:
        self.call, self.adapter = call, deployment.provider.adapter
        self._stream = None

    @property
    def stream(self):
        if self._stream is None:
            self._stream = self.adapter.native_stream(
                self.call.endpoint,
                model=self.call.model.name,
                include_usage=self.call.include_usage,
                price=self.call.price,
            )
        return self._stream

    @property
    def done(self) -> bool:
        return self.stream.done

    @property
    def usage(self) -> Usage | None:
        return self.stream.usage

    @property
    def generated_chars(self) -> int:
        return self.stream.generated_chars

    def answer(self, body: dict) -> tuple[dict, Usage | None]:
        return self.adapter.native_answer(
            self.call.endpoint, body, model=self.call.model.name, price=self.call.price
        )

    def feed(self, raw: bytes) -> bytes:
        return self.stream.feed(raw)

    def end(self) -> bytes:
        return b""  # the upstream's own end marker was passed through

    def error(self, err: ProxyError) -> bytes:
        renderer = SHAPES[self.call.endpoint].stream_renderer(
            model=self.call.model.name, include_usage=False, price=self.call.price
        )
        return renderer.error(err)


class TranslatedRelay:
    """Upstream answer → canonical events → the client's shape, with usage kept."""

    def __init__(self, call: Call, deployment: DeploymentEntry) -> None:
        self.call, self.adapter = call, deployment.provider.adapter
        self.shape = SHAPES[call.endpoint]
        self.usage: Usage | None = None
        self.generated_chars = 0
        self._parser = self._renderer = None

    @property
    def done(self) -> bool:
        return self._parser is not None and self._parser.done

    def answer(self, body: dict) -> tuple[dict, Usage | None]:
        answer = Answer.of(self.adapter.parse_answer(body))
        cost = self.call.price(answer.usage).usd if answer.usage else None
        rendered = self.shape.render(
            answer, model=self.call.model.name, cost_usd=cost, request=self.call.canonical
        )
        return rendered, answer.usage

    def _start(self) -> None:
        self._parser = self.adapter.stream_parser()
        self._renderer = self.shape.stream_renderer(
            model=self.call.model.name,
            include_usage=self.call.include_usage,
            price=self.call.price,
            request=self.call.canonical,
        )

    def feed(self, raw: bytes) -> bytes:
        if self._parser is None:
            self._start()
        try:
            events = self._parser.feed(raw)
        except UpstreamFailed as exc:
            exc.partial = [self._render(exc.partial)]
            raise
        return self._render(events)

    def _render(self, events: list) -> bytes:
        out = []
        for event in events:
            if isinstance(event, Usage):
                self.usage = event
            elif isinstance(event, TextDelta):
                self.generated_chars += len(event.text)
            elif isinstance(event, ToolCallDelta):
                self.generated_chars += len(event.arguments)
            out.append(self._renderer.render(event))
        return b"".join(out)

    def end(self) -> bytes:
        if self._renderer is None:
            self._start()
        return self._renderer.end()

    def error(self, err: ProxyError) -> bytes:
        if self._renderer is None:
            self._start()
        return self._renderer.error(err)


def relay_for(call: Call, deployment: DeploymentEntry, *, native: bool) -> Relay:
    return NativeRelay(call, deployment) if native else TranslatedRelay(call, deployment)
