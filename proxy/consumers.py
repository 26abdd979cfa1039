"""The /v1 consumers: thin; parsing, auth, routing and relaying live in plain modules."""

import asyncio
import contextlib
import logging
import time
import uuid

import orjson
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.http import AsyncHttpConsumer
from django.conf import settings

from proxy import addresses, catalogue, gate, inflight, last_used, limits, log_context, spend, table
from proxy.body_log import BodyLog
from proxy.call import Call
from proxy.recording import record_refusal
from proxy.relay import SSE_HEADERS, relay
from proxy.translate.errors import ProxyError
from proxy.translate.shapes import SHAPES
from proxy.validation import parse_body

log = logging.getLogger(__name__)

# A /v1 consumer talks to no other consumer; with the default layer every request would
# open a channel-layer receive (a Redis BLPOP in production). An alias that names no
# layer makes Channels skip it.
NO_CHANNEL_LAYER = "none"


class V1Consumer(AsyncHttpConsumer):
    """Request id on every response, errors in OpenAI's envelope, bodies capped, and the
    handler run as a task so that a client disconnect can cancel it mid-stream."""

    channel_layer_alias = NO_CHANNEL_LAYER
    endpoint = "chat"  # whose envelope errors are framed in

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.arrived = time.perf_counter()  # the gateway's clock for this request starts here
        self.request_id = "req_" + uuid.uuid4().hex
        log_context.request_id.set(self.request_id)  # on this request's log lines
        self.size = 0
        self.too_large = False
        self.task: asyncio.Task | None = None
        self.started = False
        self.finished = False
        self.extra_headers: list[tuple[bytes, bytes]] = []
        self.streaming = False  # the response begun is an event stream
        # Set once authentication passes: from then on the request leaves one usage record,
        # the relay's, or else a refusal's (record_refusal).
        self.key = None
        self.model_name = ""
        self.relayed = False
        self.raw_body = b""

    async def dispatch(self, message) -> None:
        # Channels' own dispatch first closes stale database connections, a thread-pool
        # hop on every ASGI message. The proxy's database work runs in
        # database_sync_to_async, which does that itself, and only on a cache miss.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def http_request(self, message) -> None:
        if not self.too_large:
            chunk = message.get("body", b"")
            self.size += len(chunk)
            if self.size > settings.PROXY_MAX_BODY_BYTES:
                self.too_large, self.body = True, []
            else:
                self.body.append(chunk)
        if not message.get("more_body"):
            self.task = asyncio.ensure_future(self._serve(b"".join(self.body)))
            inflight.track(self.task)

    async def http_disconnect(self, message) -> None:
        if self.task is not None and not self.task.done():
            if self.finished:
                await self.task  # the response is out; let the handler end by itself
            else:
                self.task.cancel()  # the client went away: stop the upstream call
                with contextlib.suppress(asyncio.CancelledError):
                    await self.task
        raise StopConsumer()

    async def _serve(self, body: bytes) -> None:
        try:
            if self.too_large:
                limit = settings.PROXY_MAX_BODY_BYTES // (1024 * 1024)
                raise ProxyError(
                    413, f"The request body is larger than {limit} MiB.", code="request_too_large"
                )
            self.headers_in = dict(self.scope["headers"])
            self.raw_body = body
            await self.serve(body)
        except ProxyError as err:
            await self._refused(err)
            await self.fail(err)
        except Exception:
            log.exception("Unhandled error in %s", self.scope.get("path"))
            err = ProxyError(
                500,
                "The gateway failed on this request; it has been logged.",
                type="api_error",
                code="gateway_error",
            )
            await self._refused(err)
            await self.fail(err)

    async def _refused(self, err: ProxyError) -> None:
        """The usage record of a request refused after authentication, before the relay
        (which records every call it takes, failures included)."""
        if self.key is None or self.relayed:
            return
        bodies = None
        if self.key.log_bodies:
            bodies = BodyLog(self.raw_body)
            bodies.add(SHAPES[self.endpoint].error_body(err))
        await record_refusal(
            request_id=self.request_id,
            endpoint=self.recorded_endpoint(),
            key=self.key,
            model=self.model_name,
            err=err,
            started=self.arrived,
            bodies=bodies,
        )

    async def fail(self, err: ProxyError) -> None:
        if self.started:
            if not self.finished:  # a stream already begun ends with the shape's error event
                renderer = SHAPES[self.endpoint].stream_renderer(
                    model="", include_usage=False, price=None
                )
                await self.write(renderer.error(err) if self.streaming else b"", more=False)
            return
        own_ms = (time.perf_counter() - self.arrived) * 1000
        headers = [
            (b"content-type", b"application/json"),
            (b"x-jinf-overhead-ms", b"%.3f" % own_ms),
        ]
        if err.status in (429, 503):
            headers.append((b"retry-after", (err.retry_after or "1").encode()))
        await self.open(err.status, headers)
        await self.write(SHAPES[self.endpoint].error_body(err), more=False)

    # -- the ClientOut protocol of proxy.relay ----------------------------------------
    async def open(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.started = True
        self.streaming = SSE_HEADERS[0] in headers
        headers = [*headers, *self.extra_headers, (b"x-request-id", self.request_id.encode())]
        await self.send_headers(status=status, headers=headers)

    async def write(self, data: bytes, *, more: bool) -> None:
        if not more:
            self.finished = True
        await self.send_body(data, more_body=more)

    async def serve(self, body: bytes) -> None:
        raise NotImplementedError

    def recorded_endpoint(self) -> str:
        return self.endpoint


class RelayConsumer(V1Consumer):
    """POST endpoints relayed to a deployment: authenticate, admit, limit, relay."""

    async def serve(self, body: bytes) -> None:
        if self.scope["method"] != "POST":
            raise ProxyError(405, f"Use POST for {self.scope['path']}.", code="method_not_allowed")
        key = self.key = await gate.authenticate(
            self.headers_in, allow_x_api_key=SHAPES[self.endpoint] is SHAPES["messages"]
        )
        addresses.check_allowed(key, self.scope, self.headers_in)
        data = parse_body(body, self.endpoint)
        self.model_name = data["model"]
        model = await gate.admit(key, data["model"])
        if model.auto is not None:  # an automatic model: the call is its chosen candidate's
            model = await gate.route_auto(key, model, self.endpoint, data, len(body))
            self.model_name = model.name
            self.extra_headers = [(b"x-jinf-routed-model", model.name.encode())]
        worst = spend.worst_case(model, self.endpoint, data, len(body))
        ticket = await limits.admit(key, worst.tokens)
        if ticket is not None:
            self.extra_headers = [*self.extra_headers, *ticket.headers()]
        try:
            hold = await spend.reserve(key, worst)
        except ProxyError:
            limits.settle(ticket, 0)  # refused: its tokens go back, the request still counts
            raise
        call = Call(self.request_id, self.endpoint, key, model, data, self.headers_in, self.arrived)
        call.hold, call.ticket = hold, ticket
        if key.log_bodies:
            call.bodies = BodyLog(body)
        self.relayed = True
        last_used.mark(key.key_id)  # every gate passed; written in the background
        await relay(call, self)


class ChatCompletionsConsumer(RelayConsumer):
    endpoint = "chat"


class CompletionsConsumer(RelayConsumer):
    endpoint = "completions"


class EmbeddingsConsumer(RelayConsumer):
    endpoint = "embeddings"


class MessagesConsumer(RelayConsumer):
    endpoint = "messages"


class CountTokensConsumer(RelayConsumer):
    """Anthropic's count_tokens: an operation of Anthropic-kind deployments."""

    endpoint = "count_tokens"


class ResponsesConsumer(RelayConsumer):
    endpoint = "responses"


class ModelsConsumer(V1Consumer):
    async def serve(self, body: bytes) -> None:
        if self.scope["method"] != "GET":
            raise ProxyError(405, "Use GET for /v1/models.", code="method_not_allowed")
        key = await gate.authenticate(self.headers_in)
        addresses.check_allowed(key, self.scope, self.headers_in)
        wanted = self.scope["url_route"]["kwargs"].get("model")
        models = await gate.visible_models(key)
        # An automatic model's candidates, where gate.route_auto finds them.
        table_models = (await table.current()).models
        at = time.time()
        if wanted is not None:
            entry = next((m for m in models if m.name == wanted), None)
            if entry is None:
                raise gate.model_not_found(wanted)
            payload = catalogue.model_object(entry, at=at, models=table_models)
        else:
            data = [catalogue.model_object(m, at=at, models=table_models) for m in models]
            payload = {"object": "list", "data": data}
        last_used.mark(key.key_id)
        own_ms = (time.perf_counter() - self.arrived) * 1000
        await self.open(
            200, [(b"content-type", b"application/json"), (b"x-jinf-overhead-ms", b"%.3f" % own_ms)]
        )
        await self.write(orjson.dumps(payload), more=False)


class NotFoundConsumer(V1Consumer):
    # Anthropic-shape clients send x-api-key; either way an unknown path is a 404.
    def recorded_endpoint(self) -> str:
        return self.scope["path"][:40]

    async def serve(self, body: bytes) -> None:
        self.key = await gate.authenticate(self.headers_in, allow_x_api_key=True)
        addresses.check_allowed(self.key, self.scope, self.headers_in)
        raise ProxyError(
            404,
            f"Unknown endpoint {self.scope['method']} {self.scope['path']}.",
            code="unknown_url",
        )
