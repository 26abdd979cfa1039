"""The server processes' log lines: one JSON object per line for a log collector, or one
readable line in development (LOG_FORMAT, platform_site.settings_ops).

A JSON line has time (ISO 8601 UTC, milliseconds), level, logger, message, process, and
when they apply request_id (the /v1 request the line was emitted in, proxy.log_context)
and exception (the traceback's text). The request id is read when the line is formatted,
which is when it is emitted: the handlers are synchronous.
"""

import logging
from datetime import UTC, datetime

import orjson

from proxy.log_context import request_id

FORMATS = ("json", "text")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        rid = request_id.get()
        if rid is not None:
            line["request_id"] = rid
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """The plain line, with the request id after the logger's name when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        rid = request_id.get()
        return text if rid is None else f"{text} [{rid}]"


def logging_config(fmt: str, level: str) -> dict:
    """Django's LOGGING: every line, uvicorn's and Django's included, through one handler
    on stderr in `fmt`."""
    if fmt not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be json or text, not {fmt!r}.")
    # No level of their own: uvicorn's stays what its --log-level set, Django's its INFO.
    through_root = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "platform_site.logs.JsonFormatter"},
            "text": {"()": "platform_site.logs.TextFormatter"},
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": fmt}},
        "root": {"handlers": ["console"], "level": level},
        # Their own handlers dropped (uvicorn's from its default config, Django's console
        # and mail_admins): each line goes once through the root's, in this format.
        "loggers": {name: through_root for name in ("django", "uvicorn", "uvicorn.access")},
    }
