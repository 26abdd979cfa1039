"""What the sandbox saw, for tests to inspect: a request log and counters per model.

The log keeps the newest `max_records` requests. Writes happen on the server's event loop
thread, reads on the test's thread; appends to a list and single-key dict updates are
atomic under the GIL, which is all tests need.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

RECORDED_HEADERS = (
    "authorization",
    "x-api-key",
    "anthropic-version",
    "anthropic-beta",
    "openai-organization",
    "openai-project",
    "content-type",
    "user-agent",
    "x-request-id",
)
LAST_SEEN_HEADERS = ("authorization", "x-api-key", "anthropic-version")

Record = dict[str, Any]


class SandboxState:
    """The request log. Each record is a dict with these keys:

    path, method, model (as sent, options included), base_model, options (the `key=value`
    pairs given after `@`), body (parsed JSON or None), headers (RECORDED_HEADERS present),
    stream, status, started_at, finished_at, cancelled, cancelled_at (time.monotonic()).
    """

    def __init__(self, max_records: int = 10_000) -> None:
        self.max_records = max_records
        self.requests: list[Record] = []
        self.counts: Counter[str] = Counter()
        self.base_counts: Counter[str] = Counter()
        self.last_headers: dict[str, str] = {}

    def begin(self, *, path: str, method: str, headers: dict[str, str]) -> Record:
        subset = {name: headers[name] for name in RECORDED_HEADERS if name in headers}
        for name in LAST_SEEN_HEADERS:
            if name in subset:
                self.last_headers[name] = subset[name]
        record: Record = {
            "path": path,
            "method": method,
            "model": None,
            "base_model": None,
            "options": {},
            "body": None,
            "headers": subset,
            "stream": False,
            "status": None,
            "started_at": time.monotonic(),
            "finished_at": None,
            "cancelled": False,
            "cancelled_at": None,
        }
        self.requests.append(record)
        if len(self.requests) > self.max_records:
            # A long `make run` or benchmark must not grow without bound; forget the oldest half.
            del self.requests[: self.max_records // 2]
        return record

    def count(self, model: str, base: str) -> None:
        self.counts[model] += 1
        self.base_counts[base] += 1

    def reset(self) -> None:
        self.requests.clear()
        self.counts.clear()
        self.base_counts.clear()
        self.last_headers.clear()

    def last(self, path: str | None = None) -> Record | None:
        for record in reversed(self.requests):
            if path is None or record["path"] == path:
                return record
        return None

    def for_model(self, model: str) -> list[Record]:
        """Records whose model id (as sent) or base name equals `model`."""
        return [r for r in self.requests if model in (r["model"], r["base_model"])]

    def wait_for(self, predicate: Callable[[Record], bool], timeout: float = 2.0) -> Record | None:
        """The newest record matching `predicate`, polling until `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            for record in reversed(self.requests):
                if predicate(record):
                    return record
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.01)
