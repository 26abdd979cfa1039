"""The three ways an opened upstream answer reaches the client: native OpenAI, native
Anthropic (bytes through, model rewritten, usage read), or translated through canonical
events. Each records usage and cost on the call's Outcome."""

from types import ModuleType

import httpx
import orjson

from billing.models import UsageStatus
from proxy.call import Call, ClientOut, Opened, Outcome
from proxy.canonical import Answer, TextDelta, ToolCallDelta, UpstreamFailed, Usage
from proxy.errors import ProxyError
from proxy.providers import anthropic as anthropic_kind
from proxy.providers import openai as openai_kind
from proxy.providers import openai_responses
from proxy.shapes import anthropic as anthropic_shape
from proxy.shapes import openai_chat, responses
from proxy.table import DeploymentEntry

# A new provider kind or client shape is one module, named here.
_PROVIDERS: dict[str, ModuleType] = {"openai": openai_kind, "anthropic": anthropic_kind}
_SHAPES: dict[str, ModuleType] = {
    "chat": openai_chat,
    "completions": openai_chat,
    "embeddings": openai_chat,
    "messages": anthropic_shape,
    "responses": responses,
}


JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
]


def provider(kind: str) -> ModuleType:
    return _PROVIDERS[kind]


def shape(endpoint: str) -> ModuleType:
    return _SHAPES[endpoint]


def build_native(deployment: DeploymentEntry, call: Call) -> httpx.Request:
    if deployment.provider.kind == "anthropic":
        return anthropic_kind.build_native(
            deployment, call.body, stream=call.stream, client_headers=call.client_headers
        )
    return openai_kind.build_request(deployment, call.endpoint, call.body, stream=call.stream)


async def run(call: Call, opened: Opened, out: ClientOut, outcome: Outcome) -> None:
    if opened.response.status_code >= 400:
        await _pass_error(call, opened, out, outcome)
    elif opened.native and call.stream:
        await _stream(call, opened, out, outcome, _native_stream_relay(call))
    elif opened.native:
        await _native_json(call, opened, out, outcome)
    elif call.stream:
        await _stream(
            call, opened, out, outcome, _Translator(call, outcome.deployment.provider.kind)
        )
    else:
        await _translated_json(call, opened, out, outcome)


async def _read_json(opened: Opened, outcome: Outcome) -> dict:
    body = await opened.read(outcome)
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict):
        raise ProxyError(
            502,
            "The upstream provider answered with invalid JSON.",
            type="api_error",
            code="upstream_invalid_response",
        )
    return answer


async def _finish_json(call: Call, out: ClientOut, outcome: Outcome, answer: dict) -> None:
    outcome.status, outcome.http_status = UsageStatus.OK, 200
    outcome.first_byte(call)
    body = orjson.dumps(answer)
    await out.open(200, [*JSON_HEADERS, outcome.overhead_header(call)])
    await out.write(body, more=False)


async def _native_json(call: Call, opened: Opened, out: ClientOut, outcome: Outcome) -> None:
    answer = await _read_json(opened, outcome)
    if call.endpoint == "responses":
        answer, usage = openai_responses.rewrite_answer(answer, call.model.name, call.price)
        outcome.charge(call, usage)
    elif outcome.deployment.provider.kind == "anthropic":
        outcome.charge(call, anthropic_kind.native_usage(answer))
        cost = call.price(outcome.usage)[1] if outcome.usage else None
        answer = anthropic_kind.rewrite_native_answer(answer, call.model.name, cost)
    else:
        if "model" in answer:
            answer["model"] = call.model.name
        outcome.charge(call, openai_kind.usage_of(answer.get("usage")))
        if outcome.usage is not None:
            answer["usage"]["cost"] = call.price(outcome.usage)[1]
    await _finish_json(call, out, outcome, answer)


async def _translated_json(call: Call, opened: Opened, out: ClientOut, outcome: Outcome) -> None:
    raw = await _read_json(opened, outcome)
    try:
        answer = Answer.of(provider(outcome.deployment.provider.kind).parse_answer(raw))
    except UpstreamFailed as exc:
        raise ProxyError(
            502,
            f"The upstream provider's answer could not be read: {exc}",
            type="api_error",
            code="upstream_invalid_response",
        ) from None
    outcome.charge(call, answer.usage)
    cost = call.price(answer.usage)[1] if answer.usage else None
    await _finish_json(
        call,
        out,
        outcome,
        shape(call.endpoint).render(
            answer, model=call.model.name, cost_usd=cost, request=call.canonical
        ),
    )


