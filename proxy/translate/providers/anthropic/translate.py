"""Anthropic-kind upstreams serving clients of another shape (OpenAI chat, responses):
canonical request → Messages API request; messages and stream events → canonical events."""

import orjson

from proxy.translate.canonical import (
    ChatRequest,
    Event,
    Finish,
    ImagePart,
    Message,
    Part,
    Start,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolChoice,
    UpstreamFailed,
    Usage,
    carrying,
    tokens,
)
from proxy.translate.sse import SSEDecoder, typed_events
from proxy.translate.wire import Upstream, UpstreamRequest, dumps

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096  # Anthropic requires max_tokens; OpenAI clients often omit it
# Of a translated request's shape-specific extras, only these mean the same to Anthropic.
ANTHROPIC_EXTRA = frozenset({"top_k"})
FINISH: dict[str, Finish] = {
    "end_turn": Finish("stop"), "stop_sequence": Finish("stop"), "pause_turn": Finish("stop"),
    "max_tokens": Finish("length"), "model_context_window_exceeded": Finish("length"),
    "tool_use": Finish("tool_calls"), "refusal": Finish("content_filter"),
}  # fmt: skip


def messages_url(base_url: str, path: str = "messages") -> str:
    base = base_url.rstrip("/")
    return f"{base}/{path}" if base.endswith("/v1") else f"{base}/v1/{path}"


def send(
    upstream: Upstream, body: dict, headers: dict[str, str], path: str = "messages"
) -> UpstreamRequest:
    headers = {"content-type": "application/json", "accept-encoding": "identity", **headers}
    if upstream.api_key:
        headers["x-api-key"] = upstream.api_key
    return UpstreamRequest(messages_url(upstream.base_url, path), headers, dumps(body))


def usage_of(raw: object) -> Usage | None:
    """Anthropic counts cache reads and writes apart from `input_tokens`; canonical
    input includes them."""
    if not isinstance(raw, dict):
        return None
    read = tokens(raw.get("cache_read_input_tokens"))
    written = tokens(raw.get("cache_creation_input_tokens"))
    return Usage(
        input=tokens(raw.get("input_tokens")) + read + written,
        output=tokens(raw.get("output_tokens")),
        cached=read,
        cache_write=written,
    )


# --- Request --------------------------------------------------------------------------


def build(upstream: Upstream, request: ChatRequest) -> UpstreamRequest:
    system = "\n\n".join(m.text for m in request.messages if m.role == "system" and m.text)
    body: dict = {
        "model": upstream.model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": _turns(m for m in request.messages if m.role != "system"),
    }
    optional = {
        "system": system or None, "temperature": request.temperature, "top_p": request.top_p,
        "stop_sequences": request.stop or None, "stream": request.stream or None,
        "metadata": {"user_id": request.user} if request.user else None,
    }  # fmt: skip
    body.update({k: v for k, v in optional.items() if v is not None})
    body.update({k: v for k, v in request.extra.items() if k in ANTHROPIC_EXTRA})
    if request.tools:
        body["tools"] = [
            {"name": t.name, **({"description": t.description} if t.description else {}),
             "input_schema": {"type": "object", **t.parameters}}
            for t in request.tools
        ]  # fmt: skip
        choice = _tool_choice(request.tool_choice, request.parallel_tool_calls)
        if choice is not None:
            body["tool_choice"] = choice
    return send(upstream, body, {"anthropic-version": API_VERSION})


def _tool_choice(choice: ToolChoice | None, parallel: bool | None) -> dict | None:
    if choice is None and parallel is not False:
        return None
    mode = choice.mode if choice is not None else "auto"
    if mode == "none":
        return {"type": "none"}
    out: dict = {"type": {"auto": "auto", "required": "any", "tool": "tool"}[mode]}
    if mode == "tool" and choice is not None:
        out["name"] = choice.name or ""
    if parallel is False:
        out["disable_parallel_tool_use"] = True
    return out


def _turns(messages) -> list[dict]:
    """Anthropic wants user and assistant turns alternating, tool results as user turns,
    and a turn's tool_result blocks before anything else in it."""
    turns: list[dict] = []
    for m in messages:
        role = "assistant" if m.role == "assistant" else "user"
        blocks = _blocks(m)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        turn["content"].sort(key=lambda b: b["type"] != "tool_result")
    return turns


def _blocks(m: Message) -> list[dict]:
    if m.role == "tool":
        result: dict = {"type": "tool_result", "tool_use_id": m.tool_call_id or ""}
        if any(isinstance(p, ImagePart) for p in m.content):
            result["content"] = [b for b in map(_part, m.content) if b]
        else:
            result["content"] = m.text
        if m.is_error:
            result["is_error"] = True
        return [result]
    blocks = [b for b in map(_part, m.content) if b]
    return blocks + [_tool_use(c) for c in m.tool_calls]


