"""Stored prompts and answers as a person reads them on a request's page: JSON indented,
and a stream's events joined back into the text (and tool calls) they carried."""

import json
from dataclasses import dataclass


@dataclass
class ShownBody:
    prompt: str
    answer: str
    # A stream's text joined from its events; "" when the answer was not a stream.
    answer_text: str
    prompt_truncated: bool
    answer_truncated: bool


def pretty(text: str) -> str:
    """Indented JSON when `text` is JSON, else `text` as it is (a body cut at the cap)."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def stream_text(text: str) -> str:
    """The text and tool-call arguments of a server-sent-events answer in any of the
    shapes the gateway answers (chat, completions, messages, responses); "" when `text`
    is not a stream."""
    out: list[str] = []
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if not data or data == "[DONE]":
            continue
        try:
            event = json.loads(data)
        except ValueError:
            continue
        if isinstance(event, dict):
            out.extend(_pieces(event))
    return "".join(out)


def _pieces(event: dict) -> list[str]:
    kind = event.get("type")
    if kind == "content_block_delta":  # Anthropic's messages
        delta = event.get("delta") or {}
        return [str(delta.get("text") or delta.get("partial_json") or "")]
    if kind == "content_block_start":
        block = event.get("content_block") or {}
        if block.get("type") == "tool_use":
            return [f"\n[tool call {block.get('name', '')}] "]
        return []
    if kind in ("response.output_text.delta", "response.function_call_arguments.delta"):
        return [str(event.get("delta") or "")]
    pieces = []
    for choice in event.get("choices") or ():  # chat and completions
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta") or {}
        pieces.append(str(delta.get("content") or choice.get("text") or ""))
        for call in delta.get("tool_calls") or ():
            function = (call or {}).get("function") or {}
            if function.get("name"):
                pieces.append(f"\n[tool call {function['name']}] ")
            pieces.append(str(function.get("arguments") or ""))
    return pieces


def shown(body) -> ShownBody:
    """A billing.models.UsageBody as the page shows it."""
    answer_text = stream_text(body.answer) if body.answer.startswith(("data:", "event:")) else ""
    return ShownBody(
        prompt=pretty(body.prompt),
        answer=body.answer if answer_text else pretty(body.answer),
        answer_text=answer_text,
        prompt_truncated=body.prompt_truncated,
        answer_truncated=body.answer_truncated,
    )
