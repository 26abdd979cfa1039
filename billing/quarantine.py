"""The usage writer that one bad event cannot stop.

A batch the database refuses is split in halves, and the halves again, until each refused
event is alone; that event goes to UsageQuarantine (visible in the admin) with its payload
and the error, and everything else is written. One bad event among 500 costs about twenty
small transactions, well under a second.

A database that is *down* refuses nothing: OperationalError and InterfaceError (Django's,
or psycopg's own from the COPY path) propagate, so that the caller keeps the batch and
retries it. Quarantining for that would set aside good usage.

An event refused alone is tried once more before it is quarantined: two writers of the
same request id (a stream entry claimed from a process that looked dead) make one of them
fail on the unique index once, and the second try finds the record written and skips it.
"""

import dataclasses
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
from django.db import InterfaceError, OperationalError, connection

from billing.models import UsageQuarantine
from billing.usage import UsageEvent, usage_record_batch

log = logging.getLogger(__name__)

_down: list[type[BaseException]] = [OperationalError, InterfaceError]
try:
    import psycopg

    _down += [psycopg.OperationalError, psycopg.InterfaceError]
except ImportError:  # SQLite-only installs
    pass
DOWN: tuple[type[BaseException], ...] = tuple(_down)
ERROR_CHARS = 2000


@dataclass
class Written:
    records: int = 0
    quarantined: int = 0


def database_down(exc: BaseException) -> bool:
    """Whether a failed write is the database's state (retry) rather than the events'."""
    return isinstance(exc, DOWN)


def usage_write(
    events: Sequence[UsageEvent], unreadable: Iterable[tuple[str, object]] = ()
) -> Written:
    """Writes what the database takes, quarantines what it refuses; `unreadable` are
    (error, raw payload) pairs that never became events (a stream entry or journal line
    that does not decode), quarantined as they are. Raises on a database that is down,
    after closing the connection so that the retry opens a fresh one."""
    out = Written()
    try:
        for error, raw in unreadable:
            usage_quarantine(request_id="", payload={"raw": raw}, error=error)
            out.quarantined += 1
        if events:
            _write(list(events), out)
    except DOWN:
        _close()
        raise
    return out


def _write(events: list[UsageEvent], out: Written) -> None:
    try:
        out.records += usage_record_batch(events)
        return
    except DOWN:
        raise
    except Exception as exc:
        if len(events) == 1:
            _alone(events[0], out)
            return
        log.warning("A batch of %d usage events was refused (%s); splitting it.", len(events), exc)
    half = len(events) // 2
    _write(events[:half], out)
    _write(events[half:], out)


def _alone(event: UsageEvent, out: Written) -> None:
    try:
        out.records += usage_record_batch([event])
        return
    except DOWN:
        raise
    except Exception as exc:
        error = exc
    usage_quarantine(
        request_id=event.request_id,
        payload=dataclasses.asdict(event),
        error=f"{type(error).__name__}: {error}",
    )
    out.quarantined += 1
    log.error("Usage event %r quarantined: %s", event.request_id, error)


def usage_quarantine(*, request_id: object, payload: dict, error: str) -> None:
    """Sets one event apart, once: a quarantine whose acknowledgement was lost (a crash)
    is not repeated. When even that write is refused, the payload goes to the log, the
    one place left, and the writer moves on."""
    rid = _storable(request_id if isinstance(request_id, str) else repr(request_id))[:200]
    stored = _storable(payload)
    text = _storable(error)[:ERROR_CHARS]
    if rid and UsageQuarantine.objects.filter(request_id=rid).exists():
        return
    try:
        UsageQuarantine.objects.create(request_id=rid, payload=stored, error=text)
    except DOWN:
        raise
    except Exception:
        log.exception("Could not quarantine usage event %r: %s", rid, orjson.dumps(stored))


def _storable(value: object):
    """A JSON value Postgres' jsonb takes: NULs written out as the text `\\u0000`, lone
    surrogates escaped, non-finite floats and datetimes as strings."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\\u0000")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {str(_storable(str(k))): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return _storable(value.decode("utf-8", "replace"))
    if value is None or isinstance(value, bool | int | float):
        return value
    return _storable(repr(value))


def _close() -> None:
    try:
        connection.close()
    except Exception:  # a connection that is already gone cannot be closed cleanly
        log.debug("Closing the usage writer's connection failed.", exc_info=True)
