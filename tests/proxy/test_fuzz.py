"""Malformed bodies through the running gateway: every endpoint × both provider kinds.

A rich valid body per endpoint (every field its shape knows: tools, tool calls and their
results, images, content parts, tool_choice, response formats, streamed or not) gets one
value of another type at one JSON path (null, a boolean, numbers small, fractional and
huge, strings, arrays, objects, an array nested 300 deep), and goes to the gateway. What
must hold, whatever the value:

- no 5xx, and nothing the gateway logs as unhandled (a stream's status is sent before a
  crash could show in it);
- every 4xx is in the endpoint's own envelope: OpenAI's `{"error": {"message", "type",
  "param", "code"}}`, Anthropic's `{"type": "error", "error": {"type", "message"}}` on
  /v1/messages*;
- when the gateway refused by itself (the sandbox upstream saw nothing), the error names
  the field: the path's last key is in `param` or in the message.

A 200 is fine: the value was acceptable, or the upstream took it. The same bodies and
mutations also run straight through the client shapes' parsers, many more of them: a
parse or a 400 naming the field, never another exception.
"""

import json
import logging
import os

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from proxy import relay, table
from proxy.routes_file import apply
from proxy.translate.canonical import (
    Answer,
    Cost,
    Finish,
    Start,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)
from proxy.translate.errors import ProxyError
from proxy.translate.providers import KINDS
from proxy.translate.shapes import SHAPES, TRANSLATABLE
from proxy.translate.sse import SSEDecoder
from proxy.translate.wire import Upstream
from sandbox.server import SandboxServer
from tests.proxy.conftest import PRICE, make_tenant
from tests.proxy.fuzz_bodies import DEEP, ENDPOINTS

ANTHROPIC_ENVELOPE = frozenset({"messages", "count_tokens"})
MODELS = ("via-openai", "via-anthropic")  # the sandbox behind a provider of each kind
KIND_OF = {"via-openai": "openai", "via-anthropic": "anthropic", "via-chat-only": "openai"}


def serves(endpoint: str, model: str) -> bool:
    """Whether the model's provider kind serves the endpoint at all (else every body is the
    400 that says which kind it needs)."""
    return endpoint in KINDS[KIND_OF[model]].native or endpoint in TRANSLATABLE


VALUES = [
    None, True, False, 0, -1, 3.5, 2**64 - 1, 10**30, "", "x", "☃" * 3, "y" * 5000, [],
    [1, "a", None], DEEP, {}, {"k": "v"}, {"type": "bogus"},
]  # fmt: skip


def kind(value: object) -> str:
    if value is None or isinstance(value, bool | str | list | dict):
        return type(value).__name__
    return "number"


def paths(value: object, at: tuple = ()) -> list[tuple]:
    """Every JSON path in `value` below its root."""
    out = [at] if at else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += paths(item, (*at, index))
    return out


def lookup(body: object, path: tuple) -> object:
    for key in path:
        body = body[key]  # type: ignore[index]
    return body


def mutated(body: dict, path: tuple, value: object) -> dict:
    copy = json.loads(json.dumps(body))
    parent = lookup(copy, path[:-1])
    parent[path[-1]] = value  # type: ignore[index]
    return copy


def last_key(path: tuple) -> str:
    return next(str(k) for k in reversed(path) if isinstance(k, str))


def bodies(endpoint: str, model: str) -> list[dict]:
    _, body, streamable = ENDPOINTS[endpoint]
    plain = {**body, "model": model}
    if not streamable:
        return [plain]
    streamed = {**plain, "stream": True}
    if endpoint in ("chat", "completions"):
        streamed["stream_options"] = {"include_usage": True}
    return [plain, streamed]


@st.composite
def mutations(draw, endpoint: str, model: str):
    """(body, path, value): one of the endpoint's bodies, a value of another type at one path."""
    body = draw(st.sampled_from(bodies(endpoint, model)))
    path = draw(st.sampled_from(paths(body)))
    original = kind(lookup(body, path))
    value = draw(st.sampled_from([v for v in VALUES if kind(v) != original]))
    return body, path, value


def names_field(error: dict, path: tuple) -> bool:
    key = last_key(path)
    return key in str(error.get("param") or "") or key in str(error.get("message") or "")


# --- Straight through the translation, every path × every value ------------------------

