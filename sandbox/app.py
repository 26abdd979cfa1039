"""The sandbox's ASGI application: routing, auth, options, fault injection, and the log."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from . import (
    anthropic_messages,
    openai_chat,
    openai_completions,
    openai_embeddings,
    openai_responses,
)
from .exchange import Exchange, Receive, Send
from .options import Options, OptionsError, Settings, parse_model
from .state import SandboxState
from .wire import (
    JSON_TYPE,
    SSE_HEADERS,
    ApiError,
    Flavour,
    JsonResponse,
    Response,
    dumps,
    error_headers,
    error_payload,
    new_id,
)

Handler = Callable[[dict[str, Any], Options, Settings, Mapping[str, str]], Response]

ROUTES: dict[tuple[str, str], tuple[Flavour, Handler]] = {
    ("POST", "/v1/chat/completions"): ("openai", openai_chat.chat_completion),
    ("POST", "/v1/completions"): ("openai", openai_completions.completion),
    ("POST", "/v1/embeddings"): ("openai", openai_embeddings.embeddings),
    ("POST", "/v1/responses"): ("openai", openai_responses.create),
    ("POST", "/v1/messages"): ("anthropic", anthropic_messages.message_create),
    ("POST", "/v1/messages/count_tokens"): ("anthropic", anthropic_messages.count_tokens),
}
MODELS = ("sandbox-chat", "sandbox-embed", "claude-sandbox")
MODELS_CREATED = 1_700_000_000
NOT_JSON = b"<html><body>sandbox fault: this is not JSON</body></html>"
# What a handler raises when a field deep in the body has a shape it did not check: a last
# resort, answered 400 with SHAPE_MESSAGE (tests treat that message as a bug to fix).
SHAPE_ERRORS = (AttributeError, LookupError, TypeError, ValueError, RecursionError)
SHAPE_MESSAGE = "The request body does not match the API's schema"


def _finite(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {raw}")
    return value


def _constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def parse_body(raw: bytes) -> object:
    """Strict JSON: no NaN or Infinity, and no lone surrogates (they could not be echoed
    back as UTF-8); None for anything that is not JSON."""
    try:
        body = json.loads(raw, parse_constant=_constant, parse_float=_finite) if raw else None
        if b"\\ud" in raw or b"\\uD" in raw:  # an escaped surrogate: is it paired?
            dumps(body).encode()
    except (ValueError, RecursionError):
        return None
    return body


def _models(flavour: Flavour, ids: tuple[str, ...]) -> object:
    if flavour == "anthropic":
        data = [
            {"type": "model", "id": m, "display_name": m, "created_at": "2023-11-14T22:13:20Z"}
            for m in ids
        ]
        if len(ids) == 1:
            return data[0]
        return {"data": data, "has_more": False, "first_id": ids[0], "last_id": ids[-1]}
    data = [
        {"id": m, "object": "model", "created": MODELS_CREATED, "owned_by": "sandbox"} for m in ids
    ]
    return data[0] if len(ids) == 1 else {"object": "list", "data": data}


async def _read_body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(parts)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class SandboxApp:
    """ASGI app: `uvicorn.run(SandboxApp(), ...)`. `state` is the request log."""

    def __init__(self, settings: Settings | None = None, state: SandboxState | None = None):
        self.settings = settings or Settings()
        self.state = state or SandboxState()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path, method = scope["path"], scope["method"]
        record = self.state.begin(path=path, method=method, headers=headers)
        exchange = Exchange(receive, send, record)
        route = ROUTES.get((method, path))
        if path == "/v1/responses" and not self.settings.responses:
            route = None
        is_anthropic = path.startswith("/v1/messages") or "anthropic-version" in headers
        flavour: Flavour = route[0] if route else ("anthropic" if is_anthropic else "openai")
        try:
            body = await _read_body(receive)
            await self._serve(exchange, flavour, route, headers, body)
        except ApiError as error:
            await self._error(exchange, flavour, error)
        finally:
            record["finished_at"] = time.monotonic()
            exchange.close()

    async def _serve(
        self,
        exchange: Exchange,
        flavour: Flavour,
        route: tuple[Flavour, Handler] | None,
        headers: dict[str, str],
        raw: bytes,
    ) -> None:
        record = exchange.record
        if not (headers.get("authorization") or headers.get("x-api-key")):
            raise ApiError(
                401, "Missing API key: send `Authorization: Bearer <key>` or `x-api-key`."
            )
        if route is None:
            await self._models(exchange, flavour, record["path"], record["method"])
            return
        body = parse_body(raw)
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        record["body"] = body
        if flavour == "anthropic" and "anthropic-version" not in headers:
            raise ApiError(400, "anthropic-version: header is required")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise ApiError(400, "`model` is required: a model id string.", param="model")
        try:
            opts = parse_model(model)
        except OptionsError as error:
            raise ApiError(
                400, f"Bad sandbox options in model {model!r}: {error}", "model"
            ) from None
        record.update(model=model, base_model=opts.base, options=opts.given)
        self.state.count(model, opts.base)
        try:
            response = route[1](body, opts, self.settings, headers)
        except SHAPE_ERRORS as error:
            # A malformed field deep in the body: say so instead of a bare 500.
            message = f"{SHAPE_MESSAGE} ({error!r})."
            raise ApiError(400, message) from error
        await self._deliver(exchange, flavour, opts, response)

    async def _deliver(
        self, exchange: Exchange, flavour: Flavour, opts: Options, response: Response
    ) -> None:
        streaming = not isinstance(response, JsonResponse)
        exchange.record["stream"] = streaming
        wait = opts.first_byte_delay()
        if wait and await exchange.sleep(wait):
            return
        fault = opts.fault
        if opts.status_fault:
            raise ApiError(opts.status_fault)
        if fault == "timeout":
            await exchange.wait_until_gone()
            return
        if isinstance(response, JsonResponse):
            if fault == "drop":
                await exchange.drop()
            elif fault == "invalid_json":
                await exchange.respond(200, [JSON_TYPE], NOT_JSON)
            else:
                await exchange.respond(
                    response.status, self._headers(flavour), dumps(response.payload).encode()
                )
            return
        stop_after = {"drop": 3, "invalid_json": 2}.get(fault or "")
        delay = opts.stream_delay(self.settings)
        headers = [*SSE_HEADERS, *self._headers(flavour)[1:]]
        if await exchange.stream(headers, response.events, delay=delay, stop_after=stop_after):
            await exchange.finish()
        elif exchange.gone:
            return
        elif fault == "drop":
            await exchange.drop()
        elif fault == "invalid_json":
            await exchange.finish(response.bad_event)

    async def _models(self, exchange: Exchange, flavour: Flavour, path: str, method: str) -> None:
        if method == "GET" and path == "/v1/models":
            payload = _models(flavour, MODELS)
        elif method == "GET" and path.startswith("/v1/models/") and len(path) > 11:
            payload = _models(flavour, (path[11:],))
        else:
            raise ApiError(404, f"Unknown endpoint {method} {path}: the sandbox serves /v1/...")
        await exchange.respond(200, self._headers(flavour), dumps(payload).encode())

    @staticmethod
    def _headers(flavour: Flavour) -> list[tuple[bytes, bytes]]:
        name = b"request-id" if flavour == "anthropic" else b"x-request-id"
        return [JSON_TYPE, (name, new_id("req_", 10).encode())]

    @staticmethod
    async def _error(exchange: Exchange, flavour: Flavour, error: ApiError) -> None:
        if exchange.done or exchange.record["status"] is not None:
            return
        body = dumps(error_payload(flavour, error)).encode()
        await exchange.respond(error.status, error_headers(error.status), body)
