"""`tool=NAME`: a call to tool NAME with arguments `{}` unless the last turn is a tool result,
whatever the request offers; text after the tool result."""

import json

import anthropic
import openai
import pytest

from sandbox.options import OptionsError, parse_model

HELLO = [{"role": "user", "content": "hi there"}]
CHAT_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
CLAUDE_TOOL = {"name": "get_weather", "input_schema": CHAT_TOOL["function"]["parameters"]}
RESPONSES_TOOL = {"type": "function", "name": "get_weather", **CHAT_TOOL["function"]}


def test_the_option_parses() -> None:
    assert parse_model("demo@tool=Bash").tool == "Bash"
    assert parse_model("demo@tool=mcp__docs__search,chunks=2").tool == "mcp__docs__search"
    assert parse_model("demo").tool is None
    with pytest.raises(OptionsError, match="tool"):
        parse_model("demo@tool=has space")
    with pytest.raises(OptionsError, match="tool=NAME"):
        parse_model("demo@tools=x")


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("tools", [[], [CHAT_TOOL]], ids=["no-tools", "other-tools"])
def test_chat_calls_the_scripted_tool(oai: openai.OpenAI, stream: bool, tools: list) -> None:
    kwargs = {"model": "demo@tool=Bash", "messages": HELLO, **({"tools": tools} if tools else {})}
    if stream:
        with oai.chat.completions.stream(**kwargs, stream_options={"include_usage": True}) as s:
            completion = s.get_final_completion()
    else:
        completion = oai.chat.completions.create(**kwargs)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert (call.function.name, call.function.arguments) == ("Bash", "{}")
    assert call.id.startswith("call_") and call.type == "function"
    assert completion.usage.completion_tokens == 2


def test_chat_after_the_tool_result_answers_text(oai: openai.OpenAI) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "Bash", "arguments": "{}"}}
    messages = [
        *HELLO,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "no such tool"},
    ]
    completion = oai.chat.completions.create(model="demo@tool=Bash", messages=messages)
    assert completion.choices[0].message.content == "The tool returned: no such tool"
    assert completion.choices[0].finish_reason == "stop"
    # A system message after the result is not a new turn.
    messages.append({"role": "system", "content": "be brief"})
    again = oai.chat.completions.create(model="demo@tool=Bash", messages=messages)
    assert again.choices[0].message.content == "The tool returned: no such tool"


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("tools", [[], [CLAUDE_TOOL]], ids=["no-tools", "other-tools"])
def test_messages_calls_the_scripted_tool(
    claude: anthropic.Anthropic, stream: bool, tools: list
) -> None:
    kwargs = {"model": "claude@tool=Bash", "max_tokens": 50, "messages": HELLO}
    if tools:
        kwargs["tools"] = tools
    if stream:
        with claude.messages.stream(**kwargs) as s:
            message = s.get_final_message()
    else:
        message = claude.messages.create(**kwargs)
    assert message.stop_reason == "tool_use"
    [block] = message.content
    assert (block.type, block.name, block.input) == ("tool_use", "Bash", {})
    assert block.id.startswith("toolu_")


def test_messages_after_the_tool_result_answers_text(claude: anthropic.Anthropic) -> None:
    messages = [
        *HELLO,
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "unknown tool"}
            ],
        },
    ]
    message = claude.messages.create(model="claude@tool=Bash", max_tokens=50, messages=messages)
    assert message.content[0].text == "The tool returned: unknown tool"
    assert message.stop_reason == "end_turn"
    # Not a tool result: a plain user turn brings the scripted call back.
    messages.append({"role": "assistant", "content": "ok"})
    messages.append({"role": "user", "content": "again"})
    again = claude.messages.create(model="claude@tool=Bash", max_tokens=50, messages=messages)
    assert again.stop_reason == "tool_use"


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("tools", [[], [RESPONSES_TOOL]], ids=["no-tools", "other-tools"])
def test_responses_calls_the_scripted_tool(oai: openai.OpenAI, stream: bool, tools: list) -> None:
    kwargs = {"model": "demo@tool=shell", "input": "hi there", "tools": tools}
    if stream:
        with oai.responses.stream(**kwargs) as s:
            response = s.get_final_response()
    else:
        response = oai.responses.create(**kwargs)
    assert response.status == "completed"
    [call] = response.output
    assert (call.type, call.name, call.arguments) == ("function_call", "shell", "{}")
    assert call.call_id.startswith("call_")
    assert response.usage.output_tokens == 2


def test_responses_after_the_tool_result_answers_text(oai: openai.OpenAI) -> None:
    items = [
        {"role": "user", "content": "hi there"},
        {"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "unsupported call"},
    ]
    response = oai.responses.create(model="demo@tool=shell", input=items)
    assert response.output_text == "The tool returned: unsupported call"
    assert response.output[0].type == "message"


def test_responses_scripted_tool_in_a_namespace_names_it(oai: openai.OpenAI) -> None:
    namespace = {
        "type": "namespace",
        "name": "docs",
        "description": "d",
        "tools": [{"type": "function", "name": "search", "parameters": {"type": "object"}}],
    }
    response = oai.responses.create(model="demo@tool=search", input="hi", tools=[namespace])
    [call] = response.output
    assert (call.name, call.namespace, call.arguments) == ("search", "docs", "{}")


def test_the_scripted_call_wins_over_tool_choice_none(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="demo@tool=Bash", messages=HELLO, tools=[CHAT_TOOL], tool_choice="none"
    )
    assert [c.function.name for c in completion.choices[0].message.tool_calls] == ["Bash"]
    arguments = completion.choices[0].message.tool_calls[0].function.arguments
    assert json.loads(arguments) == {}
