"""An Anthropic Messages request, validated as Anthropic does, in canonical form.

Errors name the field the way Anthropic's own do (`messages.0.content.1.type: …`).
"""

import orjson

from proxy.translate.canonical import (
    ChatRequest,
    ImagePart,
    Message,
    Part,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
)
from proxy.translate.errors import ProxyError

CANONICAL_FIELDS = {
    "model", "messages", "system", "max_tokens", "stream", "temperature", "top_p",
    "stop_sequences", "tools", "tool_choice", "metadata",
}  # fmt: skip
# Extended-thinking blocks from earlier turns mean nothing to another provider's model.
DROPPED_BLOCKS = frozenset({"thinking", "redacted_thinking"})
CHOICES = {"auto": "auto", "any": "required", "tool": "tool", "none": "none"}


def _bad(field: str, problem: str) -> ProxyError:
    return ProxyError(400, f"{field}: {problem}", param=field)


def _number(body: dict, key: str) -> float | None:
    value = body.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _bad(key, "Input should be a valid number.")
    return value


def parse(body: dict) -> ChatRequest:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("model", "Field required: name the model to use, as a string.")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise _bad("max_tokens", "Field required: set the most tokens the answer may use.")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise _bad("max_tokens", "Input should be an integer of at least 1.")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise _bad("messages", "Input should be a non-empty list of messages.")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _bad("stream", "Input should be a valid boolean.")
    messages = _system(body.get("system"))
    for i, raw in enumerate(raw_messages):
        messages.extend(_message(raw, f"messages.{i}"))
    choice, parallel = _tool_choice(body.get("tool_choice"))
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _bad("metadata", "Input should be an object.")
    user = (metadata or {}).get("user_id")
    return ChatRequest(
        model=model,
        messages=messages,
        stream=stream,
        include_usage=True,  # Anthropic streams always carry usage
        max_tokens=max_tokens,
        temperature=_number(body, "temperature"),
        top_p=_number(body, "top_p"),
        stop=_stop_sequences(body.get("stop_sequences")),
        tools=_tools(body.get("tools")),
        tool_choice=choice,
        parallel_tool_calls=parallel,
        user=user if isinstance(user, str) else None,
        extra={k: v for k, v in body.items() if k not in CANONICAL_FIELDS},
    )


def _system(raw: object) -> list[Message]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        return [Message("system", [TextPart(raw)])]
    if not isinstance(raw, list):
        raise _bad("system", "Input should be a string or a list of text blocks.")
    texts = []
    for i, block in enumerate(raw):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise _bad(f"system.{i}.type", "System blocks must be text blocks.")
        texts.append(_text(block, f"system.{i}"))
    return [Message("system", [TextPart("\n\n".join(texts))])] if texts else []


def _text(block: dict, where: str) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise _bad(f"{where}.text", "Input should be a valid string.")
    return text


def _message(raw: object, where: str) -> list[Message]:
    if not isinstance(raw, dict):
        raise _bad(where, "Each message should be an object with a role and content.")
    role = raw.get("role")
    if role not in ("user", "assistant"):
        raise _bad(f"{where}.role", "Input should be 'user' or 'assistant'.")
    content = raw.get("content")
    if isinstance(content, str):
        return [Message(role, [TextPart(content)])]
    if not isinstance(content, list):
        raise _bad(f"{where}.content", "Input should be a string or a list of content blocks.")
    out: list[Message] = []
    current = Message(role)
    for j, block in enumerate(content):
        at = f"{where}.content.{j}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            current.content.append(TextPart(_text(block, at)))
        elif kind == "image":
            current.content.append(_image(block, at))
        elif kind == "tool_use" and role == "assistant":
            current.tool_calls.append(_tool_use(block, at))
        elif kind == "tool_result" and role == "user":
            if current.content:
                out.append(current)
                current = Message(role)
            out.append(_tool_result(block, at))
        elif kind not in DROPPED_BLOCKS:
            allowed = "text, image, tool_use" if role == "assistant" else "text, image, tool_result"
            raise _bad(
                f"{at}.type", f"Unsupported block type {kind!r} in a {role} message; use {allowed}."
            )
    if current.content or current.tool_calls or not out:
        out.append(current)
    return out


