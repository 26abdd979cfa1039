"""OpenAI-kind upstreams that have the Responses API: `/v1/responses` passes through.

Whether an upstream has it is learnt by asking: a 404 or 405 on `/responses` marks the
provider as without it (per process), and the relay serves the call over chat
completions instead, through the canonical model."""

import httpx
import orjson

from proxy.canonical import UpstreamFailed, Usage, carrying
from proxy.providers.openai_translate import post
from proxy.sse import SSEDecoder, frame, typed_events
from proxy.table import DeploymentEntry

_without: set[str] = set()  # names of providers whose /responses answered 404 or 405
TERMINAL = {"response.completed", "response.incomplete", "response.failed"}


def has_responses(deployment: DeploymentEntry) -> bool:
    return deployment.provider.name not in _without


def lacks_responses(deployment: DeploymentEntry) -> None:
    _without.add(deployment.provider.name)


def forget() -> None:
    _without.clear()


def build_native(deployment: DeploymentEntry, body: dict) -> httpx.Request:
    return post(deployment.provider, "responses", {**body, "model": deployment.upstream_model})


def usage_of(raw: dict | None) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("input_tokens_details") or {}
    return Usage(
        input=int(raw.get("input_tokens") or 0),
        output=int(raw.get("output_tokens") or 0),
        cached=int(details.get("cached_tokens") or 0),
    )


def rewrite_answer(response: dict, model: str, price) -> tuple[dict, Usage | None]:
    """The client's model name on the response, and `cost` in its usage."""
    response["model"] = model
    usage = usage_of(response.get("usage"))
    if usage is not None:
        response["usage"]["cost"] = price(usage)[1]
    return response, usage


class NativeStreamRelay:
    """Responses stream events re-framed with the client's model name; usage (and its
    cost) taken from the terminal event."""

    def __init__(self, *, model: str, price) -> None:
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
                    raise UpstreamFailed(str(event.get("message") or "upstream error"))
                if kind in ("response.output_text.delta", "response.function_call_arguments.delta"):
                    self.generated_chars += len(event.get("delta") or "")
                response = event.get("response")
                if isinstance(response, dict):
                    if kind in TERMINAL:
                        self.done = True
                        response, self.usage = rewrite_answer(response, self.model, self.price)
                    else:
                        response["model"] = self.model
                out.append(frame(orjson.dumps(event), kind))
        return b"".join(out)
