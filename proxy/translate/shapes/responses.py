"""The OpenAI Responses client shape (`POST /v1/responses`), served over chat completions.

Requests parse in responses_request, answers render in responses_output; this module is
the shape's public face (see `proxy.translate.shapes.ClientShape`). `render` and `stream_renderer`
also take the parsed request, optionally, so the Response object can echo its settings.
"""

from proxy.translate.errors import ProxyError
from proxy.translate.shapes.responses_object import render
from proxy.translate.shapes.responses_request import parse
from proxy.translate.shapes.responses_stream import ResponsesStreamRenderer, stream_renderer

__all__ = ["ResponsesStreamRenderer", "error_body", "parse", "render", "stream_renderer"]


def error_body(err: ProxyError) -> bytes:
    """OpenAI's envelope, which the Responses API shares with chat completions."""
    return err.body()