def _image(block: dict, at: str) -> ImagePart:
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "base64" and isinstance(source, dict):
        media_type, data = source.get("media_type"), source.get("data")
        if not isinstance(media_type, str) or not isinstance(data, str):
            raise _bad(f"{at}.source", "A base64 image needs a media_type and data, as strings.")
        return ImagePart(media_type=media_type, data=data)
    if kind == "url" and isinstance(source, dict) and isinstance(source.get("url"), str):
        return ImagePart(url=source["url"])
    raise _bad(f"{at}.source", "An image source should be base64 data or a url.")


def _tool_use(block: dict, at: str) -> ToolCall:
    id_, name, input_ = block.get("id"), block.get("name"), block.get("input")
    if not isinstance(id_, str) or not isinstance(name, str):
        raise _bad(at, "A tool_use block needs an id and a name, as strings.")
    if not isinstance(input_, dict):
        raise _bad(f"{at}.input", "Input should be an object.")
    return ToolCall(id=id_, name=name, arguments=orjson.dumps(input_).decode())


def _tool_result(block: dict, at: str) -> Message:
    tool_use_id = block.get("tool_use_id")
    if not isinstance(tool_use_id, str):
        raise _bad(f"{at}.tool_use_id", "Field required: the id of the tool_use it answers.")
    content = block.get("content", "")
    parts: list[Part] = []
    if isinstance(content, str):
        parts.append(TextPart(content))
    elif isinstance(content, list):
        for k, item in enumerate(content):
            kind = item.get("type") if isinstance(item, dict) else None
            if kind == "text":
                parts.append(TextPart(_text(item, f"{at}.content.{k}")))
            elif kind == "image":
                parts.append(_image(item, f"{at}.content.{k}"))
            else:
                raise _bad(f"{at}.content.{k}.type", "Tool results may hold text and image blocks.")
    else:
        raise _bad(f"{at}.content", "Input should be a string or a list of content blocks.")
    return Message("tool", parts, tool_call_id=tool_use_id, is_error=block.get("is_error") is True)


def _tools(raw: object) -> list[Tool]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _bad("tools", "Input should be a list of tools.")
    tools = []
    for i, tool in enumerate(raw):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise _bad(f"tools.{i}.name", "Field required: each tool needs a name.")
        if tool.get("type") not in (None, "custom"):
            raise _bad(f"tools.{i}.type", "Server tools are not available for this model.")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            raise _bad(f"tools.{i}.input_schema", "Field required: a JSON schema object.")
        description = tool.get("description")
        tools.append(
            Tool(tool["name"], description if isinstance(description, str) else None, schema)
        )
    return tools


def _tool_choice(raw: object) -> tuple[ToolChoice | None, bool | None]:
    if raw is None:
        return None, None
    kind = raw.get("type") if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or kind not in CHOICES:
        raise _bad("tool_choice", "Input should be an object of type auto, any, tool or none.")
    name = raw.get("name")
    if kind == "tool" and not isinstance(name, str):
        raise _bad("tool_choice.name", "Field required: the tool to use.")
    disable = raw.get("disable_parallel_tool_use")
    if disable is not None and not isinstance(disable, bool):
        raise _bad("tool_choice.disable_parallel_tool_use", "Input should be a valid boolean.")
    choice = ToolChoice(CHOICES[kind], name if kind == "tool" else None)  # type: ignore[arg-type]
    return choice, (False if disable else None)


def _stop_sequences(raw: object) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise _bad("stop_sequences", "Input should be a list of strings.")
    return list(raw)