def _part(p: Part) -> dict | None:
    if isinstance(p, TextPart):
        return {"type": "text", "text": p.text} if p.text else None  # empty text is refused
    if p.data is not None:
        source = {"type": "base64", "media_type": p.media_type or "image/png", "data": p.data}
    elif (p.url or "").startswith("data:") and ";base64," in (p.url or ""):
        media_type, data = (p.url or "")[5:].split(";base64,", 1)
        source = {"type": "base64", "media_type": media_type, "data": data}
    else:
        source = {"type": "url", "url": p.url or ""}
    return {"type": "image", "source": source}


def _tool_use(call: ToolCall) -> dict:
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": tool_input(call)}


def tool_input(call: ToolCall) -> dict:
    """The arguments as the object Anthropic requires: empty text is `{}`; anything that
    is not a JSON object is kept whole under `input` rather than lost."""
    if not call.arguments.strip():
        return {}
    try:
        value = orjson.loads(call.arguments)
    except orjson.JSONDecodeError:
        return {"input": call.arguments}
    return value if isinstance(value, dict) else {"input": value}


# --- Answers --------------------------------------------------------------------------


def _finish(delta: dict) -> Finish:
    reason = delta.get("stop_reason")
    finish = FINISH.get(reason, Finish("stop")) if isinstance(reason, str) else Finish("stop")
    stop_sequence = delta.get("stop_sequence")
    return Finish(finish.reason, stop_sequence if isinstance(stop_sequence, str) else None)


def parse_answer(body: dict) -> list[Event]:
    if body.get("type") == "error" or "error" in body:
        raise UpstreamFailed.of_error(body.get("error"))
    content = body.get("content")
    if not isinstance(content, list):
        raise UpstreamFailed("The upstream's message has no content list.")
    events: list[Event] = [Start(id=str(body.get("id") or ""), model=str(body.get("model") or ""))]
    tools = 0
    for block in content:
        if not isinstance(block, dict):
            raise UpstreamFailed(
                "The upstream's message has a content block that is not an object."
            )
        if block.get("type") == "text" and block.get("text"):
            events.append(TextDelta(str(block["text"])))
        elif block.get("type") == "tool_use":
            events.append(
                ToolCallStart(
                    index=tools, id=str(block.get("id") or ""), name=str(block.get("name") or "")
                )
            )
            events.append(
                ToolCallDelta(
                    index=tools, arguments=orjson.dumps(block.get("input") or {}).decode()
                )
            )
            tools += 1
    events.append(_finish(body))
    usage = usage_of(body.get("usage"))
    if usage is not None:
        events.append(usage)
    return events


class MessagesStreamParser:
    """Messages API stream events → canonical events."""

    def __init__(self) -> None:
        self.decoder = SSEDecoder()
        self.done = False
        self.usage: dict = {}  # the counts so far, in Anthropic's fields
        self.tool_indexes: dict[int, int] = {}  # content block index → canonical tool index

    def feed(self, raw: bytes) -> list[Event]:
        events: list[Event] = []
        with carrying(events):
            for _name, event, kind in typed_events(self.decoder, raw):
                self._event(kind, event, events)
        return events

    def _event(self, kind: object, event: dict, events: list[Event]) -> None:
        match kind:
            case "message_start":
                message = event.get("message") or {}
                self.usage.update(message.get("usage") or {})
                events.append(
                    Start(id=str(message.get("id") or ""), model=str(message.get("model") or ""))
                )
            case "content_block_start":
                block = event.get("content_block") or {}
                if block.get("type") == "tool_use":
                    index = self.tool_indexes[event.get("index", 0)] = len(self.tool_indexes)
                    events.append(
                        ToolCallStart(
                            index=index,
                            id=str(block.get("id") or ""),
                            name=str(block.get("name") or ""),
                        )
                    )
                elif block.get("type") == "text" and block.get("text"):
                    events.append(TextDelta(str(block["text"])))
            case "content_block_delta":
                delta = event.get("delta") or {}
                if delta.get("type") == "text_delta" and delta.get("text"):
                    events.append(TextDelta(str(delta["text"])))
                elif delta.get("type") == "input_json_delta" and delta.get("partial_json"):
                    index = self.tool_indexes.get(event.get("index", 0))
                    if index is not None:
                        events.append(
                            ToolCallDelta(index=index, arguments=str(delta["partial_json"]))
                        )
            case "message_delta":
                # message_delta's counts are cumulative: they replace message_start's.
                self.usage.update(
                    {k: v for k, v in (event.get("usage") or {}).items() if v is not None}
                )
                events.append(_finish(event.get("delta") or {}))
                events.append(usage_of(self.usage) or Usage())
            case "message_stop":
                self.done = True
            case "error":
                raise UpstreamFailed.of_error(event.get("error"))
