"""The OpenAI Responses client shape (`POST /v1/responses`), for calls served by another
provider kind or by a server without the Responses API.

Requests parse in responses_request, answers render in responses_object (whole) and
responses_stream (streamed); this module is the shape's public face (see
`proxy.translate.shapes.ClientShape`). `render` and `stream_renderer` also take the parsed
request, so the Response object can echo its settings and name namespaced calls as the
client knows them.
"""

from proxy.translate.errors import ProxyError
from proxy.translate.shapes.responses_object import render
from proxy.translate.shapes.responses_request import parse
from proxy.translate.shapes.responses_stream import ResponsesStreamRenderer, stream_renderer

__all__ = ["ResponsesStreamRenderer", "error_body", "parse", "render", "stream_renderer"]


def error_body(err: ProxyError) -> bytes:
    """OpenAI's envelope, which the Responses API shares with chat completions."""
    return err.body()
