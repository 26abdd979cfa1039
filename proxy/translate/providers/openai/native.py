"""OpenAI-kind upstreams answering OpenAI-shape clients: the body passes through with
only `model` replaced by the upstream's id (streams also ask for usage), and the answer
comes back with the client's model name and `cost` in its usage."""

import orjson

from proxy.translate.canonical import Pricer, UpstreamFailed, Usage, carrying
from proxy.translate.providers.openai.translate import post, usage_of
from proxy.translate.sse import SSEDecoder, frame, load_event
from proxy.translate.wire import Upstream, UpstreamRequest, priced

PATHS = {
    "chat": "chat/completions", "completions": "completions", "embeddings": "embeddings",
    "responses": "responses",
}  # fmt: skip
DONE = b"[DONE]"


def request(
    upstream: Upstream,
    endpoint: str,
    body: dict,
    *,
    stream: bool,
    client_headers: dict[bytes, bytes],
) -> UpstreamRequest:
    """The client's body and its `openai-*` headers (betas and the like), as they came."""
    payload = dict(body)
    payload["model"] = upstream.model
    if stream and endpoint != "responses":  # Responses streams always end with usage
        options = body.get("stream_options")
        payload["stream_options"] = {
            **(options if isinstance(options, dict) else {}),
            "include_usage": True,
        }
    sent = post(upstream, PATHS[endpoint], payload)
    for name, value in client_headers.items():
        if name.startswith(b"openai-"):
            sent.headers[name.decode("latin-1")] = value.decode("latin-1")
    return sent


def answer(body: dict, *, model: str, price: Pricer) -> tuple[dict, Usage | None]:
    return priced(body, usage_of, model=model, price=price)


class StreamRelay:
    """Rewrites an OpenAI-shape upstream stream for the client, chunk by chunk.

    Each event is parsed once to set the client's model name, to take the usage chunk
    (hidden from clients that did not ask for it, priced for those who did) and to count
    what was generated in case the stream is cut short."""

    def __init__(self, *, model: str, include_usage: bool, price: Pricer) -> None:
        self.model = model
        self.include_usage = include_usage
        self.price = price
        self.decoder = SSEDecoder()
        self.usage: Usage | None = None
        self.generated_chars = 0
        self.done = False

    def feed(self, raw: bytes) -> bytes:
        out: list[bytes] = []
        with carrying(out):
            for _event, data in self.decoder.feed(raw):
                if data == DONE:
                    self.done = True
                    out.append(frame(DONE))
                    continue
                chunk = load_event(data)
                if "error" in chunk:
                    raise UpstreamFailed.of_error(chunk.get("error"))
                rendered = self._rewrite(chunk)
                if rendered is not None:
                    out.append(frame(orjson.dumps(rendered)))
        return b"".join(out)

    def _rewrite(self, chunk: dict) -> dict | None:
        if "model" in chunk:
            chunk["model"] = self.model
        choices = chunk.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                self.generated_chars += _generated_chars(choice)
        usage = usage_of(chunk.get("usage"))
        if usage is not None:
            self.usage = usage
            if self.include_usage:
                chunk["usage"]["cost"] = self.price(usage).usd
            elif not choices:
                return None  # the usage-only chunk the client did not ask for
        if not self.include_usage:
            chunk.pop("usage", None)
        return chunk


def _generated_chars(choice: object) -> int:
    if not isinstance(choice, dict):
        return 0
    delta = choice.get("delta")
    delta = delta if isinstance(delta, dict) else {}
    n = _length(delta.get("content")) + _length(choice.get("text"))
    calls = delta.get("tool_calls")
    for call in calls if isinstance(calls, list) else ():
        fn = call.get("function") if isinstance(call, dict) else None
        if isinstance(fn, dict):
            n += _length(fn.get("arguments"))
    return n


def _length(value: object) -> int:
    return len(value) if isinstance(value, str) else 0
