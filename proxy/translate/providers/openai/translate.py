"""OpenAI-kind upstreams serving clients of another shape (Anthropic messages, responses):
canonical request → chat-completions request; chat answers and chunks → canonical events."""

from proxy.translate.canonical import (
    ChatRequest,
    Event,
    Finish,
    ImagePart,
    Message,
    Start,
    TextDelta,
    TextPart,
    Tool,
    ToolCallDelta,
    ToolCallStart,
    UpstreamFailed,
    Usage,
    carrying,
    tokens,
)
from proxy.translate.sse import SSEDecoder, load_event
from proxy.translate.wire import Upstream, UpstreamRequest, dumps

FINISH_REASONS = {"stop", "length", "tool_calls", "content_filter"}


# Of a translated request's shape-specific extras, those chat completions takes as they
# are; the rest (Anthropic's thinking, context_management, output_config, top_k;
# Responses' reasoning, include, client_metadata …) are advice it has no field for.
OPENAI_EXTRA = frozenset(
    {"seed", "logprobs", "top_logprobs", "frequency_penalty", "presence_penalty",
     "logit_bias", "prompt_cache_key", "store", "safety_identifier"}
)  # fmt: skip


# Extras that change what the model can do, not just how: dropping them would quietly
# take tools away, so they are refused by name unless the route allows dropping.
OPENAI_LACKS = {
    "mcp_servers": "Anthropic's MCP connector has no equivalent on an OpenAI-compatible provider.",
    "container": "Anthropic's code-execution container has no equivalent on an OpenAI-compatible provider.",
}


def build(upstream: Upstream, request: ChatRequest) -> UpstreamRequest:
    body: dict = {
        "model": upstream.model,
        "messages": [_message(request, m, i) for i, m in enumerate(request.messages)],
    }
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    optional = {
        "max_tokens": request.max_tokens, "temperature": request.temperature,
        "top_p": request.top_p, "stop": request.stop or None,
        "response_format": request.response_format, "user": request.user,
    }  # fmt: skip
    body.update({k: v for k, v in optional.items() if v is not None})
    tools = [_tool(request, t, i) for i, t in enumerate(request.tools)]
    tools = [t for t in tools if t is not None]
    if tools:
        body["tools"] = tools
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.tool_choice is not None and (tools or request.tool_choice.mode == "none"):
        choice = request.tool_choice
        body["tool_choice"] = (
            {"type": "function", "function": {"name": choice.name}}
            if choice.mode == "tool"
            else choice.mode
        )
    for name, value in request.extra.items():
        if name in OPENAI_EXTRA:
            body[name] = value
        elif name in OPENAI_LACKS:
            request.unsupported(name, OPENAI_LACKS[name])
        else:
            request.left_out(name)
    return post(upstream, "chat/completions", body)


def _tool(request: ChatRequest, tool: Tool, i: int) -> dict | None:
    if tool.hosted is not None:
        request.unsupported(
            tool.where(i),
            f"The hosted tool {tool.hosted!r} has no equivalent on this model's "
            "OpenAI-compatible provider.",
        )
        return None
    if tool.cache_control is not None:
        request.left_out("cache_control")
    function: dict = {"name": tool.name, "parameters": tool.parameters}
    if tool.description:
        function["description"] = tool.description
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def post(upstream: Upstream, path: str, body: dict) -> UpstreamRequest:
    """A POST of `body` to an OpenAI-kind provider's `path`."""
    headers = {"content-type": "application/json", "accept-encoding": "identity"}
    if upstream.api_key:
        headers["authorization"] = f"Bearer {upstream.api_key}"
    return UpstreamRequest(f"{upstream.base_url}/{path}", headers, dumps(body))


