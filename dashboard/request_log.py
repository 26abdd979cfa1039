"""Reads of the request log: an organization's usage records (refusals included), newest
first, filtered by key, model, status and days, a page at a time by keyset.

The order is (created_at DESC, id DESC) inside one organization, so every page is an index
range scan of (organization, -created_at) from the cursor, never an OFFSET: page 10,000 costs
what page 1 costs. The id breaks ties between records of the same instant, so a row is on
exactly one page however many share its timestamp."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import APIKey, Organization
from billing.models import UsageRecord, UsageRollup, UsageStatus

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
CSV_MAX_ROWS = 100_000
CSV_CHUNK = 2_000
STATUSES = tuple(UsageStatus.values)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The columns a list row needs; the detail page loads the whole record.
_LIST_FIELDS = (
    "id",
    "request_id",
    "created_at",
    "model",
    "status",
    "http_status",
    "code",
    "streamed",
    "input_tokens",
    "output_tokens",
    "cost_pico",
    "latency_ms",
    "ttft_ms",
    "api_key__prefix",
    "api_key__name",
)


class FilterErrors(ValueError):
    """Query parameters that are not valid filters: {parameter: sentence}."""

    def __init__(self, errors: dict[str, str], valid: "LogFilters | None" = None) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        # The filters that were valid, for a page that keeps them and says what it dropped.
        self.valid = valid if valid is not None else LogFilters()


@dataclass(frozen=True)
class LogFilters:
    key_id: int | None = None
    model: str = ""
    status: str = ""
    start: date | None = None  # first UTC day, included
    end: date | None = None  # last UTC day, included

    def as_query(self) -> dict[str, str]:
        """The filters as URL parameters, for links that keep them."""
        query = {
            "key": str(self.key_id or ""),
            "model": self.model,
            "status": self.status,
            "start": self.start.isoformat() if self.start else "",
            "end": self.end.isoformat() if self.end else "",
        }
        return {k: v for k, v in query.items() if v}


@dataclass(frozen=True)
class Cursor:
    """A position in the log: the record at (created_at, id), as `<µs since epoch>-<id>`."""

    created_at: datetime
    pk: int

    def __str__(self) -> str:
        micros = (self.created_at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}-{self.pk}"

    @classmethod
    def of(cls, record: UsageRecord) -> "Cursor":
        return cls(record.created_at, record.pk)

    @classmethod
    def parse(cls, text: str) -> "Cursor":
        micros, sep, pk = text.partition("-")
        if not sep or not micros.isdigit() or not pk.isdigit():
            raise ValueError(text)
        return cls(_EPOCH + timedelta(microseconds=int(micros)), int(pk))


@dataclass(frozen=True)
class LogPage:
    records: list[UsageRecord]
    # Cursors for the "older" and "newer" links; None where there is nothing that way.
    older: Cursor | None
    newer: Cursor | None
    filters: LogFilters = field(default_factory=LogFilters)


def filters_parse(params: Mapping[str, str]) -> LogFilters:
    """Filters from URL parameters (key, model, status, start, end); FilterErrors naming
    each parameter that is not one."""
    errors: dict[str, str] = {}
    key_id = None
    key = (params.get("key") or "").strip()
    if key:
        if key.isdigit() and len(key) < 19:
            key_id = int(key)
        else:
            errors["key"] = f"“{key[:40]}” is not a key id; pick a key from the list."
    model = (params.get("model") or "").strip()
    if len(model) > 200:
        errors["model"] = "A model name has at most 200 characters."
    status = (params.get("status") or "").strip()
    if status and status not in STATUSES:
        errors["status"] = f"Status is one of {', '.join(STATUSES)}."
    start = _day(params, "start", errors)
    end = _day(params, "end", errors)
    if start and end and end < start:
        errors["end"] = "The end comes before the start; give an end on or after it."
    if "end" in errors:
        end = None
    filters = LogFilters(
        key_id=key_id,
        model="" if "model" in errors else model,
        status="" if "status" in errors else status,
        start=start,
        end=end,
    )
    if errors:
        raise FilterErrors(errors, valid=filters)
    return filters


def _day(params: Mapping[str, str], name: str, errors: dict[str, str]) -> date | None:
    text = (params.get(name) or "").strip()
    if not text:
        return None
    try:
        # fromisoformat also takes "20261202"; the page and the API say YYYY-MM-DD.
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        errors[name] = f"“{text[:40]}” is not a day; write it as YYYY-MM-DD."
        return None


def cursor_parse(text: str, *, name: str) -> Cursor | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return Cursor.parse(text)
    except (ValueError, OverflowError):
        raise FilterErrors(
            {name: "This page link is not valid any more; start again from the newest."}
        ) from None


def _filtered(organization: Organization, filters: LogFilters) -> QuerySet[UsageRecord]:
    records = UsageRecord.objects.filter(organization=organization)
    if filters.key_id is not None:
        records = records.filter(api_key_id=filters.key_id)
    if filters.model:
        records = records.filter(model=filters.model)
    if filters.status:
        records = records.filter(status=filters.status)
    if filters.start:
        records = records.filter(created_at__gte=datetime.combine(filters.start, time(), UTC))
    if filters.end:
        after_end = datetime.combine(filters.end + timedelta(days=1), time(), UTC)
        records = records.filter(created_at__lt=after_end)
    return records


def _older_than(records: QuerySet[UsageRecord], cursor: Cursor) -> QuerySet[UsageRecord]:
    # `created_at <= t` first, so the index range starts at the cursor; the OR then drops
    # the records of that instant already shown.
    return records.filter(created_at__lte=cursor.created_at).filter(
        Q(created_at__lt=cursor.created_at) | Q(pk__lt=cursor.pk)
    )


def _newer_than(records: QuerySet[UsageRecord], cursor: Cursor) -> QuerySet[UsageRecord]:
    return records.filter(created_at__gte=cursor.created_at).filter(
        Q(created_at__gt=cursor.created_at) | Q(pk__gt=cursor.pk)
    )


def request_log_page(
    *,
    organization: Organization,
    filters: LogFilters,
    before: Cursor | None = None,
    after: Cursor | None = None,
    size: int | None = None,
) -> LogPage:
    """One page of the log, newest first, in one query: the newest records, or those just
    older than `before`, or just newer than `after` (the "newer" link); PAGE_SIZE records
    unless `size` says."""
    size = size or PAGE_SIZE
    records = _filtered(organization, filters).select_related("api_key").only(*_LIST_FIELDS)
    if after is not None:
        rows = list(_newer_than(records, after).order_by("created_at", "id")[: size + 1])
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        return LogPage(
            records=rows,
            older=Cursor.of(rows[-1]) if rows else after,
            newer=Cursor.of(rows[0]) if more_newer else None,
            filters=filters,
        )
    if before is not None:
        records = _older_than(records, before)
    rows = list(records.order_by("-created_at", "-id")[: size + 1])
    more_older = len(rows) > size
    rows = rows[:size]
    newer = None
    if before is not None:
        newer = Cursor.of(rows[0]) if rows else before
    return LogPage(
        records=rows,
        older=Cursor.of(rows[-1]) if more_older else None,
        newer=newer,
        filters=filters,
    )


def request_get(*, organization: Organization, request_id: str) -> UsageRecord:
    """One record of the organization; another organization's, like a missing one, is 404."""
    record = (
        UsageRecord.objects.select_related("api_key")
        .filter(organization=organization, request_id=request_id)
        .first()
    )
    if record is None:
        raise Http404("No such request.")
    return record