class _Translator:
    """Upstream stream → canonical events → the client's stream, with usage kept."""

    def __init__(self, call: Call, kind: str) -> None:
        self.parser = provider(kind).stream_parser()
        self.renderer = shape(call.endpoint).stream_renderer(
            model=call.model.name,
            include_usage=call.include_usage,
            price=call.price,
            request=call.canonical,
        )
        self.usage: Usage | None = None
        self.generated_chars = 0

    @property
    def done(self) -> bool:
        return self.parser.done

    def feed(self, raw: bytes) -> bytes:
        try:
            events = self.parser.feed(raw)
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
            out.append(self.renderer.render(event))
        return b"".join(out)

    def end(self) -> bytes:
        return self.renderer.end()

    def error(self, err: ProxyError) -> bytes:
        return self.renderer.error(err)


class _Native:
    """A native stream relay, with the end and error framing of the client's shape."""

    def __init__(self, call: Call, relay) -> None:
        self.relay, self.call = relay, call

    @property
    def done(self) -> bool:
        return self.relay.done

    @property
    def usage(self) -> Usage | None:
        return self.relay.usage

    @property
    def generated_chars(self) -> int:
        return self.relay.generated_chars

    def feed(self, raw: bytes) -> bytes:
        return self.relay.feed(raw)

    def end(self) -> bytes:
        return b""  # the upstream's own end marker was passed through

    def error(self, err: ProxyError) -> bytes:
        return (
            shape(self.call.endpoint)
            .stream_renderer(model=self.call.model.name, include_usage=False, price=self.call.price)
            .error(err)
        )


def _native_stream_relay(call: Call) -> _Native:
    if call.endpoint == "responses":
        return _Native(
            call, openai_responses.NativeStreamRelay(model=call.model.name, price=call.price)
        )
    if call.endpoint == "messages":
        return _Native(
            call, anthropic_kind.NativeStreamRelay(model=call.model.name, price=call.price)
        )
    return _Native(
        call,
        openai_kind.StreamRelay(
            model=call.model.name, include_usage=call.include_usage, price=call.price
        ),
    )


async def _stream(call: Call, opened: Opened, out: ClientOut, outcome: Outcome, relay) -> None:
    await out.open(200, [*SSE_HEADERS, outcome.overhead_header(call)])
    try:
        async for chunk in _first_event_apart(opened.body()):
            data = relay.feed(chunk)
            if data:
                outcome.first_byte(call)
                await out.write(data, more=True)
        if not relay.done:
            raise UpstreamFailed("the upstream stream ended before its end marker")
        await out.write(relay.end(), more=False)
        outcome.status, outcome.http_status = UsageStatus.OK, 200
    except (httpx.HTTPError, UpstreamFailed) as exc:
        if isinstance(exc, UpstreamFailed) and exc.partial:
            outcome.first_byte(call)
            await out.write(b"".join(exc.partial), more=True)  # what came before the break
        outcome.error = f"The upstream provider failed mid-stream: {exc or type(exc).__name__}"[
            :300
        ]
        err = ProxyError(502, outcome.error, type="api_error", code="upstream_stream_error")
        await out.write(relay.error(err), more=False)
    finally:
        if relay.usage is not None:
            outcome.charge(call, relay.usage)
        else:
            outcome.charge(call, estimate(call, relay.generated_chars), estimated=True)
        await opened.response.aclose()


async def _first_event_apart(chunks):
    """The upstream's reads, the first one cut after its first event: when a read holds
    many events, the first goes to the client before the rest are rewritten."""
    first = True
    async for chunk in chunks:
        if first:
            first = False
            cut = chunk.find(b"\n\n") + 2
            if 1 < cut < len(chunk):
                yield chunk[:cut]
                chunk = chunk[cut:]
        yield chunk


async def _pass_error(call: Call, opened: Opened, out: ClientOut, outcome: Outcome) -> None:
    """A 4xx the client caused: passed through when it is already in the client's
    envelope, else its message re-framed in that envelope, with the upstream's status."""
    status = opened.response.status_code
    body = await opened.read(outcome)
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    same_envelope = isinstance(error, dict) and (
        (call.endpoint == "messages") == (parsed.get("type") == "error")
    )
    if not (opened.native and same_envelope):
        message = (error or {}).get("message") if isinstance(error, dict) else None
        err = ProxyError(
            status,
            str(
                message
                or body.decode(errors="replace")[:500]
                or "The upstream refused the request."
            ),
        )
        body = shape(call.endpoint).error_body(err)
    outcome.status, outcome.http_status = UsageStatus.CLIENT_ERROR, status
    outcome.error = body.decode(errors="replace")[:300]
    await out.open(status, [*JSON_HEADERS, outcome.overhead_header(call)])
    await out.write(body, more=False)


def estimate(call: Call, generated_chars: int) -> Usage:
    """Four characters a token: what a cut-short call consumed, when the upstream never
    said. Marked estimated on the record."""
    prompt = call.body.get("messages") or call.body.get("prompt") or call.body.get("input") or ""
    return Usage(input=max(1, len(orjson.dumps(prompt)) // 4), output=(generated_chars + 3) // 4)
