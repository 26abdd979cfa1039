"""The Usage page and its CSV: spend, tokens and requests per day over a chosen range,
split by model or key, from billing's daily rollups. The filters live in the URL."""

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


class UsageFilters(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    metric = forms.ChoiceField(choices=list(usage_reads.METRICS.items()), required=False)
    split = forms.ChoiceField(choices=list(usage_reads.SPLITS.items()), required=False)


@dataclass
class Filters:
    start: date
    end: date
    metric: str
    split: str
    problems: list[str]

    def query(self) -> str:
        return (
            f"start={self.start.isoformat()}&end={self.end.isoformat()}"
            f"&metric={self.metric}&split={self.split}"
        )


def filters_from(params, today: date) -> Filters:
    """The filters of the query string; what is wrong in it is said in `problems` and
    replaced by the default (the last 30 days, spend, by model)."""
    form = UsageFilters(params)
    form.is_valid()
    problems = [
        f"{form.fields[name].label or name.capitalize()}: {' '.join(errors)}"
        for name, errors in form.errors.items()
    ]
    data = form.cleaned_data
    metric = data.get("metric") or "spend"
    split = data.get("split") or "model"
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
    return Filters(start=start, end=end, metric=metric, split=split, problems=problems)


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
    )
    form = UsageFilters(
        initial={
            "start": filters.start,
            "end": filters.end,
            "metric": filters.metric,
            "split": filters.split,
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
            "x": [d.isoformat() for d in chart.days],
            "series": [
                {"label": s.label, "values": usage_reads.chart_values(filters.metric, s.values)}
                for s in chart.series
            ],
        },
        "table_rows": _table_rows(chart),
    }
    return render(request, "dashboard/usage.html", context)


def _table_rows(chart: usage_reads.UsageChart) -> list[dict]:
    """The chart's series as a table (day × series), the page's view without scripts."""
    return [
        {"day": day, "values": [s.values[n] for s in chart.series]}
        for n, day in enumerate(chart.days)
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
    )
    group = {"model": "model", "key": "key", "none": ""}[filters.split]
    writer = csv.writer(_Echo())
    header = ["day", *([group] if group else []), "requests", "errors", "input_tokens",
              "output_tokens", "cost_usd"]  # fmt: skip

    def lines():
        yield writer.writerow(header)
        for day, name, t in rows:
            values = [t.requests, t.errors, t.input_tokens, t.output_tokens, usd_text(t.cost_pico)]
            yield writer.writerow([day, *([name] if group else []), *values])

    name = f"usage-{membership.organization.slug}-{filters.start}-{filters.end}-{filters.split}.csv"
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
