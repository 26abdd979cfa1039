"""POST /v1/completions: OpenAI's legacy text completions, streamed or not."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from .answers import Reply, as_stops, count_words, echo, pad, split_text, text_reply
from .openai_chat import (
    FINGERPRINT,
    FINISH,
    check_common,
    choice_count,
    include_usage,
    max_tokens_of,
    usage,
)
from .options import Options, Settings
from .shapes import optional
from .wire import ApiError, JsonResponse, Response, StreamResponse, new_id, sse_data


def _prompts(body: dict[str, Any]) -> list[str | list[int]]:
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(p, int) for p in prompt):
            return [prompt]
        if all(isinstance(p, str | list) for p in prompt):
            return prompt
    raise ApiError(400, "`prompt` must be a string, a list of strings or token arrays.", "prompt")


def _prompt_text(prompt: str | list[int]) -> str:
    return prompt if isinstance(prompt, str) else " ".join(map(str, prompt))


def _prompt_tokens(prompt: str | list[int]) -> int:
    return count_words(prompt) if isinstance(prompt, str) else len(prompt)


def _stream(
    envelope: dict[str, Any],
    replies: list[Reply],
    chunks: int,
    totals: dict[str, Any] | None,
) -> Iterator[bytes]:
    for index, reply in enumerate(replies):
        for piece in split_text(reply.text, chunks):
            choice = {"text": piece, "index": index, "logprobs": None, "finish_reason": None}
            yield sse_data({**envelope, "choices": [choice]})
        finish = FINISH[reply.reason]
        choice = {"text": "", "index": index, "logprobs": None, "finish_reason": finish}
        yield sse_data({**envelope, "choices": [choice]})
    if totals is not None:
        yield sse_data({**envelope, "choices": [], "usage": totals})
    yield b"data: [DONE]\n\n"


def completion(
    body: dict[str, Any], opts: Options, settings: Settings, headers: Mapping[str, str]
) -> Response:
    prompts = _prompts(body)
    check_common(body)
    optional(body, "echo", bool, "a boolean")
    n = choice_count(body)
    chunks = opts.stream_chunks(settings)
    max_tokens = max_tokens_of(body)
    stops = as_stops(body.get("stop"))
    replies: list[Reply] = []
    for prompt in prompts:
        text = pad(echo(_prompt_text(prompt)), chunks)
        reply = text_reply(text, max_tokens=max_tokens, stops=stops)
        if body.get("echo"):
            reply.text = _prompt_text(prompt) + reply.text
        replies.extend([reply] * n)
    prompt = sum(_prompt_tokens(p) for p in prompts) + opts.cached
    totals = usage(prompt, sum(r.output_tokens for r in replies), opts.cached)
    envelope: dict[str, Any] = {
        "id": new_id("cmpl-"),
        "object": "text_completion",
        "created": int(time.time()),
        "model": body["model"],
        "system_fingerprint": FINGERPRINT,
    }
    if body.get("stream"):
        with_usage = include_usage(body)
        if with_usage:
            envelope["usage"] = None
        return StreamResponse(_stream(envelope, replies, chunks, totals if with_usage else None))
    choices = [
        {"text": r.text, "index": i, "logprobs": None, "finish_reason": FINISH[r.reason]}
        for i, r in enumerate(replies)
    ]
    return JsonResponse({**envelope, "choices": choices, "usage": totals})