CSV_FIELDS = (
    "id",
    "request_id",
    "created_at",
    "api_key__prefix",
    "api_key__name",
    "model",
    "provider",
    "upstream_model",
    "status",
    "http_status",
    "code",
    "streamed",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "tokens_estimated",
    "cost_pico",
    "latency_ms",
    "ttft_ms",
    "attempts",
    "error",
)


def request_log_rows(
    *, organization: Organization, filters: LogFilters, limit: int = CSV_MAX_ROWS
) -> Iterator[dict]:
    """The filtered log as dicts of CSV_FIELDS, newest first, at most `limit` records, read
    in keyset chunks so a long export holds no cursor open and no more than a chunk in
    memory (dicts, not model instances: a 100,000-row export is mostly this loop)."""
    records = _filtered(organization, filters)
    cursor = None
    left = limit
    while left > 0:
        chunk = records if cursor is None else _older_than(records, cursor)
        rows = list(
            chunk.order_by("-created_at", "-id").values(*CSV_FIELDS)[: min(CSV_CHUNK, left)]
        )
        yield from rows
        left -= len(rows)
        if len(rows) < CSV_CHUNK:
            return
        cursor = Cursor(rows[-1]["created_at"], rows[-1]["id"])


def keys_for_filter(*, organization: Organization) -> list[APIKey]:
    return list(
        APIKey.objects.filter(organization=organization)
        .only("id", "name", "prefix")
        .order_by("name", "id")
    )


def models_for_filter(*, organization: Organization) -> list[str]:
    """The models this organization has used, from the rollups (not a scan of the log)."""
    return list(
        UsageRollup.objects.filter(organization=organization)
        .order_by("model")
        .values_list("model", flat=True)
        .distinct()
    )
