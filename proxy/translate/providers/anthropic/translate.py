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
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolChoice,
    UpstreamFailed,
    Usage,
    carrying,
    tokens,
)
from proxy.translate.errors import ProxyError, bad_request
from proxy.translate.sse import SSEDecoder, typed_events
from proxy.translate.wire import Upstream, UpstreamRequest, dumps

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096  # Anthropic requires max_tokens; OpenAI clients often omit it
# Of a translated request's shape-specific extras, only these mean the same to Anthropic.
ANTHROPIC_EXTRA = frozenset({"top_k"})
MID_CONVERSATION_SYSTEM = "mid-conversation-system-2026-04-07"
WEB_SEARCH = "web_search_20250305"
WEB_SEARCH_OPTIONS = frozenset({"max_uses", "allowed_domains", "blocked_domains", "user_location"})
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
    """The Messages API request. System messages before the conversation are `system`,
    one text block per part (words of two parts never fuse); a system message later on
    stays in its place as a `{"role": "system"}` turn, under the mid-conversation system
    beta. Whatever Anthropic has no field for is refused, or left out and named."""
    lead = 0
    while lead < len(request.messages) and request.messages[lead].role == "system":
        lead += 1
    system = [b for i in range(lead) for b in _text_blocks(request, i)]
    messages = _turns(request, lead)
    body: dict = {
        "model": upstream.model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": messages,
    }
    optional = {
        "system": system or None, "temperature": request.temperature, "top_p": request.top_p,
        "stop_sequences": request.stop or None, "stream": request.stream or None,
        "metadata": {"user_id": request.user} if request.user else None,
    }  # fmt: skip
    body.update({k: v for k, v in optional.items() if v is not None})
    betas = [MID_CONVERSATION_SYSTEM] if any(t["role"] == "system" for t in messages) else []
    tools = [t for t in (_tool(request, t, i) for i, t in enumerate(request.tools)) if t]
    if tools:
        body["tools"] = tools
        choice = _tool_choice(request.tool_choice, request.parallel_tool_calls)
        if choice is not None:
            body["tool_choice"] = choice
    output_format = _output_format(request)
    if output_format is not None:
        body["output_config"] = {"format": output_format}
    for name, value in request.extra.items():
        if name in ANTHROPIC_EXTRA:
            body[name] = value
        elif name == "n" and value != 1:
            request.unsupported("n", "Anthropic gives one answer per request; send n = 1.")
        else:
            request.left_out(name)
    headers = {"anthropic-version": API_VERSION}
    if betas:
        headers["anthropic-beta"] = ",".join(betas)
    return send(upstream, body, headers)


def _tool(request: ChatRequest, tool: Tool, i: int) -> dict | None:
    if tool.hosted == "web_search":
        out = {"type": WEB_SEARCH, "name": "web_search", **_search_options(request, tool, i)}
    elif tool.hosted is not None:
        request.unsupported(
            tool.where(i),
            f"The hosted tool {tool.hosted!r} has no equivalent on this model's Anthropic "
            "provider.",
        )
        return None
    else:
        out = {"name": tool.name}
        if tool.description:
            out["description"] = tool.description
        out["input_schema"] = {"type": "object", **tool.parameters}
        if tool.strict is not None:
            out["strict"] = tool.strict
    if tool.cache_control is not None:
        out["cache_control"] = tool.cache_control
    return out


def _search_options(request: ChatRequest, tool: Tool, i: int) -> dict:
    """Anthropic's web search settings from a hosted tool's options, whichever shape
    they came in (OpenAI's allowed domains are `filters.allowed_domains`); what
    Anthropic's tool has no setting for is left out."""
    out: dict = {}
    for key, value in tool.options.items():
        if key in WEB_SEARCH_OPTIONS:
            out[key] = value
        elif key == "filters" and isinstance(value, dict) and set(value) <= {"allowed_domains"}:
            if value.get("allowed_domains"):
                out["allowed_domains"] = value["allowed_domains"]
        else:
            request.left_out(f"{tool.where(i)}.{key}")
    return out


def _output_format(request: ChatRequest) -> dict | None:
    """OpenAI's `response_format` as Anthropic's structured outputs
    (`output_config.format`, generally available: no beta header)."""
    fmt = request.response_format
    if fmt is None or fmt.get("type") == "text":
        return None
    spec = fmt.get("json_schema")
    if fmt.get("type") == "json_schema" and isinstance(spec, dict):
        schema = spec.get("schema")
        if not isinstance(schema, dict):
            raise bad_request(
                "response_format.json_schema.schema: a JSON schema object is required.",
                "response_format.json_schema.schema",
            )
        return {"type": "json_schema", "schema": schema}
    request.unsupported(
        "response_format",
        f"response_format {fmt.get('type')!r} has no equivalent on this model's Anthropic "
        "provider; use 'json_schema' with a schema.",
    )
    return None


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


def _turns(request: ChatRequest, start: int) -> list[dict]:
    """The messages from `start` on. Anthropic wants user and assistant turns
    alternating, tool results as user turns, and a turn's tool_result blocks before
    anything else in it. A system message stays a turn of its own, where it was."""
    turns: list[dict] = []
    for i in range(start, len(request.messages)):
        m = request.messages[i]
        role = m.role if m.role in ("assistant", "system") else "user"
        blocks = _text_blocks(request, i) if role == "system" else _blocks(request, m)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role and role != "system":
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        turn["content"].sort(key=lambda b: b["type"] != "tool_result")
    return turns


