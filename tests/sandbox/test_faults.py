"""Fault injection as the official SDKs see it, and the request log's `cancelled` flag."""

import json
import time

import anthropic
import httpx
import openai
import pytest

from sandbox import SandboxServer

HELLO = [{"role": "user", "content": "hi there"}]


def is_dropped_connection(error: BaseException) -> bool:
    # The SDKs let a mid-stream transport error through unwrapped, from whichever httpx
    # flavour they are built on, so match it by name.
    return isinstance(error, openai.APIConnectionError | anthropic.APIConnectionError) or (
        type(error).__name__ == "RemoteProtocolError"
    )


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, openai.InternalServerError),
        (429, openai.RateLimitError),
        (503, openai.InternalServerError),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_openai_status_faults(
    oai: openai.OpenAI, status: int, error: type[Exception], stream: bool
) -> None:
    with pytest.raises(error) as caught:
        oai.chat.completions.create(model=f"demo@fault={status}", messages=HELLO, stream=stream)
    assert caught.value.status_code == status
    body = caught.value.body
    assert set(body) == {"message", "type", "param", "code"}
    if status == 429:
        assert caught.value.response.headers["retry-after"] == "1"


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (500, anthropic.InternalServerError, "api_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (503, anthropic.InternalServerError, "overloaded_error"),
    ],
)
def test_anthropic_status_faults(
    claude: anthropic.Anthropic, status: int, error: type[Exception], kind: str
) -> None:
    with pytest.raises(error) as caught:
        claude.messages.create(model=f"claude@fault={status}", max_tokens=10, messages=HELLO)
    assert caught.value.status_code == status
    assert caught.value.body["type"] == "error"
    assert caught.value.body["error"]["type"] == kind


def test_bad_options_answer_400_in_each_envelope(
    oai: openai.OpenAI, claude: anthropic.Anthropic
) -> None:
    with pytest.raises(openai.BadRequestError) as oai_error:
        oai.chat.completions.create(model="demo@chunks=lots", messages=HELLO)
    assert "chunks" in oai_error.value.body["message"]
    assert oai_error.value.body["param"] == "model"
    with pytest.raises(anthropic.BadRequestError) as claude_error:
        claude.messages.create(model="claude@fault=boom", max_tokens=5, messages=HELLO)
    assert claude_error.value.body["error"]["type"] == "invalid_request_error"


def test_drop(oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(model="demo@fault=drop", messages=HELLO)

    stream = oai.chat.completions.create(
        model="demo@fault=drop,chunks=10", messages=HELLO, stream=True
    )
    received = []
    with pytest.raises(Exception) as caught:
        received.extend(stream)
    assert is_dropped_connection(caught.value)
    assert len(received) == 3

    with (
        pytest.raises(Exception) as caught,
        claude.messages.stream(model="claude@fault=drop", max_tokens=50, messages=HELLO) as s,
    ):
        s.get_final_message()
    assert is_dropped_connection(caught.value)


def test_timeout(oai: openai.OpenAI, sandbox: SandboxServer) -> None:
    impatient = oai.with_options(timeout=0.3)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        impatient.chat.completions.create(model="demo@fault=timeout", messages=HELLO)
    assert time.monotonic() - started < 2
    record = sandbox.state.wait_for(lambda r: r["model"] == "demo@fault=timeout" and r["cancelled"])
    assert record is not None and record["status"] is None


def test_invalid_json(oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    with pytest.raises(json.JSONDecodeError):
        oai.chat.completions.create(model="demo@fault=invalid_json", messages=HELLO)
    with pytest.raises(json.JSONDecodeError):
        list(
            oai.chat.completions.create(
                model="demo@fault=invalid_json", messages=HELLO, stream=True
            )
        )
    with (
        pytest.raises(json.JSONDecodeError),
        claude.messages.stream(
            model="claude@fault=invalid_json", max_tokens=50, messages=HELLO
        ) as stream,
    ):
        stream.get_final_message()


def test_first_byte_delay(oai: openai.OpenAI) -> None:
    started = time.monotonic()
    oai.chat.completions.create(model="demo", messages=HELLO)
    quick = time.monotonic() - started
    started = time.monotonic()
    oai.chat.completions.create(model="demo@first_byte_ms=300", messages=HELLO)
    slow = time.monotonic() - started
    assert slow >= 0.3 > quick


def test_client_closing_a_slow_stream_is_recorded(sandbox: SandboxServer) -> None:
    body = {"model": "demo@chunks=50,delay_ms=100", "messages": HELLO, "stream": True}
    with httpx.stream(
        "POST", sandbox.url + "/v1/chat/completions", json=body, headers={"authorization": "k"}
    ) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
        next(lines)
    closed_at = time.monotonic()
    record = sandbox.state.wait_for(lambda r: r["model"] == body["model"] and r["cancelled"])
    assert record is not None
    assert record["cancelled_at"] - closed_at < 1.0
    assert record["stream"] is True


def test_finished_stream_is_not_cancelled(oai: openai.OpenAI, sandbox: SandboxServer) -> None:
    list(oai.chat.completions.create(model="demo@delay_ms=1", messages=HELLO, stream=True))
    record = sandbox.state.wait_for(lambda r: r["model"] == "demo@delay_ms=1" and r["finished_at"])
    assert record is not None and not record["cancelled"]


def test_unknown_path_and_missing_key(sandbox: SandboxServer) -> None:
    response = httpx.get(sandbox.url + "/v2/nothing", headers={"authorization": "k"})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"
    response = httpx.post(sandbox.url + "/v1/chat/completions", json={"model": "demo"})
    assert response.status_code == 401
