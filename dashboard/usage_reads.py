"""The usage read model of the Home and Usage pages: sums of billing's rollups, daily
(UsageRollup) or hourly (UsageRollupHour), never a scan of the raw usage records.

Rollups are per UTC hour or day × key × model; every read here is a fixed number of
GROUP BY queries over the (organization, day) or (organization, hour) index, whatever the
number of buckets, models or keys."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import F, QuerySet, Sum

from accounts.models import APIKey, Organization
from accounts.money import PICO_PER_USD
from billing.models import UsageRollup, UsageRollupHour

METRICS = {"spend": "Spend (USD)", "tokens": "Tokens", "requests": "Requests"}
SPLITS = {"model": "Model", "key": "API key", "none": "Nothing (total)"}
BUCKETS = {"day": "Day", "hour": "Hour"}
# The chart draws this many series at most; the rest are summed into "Other".
MAX_SERIES = 8
_SUMS = {
    "requests": Sum("requests"),
    "errors": Sum("errors"),
    "input_tokens": Sum("input_tokens"),
    "output_tokens": Sum("output_tokens"),
    "cost_pico": Sum("cost_pico"),
}


@dataclass
class Totals:
    """One group's (or day's) sums; `label` names it for people."""

    label: str = ""
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_pico: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def metric(self, name: str) -> int:
        return {"spend": self.cost_pico, "tokens": self.tokens, "requests": self.requests}[name]

    @classmethod
    def of(cls, row: dict, label: str = "") -> "Totals":
        return cls(
            label=label,
            requests=row["requests"] or 0,
            errors=row["errors"] or 0,
            input_tokens=row["input_tokens"] or 0,
            output_tokens=row["output_tokens"] or 0,
            cost_pico=row["cost_pico"] or 0,
        )


@dataclass
class Series:
    label: str
    # One value per bucket (day or hour) of the range (0 where there was no usage), in
    # the metric's unit: pico-USD for spend.
    values: list[int] = field(default_factory=list)


def chart_values(metric: str, values: list[int]) -> list[float | int]:
    """For the chart's JSON: spend in dollars (a float: pico-USD overflows JavaScript's
    exact integers past $9,007), the counts as they are."""
    if metric == "spend":
        return [v / PICO_PER_USD for v in values]
    return values


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def hours_between(start: date, end: date) -> list[datetime]:
    """Every UTC hour of the days [start, end], as aware datetimes."""
    first = datetime.combine(start, time(), tzinfo=UTC)
    return [first + timedelta(hours=n) for n in range(((end - start).days + 1) * 24)]


def buckets_between(start: date, end: date, bucket: str) -> list:
    return hours_between(start, end) if bucket == "hour" else days_between(start, end)


def bucket_label(value: date | datetime) -> str:
    """ISO 8601: 2026-12-02 for a day, 2026-12-02T05:00:00Z for a UTC hour."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def _rollups(organization: Organization, start: date, end: date, bucket: str = "day") -> QuerySet:
    """The rollup rows of [start, end] (whole UTC days): hourly or daily."""
    if bucket == "hour":
        return UsageRollupHour.objects.filter(
            organization=organization,
            hour__gte=datetime.combine(start, time(), tzinfo=UTC),
            hour__lt=datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC),
        )
    return UsageRollup.objects.filter(organization=organization, day__gte=start, day__lte=end)


def _bucket_of(row: dict) -> date | datetime:
    """The row's day, or its hour in UTC (hashes and compares like hours_between's)."""
    return row["hour"].astimezone(UTC) if "hour" in row else row["day"]


def key_labels(organization: Organization, key_ids) -> dict[int, str]:
    """'name (prefix…)' per key id of this organization, in one query; 0 is a deleted key."""
    ids = [k for k in key_ids if k]
    labels = {0: "(deleted key)"}
    if ids:
        keys = APIKey.objects.filter(organization=organization, pk__in=ids).only("name", "prefix")
        labels.update({k.pk: f"{k.name} ({k.prefix}…)" for k in keys})
    return labels


def daily_totals(
    *, organization: Organization, start: date, end: date, bucket: str = "day"
) -> list[Totals]:
    """Every day (or UTC hour) of [start, end], with zeros where there was no usage, each
    labelled by bucket_label: one query."""
    rows = (
        _rollups(organization, start, end, bucket).values(bucket).annotate(**_SUMS).order_by(bucket)
    )
    by_bucket = {_bucket_of(row): row for row in rows}
    empty = dict.fromkeys(_SUMS, 0)
    return [
        Totals.of(by_bucket.get(b, empty), label=bucket_label(b))
        for b in buckets_between(start, end, bucket)
    ]


def totals(*, organization: Organization, start: date, end: date) -> Totals:
    return Totals.of(_rollups(organization, start, end).aggregate(**_SUMS), label="Total")


