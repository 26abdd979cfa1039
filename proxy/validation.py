"""What the gateway itself must understand of a /v1 body, and nothing more.

A body is a JSON object with a `model` string; `stream` is a boolean and
`stream_options` an object when given. Everything else belongs to whoever reads it: on a
native path the upstream (unknown fields, roles and content pass through untouched), on
a translated one the client shape's parser, which names the field it refuses.
"""

import orjson

from proxy.translate.errors import ProxyError, bad_request


def parse_body(body: bytes, endpoint: str) -> dict:
    if not body:
        raise bad_request("The request body is empty; send a JSON object.", code="empty_body")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request(
            f"The request body is not valid JSON: {exc}.", code="invalid_json"
        ) from None
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_json")
    model = data.get("model")
    if model is None:
        raise bad_request(
            "Missing required parameter: 'model'.", "model", "missing_required_parameter"
        )
    if not isinstance(model, str):
        raise _invalid_type("model", "a string")
    stream = data.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _invalid_type("stream", "a boolean")
    options = data.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise _invalid_type("stream_options", "an object")
    if stream and endpoint in ("embeddings", "count_tokens"):
        raise bad_request(f"/v1/{endpoint} cannot be streamed.", "stream", "invalid_value")
    return data


def _invalid_type(name: str, expected: str) -> ProxyError:
    return bad_request(f"Invalid type for '{name}': expected {expected}.", name, "invalid_type")
