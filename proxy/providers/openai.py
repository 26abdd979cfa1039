"""OpenAI-kind upstreams (OpenAI, vLLM, Ollama, any OpenAI-compatible server).

An OpenAI-shape request passes through: only `model` is replaced with the upstream's id,
and streams ask for usage. Answers come back with the client's model name and `cost`.
"""

import httpx
import orjson

from proxy.canonical import UpstreamFailed, Usage, carrying
from proxy.providers.openai_translate import build, parse_answer, post, stream_parser
from proxy.sse import SSEDecoder, frame, load_event
from proxy.table import DeploymentEntry

PATHS = {"chat": "chat/completions", "completions": "completions", "embeddings": "embeddings"}
DONE = b"[DONE]"


__all__ = ["StreamRelay", "build", "build_request", "parse_answer", "stream_parser", "usage_of"]


def build_request(
    deployment: DeploymentEntry, endpoint: str, body: dict, *, stream: bool
) -> httpx.Request:
    payload = dict(body)
    payload["model"] = deployment.upstream_model
    if stream:
        payload["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    return post(deployment.provider, PATHS[endpoint], payload)


def usage_of(raw: dict | None) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("prompt_tokens_details") or {}
    return Usage(
        input=int(raw.get("prompt_tokens") or 0),
        output=int(raw.get("completion_tokens") or 0),
        cached=int(details.get("cached_tokens") or 0),
    )


class StreamRelay:
    """Rewrites an OpenAI-shape upstream stream for the client, chunk by chunk.

    Each event is parsed once to set the client's model name, to take the usage chunk
    (hidden from clients that did not ask for it, priced for those who did) and to count
    what was generated in case the stream is cut short."""

    def __init__(self, *, model: str, include_usage: bool, price) -> None:
        self.model = model
        self.include_usage = include_usage
        self.price = price  # callable(Usage) -> (cost_pico, cost_usd)
        self.decoder = SSEDecoder()
        self.usage: Usage | None = None
        self.cost_pico = 0
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
                    raise UpstreamFailed(
                        str((chunk.get("error") or {}).get("message") or "upstream error")
                    )
                rendered = self._rewrite(chunk)
                if rendered is not None:
                    out.append(frame(orjson.dumps(rendered)))
        return b"".join(out)

    def _rewrite(self, chunk: dict) -> dict | None:
        if "model" in chunk:
            chunk["model"] = self.model
        for choice in chunk.get("choices") or ():
            self.generated_chars += _generated_chars(choice)
        usage = usage_of(chunk.get("usage"))
        if usage is not None:
            self.usage = usage
            self.cost_pico, cost_usd = self.price(usage)
            if self.include_usage:
                chunk["usage"]["cost"] = cost_usd
            elif not chunk.get("choices"):
                return None  # the usage-only chunk the client did not ask for
        if not self.include_usage:
            chunk.pop("usage", None)
        return chunk


def _generated_chars(choice: dict) -> int:
    delta = choice.get("delta") or {}
    n = len(delta.get("content") or "") + len(choice.get("text") or "")
    for call in delta.get("tool_calls") or ():
        n += len((call.get("function") or {}).get("arguments") or "")
    return n
