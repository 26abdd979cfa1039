"""The request log's pages: the list with its filters, one request's detail, the CSV."""

import csv
from collections.abc import Iterator
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import Membership
from accounts.money import usd_text
from accounts.views.access import member_view
from billing import bodies
from dashboard import request_log
from dashboard.bodies import shown
from dashboard.request_log import FilterErrors, LogFilters

CSV_COLUMNS = (
    "request_id",
    "created_at",
    "key_prefix",
    "key_name",
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
    "cost_usd",
    "latency_ms",
    "ttft_ms",
    "attempts",
    "error",
)


@member_view
def requests_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    org = membership.organization
    errors: dict[str, str] = {}
    try:
        filters = request_log.filters_parse(request.GET)
        before = request_log.cursor_parse(request.GET.get("before", ""), name="before")
        after = request_log.cursor_parse(request.GET.get("after", ""), name="after")
    except FilterErrors as exc:
        errors = exc.errors
        filters = exc.valid if "before" not in errors and "after" not in errors else LogFilters()
        before = after = None
    page = request_log.request_log_page(
        organization=org, filters=filters, before=before, after=after
    )
    for record in page.records:
        record.cost_exact = usd_text(record.cost_pico)  # the hover's exact figure
    query = filters.as_query()
    context = {
        "membership": membership,
        "current": "requests",
        "page": page,
        "filters": filters,
        "errors": errors,
        "keys": request_log.keys_for_filter(organization=org),
        "models": request_log.models_for_filter(organization=org),
        "statuses": request_log.STATUSES,
        "query": urlencode(query),
        "older_query": urlencode({**query, "before": page.older}) if page.older else "",
        "newer_query": urlencode({**query, "after": page.newer}) if page.newer else "",
        "stored_bodies": bodies.bodies_stored(organization=org),
    }
    return render(request, "dashboard/requests.html", context)


@member_view
def request_detail(request: HttpRequest, membership: Membership, request_id: str) -> HttpResponse:
    record = request_log.request_get(organization=membership.organization, request_id=request_id)
    record.cost_exact = usd_text(record.cost_pico)
    org = membership.organization
    stored = bodies.body_get(organization=org, request_id=record.request_id)
    context = {
        "membership": membership,
        "current": "requests",
        "record": record,
        "fallbacks": max(record.attempts - 1, 0),
        "body": shown(stored) if stored is not None else None,
        "logging": org.log_bodies,
    }
    return render(request, "dashboard/request_detail.html", context)


@require_POST
@member_view
def request_bodies_delete(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Every stored prompt and answer of the organization, deleted now (owners and admins)."""
    if not membership.can_manage:
        raise PermissionDenied(
            "Only an admin or owner can delete the stored prompts and answers; ask one of them."
        )
    count = bodies.bodies_delete(organization=membership.organization)
    messages.success(
        request, f"Deleted {count} stored prompt{'s' if count != 1 else ''} and answers."
    )
    return redirect("requests", slug=membership.organization.slug)


@member_view
def requests_csv(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The filtered log as CSV, newest first, at most CSV_MAX_ROWS rows, streamed."""
    try:
        filters = request_log.filters_parse(request.GET)
    except FilterErrors as exc:
        text = " ".join(f"{k}: {v}" for k, v in exc.errors.items())
        return HttpResponse(text, status=400, content_type="text/plain; charset=utf-8")
    rows = request_log.request_log_rows(organization=membership.organization, filters=filters)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
    name = f"requests-{membership.organization.slug}-{stamp}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(records: Iterator[dict]) -> Iterator[str]:
    out = csv.writer(_Echo())
    yield out.writerow(CSV_COLUMNS)
    for r in records:
        ttft = r["ttft_ms"]
        yield out.writerow(
            [
                r["request_id"],
                r["created_at"].isoformat(),
                r["api_key__prefix"] or "",
                _cell(r["api_key__name"] or ""),
                _cell(r["model"]),
                _cell(r["provider"]),
                _cell(r["upstream_model"]),
                r["status"],
                r["http_status"],
                r["code"],
                r["streamed"],
                r["input_tokens"],
                r["output_tokens"],
                r["cached_tokens"],
                r["cache_write_tokens"],
                r["tokens_estimated"],
                usd_text(r["cost_pico"]),
                round(r["latency_ms"], 1),
                "" if ttft is None else round(ttft, 1),
                r["attempts"],
                _cell(r["error"]),
            ]
        )


def _cell(text: str) -> str:
    """A caller's text (a model name a client sent) that a spreadsheet would run as a
    formula is quoted, so opening the export never evaluates it."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
