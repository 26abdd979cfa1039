"""Every client shape × every provider kind × stream or not × text or tool call.

Through the running gateway, with each official SDK and its own stream helpers, against
a loopback upstream speaking each provider's exact wire format. Usage is checked against
the truth: the upstream request the sandbox received is replayed to it directly, and the
usage it reports then is what the client and the usage record must show."""

import json
from dataclasses import dataclass

import anthropic
import httpx
import openai
import pytest

from tests.proxy.conftest import records

QUESTION = "What is the weather in Paris for three days?"
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"],
}
EXPECTED_ARGS = {"city": "sandbox", "days": 42}  # the sandbox fills schemas this way


@dataclass
class Result:
    text: str
    tool_name: str | None
    tool_args: dict | None
    stop: str  # normalised: "stop" or "tool"
    input_tokens: int
    output_tokens: int
    cost: float | None


def chat(url: str, key: str, model: str, stream: bool, tool: bool) -> Result:
    client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
    kwargs = {"model": model, "messages": [{"role": "user", "content": QUESTION}]}
    if tool:
        kwargs["tools"] = [
            {"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}
        ]
    if stream:
        with client.chat.completions.stream(**kwargs, stream_options={"include_usage": True}) as s:
            answer = s.get_final_completion()
    else:
        answer = client.chat.completions.create(**kwargs)
    choice = answer.choices[0]
    call = (choice.message.tool_calls or [None])[0]
    return Result(
        text=choice.message.content or "",
        tool_name=call.function.name if call else None,
        tool_args=json.loads(call.function.arguments) if call else None,
        stop={"stop": "stop", "tool_calls": "tool"}[choice.finish_reason],
        input_tokens=answer.usage.prompt_tokens,
        output_tokens=answer.usage.completion_tokens,
        cost=(answer.usage.model_extra or {}).get("cost"),
    )


def messages(url: str, key: str, model: str, stream: bool, tool: bool) -> Result:
    client = anthropic.Anthropic(base_url=url, api_key=key, max_retries=0)
    kwargs = {
        "model": model,
        "max_tokens": 256,
        "messages": [{"role": "user", "content": QUESTION}],
    }
    if tool:
        kwargs["tools"] = [{"name": "get_weather", "input_schema": SCHEMA}]
    cost = None
    if stream:
        with client.messages.stream(**kwargs) as s:
            for event in s:  # the SDK's accumulator keeps only usage fields it knows
                if event.type == "message_delta":
                    cost = (event.usage.model_extra or {}).get("cost")
            message = s.get_final_message()
    else:
        message = client.messages.create(**kwargs)
        cost = (message.usage.model_extra or {}).get("cost")
    text = "".join(b.text for b in message.content if b.type == "text")
    call = next((b for b in message.content if b.type == "tool_use"), None)
    return Result(
        text=text,
        tool_name=call.name if call else None,
        tool_args=call.input if call else None,
        stop={"end_turn": "stop", "tool_use": "tool"}[message.stop_reason],
        input_tokens=message.usage.input_tokens + (message.usage.cache_read_input_tokens or 0),
        output_tokens=message.usage.output_tokens,
        cost=cost,
    )


def responses(url: str, key: str, model: str, stream: bool, tool: bool) -> Result:
    client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
    kwargs = {"model": model, "input": QUESTION}
    if tool:
        kwargs["tools"] = [
            {"type": "function", "name": "get_weather", "parameters": SCHEMA, "strict": False}
        ]
    if stream:
        with client.responses.stream(**kwargs) as s:
            response = s.get_final_response()
    else:
        response = client.responses.create(**kwargs)
    call = next((item for item in response.output if item.type == "function_call"), None)
    assert response.status == "completed"
    return Result(
        text=response.output_text,
        tool_name=call.name if call else None,
        tool_args=json.loads(call.arguments) if call else None,
        stop="tool" if call else "stop",
        input_tokens=response.usage.input_tokens,
        output_tokens=response.usage.output_tokens,
        cost=(response.usage.model_extra or {}).get("cost"),
    )


def upstream_truth(sandbox) -> tuple[int, int]:
    """Replays the request the upstream received, unstreamed, for its usage."""
    sent = sandbox.state.requests[-1]
    body = {**sent["body"], "stream": False}
    body.pop("stream_options", None)
    headers = {"authorization": "Bearer x", "anthropic-version": "2023-06-01"}
    answer = httpx.post(sandbox.url + sent["path"], json=body, headers=headers).json()
    usage = answer["usage"]
    if sent["path"].endswith("/messages"):
        return usage["input_tokens"] + usage.get("cache_read_input_tokens", 0), usage[
            "output_tokens"
        ]
    if sent["path"].endswith("/responses"):
        return usage["input_tokens"], usage["output_tokens"]
    return usage["prompt_tokens"], usage["completion_tokens"]


def upstream_path(client: str, upstream: str) -> str:
    """Where the call went: the client's own API on its own kind (native), else the
    provider kind's chat API (translated)."""
    if upstream == "anthropic":
        return "/v1/messages"
    return "/v1/responses" if client == "responses" else "/v1/chat/completions"


CLIENTS = {"chat": chat, "messages": messages, "responses": responses}


@pytest.mark.parametrize("tool", [False, True], ids=["text", "tool"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("upstream", ["openai", "anthropic"])
@pytest.mark.parametrize("client", list(CLIENTS))
def test_matrix(asgi_server, matrix_routes, tenant, client, upstream, stream, tool):
    result = CLIENTS[client](asgi_server.url, tenant.secret, f"via-{upstream}", stream, tool)

    sent = matrix_routes.state.requests[-1]
    assert sent["path"] == upstream_path(client, upstream)
    assert sent["stream"] is stream
    if tool:
        assert result.tool_name == "get_weather" and result.tool_args == EXPECTED_ARGS
        assert result.stop == "tool"
    else:
        assert result.text.startswith("Hello from the sandbox. You said: What is the weather")
        assert result.stop == "stop" and result.tool_name is None

    truth_in, truth_out = upstream_truth(matrix_routes)
    assert (result.input_tokens, result.output_tokens) == (truth_in, truth_out)
    (record,) = records(1)
    assert (record.input_tokens, record.output_tokens) == (truth_in, truth_out)
    assert record.status == "ok" and not record.tokens_estimated and record.endpoint == client
    expected_pico = truth_in * 1_500_000 + truth_out * 2_250_000
    assert record.cost_pico == expected_pico
    assert result.cost == pytest.approx(expected_pico / 1e12, rel=0, abs=0)
