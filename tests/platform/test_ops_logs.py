"""Log lines: one JSON object per line, carrying the /v1 request's id (platform_site.logs)."""

import io
import json
import logging

import httpx
import pytest

from platform_site.logs import JsonFormatter, TextFormatter, logging_config
from proxy import consumers, log_context
from tests.platform.test_ops_metrics import upstream  # noqa: F401  a fixture
from tests.proxy.conftest import _fresh_proxy_state, load_routes, make_tenant  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

ASK = [{"role": "user", "content": "hi"}]


@pytest.fixture
def json_lines():
    """What the root logger writes, through the JSON formatter of LOGGING."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def test_a_line_logged_during_a_v1_request_is_json_with_its_request_id(
    asgi_server,
    upstream,  # noqa: F811  the fixture imported above
    json_lines,
    monkeypatch,
):
    load_routes(upstream, {"demo": [{"model": "demo"}]})
    tenant = make_tenant()

    def broken(key_id: int) -> None:
        raise RuntimeError("marking the key's last use broke")

    monkeypatch.setattr(consumers.last_used, "mark", broken)
    r = httpx.post(
        asgi_server.url + "/v1/chat/completions",
        json={"model": "demo", "messages": ASK},
        headers={"Authorization": f"Bearer {tenant.secret}"},
        timeout=10,
    )
    assert r.status_code == 500
    request_id = r.headers["x-request-id"]
    lines = [line for line in json_lines() if line["logger"] == "proxy.consumers"]
    assert len(lines) == 1, json_lines()
    (line,) = lines
    assert line["request_id"] == request_id
    assert line["level"] == "ERROR"
    assert line["message"] == "Unhandled error in /v1/chat/completions"
    assert "RuntimeError: marking the key's last use broke" in line["exception"]
    assert line["time"].endswith("+00:00")  # UTC, ISO 8601

    logging.getLogger("tests").warning("outside any request")
    assert "request_id" not in json_lines()[-1]


def test_the_formats_of_logging():
    assert logging_config("json", "INFO")["handlers"]["console"]["formatter"] == "json"
    assert logging_config("text", "INFO")["handlers"]["console"]["formatter"] == "text"
    with pytest.raises(ValueError, match="json or text"):
        logging_config("xml", "INFO")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    token = log_context.request_id.set("req_abc")
    try:
        assert json.loads(JsonFormatter().format(record))["request_id"] == "req_abc"
        assert TextFormatter().format(record).endswith("INFO x hello you [req_abc]")
    finally:
        log_context.request_id.reset(token)
    assert "request_id" not in json.loads(JsonFormatter().format(record))
