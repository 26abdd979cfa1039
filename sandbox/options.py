"""The sandbox's knobs, carried in the upstream model id after an `@`.

`demo@chunks=100,delay_ms=5,fault=drop`: the base name is free text; everything after the
last `@` is a comma-separated list of `key=value` pairs. Parsed once per distinct id.

chunks        content pieces per stream (default: the server's, 8)
delay_ms      pause between stream events
first_byte_ms pause before the response headers
cached        prompt tokens reported as read from the cache
fault         a 4xx/5xx status, or drop, timeout, invalid_json, slow_first_byte
parallel=1    call the first two offered tools at once, where the API allows it
tool=NAME     a scripted tool call: unless the conversation's last turn is a tool result, the
              answer is one call to tool NAME with arguments `{}`, whatever tools the request
              offers (even none); after a tool result the answer is text, as usual. Chat
              completions, messages and responses; the other endpoints take no tools
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

FAULTS = frozenset({"drop", "timeout", "invalid_json", "slow_first_byte"})
SLOW_FIRST_BYTE_MS = 2000.0
MAX_CHUNKS = 100_000
# Wider than either provider's own pattern, so a test can name a tool neither would accept.
TOOL_NAME = re.compile(r"[A-Za-z0-9_.:/-]{1,128}")


class OptionsError(ValueError):
    """The option list after `@` in a model id cannot be understood."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Server-wide defaults, used when a model id does not say otherwise."""

    chunks: int = 8
    delay_ms: float = 0.0
    # False: answer /v1/responses with 404, as an upstream that only has chat completions.
    responses: bool = True
    # False: accept `{"role": "system"}` turns in Anthropic messages without the
    # mid-conversation system beta in `anthropic-beta`, as the generally available API does.
    system_turns_need_beta: bool = True


@dataclass(frozen=True, slots=True)
class Options:
    base: str
    chunks: int | None = None
    delay_ms: float | None = None
    first_byte_ms: float = 0.0
    cached: int = 0
    fault: str | None = None
    parallel: bool = False
    tool: str | None = None
    given: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def status_fault(self) -> int | None:
        """The HTTP status to answer with, when the fault is a status code."""
        return int(self.fault) if self.fault and self.fault.isdigit() else None

    def stream_chunks(self, settings: Settings) -> int:
        return self.chunks if self.chunks is not None else settings.chunks

    def stream_delay(self, settings: Settings) -> float:
        """Seconds to wait between stream events."""
        delay_ms = self.delay_ms if self.delay_ms is not None else settings.delay_ms
        return delay_ms / 1000.0

    def first_byte_delay(self) -> float:
        """Seconds to wait before the response headers."""
        if self.fault == "slow_first_byte" and not self.first_byte_ms:
            return SLOW_FIRST_BYTE_MS / 1000.0
        return self.first_byte_ms / 1000.0


def _int(key: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise OptionsError(f"`{key}` must be a whole number, got {raw!r}.") from None
    if not low <= value <= high:
        raise OptionsError(f"`{key}` must be between {low} and {high}, got {value}.")
    return value


def _ms(key: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise OptionsError(f"`{key}` must be a number of milliseconds, got {raw!r}.") from None
    if not 0 <= value <= 3_600_000:
        raise OptionsError(f"`{key}` must be between 0 and 3600000 ms, got {raw}.")
    return value


def _fault(raw: str) -> str:
    if raw in FAULTS or (raw.isdigit() and len(raw) == 3 and raw[0] in "45"):
        return raw
    known = ", ".join(sorted(FAULTS))
    raise OptionsError(f"Unknown fault {raw!r}: use a 4xx/5xx status code or one of {known}.")


def _tool(raw: str) -> str:
    if TOOL_NAME.fullmatch(raw):
        return raw
    raise OptionsError(
        f"`tool` must be a tool name of 1 to 128 letters, digits or _.:/-, got {raw!r}."
    )


@lru_cache(maxsize=4096)
def parse_model(model: str) -> Options:
    """Split `base@k=v,...` into its base name and options; raises OptionsError."""
    base, at, tail = model.rpartition("@")
    if not at:
        return Options(base=model)
    values: dict[str, object] = {}
    given: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in tail.split(","))):
        key, eq, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not eq or not raw:
            raise OptionsError(f"Option {item!r} needs a value, like `{key}=1`.")
        if key in given:
            raise OptionsError(f"Option `{key}` is given twice.")
        given[key] = raw
        if key == "chunks":
            values[key] = _int(key, raw, 1, MAX_CHUNKS)
        elif key in ("delay_ms", "first_byte_ms"):
            values[key] = _ms(key, raw)
        elif key == "cached":
            values[key] = _int(key, raw, 0, 10_000_000)
        elif key == "parallel":
            values[key] = bool(_int(key, raw, 0, 1))
        elif key == "fault":
            values[key] = _fault(raw)
        elif key == "tool":
            values[key] = _tool(raw)
        else:
            raise OptionsError(
                f"Unknown option `{key}`: use chunks, delay_ms, first_byte_ms, cached, fault, "
                "parallel or tool (`tool=NAME`: answer with a call to tool NAME)."
            )
    return Options(base=base, given=given, **values)  # type: ignore[arg-type]
