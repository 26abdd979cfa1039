"""proxy/translate/shapes/responses.render: a whole canonical answer as a Response object that the
openai SDK validates, strictly and through `client.responses.create`."""

import httpx
import openai
import orjson
from openai.types.responses import Response

from proxy.translate.canonical import (
    Answer,
    Finish,
    Start,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)
from proxy.translate.errors import ProxyError
from proxy.translate.shapes import responses


def answer(*events) -> Answer:
    return Answer.of([Start("chatcmpl-1", "up-model"), *events])


def rendered(a: Answer, cost_usd: float | None = 0.0125, **kw) -> tuple[dict, Response]:
    body = responses.render(a, model="my-model", cost_usd=cost_usd, **kw)
    return body, Response.model_validate(body)


def test_text_answer_is_one_completed_message():
    body, parsed = rendered(
        answer(TextDelta("Hel"), TextDelta("lo."), Finish("stop"), Usage(20, 7, 12))
    )
    assert parsed.output_text == "Hello."
    assert parsed.status == "completed" and parsed.incomplete_details is None
    assert parsed.id.startswith("resp_") and parsed.object == "response"
    assert parsed.model == "my-model" and parsed.completed_at is not None
    [item] = body["output"]
    assert item["type"] == "message" and item["id"].startswith("msg_")
    assert (item["role"], item["status"]) == ("assistant", "completed")
    assert item["content"] == [{"type": "output_text", "text": "Hello.", "annotations": []}]
    assert body["usage"] == {
        "input_tokens": 20,
        "input_tokens_details": {"cached_tokens": 12, "cache_write_tokens": 0},
        "output_tokens": 7,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 27,
        "cost": 0.0125,
    }


def test_tool_calls_are_function_call_items_after_the_text():
    a = answer(
        TextDelta("Checking both."),
        ToolCallStart(0, "call_a", "weather"), ToolCallDelta(0, '{"city":'), ToolCallDelta(0, '"Oslo"}'),
        ToolCallStart(1, "toolu_b", "clock"), ToolCallDelta(1, "{}"),
        Finish("tool_calls"), Usage(5, 9),
    )  # fmt: skip
    _, parsed = rendered(a)
    assert [i.type for i in parsed.output] == ["message", "function_call", "function_call"]
    assert parsed.output_text == "Checking both."
    calls = [(i.call_id, i.name, orjson.loads(i.arguments), i.status) for i in parsed.output[1:]]
    assert calls == [
        ("call_a", "weather", {"city": "Oslo"}, "completed"),
        ("toolu_b", "clock", {}, "completed"),
    ]
    ids = [i.id for i in parsed.output[1:]]
    assert all(i.startswith("fc_") for i in ids) and len(set(ids)) == 2
    assert parsed.status == "completed"


def test_a_bare_tool_call_has_no_message_item():
    _, parsed = rendered(answer(ToolCallStart(0, "call_1", "f"), ToolCallDelta(0, "{}")))
    assert [i.type for i in parsed.output] == ["function_call"]
    assert parsed.output_text == ""


def test_an_empty_answer_is_an_empty_message():
    _, parsed = rendered(answer(Finish("stop")))
    assert [(i.type, i.content[0].text) for i in parsed.output] == [("message", "")]


def test_length_makes_the_response_incomplete():
    body, parsed = rendered(answer(TextDelta("Once upon"), Finish("length"), Usage(3, 2)))
    assert parsed.status == "incomplete"
    assert parsed.incomplete_details.reason == "max_output_tokens"
    assert body["output"][0]["status"] == "incomplete" and body["completed_at"] is None
    assert parsed.output_text == "Once upon"


def test_content_filter_makes_the_response_incomplete():
    _, parsed = rendered(answer(TextDelta("x"), Finish("content_filter")))
    assert parsed.incomplete_details.reason == "content_filter"


def test_unknown_usage_and_cost_are_left_out():
    body, parsed = rendered(answer(TextDelta("hi")), cost_usd=None)
    assert body["usage"] is None and parsed.usage is None
    body, _ = rendered(answer(TextDelta("hi"), Usage(1, 1)), cost_usd=None)
    assert "cost" not in body["usage"]


def test_the_request_settings_are_echoed():
    request = responses.parse({
        "model": "my-model", "input": "hi", "instructions": "Be brief.", "temperature": 0.3,
        "max_output_tokens": 99, "tool_choice": {"type": "function", "name": "f"},
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "metadata": {"k": "v"}, "parallel_tool_calls": False, "user": "u",
        "text": {"format": {"type": "json_object"}},
    })  # fmt: skip
    _, parsed = rendered(answer(TextDelta("{}")), request=request)
    assert parsed.instructions == "Be brief." and parsed.max_output_tokens == 99
    assert (parsed.temperature, parsed.top_p) == (0.3, 1.0)
    assert parsed.tool_choice.name == "f" and parsed.tools[0].name == "f"
    assert parsed.parallel_tool_calls is False and parsed.metadata == {"k": "v"}
    assert parsed.text.format.type == "json_object" and parsed.user == "u"
    defaults = responses.render(answer(), model="m", cost_usd=None)
    assert (defaults["tool_choice"], defaults["tools"], defaults["parallel_tool_calls"]) == (
        "auto", [], True,
    )  # fmt: skip


def test_the_sdk_reads_it_from_the_wire():
    a = answer(
        TextDelta("Sunny."), ToolCallStart(0, "call_9", "weather"),
        ToolCallDelta(0, '{"city":"Oslo"}'), Finish("tool_calls"), Usage(11, 4, 2),
    )  # fmt: skip
    wire = orjson.dumps(responses.render(a, model="my-model", cost_usd=0.5))
    client = openai.OpenAI(
        base_url="http://gateway.test/v1", api_key="x", max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(
            lambda _: httpx.Response(200, content=wire, headers={"content-type": "application/json"})
        )),
    )  # fmt: skip
    got = client.responses.create(model="my-model", input="weather?")
    assert got.output_text == "Sunny."
    [call] = [i for i in got.output if i.type == "function_call"]
    assert (call.call_id, call.name, call.arguments) == ("call_9", "weather", '{"city":"Oslo"}')
    assert (got.usage.input_tokens, got.usage.output_tokens, got.usage.total_tokens) == (11, 4, 15)
    assert got.usage.input_tokens_details.cached_tokens == 2


def test_error_body_is_openais_envelope():
    err = ProxyError(400, "Bad input.", param="input", code="invalid_value")
    assert orjson.loads(responses.error_body(err)) == {
        "error": {
            "message": "Bad input.",
            "type": "invalid_request_error",
            "param": "input",
            "code": "invalid_value",
        }
    }