UPSTREAM = Upstream("http://upstream.test/v1", "sk-x", "up-model")
ANSWER = [Start("up-1", "up-model"), TextDelta("Hi."), ToolCallStart(0, "call_9", "get_weather"),
          ToolCallDelta(0, '{"city": "Oslo"}'), Finish("tool_calls"), Usage(12, 5)]  # fmt: skip


def every_mutation(endpoint: str):
    for body in bodies(endpoint, "M"):
        for path in paths(body):
            original = kind(lookup(body, path))
            for value in VALUES:
                if kind(value) != original:
                    yield body, path, value


@pytest.mark.parametrize("endpoint", sorted(TRANSLATABLE))
def test_every_mutation_parses_builds_and_renders_or_is_a_400_naming_the_field(endpoint):
    """No server: the shape's parser, each provider kind's build, the shape's renderers."""
    shape = SHAPES[endpoint]
    for body, path, value in every_mutation(endpoint):
        try:
            request = shape.parse(mutated(body, path, value))
        except ProxyError as err:
            assert err.status == 400, (path, value)
            assert names_field({"param": err.param, "message": err.message}, path), (
                path, err.param, err.message,
            )  # fmt: skip
            continue
        for adapter in KINDS.values():
            try:
                adapter.build(UPSTREAM, request)
            except ProxyError as err:  # the provider's own refusal (an unsupported field)
                assert err.status == 400, (path, value, err)
        shape.render(Answer.of(ANSWER), model="M", cost_usd=0.0, request=request)
        renderer = shape.stream_renderer(
            model="M", include_usage=True, price=lambda u: Cost(0, 0.0), request=request
        )
        b"".join(renderer.render(e) for e in ANSWER) + renderer.end()


# --- Through the gateway --------------------------------------------------------------