def _message(request: ChatRequest, m: Message, i: int) -> dict:
    if m.cache_control is not None or any(p.cache_control is not None for p in m.content):
        request.left_out("cache_control")  # OpenAI caches prompt prefixes by itself
    if m.role == "tool":
        if any(isinstance(p, ImagePart) for p in m.content):
            request.unsupported(
                f"messages[{i}].content",
                "A tool result with an image has no equivalent in chat completions.",
            )
        texts = [p.text for p in m.content if isinstance(p, TextPart)]
        return {"role": "tool", "tool_call_id": m.tool_call_id or "", "content": "\n\n".join(texts)}
    out: dict = {"role": m.role}
    if len(m.content) == 1 and isinstance(m.content[0], TextPart):
        out["content"] = m.content[0].text
    elif m.content:
        out["content"] = [_part(p) for p in m.content]  # each part apart: words never fuse
    else:
        out["content"] = None if m.tool_calls else ""
    if m.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in m.tool_calls
        ]
    return out


def _part(p: TextPart | ImagePart) -> dict:
    if isinstance(p, TextPart):
        return {"type": "text", "text": p.text}
    url = p.url or f"data:{p.media_type};base64,{p.data}"
    image = {"url": url, **({"detail": p.detail} if p.detail else {})}
    return {"type": "image_url", "image_url": image}


def usage_of(raw: object) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else 0
    return Usage(
        input=tokens(raw.get("prompt_tokens")),
        output=tokens(raw.get("completion_tokens")),
        cached=tokens(cached),
    )


def _finish(reason: object) -> Finish:
    return Finish(reason=reason if reason in FINISH_REASONS else "stop")


def parse_answer(body: dict) -> list[Event]:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise UpstreamFailed("The upstream's answer has no choices.")
    choice = choices[0]
    message = choice.get("message") or {}
    events: list[Event] = [Start(id=str(body.get("id") or ""), model=str(body.get("model") or ""))]
    if message.get("content"):
        events.append(TextDelta(message["content"]))
    for i, call in enumerate(message.get("tool_calls") or []):
        fn = call.get("function") or {}
        events.append(
            ToolCallStart(index=i, id=call.get("id") or f"call_{i}", name=fn.get("name") or "")
        )
        events.append(ToolCallDelta(index=i, arguments=fn.get("arguments") or ""))
    events.append(_finish(choice.get("finish_reason")))
    usage = usage_of(body.get("usage"))
    if usage is not None:
        events.append(usage)
    return events


class ChatStreamParser:
    """chat.completion.chunk events → canonical events (choice 0 only)."""

    def __init__(self) -> None:
        self.decoder = SSEDecoder()
        self.done = False
        self.started = False
        self.tool_indexes: dict[int, int] = {}  # upstream tool index → canonical index

    def feed(self, raw: bytes) -> list[Event]:
        events: list[Event] = []
        with carrying(events):
            for _name, data in self.decoder.feed(raw):
                if data == b"[DONE]":
                    self.done = True
                    continue
                chunk = load_event(data)
                if chunk.get("error"):
                    raise UpstreamFailed.of_error(chunk["error"])
                self._chunk(chunk, events)
        return events

    def _chunk(self, chunk: dict, events: list[Event]) -> None:
        if not self.started:
            self.started = True
            events.append(Start(id=str(chunk.get("id") or ""), model=str(chunk.get("model") or "")))
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("content"):
                events.append(TextDelta(delta["content"]))
            for call in delta.get("tool_calls") or ():
                upstream_index = call.get("index", 0)
                fn = call.get("function") or {}
                if upstream_index not in self.tool_indexes:
                    index = self.tool_indexes[upstream_index] = len(self.tool_indexes)
                    events.append(
                        ToolCallStart(
                            index=index,
                            id=call.get("id") or f"call_{index}",
                            name=fn.get("name") or "",
                        )
                    )
                if fn.get("arguments"):
                    events.append(
                        ToolCallDelta(
                            index=self.tool_indexes[upstream_index], arguments=fn["arguments"]
                        )
                    )
            if choice.get("finish_reason"):
                events.append(_finish(choice["finish_reason"]))
        usage = usage_of(chunk.get("usage"))
        if usage is not None:
            events.append(usage)
