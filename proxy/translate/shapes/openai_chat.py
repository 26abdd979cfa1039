"""The OpenAI chat-completions client shape, for calls served by another provider kind.

(An OpenAI-kind upstream gets the client's body as it is: see providers.openai.)
"""

import time
import uuid

import orjson

from proxy.translate.canonical import (
    Answer,
    ChatRequest,
    Event,
    Finish,
    ImagePart,
    Message,
    Part,
    Start,
    TextDelta,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolChoice,
    Usage,
)
from proxy.translate.errors import ProxyError, bad_request
from proxy.translate.sse import frame

CANONICAL_FIELDS = {
    "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
    "temperature", "top_p", "stop", "tools", "tool_choice", "parallel_tool_calls",
    "response_format", "user",
}  # fmt: skip


def parse(body: dict) -> ChatRequest:
    """A chat body already type-checked by proxy.validation, in canonical form."""
    stop = body.get("stop")
    return ChatRequest(
        model=body["model"],
        messages=[_message(m, i) for i, m in enumerate(body["messages"])],
        stream=bool(body.get("stream")),
        include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        stop=[stop] if isinstance(stop, str) else list(stop or []),
        tools=[_tool(t, i) for i, t in enumerate(body.get("tools") or [])],
        tool_choice=_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=body.get("parallel_tool_calls"),
        response_format=body.get("response_format"),
        user=body.get("user"),
        extra={k: v for k, v in body.items() if k not in CANONICAL_FIELDS},
    )


def _message(raw: dict, i: int) -> Message:
    role = raw["role"]
    if role == "developer":
        role = "system"
    if role not in ("system", "user", "assistant", "tool"):
        raise bad_request(
            f"Invalid value for 'messages[{i}].role': {role!r}.", f"messages[{i}].role"
        )
    calls = [
        ToolCall(id=c.get("id") or "", name=(c.get("function") or {}).get("name") or "",
                 arguments=(c.get("function") or {}).get("arguments") or "{}")
        for c in raw.get("tool_calls") or []
        if isinstance(c, dict)
    ]  # fmt: skip
    return Message(
        role=role,
        content=_parts(raw.get("content"), i),
        tool_calls=calls,
        tool_call_id=raw.get("tool_call_id"),
    )


def _parts(content: object, i: int) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(content)]
    if not isinstance(content, list):
        raise bad_request(f"Invalid type for 'messages[{i}].content'.", f"messages[{i}].content")
    parts: list[Part] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append(TextPart(part.get("text") or ""))
        elif kind == "image_url":
            image = part.get("image_url") or {}
            url = image.get("url") if isinstance(image, dict) else image
            parts.append(
                _image(str(url or ""), image.get("detail") if isinstance(image, dict) else None)
            )
        else:
            raise bad_request(
                f"Unsupported content part type {kind!r} in 'messages[{i}].content' for this model.",
                f"messages[{i}].content",
            )
    return parts


def _image(url: str, detail: str | None) -> ImagePart:
    if url.startswith("data:") and ";base64," in url:
        head, data = url[5:].split(";base64,", 1)
        return ImagePart(media_type=head, data=data, detail=detail)
    return ImagePart(url=url, detail=detail)


def _tool(raw: dict, i: int) -> Tool:
    fn = raw.get("function") if isinstance(raw, dict) else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise bad_request(f"'tools[{i}]' must be a function tool with a name.", f"tools[{i}]")
    return Tool(
        name=fn["name"],
        description=fn.get("description"),
        parameters=fn.get("parameters") or {"type": "object", "properties": {}},
    )


def _tool_choice(raw: object) -> ToolChoice | None:
    if raw is None:
        return None
    if raw in ("auto", "none", "required"):
        return ToolChoice(mode=raw)
    if isinstance(raw, dict) and isinstance((raw.get("function") or {}).get("name"), str):
        return ToolChoice(mode="tool", name=raw["function"]["name"])
    raise bad_request("Invalid value for 'tool_choice'.", "tool_choice")


# --- Rendering ------------------------------------------------------------------------


def _usage(usage: Usage, cost_usd: float | None) -> dict:
    out = {
        "prompt_tokens": usage.input,
        "completion_tokens": usage.output,
        "total_tokens": usage.input + usage.output,
        "prompt_tokens_details": {"cached_tokens": usage.cached},
    }
    if cost_usd is not None:
        out["cost"] = cost_usd
    return out


def _chat_id(upstream_id: str) -> str:
    return "chatcmpl-" + (upstream_id.split("_", 1)[-1] if upstream_id else uuid.uuid4().hex)


def render(
    answer: Answer, *, model: str, cost_usd: float | None, request: ChatRequest | None = None
) -> dict:
    message: dict = {"role": "assistant", "content": answer.text or None}
    if answer.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in answer.tool_calls
        ]
    out = {
        "id": _chat_id(answer.id),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": answer.finish.reason if answer.finish else "stop"}],
    }  # fmt: skip
    if answer.usage is not None:
        out["usage"] = _usage(answer.usage, cost_usd)
    return out


class ChatStreamRenderer:
    """Canonical events as `chat.completion.chunk`s; usage last, only when asked."""

    def __init__(self, *, model: str, include_usage: bool, price) -> None:
        self.model, self.include_usage, self.price = model, include_usage, price
        self.id = _chat_id("")
        self.created = int(time.time())
        self.started = False
        self.finish: Finish | None = None
        self.usage: Usage | None = None

    def _chunk(self, delta: dict | None, finish: str | None = None) -> bytes:
        chunk = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                 "model": self.model, "choices": [] if delta is None else
                 [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}  # fmt: skip
        if self.include_usage:
            chunk["usage"] = None
        return frame(orjson.dumps(chunk))

    def _start(self, upstream_id: str = "") -> bytes:
        if self.started:
            return b""
        self.started = True
        if upstream_id:
            self.id = _chat_id(upstream_id)
        return self._chunk({"role": "assistant", "content": ""})

    def render(self, event: Event) -> bytes:
        match event:
            case Start(id=upstream_id):
                return self._start(upstream_id)
            case TextDelta(text=text):
                return self._start() + self._chunk({"content": text})
            case ToolCallStart(index=index, id=id_, name=name):
                call = {"index": index, "id": id_, "type": "function",
                        "function": {"name": name, "arguments": ""}}  # fmt: skip
                return self._start() + self._chunk({"tool_calls": [call]})
            case ToolCallDelta(index=index, arguments=arguments):
                return self._chunk(
                    {"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}
                )
            case Finish():
                self.finish = event
                return self._start() + self._chunk({}, event.reason)
            case Usage():
                self.usage = event
        return b""

    def end(self) -> bytes:
        out = self._start()
        if self.finish is None:
            out += self._chunk({}, "stop")
        if self.include_usage and self.usage is not None:
            chunk = orjson.loads(self._chunk(None)[6:-2])
            chunk["usage"] = _usage(self.usage, self.price(self.usage).usd)
            out += frame(orjson.dumps(chunk))
        return out + frame(b"[DONE]")

    def error(self, err: ProxyError) -> bytes:
        return frame(err.body())


def stream_renderer(
    *, model: str, include_usage: bool, price, request: ChatRequest | None = None
) -> ChatStreamRenderer:
    return ChatStreamRenderer(model=model, include_usage=include_usage, price=price)


def error_body(err: ProxyError) -> bytes:
    return err.body()
