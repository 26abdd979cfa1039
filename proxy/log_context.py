"""What a log line emitted inside a /v1 request says about it: the request's id, set by
the consumer once the id exists and read by the log formatter (platform_site.logs).

A contextvar, so it follows the request's task and the tasks it starts, and never leaks
into another request's lines."""

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