def top_groups(
    *,
    organization: Organization,
    start: date,
    end: date,
    by: str,
    labels: dict | None = None,
    bucket: str = "day",
) -> list[Totals]:
    """Totals per model or key over the range, the most spent first: one query (and one
    for the keys' names unless `labels` has them)."""
    column = {"model": "model", "key": "key_id"}[by]
    rows = list(
        _rollups(organization, start, end, bucket)
        .values(column)
        .annotate(**_SUMS)
        .order_by(F("cost_pico").desc(nulls_last=True), F("requests").desc(), column)
    )
    if by == "key" and labels is None:
        labels = key_labels(organization, [row["key_id"] for row in rows])
    return [
        Totals.of(
            row,
            label=row["model"]
            if by == "model"
            else labels.get(row["key_id"], f"key {row['key_id']}"),
        )
        for row in rows
    ]


@dataclass
class UsageChart:
    # The buckets drawn: dates, or aware UTC datetimes on the hour.
    points: list
    series: list[Series]
    top_models: list[Totals]
    top_keys: list[Totals]
    total: Totals
    bucket: str = "day"


def usage_chart(
    *,
    organization: Organization,
    start: date,
    end: date,
    metric: str,
    split: str,
    bucket: str = "day",
) -> UsageChart:
    """The Usage page's data: per-day (or per-hour) series of `metric` split by model,
    key or nothing (at most MAX_SERIES, the smaller groups summed as "Other"), the top
    models and keys, and the total. Five queries at most, whatever the range or bucket;
    all of them read the bucket's table, so the page agrees with itself."""
    if metric not in METRICS or split not in SPLITS or bucket not in BUCKETS:
        raise ValueError("unknown metric, split or bucket")
    points = buckets_between(start, end, bucket)
    top_models = top_groups(
        organization=organization, start=start, end=end, by="model", bucket=bucket
    )
    keys_rows = list(
        _rollups(organization, start, end, bucket)
        .values("key_id")
        .annotate(**_SUMS)
        .order_by(F("cost_pico").desc(nulls_last=True), F("requests").desc(), "key_id")
    )
    labels = key_labels(organization, [row["key_id"] for row in keys_rows])
    top_keys = [Totals.of(row, label=labels.get(row["key_id"], "")) for row in keys_rows]
    total = Totals()
    for group in top_models:
        for name in ("requests", "errors", "input_tokens", "output_tokens", "cost_pico"):
            setattr(total, name, getattr(total, name) + getattr(group, name))
    total.label = "Total"
    index = {point: n for n, point in enumerate(points)}
    if split == "none":
        per = daily_totals(organization=organization, start=start, end=end, bucket=bucket)
        series = [Series("Total", [t.metric(metric) for t in per])]
        return UsageChart(points, series, top_models, top_keys, total, bucket)
    column = {"model": "model", "key": "key_id"}[split]
    ranked = top_models if split == "model" else top_keys
    # Rank by the chosen metric, so the drawn series are the largest in what is drawn.
    ranked = sorted(ranked, key=lambda t: -t.metric(metric))
    names = [t.label for t in ranked]
    keep = set(names[:MAX_SERIES]) if len(names) > MAX_SERIES else set(names)
    drawn = {name: Series(name, [0] * len(points)) for name in names if name in keep}
    other = Series("Other", [0] * len(points))
    rows = _rollups(organization, start, end, bucket).values(bucket, column).annotate(**_SUMS)
    for row in rows:
        name = row["model"] if split == "model" else labels.get(row["key_id"], "")
        target = drawn.get(name, other)
        target.values[index[_bucket_of(row)]] += Totals.of(row).metric(metric)
    series = list(drawn.values()) + ([other] if len(names) > len(keep) else [])
    return UsageChart(points, series, top_models, top_keys, total, bucket)


def csv_rows(
    *, organization: Organization, start: date, end: date, split: str, bucket: str = "day"
):
    """(day or hour as ISO 8601, group, Totals) per bucket and model or key (or per
    bucket), oldest first."""
    if split == "none":
        for t in daily_totals(organization=organization, start=start, end=end, bucket=bucket):
            if t.requests or t.cost_pico or t.tokens:
                yield t.label, "", t
        return
    column = {"model": "model", "key": "key_id"}[split]
    rows = list(
        _rollups(organization, start, end, bucket)
        .values(bucket, column)
        .annotate(**_SUMS)
        .order_by(bucket, column)
    )
    labels = key_labels(organization, {row["key_id"] for row in rows}) if split == "key" else {}
    for row in rows:
        name = row["model"] if split == "model" else labels.get(row["key_id"], "")
        yield bucket_label(_bucket_of(row)), name, Totals.of(row)
