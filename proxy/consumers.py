"""The /v1 consumers: thin, outside Django's middleware stack."""

import json
import uuid

from channels.generic.http import AsyncHttpConsumer

from proxy.auth import authenticate
from proxy.errors import ProxyError


class V1Consumer(AsyncHttpConsumer):
    """Common framing: a request id on every response, errors in OpenAI's envelope."""

    async def handle(self, body: bytes) -> None:
        self.request_id = "req_" + uuid.uuid4().hex
        self.headers_in = dict(self.scope["headers"])
        try:
            status, payload = await self.respond(body)
        except ProxyError as err:
            await self.send_json(err.status, err.body())
            return
        await self.send_json(status, json.dumps(payload).encode())

    async def send_json(self, status: int, data: bytes) -> None:
        await self.send_response(
            status,
            data,
            headers=[
                (b"content-type", b"application/json"),
                (b"x-request-id", self.request_id.encode()),
            ],
        )

    async def respond(self, body: bytes) -> tuple[int, dict]:
        raise NotImplementedError


class ModelsConsumer(V1Consumer):
    async def respond(self, body: bytes) -> tuple[int, dict]:
        if self.scope["method"] != "GET":
            raise ProxyError(405, "Use GET for /v1/models.")
        await authenticate(self.headers_in)
        # Models come from the routes file; until routing lands the list is empty.
        return 200, {"object": "list", "data": []}


class NotFoundConsumer(V1Consumer):
    async def respond(self, body: bytes) -> tuple[int, dict]:
        await authenticate(self.headers_in, allow_x_api_key=True)
        raise ProxyError(
            404,
            f"Unknown endpoint {self.scope['method']} {self.scope['path']}.",
            code="unknown_url",
        )
