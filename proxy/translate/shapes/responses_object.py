"""Canonical answers as Responses API objects (`object: "response"`) and their output
items: what a whole answer renders as, and what a stream announces and completes."""

import time
import uuid

from proxy.translate.canonical import (
    Answer,
    ChatRequest,
    Finish,
    ToolCall,
    ToolChoice,
    Usage,
)

# Finish reasons that leave a response "incomplete", with OpenAI's incomplete_details.
INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def usage_object(usage: Usage | None, cost_usd: float | None) -> dict | None:
    if usage is None:
        return None
    out: dict = {
        "input_tokens": usage.input,
        # Canonical usage has no cache-write count; the SDK requires the field.
        "input_tokens_details": {"cached_tokens": usage.cached, "cache_write_tokens": 0},
        "output_tokens": usage.output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.input + usage.output,
    }
    if cost_usd is not None:
        out["cost"] = cost_usd
    return out


def _tool_choice(choice: ToolChoice | None, names: dict) -> str | dict:
    if choice is None:
        return "auto"
    if choice.mode == "tool":
        client = names.get(choice.name)
        return {"type": "function", "name": client["name"] if client else choice.name}
    return choice.mode


def _echo(request: ChatRequest | None) -> dict:
    """The request's settings, as the Response object repeats them (OpenAI's defaults for
    what was not set; unknown, i.e. null, when the request is not at hand)."""
    if request is None:
        return {"instructions": None, "max_output_tokens": None, "metadata": {},
                "parallel_tool_calls": True, "temperature": None, "text": {"format": {"type": "text"}},
                "tool_choice": "auto", "tools": [], "top_p": None, "user": None}  # fmt: skip
    extra, state = request.extra, request.shape_state
    return {
        "instructions": state.get("instructions"),
        "max_output_tokens": request.max_tokens,
        "metadata": extra.get("metadata") or {},
        "parallel_tool_calls": request.parallel_tool_calls is not False,
        "temperature": 1.0 if request.temperature is None else request.temperature,
        "text": {"format": {"type": "text"}, **(state.get("text") or {})},
        "tool_choice": _tool_choice(request.tool_choice, state.get("names", {})),
        "tools": state.get("tools")
        or [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
                "strict": t.strict,
            }
            for t in request.tools
        ],
        "top_p": 1.0 if request.top_p is None else request.top_p,
        "user": request.user,
    }


def response_object(
    *,
    id: str,
    created_at: int,
    model: str,
    status: str,
    output: list[dict],
    finish: Finish | None = None,
    usage: dict | None = None,
    error: dict | None = None,
    request: ChatRequest | None = None,
) -> dict:
    reason = INCOMPLETE.get(finish.reason) if finish else None
    if status == "completed" and reason:
        status = "incomplete"
    return {
        "id": id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "completed_at": int(time.time()) if status == "completed" else None,
        "error": error,
        "incomplete_details": {"reason": reason} if status == "incomplete" else None,
        "model": model,
        "output": output,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,  # nothing is kept: previous_response_id is refused
        "truncation": "disabled",
        "usage": usage,
        **_echo(request),
    }


def message_item(id: str, text: str | None, status: str) -> dict:
    content = [] if text is None else [{"type": "output_text", "text": text, "annotations": []}]
    return {"id": id, "type": "message", "status": status, "role": "assistant", "content": content}


def call_item(id: str, call: ToolCall, status: str, request: ChatRequest | None = None) -> dict:
    """A function_call item; a call to a namespaced function (flattened for the provider)
    by the client's own name, with its `namespace`, as OpenAI's API gives it."""
    item = {"id": id, "type": "function_call", "status": status, "call_id": call.id,
            "name": call.name, "arguments": call.arguments}  # fmt: skip
    client = request.shape_state.get("names", {}).get(call.name) if request else None
    if client is not None:
        item["name"], item["namespace"] = client["name"], client["namespace"]
    return item


def render(
    answer: Answer, *, model: str, cost_usd: float | None, request: ChatRequest | None = None
) -> dict:
    """A whole answer as a Response: its text as one message item, then one function_call
    item per tool call (an empty message when there is neither)."""
    cut = bool(answer.finish and answer.finish.reason in INCOMPLETE)
    output = []
    if answer.text or not answer.tool_calls:
        output.append(
            message_item(new_id("msg"), answer.text, "incomplete" if cut else "completed")
        )
    output += [call_item(new_id("fc"), call, "completed", request) for call in answer.tool_calls]
    return response_object(
        id=new_id("resp"), created_at=int(time.time()), model=model, status="completed",
        output=output, finish=answer.finish, usage=usage_object(answer.usage, cost_usd),
        request=request,
    )  # fmt: skip
