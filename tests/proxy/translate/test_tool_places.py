"""A tool the target cannot carry is named where the client put it, even when namespace
tools flattened ahead of it move its canonical index."""

import pytest

from proxy.translate.errors import ProxyError
from proxy.translate.providers import KINDS
from proxy.translate.shapes import SHAPES
from proxy.translate.wire import Upstream

FUNCTION = {"type": "function", "parameters": {"type": "object", "properties": {}}}
BODY = {
    "model": "m",
    "input": "hi",
    "tools": [
        {"type": "namespace", "name": "agents", "tools": [
            {**FUNCTION, "name": "spawn"}, {**FUNCTION, "name": "close"}]},
        {"type": "web_search", "external_web_access": False},
    ],
}  # fmt: skip
UPSTREAM = Upstream("http://127.0.0.1:9/v1", "k", "up")


def test_the_refusal_names_the_clients_index():
    request = SHAPES["responses"].parse(BODY)
    assert [t.name for t in request.tools][:2] == ["agents__spawn", "agents__close"]
    with pytest.raises(ProxyError) as caught:
        KINDS["openai"].build(UPSTREAM, request)
    assert caught.value.param == "tools[1]" and "tools[1]" in caught.value.message


def test_dropped_names_the_clients_index_too():
    request = SHAPES["responses"].parse(BODY)
    request.drop_unsupported = True
    KINDS["openai"].build(UPSTREAM, request)
    assert "tools[1]" in request.dropped
    request = SHAPES["responses"].parse(BODY)
    KINDS["anthropic"].build(UPSTREAM, request)
    assert "tools[1].external_web_access" in request.dropped
