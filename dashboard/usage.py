"""The Usage page and its CSV: spend, tokens and requests per UTC day or hour over a chosen
range, split by model or key, from billing's daily or hourly rollups. The filters live in
the URL."""

import csv
from dataclasses import dataclass
from datetime import date, timedelta

from django import forms
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.models import Membership
from accounts.money import usd_text
from accounts.views.access import member_view
from dashboard import usage_reads

DEFAULT_DAYS = 30
MAX_DAYS = 400
# Hourly buckets up to a month: 744 points is as many as a chart can show apart.
MAX_HOURLY_DAYS = 31


class UsageFilters(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    metric = forms.ChoiceField(choices=list(usage_reads.METRICS.items()), required=False)
    split = forms.ChoiceField(choices=list(usage_reads.SPLITS.items()), required=False)
    bucket = forms.ChoiceField(choices=list(usage_reads.BUCKETS.items()), required=False)


@dataclass
class Filters:
    start: date
    end: date
    metric: str
    split: str
    bucket: str
    problems: list[str]

    def query(self) -> str:
        return (
            f"start={self.start.isoformat()}&end={self.end.isoformat()}"
            f"&metric={self.metric}&split={self.split}&bucket={self.bucket}"
        )


def filters_from(params, today: date) -> Filters:
    """The filters of the query string; what is wrong in it is said in `problems` and
    replaced by the default (the last 30 days, spend, by model, per day)."""
    form = UsageFilters(params)
    form.is_valid()
    problems = [
        f"{form.fields[name].label or name.capitalize()}: {' '.join(errors)}"
        for name, errors in form.errors.items()
    ]
    data = form.cleaned_data
    metric = data.get("metric") or "spend"
    split = data.get("split") or "model"
    bucket = data.get("bucket") or "day"
    end = data.get("end") or today
    start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
    if "start" in form.errors or "end" in form.errors:
        problems.append("Showing the default range, the last 30 days, instead.")
        end, start = today, today - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        problems.append("The start date is after the end date; showing the last 30 days.")
        end, start = today, today - timedelta(days=DEFAULT_DAYS - 1)
    if (end - start).days + 1 > MAX_DAYS:
        problems.append(
            f"A range is at most {MAX_DAYS} days; showing the {MAX_DAYS} days up to {end}."
        )
        start = end - timedelta(days=MAX_DAYS - 1)
    days = (end - start).days + 1
    if bucket == "hour" and days > MAX_HOURLY_DAYS:
        problems.append(
            f"Hourly buckets are for ranges of at most {MAX_HOURLY_DAYS} days; "
            f"showing these {days} days per day instead. Choose a shorter range to see hours."
        )
        bucket = "day"
    return Filters(
        start=start, end=end, metric=metric, split=split, bucket=bucket, problems=problems
    )


@member_view
def usage(request: HttpRequest, membership: Membership) -> HttpResponse:
    org = membership.organization
    filters = filters_from(request.GET, timezone.now().date())
    chart = usage_reads.usage_chart(
        organization=org,
        start=filters.start,
        end=filters.end,
        metric=filters.metric,
        split=filters.split,
        bucket=filters.bucket,
    )
    form = UsageFilters(
        initial={
            "start": filters.start,
            "end": filters.end,
            "metric": filters.metric,
            "split": filters.split,
            "bucket": filters.bucket,
        }
    )
    context = {
        "current": "usage",
        "membership": membership,
        "filters": filters,
        "form": form,
        "chart": chart,
        "metric_label": usage_reads.METRICS[filters.metric],
        "split_label": usage_reads.SPLITS[filters.split],
        "chart_data": {
            "id": "usage-chart",
            "metric": filters.metric,
            "bucket": filters.bucket,
            "x": [usage_reads.bucket_label(p) for p in chart.points],
            "series": [
                {"label": s.label, "values": usage_reads.chart_values(filters.metric, s.values)}
                for s in chart.series
            ],
        },
        "table_rows": _table_rows(chart),
    }
    return render(request, "dashboard/usage.html", context)


def _table_rows(chart: usage_reads.UsageChart) -> list[dict]:
    """The chart's series as a table (day or hour × series), the page's view without
    scripts; an hour reads "2026-12-02 05:00" (UTC, said in the column's header)."""
    shown = "%Y-%m-%d %H:%M" if chart.bucket == "hour" else "%Y-%m-%d"
    return [
        {"when": point.strftime(shown), "values": [s.values[n] for s in chart.series]}
        for n, point in enumerate(chart.points)
    ]


class _Echo:
    def write(self, value: str) -> str:
        return value


@member_view
def usage_csv(request: HttpRequest, membership: Membership) -> HttpResponse:
    filters = filters_from(request.GET, timezone.now().date())
    rows = usage_reads.csv_rows(
        organization=membership.organization,
        start=filters.start,
        end=filters.end,
        split=filters.split,
        bucket=filters.bucket,
    )
    group = {"model": "model", "key": "key", "none": ""}[filters.split]
    writer = csv.writer(_Echo())
    header = [filters.bucket, *([group] if group else []), "requests", "errors", "input_tokens",
              "output_tokens", "cost_usd"]  # fmt: skip

    def lines():
        yield writer.writerow(header)
        for when, name, t in rows:
            values = [t.requests, t.errors, t.input_tokens, t.output_tokens, usd_text(t.cost_pico)]
            yield writer.writerow([when, *([name] if group else []), *values])

    slug = membership.organization.slug
    hourly = "-hourly" if filters.bucket == "hour" else ""
    name = f"usage-{slug}-{filters.start}-{filters.end}-{filters.split}{hourly}.csv"
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