class Unhandled(logging.Handler):
    """Errors the gateway logs as unhandled (its 500s, and crashes once a stream began)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:  # called holding the handler's lock
        self.records.append(record)

    def take(self) -> list[str]:
        self.acquire()
        try:
            out, self.records = self.records, []
        finally:
            self.release()
        return [self.format(r) for r in out]


@pytest.fixture
def unhandled():
    handler = Unhandled()
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    loggers = [logging.getLogger(n) for n in ("proxy", "uvicorn.error", "django")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


@pytest.fixture
def gateway(asgi_server, matrix_routes, unhandled):
    """The matrix routes, and `via-chat-only`: an OpenAI-kind upstream without the Responses
    API, so /v1/responses goes through chat completions."""
    chat_only = SandboxServer(responses=False).start()
    apply(
        {
            "providers": [{"name": "up-chat-only", "kind": "openai",
                           "base_url": chat_only.url + "/v1", "api_key": "sk-c"}],
            "models": [{"name": "via-chat-only", "price": PRICE,
                        "deployments": [{"provider": "up-chat-only", "model": "demo"}]}],
        }
    )  # fmt: skip
    table.invalidate()
    relay.forget()
    tenant = make_tenant()
    headers = {"authorization": f"Bearer {tenant.secret}", "anthropic-version": "2023-06-01"}
    try:
        with httpx.Client(base_url=asgi_server.url, headers=headers, timeout=30) as client:
            yield client, Upstreams([matrix_routes, chat_only]), unhandled
    finally:
        chat_only.stop()
        relay.forget()


class Upstreams:
    """What the sandboxes have seen, together."""

    def __init__(self, sandboxes: list) -> None:
        self.sandboxes = sandboxes

    def seen(self) -> int:
        return sum(len(s.state.requests) for s in self.sandboxes)


def post(client: httpx.Client, path: str, body: object) -> httpx.Response:
    # The standard library writes what orjson cannot: a 31-digit number, 300 levels.
    content = json.dumps(body, ensure_ascii=False).encode()
    return client.post(path, content=content, headers={"content-type": "application/json"})


def check_answer(endpoint: str, response: httpx.Response, logged: list[str]) -> dict | None:
    """The invariants of every answer; the error object of a 4xx."""
    assert response.status_code < 500, response.text[:2000]
    assert not logged, logged
    if response.status_code < 400:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            events = [data for _, data in SSEDecoder().feed(response.content)]
            # A stream that began must end as a stream: no error event in its place.
            assert not [e for e in events if e.startswith(b'{"error"') or b'"type":"error"' in e
                        or b'"type":"response.failed"' in e], response.text[-2000:]  # fmt: skip
        return None
    body = response.json()
    if endpoint in ANTHROPIC_ENVELOPE:
        assert body.get("type") == "error", body
        error = body["error"]
        assert isinstance(error.get("type"), str) and isinstance(error.get("message"), str)
    else:
        error = body["error"]
        assert set(error) >= {"message", "type", "param", "code"}, body
        assert isinstance(error["message"], str) and isinstance(error["type"], str)
    return error


CASES = [(e, m) for e in ENDPOINTS for m in MODELS] + [("responses", "via-chat-only")]
# Per endpoint × kind; FUZZ_EXAMPLES=2000 for a longer hunt.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))


@pytest.mark.parametrize(("endpoint", "model"), CASES)
def test_a_wrong_type_anywhere_is_a_clean_answer(gateway, endpoint, model):
    client, upstreams, unhandled = gateway
    path_of = ENDPOINTS[endpoint][0]
    for body in bodies(endpoint, model):  # the rich bodies themselves are served
        response = post(client, path_of, body)
        check_answer(endpoint, response, unhandled.take())

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        # One path, one value: already as small as a failing case gets; no HTTP shrinking.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(mutations(endpoint, model))
    def check(case):
        body, path, value = case
        seen = upstreams.seen()
        response = post(client, path_of, mutated(body, path, value))
        error = check_answer(endpoint, response, unhandled.take())
        reached = upstreams.seen() > seen
        if error is not None and not reached and serves(endpoint, model):
            assert names_field(error, path), (path, error)

    check()


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_a_body_nested_300_deep_is_a_clean_answer(gateway, endpoint):
    client, _, unhandled = gateway
    path_of, body, _ = ENDPOINTS[endpoint]
    deep_schema: dict = {"type": "string"}
    for _ in range(300):
        deep_schema = {"type": "object", "properties": {"a": deep_schema}}
    for model in (*MODELS, "via-chat-only") if endpoint == "responses" else MODELS:
        for extra in ({"deep": DEEP}, {"metadata": {"deep": DEEP}}):
            response = post(client, path_of, {**body, "model": model, **extra})
            check_answer(endpoint, response, unhandled.take())
        if endpoint in ("chat", "responses", "messages", "count_tokens"):
            deep = json.loads(json.dumps(body))
            tool = deep["tools"][0]
            if endpoint == "chat":
                tool["function"]["parameters"] = deep_schema
            elif endpoint == "responses":
                tool["parameters"] = deep_schema
            else:
                tool["input_schema"] = deep_schema
            for stream in (False, True) if endpoint != "count_tokens" else (False,):
                deep.update(model=model, stream=stream)
                response = post(client, path_of, deep)
                check_answer(endpoint, response, unhandled.take())


@pytest.fixture
def dropping(asgi_server, sandbox, unhandled):
    """`drop-openai` and `drop-anthropic`: an upstream of each kind that closes the
    connection instead of answering."""
    apply(
        {
            "providers": [
                {"name": "up-openai", "kind": "openai", "base_url": sandbox.url + "/v1",
                 "api_key": "sk-o"},
                {"name": "up-anthropic", "kind": "anthropic", "base_url": sandbox.url,
                 "api_key": "sk-a"},
            ],
            "models": [
                {"name": f"drop-{kind}", "price": PRICE,
                 "deployments": [{"provider": f"up-{kind}", "model": "demo@fault=drop"}]}
                for kind in ("openai", "anthropic")
            ],
        }
    )  # fmt: skip
    table.invalidate()
    tenant = make_tenant()
    headers = {"authorization": f"Bearer {tenant.secret}", "anthropic-version": "2023-06-01"}
    with httpx.Client(base_url=asgi_server.url, headers=headers, timeout=30) as client:
        yield client, unhandled


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
@pytest.mark.parametrize("endpoint", ["chat", "messages", "responses"])
def test_an_upstream_dropping_the_connection_is_a_502(dropping, kind, endpoint):
    client, unhandled = dropping
    path_of, body, _ = ENDPOINTS[endpoint]
    response = post(client, path_of, {**body, "model": f"drop-{kind}"})
    assert response.status_code == 502, response.text
    assert not unhandled.take()
    if endpoint in ANTHROPIC_ENVELOPE:
        assert response.json()["error"]["type"] == "api_error"
    else:
        assert response.json()["error"]["code"] in ("upstream_unreachable", "upstream_dropped")
