"""The live usage feed, publishing side: billing's `usage_written` (sent after the usage
write commits) becomes one channel-layer message per organization and batch, to the
group `usage.org.<id>`, carrying one JSON text per record for the sockets to pass on.

This runs in the /v1 process, so the writer's thread only hands the batch over:
- the in-memory layer (embedded mode) reaches the sockets of this process only, so a
  batch none of whose organizations has a socket here costs a set lookup per
  organization and is dropped at once;
- with Redis the sockets may be in any process, so every batch is handed over.
One publisher thread builds the JSON (orjson) and sends: on the sockets' own event loop
for the in-memory layer (its queues belong to that loop), on its own loop for Redis.
Nothing here raises into the writer: a failure is logged and the batch dropped (the feed is
a view of the records, which are already written).
"""

import asyncio
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC

import orjson
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.db import connection

from accounts.models import APIKey
from accounts.money import usd_text
from billing.usage import UsageEvent

log = logging.getLogger(__name__)

MESSAGE_TYPE = "usage.batch"  # the consumer's usage_batch handler
QUEUE_MAX = 1000  # batches waiting for the publisher; beyond that they are dropped
SEND_TIMEOUT_S = 5.0
DROP_LOG_EVERY_S = 60.0
PICO = 10**12
CENT_PICO = 10**10


def group_of(organization_id: int) -> str:
    return f"usage.org.{organization_id}"


def record_message(event: UsageEvent, key_prefix: str = "") -> dict:
    """What a socket receives for one record (the contract's live usage feed), before
    `record_json` (created_at is a datetime until then)."""
    return {
        "request_id": event.request_id,
        "created_at": event.created_at,
        "key_prefix": event.key_prefix or key_prefix,
        "model": event.model,
        "status": event.status,
        "http_status": event.http_status,
        "input_tokens": event.input_tokens,
        "output_tokens": event.output_tokens,
        "cost_usd": usd_exact(event.cost_pico),
        "latency_ms": round(event.latency_ms, 3),
    }


def record_json(message: dict) -> str:
    """ISO 8601 in UTC with a Z (timezone.now() and event_loads give UTC datetimes)."""
    at = message["created_at"]
    if at.tzinfo is not None and at.utcoffset():
        message = {**message, "created_at": at.astimezone(UTC)}
    return orjson.dumps(message, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC).decode()


def usd_exact(pico: int) -> str:
    """accounts.money.usd_text's text, in integers: a fifth of its cost (Decimal), which
    counts here, once per record of every batch."""
    if type(pico) is not int or pico < 0:
        return usd_text(pico)
    whole, frac = divmod(pico, PICO)
    if frac % CENT_PICO == 0:
        return f"{whole}.{frac // CENT_PICO:02d}"
    return f"{whole}.{frac:012d}".rstrip("0")


class Publisher:
    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue(QUEUE_MAX)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        # The event loop of this process's feed sockets, set by the consumer on connect.
        self.socket_loop: asyncio.AbstractEventLoop | None = None
        self.dropped = 0
        self._drop_logged = 0.0

    def offer(self, events: Sequence[UsageEvent]) -> None:
        """From the writer's thread: hands the batch to the publisher, or drops it."""
        layer = get_channel_layer()
        if layer is None or not events:
            return
        loop = None
        if isinstance(layer, InMemoryChannelLayer):
            loop = self.socket_loop
            groups = layer.groups
            if loop is None or not groups or loop.is_closed():
                return
            listening = {o for o in {e.organization_id for e in events} if group_of(o) in groups}
            if not listening:
                return
            events = [e for e in events if e.organization_id in listening]
        self._start()
        try:
            self._queue.put_nowait((layer, loop, events))
        except queue.Full:
            self._drop(len(events))

    def _drop(self, count: int) -> None:
        self.dropped += count
        now = time.monotonic()
        if now - self._drop_logged >= DROP_LOG_EVERY_S:
            self._drop_logged = now
            log.warning("The live usage feed is behind; %d records dropped so far.", self.dropped)

    def _start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="live-feed-publisher", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        while True:
            layer, target, events = self._queue.get()
            try:
                batches = batches_of(events)
                sending = _send(layer, batches)
                if target is None:
                    loop.run_until_complete(asyncio.wait_for(sending, SEND_TIMEOUT_S))
                else:  # the in-memory layer's queues are the sockets' loop's
                    asyncio.run_coroutine_threadsafe(sending, target)
            except Exception:
                log.exception("The live usage feed dropped a batch of %d records.", len(events))


def batches_of(events: Sequence[UsageEvent]) -> dict[str, list[str]]:
    """Group name → the JSON texts of its records, oldest first."""
    prefixes = _prefixes([e.api_key_id for e in events if not e.key_prefix and e.api_key_id])
    out: dict[str, list[str]] = defaultdict(list)
    for event in sorted(events, key=lambda e: e.created_at):
        message = record_message(event, prefixes.get(event.api_key_id, ""))
        out[group_of(event.organization_id)].append(record_json(message))
    return out


def _prefixes(key_ids: list[int]) -> dict[int, str]:
    """Events from before key_prefix was carried (a stream or journal of an older
    version): their keys' prefixes, in one query."""
    if not key_ids:
        return {}
    try:
        return dict(APIKey.objects.filter(pk__in=set(key_ids)).values_list("pk", "prefix"))
    finally:
        connection.close()  # this thread's own; rare enough not to keep it open


async def _send(layer: BaseChannelLayer, batches: dict[str, list[str]]) -> None:
    for group, records in batches.items():
        try:
            await layer.group_send(group, {"type": MESSAGE_TYPE, "records": records})
        except Exception:
            log.exception("The live usage feed could not publish to %s.", group)


publisher = Publisher()


def on_usage_written(sender, events: Sequence[UsageEvent], **kwargs) -> None:
    """billing.usage_signals.usage_written's receiver (connected in DashboardConfig.ready)."""
    try:
        publisher.offer(events)
    except Exception:
        log.exception("The live usage feed dropped %d records.", len(events))