def _text_blocks(request: ChatRequest, i: int) -> list[dict]:
    """System message `i`'s parts, each its own text block; an image has no place there."""
    blocks = []
    for p in request.messages[i].content:
        if isinstance(p, ImagePart):
            request.unsupported(
                f"messages[{i}].content", "Anthropic takes no image in a system message."
            )
        elif p.text:  # Anthropic refuses empty text blocks
            blocks.append(_with_cache(p, {"type": "text", "text": p.text}))
    return blocks


def _blocks(request: ChatRequest, m: Message) -> list[dict]:
    if m.role == "tool":
        result: dict = {"type": "tool_result", "tool_use_id": m.tool_call_id or ""}
        parts = [b for b in (_part(request, p) for p in m.content) if b]
        if len(parts) == 1 and parts[0]["type"] == "text" and "cache_control" not in parts[0]:
            result["content"] = parts[0]["text"]
        elif parts:
            result["content"] = parts
        if m.is_error:
            result["is_error"] = True
        if m.cache_control is not None:
            result["cache_control"] = m.cache_control
        return [result]
    blocks = [b for b in (_part(request, p) for p in m.content) if b]
    return blocks + [_tool_use(c) for c in m.tool_calls]


def _with_cache(p: Part, block: dict) -> dict:
    if p.cache_control is not None:
        block["cache_control"] = p.cache_control
    return block


def _part(request: ChatRequest, p: Part) -> dict | None:
    if isinstance(p, TextPart):
        return _with_cache(p, {"type": "text", "text": p.text}) if p.text else None
    url = p.url or ""
    if p.data is not None:
        source = {"type": "base64", "media_type": p.media_type or "image/png", "data": p.data}
    elif url.startswith("data:") and ";base64," in url:
        media_type, data = url[5:].split(";base64,", 1)
        source = {"type": "base64", "media_type": media_type or "image/png", "data": data}
    else:
        source = {"type": "url", "url": url}
    if p.detail is not None:
        request.left_out("detail")  # Anthropic sizes images by itself
    return _with_cache(p, {"type": "image", "source": source})


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
# Only text and tool_use blocks become events. The blocks of tools Anthropic runs itself
# (server_tool_use, web_search_tool_result …), thinking and anything newer are skipped:
# their outcome reaches the client as the text that follows them.


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _finish(delta: dict) -> Finish:
    reason = delta.get("stop_reason")
    finish = FINISH.get(reason, Finish("stop")) if isinstance(reason, str) else Finish("stop")
    stop_sequence = delta.get("stop_sequence")
    return Finish(finish.reason, stop_sequence if isinstance(stop_sequence, str) else None)


def _arguments(value: object) -> str:
    try:
        return dumps(value if isinstance(value, dict) else {}).decode()
    except ProxyError:  # deeper than any encoder writes: not an input a client could use
        raise UpstreamFailed("The upstream's tool input is nested too deeply.") from None


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
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str) and block["text"]:
            events.append(TextDelta(block["text"]))
        elif kind == "tool_use":
            id_, name = str(block.get("id") or ""), str(block.get("name") or "")
            events.append(ToolCallStart(index=tools, id=id_, name=name))
            events.append(ToolCallDelta(index=tools, arguments=_arguments(block.get("input"))))
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
        self.tool_indexes: dict[object, int] = {}  # content block index → canonical tool index

    def feed(self, raw: bytes) -> list[Event]:
        events: list[Event] = []
        with carrying(events):
            for _name, event, kind in typed_events(self.decoder, raw):
                self._event(kind, event, events)
        return events

    def _counts(self, usage: object) -> None:
        # message_delta's counts are cumulative: they replace message_start's.
        self.usage.update({k: v for k, v in _dict(usage).items() if v is not None})

    def _event(self, kind: object, event: dict, events: list[Event]) -> None:
        index = event.get("index")
        index = index if isinstance(index, int) else 0
        match kind:
            case "message_start":
                message = _dict(event.get("message"))
                self._counts(message.get("usage"))
                events.append(
                    Start(id=str(message.get("id") or ""), model=str(message.get("model") or ""))
                )
            case "content_block_start":
                block = _dict(event.get("content_block"))
                if block.get("type") == "tool_use":
                    tool = self.tool_indexes[index] = len(self.tool_indexes)
                    id_, name = str(block.get("id") or ""), str(block.get("name") or "")
                    events.append(ToolCallStart(index=tool, id=id_, name=name))
                elif (
                    block.get("type") == "text"
                    and isinstance(block.get("text"), str)
                    and block["text"]
                ):
                    events.append(TextDelta(block["text"]))
            case "content_block_delta":
                delta = _dict(event.get("delta"))
                text, partial = delta.get("text"), delta.get("partial_json")
                if delta.get("type") == "text_delta" and isinstance(text, str) and text:
                    events.append(TextDelta(text))
                elif delta.get("type") == "input_json_delta" and isinstance(partial, str):
                    tool = self.tool_indexes.get(index)  # None: a server tool's input
                    if tool is not None and partial:
                        events.append(ToolCallDelta(index=tool, arguments=partial))
            case "message_delta":
                self._counts(event.get("usage"))
                events.append(_finish(_dict(event.get("delta"))))
                events.append(usage_of(self.usage) or Usage())
            case "message_stop":
                self.done = True
            case "error":
                raise UpstreamFailed.of_error(event.get("error"))
