"""What the fake model says, independent of any provider's wire format.

Everything here is a pure function of the request, so a stream and a non-stream request
with the same body produce the same text, tool arguments and token counts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from itertools import cycle, pairwise
from typing import Any, Literal

from .wire import new_id

Reason = Literal["end", "length", "stop_sequence", "tool"]

GREETING = "Hello from the sandbox. You said:"
TOOL_PREFIX = "The tool returned:"
ECHO_WORDS = 20
IMAGE_TOKENS = 85
MESSAGE_OVERHEAD = 3
_WORD = re.compile(r"\S+")
_MEDIA = frozenset(
    {"image_url", "image", "input_image", "input_audio", "input_file", "document", "file"}
)
# Text parts as chat completions, Anthropic messages and the Responses API spell them.
TEXT_PARTS = frozenset({"text", "input_text", "output_text"})
# Messages that steer the model rather than take a turn in the conversation.
ASIDE_ROLES = frozenset({"system", "developer"})
_FILLER = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit")


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    input: dict[str, Any]
    arguments: str


@dataclass(slots=True)
class Reply:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    reason: Reason = "end"
    stop_sequence: str | None = None
    output_tokens: int = 0


def count_words(text: str) -> int:
    return len(text.split())


def kind_of(value: dict[str, Any], key: str = "type") -> str | None:
    """`value[key]` when it is a string: a `type` or `role` that is a list must not reach a
    set lookup, which would raise TypeError for it."""
    kind = value.get(key)
    return kind if isinstance(kind, str) else None


def _part_tokens(part: object) -> int:
    if isinstance(part, str):
        return count_words(part)
    if not isinstance(part, dict):
        return count_words(json.dumps(part))
    kind = kind_of(part)
    if kind in TEXT_PARTS:
        return count_words(str(part.get("text") or ""))
    if kind in _MEDIA:
        return IMAGE_TOKENS
    if kind == "tool_use":
        return 1 + count_words(json.dumps(part.get("input") or {}))
    if kind == "tool_result":
        return content_tokens(part.get("content"))
    return count_words(json.dumps(part))


def content_tokens(content: object) -> int:
    """Token count of a message's content: a string or a list of parts/blocks."""
    if content is None:
        return 0
    if isinstance(content, str):
        return count_words(content)
    if isinstance(content, list):
        return sum(_part_tokens(part) for part in content)
    return _part_tokens(content)


def content_text(content: object) -> str:
    """The readable text of a message's content; media parts are skipped."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else [content]
    texts: list[str] = []
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and kind_of(part) in TEXT_PARTS:
            texts.append(str(part.get("text") or ""))
        elif isinstance(part, dict) and part.get("type") == "tool_result":
            texts.append(content_text(part.get("content")))
    return " ".join(t for t in texts if t)


def last_turn(messages: list[Any]) -> dict[str, Any]:
    """The newest message or item that is not a system/developer aside; {} when none is.

    An instruction appended after a tool result does not make the tool result any less the
    thing the model answers.
    """
    for message in reversed(messages):
        if isinstance(message, dict) and kind_of(message, "role") not in ASIDE_ROLES:
            return message
    return {}


def tools_tokens(tools: object) -> int:
    return count_words(json.dumps(tools)) if tools else 0


def echo(text: str) -> str:
    said = " ".join(text.split()[:ECHO_WORDS])
    return f"{GREETING} {said}" if said else GREETING


def tool_echo(text: str) -> str:
    return f"{TOOL_PREFIX} {text}" if text else TOOL_PREFIX


def pad(text: str, chunks: int) -> str:
    """Lengthen a short answer with filler words so a stream of `chunks` pieces can carry it."""
    if len(text) >= chunks:
        return text
    words = [text] if text else []
    size = len(text)
    for word in cycle(_FILLER):
        if size >= chunks:
            break
        words.append(word)
        size += len(word) + 1
    return " ".join(words)


def schema_value(schema: object, depth: int = 0) -> Any:
    """A deterministic value satisfying a (simple) JSON schema; odd schemas get "sandbox"."""
    if not isinstance(schema, dict) or depth > 8:
        return "sandbox"
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf", "allOf"):
        listed = schema.get(key)
        options = (
            [s for s in listed if isinstance(s, dict) and s.get("type") != "null"]
            if isinstance(listed, list)
            else []
        )
        if options:
            return schema_value(options[0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties")
        props = props if isinstance(props, dict) else {}
        required = schema.get("required", list(props))
        names = required if isinstance(required, list) else list(props)
        return {
            name: schema_value(props.get(name), depth + 1)
            for name in names
            if isinstance(name, str)
        }
    if not isinstance(kind, str):
        return "sandbox"
    return {
        "string": "sandbox",
        "integer": 42,
        "number": 42,
        "boolean": True,
        "array": [],
        "null": None,
    }.get(kind, "sandbox")


def tool_call(name: str, schema: object, id_prefix: str) -> ToolCall:
    value = schema_value(schema) if isinstance(schema, dict) else {}
    arguments = value if isinstance(value, dict) else {}
    return ToolCall(
        id=new_id(id_prefix), name=name, input=arguments, arguments=json.dumps(arguments)
    )


def tool_reply(calls: list[ToolCall]) -> Reply:
    tokens = sum(1 + count_words(call.arguments) for call in calls)
    return Reply(tool_calls=calls, reason="tool", output_tokens=tokens)


def scripted_reply(name: str, id_prefix: str) -> Reply:
    """The `tool=NAME` option's answer: one call to NAME with arguments `{}`."""
    return tool_reply([tool_call(name, None, id_prefix)])


def structured(kind: object, schema: object, text: str) -> str | None:
    """The answer under a JSON response format, or None when the format is plain text."""
    if kind == "json_object":
        return json.dumps({"answer": text})
    if kind == "json_schema":
        return json.dumps(schema_value(schema if isinstance(schema, dict) else {}))
    return None


def text_reply(text: str, *, max_tokens: int | None, stops: list[str]) -> Reply:
    """Apply stop sequences and the token budget to a full answer."""
    hit: str | None = None
    cut = len(text)
    for stop in stops:
        at = text.find(stop) if stop else -1
        if 0 <= at < cut:
            cut, hit = at, stop
    text = text[:cut]
    if max_tokens is not None and count_words(text) > max_tokens:
        ends = [m.end() for m in _WORD.finditer(text)]
        text = text[: ends[max_tokens - 1]] if max_tokens > 0 else ""
        return Reply(text=text, reason="length", output_tokens=max_tokens)
    reason: Reason = "stop_sequence" if hit is not None else "end"
    return Reply(text=text, reason=reason, stop_sequence=hit, output_tokens=count_words(text))


def split_text(text: str, pieces: int) -> list[str]:
    """Split into `pieces` fragments on word starts, or on characters for short text."""
    starts = [m.start() for m in _WORD.finditer(text)] if pieces > 1 else []
    if len(starts) < pieces:
        return split_chars(text, pieces)
    bounds = [0, *(starts[i * len(starts) // pieces] for i in range(1, pieces)), len(text)]
    return [text[a:b] for a, b in pairwise(bounds)]


def split_chars(text: str, pieces: int) -> list[str]:
    pieces = max(1, min(pieces, len(text)))
    bounds = [i * len(text) // pieces for i in range(pieces + 1)]
    return [text[a:b] for a, b in pairwise(bounds)]


def as_stops(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for s in value if isinstance(s, str) and s]
    return []
