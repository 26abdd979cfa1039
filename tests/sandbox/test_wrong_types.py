"""Never a 500: a valid body with values swapped, anywhere, for values of another JSON type
gets a 2xx or a 4xx in that API's own error envelope, and a stream that starts also ends.

The app answers a handler's stray TypeError or KeyError with a generic 400 as a last resort;
here that counts as a failure too, so each refusal names the field, as the real APIs do.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox import SandboxServer
from sandbox.app import SHAPE_MESSAGE
from tests.sandbox.valid_bodies import ENDPOINTS

Path = tuple[str | int, ...]

HEADERS = {"authorization": "Bearer k", "anthropic-version": "2023-06-01"}
BETA = {"anthropic-beta": "mid-conversation-system-2026-04-07"}

# Strings that mean something somewhere, so a generated object can pass for a part or item.
WORDS = (
    *("", "auto", "none", "required", "any", "tool", "function", "text", "user", "assistant"),
    *("system", "tool_use", "tool_result", "image_url", "input_text", "function_call"),
    *("function_call_output", "message", "namespace", "json_schema", "json_object"),
)
LEAVES = {
    "null": st.none(),
    "boolean": st.booleans(),
    "integer": st.integers(-(2**64), 2**64) | st.sampled_from([0, -1, 1, 16, 10**30]),
    "number": st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f)),
    "string": st.text(max_size=12) | st.sampled_from(WORDS),
}
ANY = st.recursive(
    st.one_of(*LEAVES.values()),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
VALUES = {
    **LEAVES,
    "array": st.lists(ANY, max_size=3),
    "object": st.dictionaries(
        st.text(max_size=6) | st.sampled_from(["type", "text", "role", "content", "name"]),
        ANY,
        max_size=3,
    ),
}


def type_of(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def paths(value: object, prefix: Path = ()) -> Iterator[Path]:
    """Every position inside `value`, the root itself excepted."""
    children = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in children:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key))


def replace(body: dict[str, Any], path: Path, new: object) -> None:
    parent: Any = body
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = new


def delete(body: dict[str, Any], path: Path) -> None:
    parent: Any = body
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]


def at(body: dict[str, Any], path: Path) -> object:
    value: Any = body
    for key in path:
        value = value[key]
    return value


@st.composite
def mutated(draw: st.DrawFn, bodies: list[dict[str, Any]], streams: bool) -> dict[str, Any]:
    body = copy.deepcopy(draw(st.sampled_from(bodies)))
    if streams and draw(st.booleans()):
        body["stream"] = True
    for _ in range(draw(st.integers(1, 3))):
        places = list(paths(body))
        if not places:
            break
        path = draw(st.sampled_from(places))
        if draw(st.integers(0, 4)) == 0:  # now and then a missing field instead
            delete(body, path)
            continue
        kind = draw(st.sampled_from([k for k in VALUES if k != type_of(at(body, path))]))
        replace(body, path, draw(VALUES[kind]))
    return body


def check_envelope(flavour: str, response: httpx.Response) -> None:
    payload = response.json()
    if flavour == "anthropic":
        assert payload["type"] == "error", payload
        assert set(payload["error"]) == {"type", "message"}, payload
        assert payload["error"]["type"] == "invalid_request_error", payload
    else:
        assert set(payload) == {"error"}, payload
        assert set(payload["error"]) == {"message", "type", "param", "code"}, payload
        assert payload["error"]["type"] == "invalid_request_error", payload
    message = payload["error"]["message"]
    assert isinstance(message, str) and message and "Traceback" not in message
    assert not message.startswith(SHAPE_MESSAGE), message


def check_stream_end(path: str, text: str) -> None:
    if path == "/v1/messages":
        assert text.endswith('event: message_stop\ndata: {"type":"message_stop"}\n\n'), text
    elif path == "/v1/responses":
        last = text.rstrip("\n").rsplit("\n\n", 1)[-1]
        assert last.split("\n")[0] in ("event: response.completed", "event: response.incomplete")
    else:
        assert text.endswith("data: [DONE]\n\n"), text


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_the_valid_bodies_are_valid(sandbox: SandboxServer, endpoint: str) -> None:
    path, _, bodies, _ = ENDPOINTS[endpoint]
    for body in bodies:
        response = httpx.post(sandbox.url + path, json=body, headers={**HEADERS, **BETA})
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_wrong_types_anywhere_never_answer_500(sandbox: SandboxServer, endpoint: str) -> None:
    path, flavour, bodies, streams = ENDPOINTS[endpoint]
    with httpx.Client(base_url=sandbox.url, timeout=10) as client:

        @settings(
            max_examples=150,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(body=mutated(bodies, streams), beta=st.booleans())
        def post(body: dict[str, Any], beta: bool) -> None:
            headers = {**HEADERS, **BETA} if beta else HEADERS
            with client.stream("POST", path, json=body, headers=headers) as response:
                text = response.read().decode()
            assert response.status_code < 500, text
            if response.status_code >= 400:
                check_envelope(flavour, response)
            elif response.headers["content-type"].startswith("text/event-stream"):
                check_stream_end(path, text)
            else:
                payload = json.loads(text)
                assert payload.get("error") is None and payload.get("type") != "error", text

        post()


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": "demo", "messages": [{"role": "user", "content": "\\ud800"}]}',
        b'{"model": "demo", "messages": [{"role": "user", "content": "hi"}], "n": NaN}',
        b'{"model": "demo", "messages": [{"role": "user", "content": "hi"}], "top_p": 1e999}',
        b'{"model": "demo", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"model": "demo", "messages": [{"role": "user", "content": "\xff"}]}',
    ],
    ids=["lone-surrogate", "nan", "infinity", "deep", "not-utf8"],
)
def test_bodies_that_are_not_quite_json(sandbox: SandboxServer, raw: bytes) -> None:
    for path in ("/v1/chat/completions", "/v1/responses", "/v1/messages"):
        response = httpx.post(
            sandbox.url + path, content=raw, headers={**HEADERS, "content-type": "application/json"}
        )
        assert response.status_code == 400, response.text
        flavour = "anthropic" if path == "/v1/messages" else "openai"
        check_envelope(flavour, response)


def test_paired_surrogates_are_fine(sandbox: SandboxServer) -> None:
    raw = b'{"model": "demo", "messages": [{"role": "user", "content": "\\ud83d\\ude00"}]}'
    response = httpx.post(sandbox.url + "/v1/chat/completions", content=raw, headers=HEADERS)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"].endswith("\U0001f600")
