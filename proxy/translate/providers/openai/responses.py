"""OpenAI-kind upstreams with the Responses API: `/v1/responses` passes through, with the
client's model name on the Response object and `cost` in its usage."""

from proxy.translate.canonical import Pricer, UpstreamFailed, Usage, carrying, tokens
from proxy.translate.sse import SSEDecoder, frame, typed_events
from proxy.translate.wire import dumps, priced

TERMINAL = {"response.completed", "response.incomplete", "response.failed"}


def usage_of(raw: object) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("input_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else 0
    return Usage(
        input=tokens(raw.get("input_tokens")),
        output=tokens(raw.get("output_tokens")),
        cached=tokens(cached),
    )


def answer(response: dict, *, model: str, price: Pricer) -> tuple[dict, Usage | None]:
    return priced(response, usage_of, model=model, price=price, force_model=True)


class StreamRelay:
    """Responses stream events re-framed with the client's model name; usage (and its
    cost) taken from the terminal event."""

    def __init__(self, *, model: str, price: Pricer) -> None:
        self.model, self.price = model, price
        self.decoder = SSEDecoder()
        self.usage: Usage | None = None
        self.generated_chars = 0
        self.done = False

    def feed(self, raw: bytes) -> bytes:
        out: list[bytes] = []
        with carrying(out):
            for _name, event, kind in typed_events(self.decoder, raw):
                if kind == "error":
                    raise UpstreamFailed.of_error(event.get("error") or event)
                if kind in ("response.output_text.delta", "response.function_call_arguments.delta"):
                    delta = event.get("delta")
                    self.generated_chars += len(delta) if isinstance(delta, str) else 0
                response = event.get("response")
                if isinstance(response, dict):
                    if kind in TERMINAL:
                        self.done = True
                        response, self.usage = answer(response, model=self.model, price=self.price)
                    else:
                        response["model"] = self.model
                out.append(frame(dumps(event), kind if isinstance(kind, str) else None))
        return b"".join(out)
