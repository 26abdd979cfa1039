"""The JSON bodies the official openai SDK puts on the wire, captured without a server."""

from collections.abc import Callable

import httpx
import openai
import orjson
import pytest


def sdk_body(call: Callable[[openai.OpenAI], object]) -> dict:
    """The JSON body the openai SDK sends for `call(client)`."""
    sent: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(orjson.loads(request.content))
        return httpx.Response(418, json={"error": {"message": "captured", "type": "x"}})

    client = openai.OpenAI(
        base_url="http://gateway.test/v1",
        api_key="x",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    with pytest.raises(openai.APIStatusError):
        call(client)
    return sent[0]
