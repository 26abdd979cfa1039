"""The valid bodies tests/sandbox/test_wrong_types.py mutates: several per endpoint of the
sandbox, with histories, tools, images and formats, and which API's envelope each uses."""

from __future__ import annotations

from typing import Any

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "a city"},
        "days": {"type": ["integer", "null"]},
        "unit": {"type": "string", "enum": ["c", "f"]},
        "where": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {}}]},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["city", "days", "unit", "where", "tags"],
    "additionalProperties": False,
}
IMAGE = "data:image/png;base64,AAAA"
CHAT_HISTORY = [
    {"role": "system", "content": "be brief"},
    {"role": "developer", "content": [{"type": "text", "text": "really brief"}]},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "what is"},
            {"type": "image_url", "image_url": {"url": IMAGE, "detail": "low"}},
        ],
    },
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "sunny"}]},
]
CHAT_TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_weather", "description": "d", "parameters": SCHEMA},
    },
    {"type": "function", "function": {"name": "get_time", "strict": True}},
]
CHAT = [
    {
        "model": "demo@chunks=3",
        "messages": CHAT_HISTORY,
        "tools": CHAT_TOOLS,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": SCHEMA}},
        "stream_options": {"include_usage": True},
        "max_completion_tokens": 50,
        "n": 2,
        "stop": ["zzz"],
        "temperature": 0.5,
    },
    {
        "model": "demo@parallel=1",
        "messages": [*CHAT_HISTORY, {"role": "user", "content": "and tomorrow?"}],
        "tools": CHAT_TOOLS,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": True,
        "max_tokens": 50,
        "stop": "zzz",
    },
    {
        "model": "demo@tool=Bash",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": CHAT_TOOLS,
        "tool_choice": "required",
    },
]
COMPLETIONS = [
    {
        "model": "demo",
        "prompt": ["say hi", "and more"],
        "max_tokens": 20,
        "n": 2,
        "stop": ["zz"],
        "echo": True,
        "stream_options": {"include_usage": True},
    },
    {"model": "demo@chunks=2", "prompt": [[1, 2, 3], [4]], "suffix": "x", "logprobs": None},
]
EMBEDDINGS = [
    {
        "model": "embed",
        "input": ["alpha beta", "gamma"],
        "dimensions": 16,
        "encoding_format": "base64",
    },
    {"model": "embed", "input": [[1, 2], [3]], "encoding_format": "float", "user": "u"},
]
CLAUDE_HISTORY = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}},
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": "AA"},
            },
        ],
    },
    {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "t", "signature": "s"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "P"}},
        ],
    },
    {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "content": [{"type": "text", "text": "sunny"}],
                "is_error": False,
            }
        ],
    },
    {"role": "system", "content": [{"type": "text", "text": "be brief"}]},
]
CLAUDE_TOOLS = [
    {
        "name": "get_weather",
        "description": "d",
        "input_schema": SCHEMA,
        "cache_control": {"type": "ephemeral"},
    },
    {"type": "custom", "name": "get_time", "input_schema": {"type": "object"}},
    {"type": "web_search_20250305", "name": "web_search", "max_uses": 2},
]
OUTPUT = {"format": {"type": "json_schema", "schema": SCHEMA}, "effort": "low"}
MESSAGES = [
    {
        "model": "claude@chunks=3",
        "max_tokens": 100,
        "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
        "messages": CLAUDE_HISTORY,
        "tools": CLAUDE_TOOLS,
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        "stop_sequences": ["zzz"],
        "metadata": {"user_id": "u"},
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "output_config": OUTPUT,
    },
    {
        "model": "claude@parallel=1",
        "max_tokens": 100,
        "system": "be brief",
        "messages": [*CLAUDE_HISTORY, {"role": "user", "content": "and tomorrow?"}],
        "tools": CLAUDE_TOOLS,
        "tool_choice": {"type": "tool", "name": "get_weather"},
        "output_format": {"type": "json_schema", "schema": SCHEMA},
    },
    {
        "model": "claude@tool=Bash",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
        "tool_choice": {"type": "any"},
        "tools": CLAUDE_TOOLS,
    },
]
COUNT_TOKENS = [{k: v for k, v in body.items() if k != "max_tokens"} for body in MESSAGES[:2]]
RESPONSES_HISTORY = [
    {"role": "developer", "content": "be brief"},
    {
        "type": "message",
        "role": "user",
        "content": [
            {"type": "input_text", "text": "what is"},
            {"type": "input_image", "image_url": IMAGE, "detail": "auto"},
        ],
    },
    {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "t"}],
        "encrypted_content": "e",
    },
    {"type": "function_call", "call_id": "call_1", "name": "look", "arguments": '{"q": "x"}'},
    {
        "type": "function_call_output",
        "call_id": "call_1",
        "output": [{"type": "input_text", "text": "found"}],
    },
]
RESPONSES_TOOLS = [
    {"type": "function", "name": "look", "parameters": SCHEMA, "strict": True},
    {
        "type": "namespace",
        "name": "crm",
        "description": "d",
        "tools": [{"type": "function", "name": "find", "parameters": {"type": "object"}}],
    },
    {"type": "web_search"},
    {"type": "custom", "name": "apply_patch", "format": {"type": "text"}},
]
RESPONSES = [
    {
        "model": "demo@chunks=3",
        "instructions": "be brief",
        "input": RESPONSES_HISTORY,
        "tools": RESPONSES_TOOLS,
        "tool_choice": "auto",
        "max_output_tokens": 100,
        "text": {"format": {"type": "json_schema", "name": "x", "schema": SCHEMA}},
        "reasoning": {"effort": "low", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "stream_options": {"include_obfuscation": False},
        "metadata": {"k": "v"},
        "store": False,
        "temperature": 0.3,
    },
    {
        "model": "demo@parallel=1",
        "input": [
            *RESPONSES_HISTORY,
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "ok", "annotations": []}],
            },
            {"role": "user", "content": "and now"},
        ],
        "tools": RESPONSES_TOOLS,
        "tool_choice": {"type": "function", "name": "look"},
        "parallel_tool_calls": True,
        "text": {"format": {"type": "json_object"}, "verbosity": "low"},
    },
    {
        "model": "demo@tool=shell",
        "input": "hi",
        "tools": RESPONSES_TOOLS,
        "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "web_search"}]},
    },
]
# name: (path, the API's flavour, valid bodies, whether it streams)
ENDPOINTS: dict[str, tuple[str, str, list[dict[str, Any]], bool]] = {
    "chat": ("/v1/chat/completions", "openai", CHAT, True),
    "completions": ("/v1/completions", "openai", COMPLETIONS, True),
    "embeddings": ("/v1/embeddings", "openai", EMBEDDINGS, False),
    "responses": ("/v1/responses", "openai", RESPONSES, True),
    "messages": ("/v1/messages", "anthropic", MESSAGES, True),
    "count_tokens": ("/v1/messages/count_tokens", "anthropic", COUNT_TOKENS, False),
}
