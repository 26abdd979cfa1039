"""Anthropic-kind upstreams answering Anthropic-shape clients: the body passes through
with only `model` replaced by the upstream's id, the client's `anthropic-version` and
`anthropic-beta` headers with it; the answer comes back with the client's model name
and `cost` in its usage."""

from proxy.translate.canonical import Pricer, UpstreamFailed, Usage, carrying
from proxy.translate.providers.anthropic.translate import API_VERSION, send, usage_of
from proxy.translate.sse import SSEDecoder, frame, typed_events
from proxy.translate.wire import Upstream, UpstreamRequest, dumps, priced

PATHS = {"messages": "messages", "count_tokens": "messages/count_tokens"}
PASSED_HEADERS = (b"anthropic-version", b"anthropic-beta")


def request(
    upstream: Upstream,
    endpoint: str,
    body: dict,
    *,
    stream: bool,
    client_headers: dict[bytes, bytes],
) -> UpstreamRequest:
    payload = dict(body)
    payload["model"] = upstream.model
    if stream:
        payload["stream"] = True
    headers = {"anthropic-version": API_VERSION}
    for name in PASSED_HEADERS:
        value = client_headers.get(name)
        if value:
            headers[name.decode()] = value.decode("latin-1")
    return send(upstream, payload, headers, PATHS[endpoint])


def answer(body: dict, *, model: str, price: Pricer) -> tuple[dict, Usage | None]:
    return priced(body, usage_of, model=model, price=price)


class StreamRelay:
    """Rewrites an Anthropic upstream stream for the client, event by event.

    Each event is parsed once to set the client's model name, to read usage (input from
    message_start, the final counts from message_delta, which then carries `cost`) and
    to count what was generated in case the stream is cut short. `usage` stays None
    until message_delta: a stream cut before it is estimated by the relay instead."""

    def __init__(self, *, model: str, price: Pricer) -> None:
        self.model = model
        self.price = price
        self.decoder = SSEDecoder()
        self.counts: dict = {}  # the usage so far, in Anthropic's fields
        self.usage: Usage | None = None
        self.generated_chars = 0
        self.done = False

    def feed(self, raw: bytes) -> bytes:
        out: list[bytes] = []
        with carrying(out):
            for name, event, kind in typed_events(self.decoder, raw):
                if kind == "error":
                    raise UpstreamFailed.of_error(event.get("error"))
                self._rewrite(kind, event)
                out.append(frame(dumps(event), event=name or str(kind)))
        return b"".join(out)

    def _rewrite(self, kind: object, event: dict) -> None:
        if kind == "message_start" and isinstance(event.get("message"), dict):
            event["message"]["model"] = self.model
            usage = event["message"].get("usage")
            if isinstance(usage, dict):
                self.counts.update(usage)
        elif kind == "content_block_delta":
            delta = event.get("delta")
            if isinstance(delta, dict):
                for k in ("text", "partial_json", "thinking"):
                    value = delta.get(k)
                    self.generated_chars += len(value) if isinstance(value, str) else 0
        elif kind == "message_delta" and isinstance(event.get("usage"), dict):
            self.counts.update({k: v for k, v in event["usage"].items() if v is not None})
            self.usage = usage_of(self.counts) or Usage()
            event["usage"]["cost"] = self.price(self.usage).usd
        elif kind == "message_stop":
            self.done = True
