"""POST /v1/embeddings: deterministic unit vectors derived from a hash of each input."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
import sys
from array import array
from collections.abc import Mapping
from typing import Any

from .answers import count_words
from .options import Options, Settings
from .shapes import is_int
from .wire import ApiError, JsonResponse, Response

DEFAULT_DIMENSIONS = 8
MAX_DIMENSIONS = 4096


def _inputs(value: object) -> list[str | list[int]]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, int) for v in value):
            return [value]
        if all(isinstance(v, str | list) for v in value):
            return value
    raise ApiError(400, "`input` must be a string, a list of strings or token arrays.", "input")


def vector(item: str | list[int], dimensions: int) -> array:
    """A unit-length float32 vector that depends only on `item` and `dimensions`."""
    seed = item.encode() if isinstance(item, str) else json.dumps(item).encode()
    raw = bytearray()
    counter = 0
    while len(raw) < 4 * dimensions:
        raw += hashlib.sha256(seed + counter.to_bytes(4, "little")).digest()
        counter += 1
    ints = struct.unpack(f"<{dimensions}I", bytes(raw[: 4 * dimensions]))
    values = [n / 2147483648.0 - 1.0 for n in ints]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return array("f", (v / norm for v in values))


def _encode(vec: array, encoding: str) -> list[float] | str:
    if encoding == "float":
        return vec.tolist()
    if sys.byteorder == "big":
        vec = array("f", vec)
        vec.byteswap()
    return base64.b64encode(vec.tobytes()).decode()


def embeddings(
    body: dict[str, Any], opts: Options, settings: Settings, headers: Mapping[str, str]
) -> Response:
    items = _inputs(body.get("input"))
    dimensions = body.get("dimensions")
    dimensions = DEFAULT_DIMENSIONS if dimensions is None else dimensions
    if not is_int(dimensions) or not 1 <= dimensions <= MAX_DIMENSIONS:
        raise ApiError(400, f"`dimensions` must be between 1 and {MAX_DIMENSIONS}.", "dimensions")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise ApiError(400, "`encoding_format` must be 'float' or 'base64'.", "encoding_format")
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": _encode(vector(item, dimensions), encoding),
        }
        for i, item in enumerate(items)
    ]
    tokens = sum(count_words(i) if isinstance(i, str) else len(i) for i in items)
    return JsonResponse(
        {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )
