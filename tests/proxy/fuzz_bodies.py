"""The rich valid bodies tests/proxy/test_fuzz.py mutates: one per /v1 endpoint, with
every field its shape knows (tools, tool calls and their results, images, content parts,
tool_choice, response formats)."""

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city"],
}
PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
PNG_DATA = PNG.split(",", 1)[1]


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


DEEP = nested(300)

CHAT = {
    "model": "M",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "name": "ann", "content": [
            {"type": "text", "text": "Weather in Paris?", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "And in Rome."},
            {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
        ]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
            {"id": "call_2", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "rain"}]},
        {"role": "developer", "content": "Answer in one line."},
        {"role": "user", "content": "Thanks. Summarise."},
    ],
    "tools": [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather by city", "parameters": SCHEMA,
        "strict": False}}],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "parallel_tool_calls": True,
    "response_format": {"type": "json_schema", "json_schema": {
        "name": "answer", "schema": {"type": "object", "properties": {}}, "strict": False}},
    "max_tokens": 64,
    "max_completion_tokens": 64,
    "temperature": 0.5,
    "top_p": 0.9,
    "n": 1,
    "stop": ["\n\n\n"],
    "seed": 7,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "logprobs": False,
    "user": "u-1",
    "metadata": {"team": "a"},
    "stream": False,
}  # fmt: skip
COMPLETIONS = {
    "model": "M", "prompt": ["Say hi", "Say bye"], "max_tokens": 16, "temperature": 0.2,
    "top_p": 1, "n": 1, "stop": ["\n\n\n"], "echo": False, "suffix": None, "user": "u-1",
    "logit_bias": {"50256": -100}, "seed": 1, "stream": False,
}  # fmt: skip
EMBEDDINGS = {"model": "M", "input": ["first text", "second text"], "encoding_format": "float",
              "user": "u-1"}  # fmt: skip
MESSAGES = {
    "model": "M",
    "max_tokens": 64,
    "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "Weather in Paris?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": PNG_DATA}},
        ]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
             "input": {"city": "Paris"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1",
             "content": [{"type": "text", "text": "sunny"}], "is_error": False},
            {"type": "text", "text": "Thanks. Summarise."},
        ]},
    ],
    "tools": [{"name": "get_weather", "description": "Weather by city", "input_schema": SCHEMA}],
    "tool_choice": {"type": "auto", "disable_parallel_tool_use": False},
    "temperature": 0.5,
    "top_p": 0.9,
    "top_k": 5,
    "stop_sequences": ["\n\n\n"],
    "metadata": {"user_id": "u-1"},
    "stream": False,
}  # fmt: skip
COUNT_TOKENS = {k: MESSAGES[k] for k in ("model", "system", "messages", "tools", "tool_choice")}
RESPONSES = {
    "model": "M",
    "instructions": "Be brief.",
    "input": [
        {"type": "message", "role": "developer",
         "content": [{"type": "input_text", "text": "You are a weather agent."}]},
        {"role": "user", "content": [
            {"type": "input_text", "text": "Weather in Paris?"},
            {"type": "input_image", "image_url": PNG, "detail": "low"},
        ]},
        {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
         "content": [{"type": "output_text", "text": "Checking.", "annotations": []}]},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather",
         "arguments": '{"city": "Paris"}', "id": "fc_1", "status": "completed"},
        {"type": "function_call", "call_id": "call_2", "name": "lookup",
         "namespace": "atlas", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {"type": "function_call_output", "call_id": "call_2",
         "output": [{"type": "input_text", "text": "found"}]},
        {"type": "message", "role": "developer", "content": "Answer in one line."},
        {"role": "user", "content": "Thanks. Summarise."},
    ],
    "tools": [
        {"type": "function", "name": "get_weather", "description": "Weather by city",
         "parameters": SCHEMA, "strict": False},
        {"type": "namespace", "name": "atlas", "description": "Places.", "tools": [
            {"type": "function", "name": "lookup", "description": "Finds a place.",
             "parameters": {"type": "object", "properties": {}}, "strict": False},
        ]},
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "max_output_tokens": 64,
    "temperature": 0.5,
    "top_p": 0.9,
    "text": {"format": {"type": "text"}, "verbosity": "low"},
    "reasoning": {"effort": "low", "summary": "auto"},
    "include": ["reasoning.encrypted_content"],
    "store": False,
    "metadata": {"team": "a"},
    "user": "u-1",
    "prompt_cache_key": "k-1",
    "client_metadata": {"thread": "t-1"},
    "stream": False,
}  # fmt: skip

ENDPOINTS = {  # endpoint → (path, body, streamable)
    "chat": ("/v1/chat/completions", CHAT, True),
    "completions": ("/v1/completions", COMPLETIONS, True),
    "embeddings": ("/v1/embeddings", EMBEDDINGS, False),
    "messages": ("/v1/messages", MESSAGES, True),
    "count_tokens": ("/v1/messages/count_tokens", COUNT_TOKENS, False),
    "responses": ("/v1/responses", RESPONSES, True),
}
