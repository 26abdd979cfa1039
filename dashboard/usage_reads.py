"""The usage read model of the Home and Usage pages: sums of billing's daily rollups
(UsageRollup), never a scan of the raw usage records.

Rollups are per UTC day × key × model, so the finest bucket is a day; every read here is
a fixed number of GROUP BY queries over the (organization, day) index, whatever the
number of days, models or keys."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import F, Sum

from accounts.models import APIKey, Organization
from accounts.money import PICO_PER_USD
from billing.models import UsageRollup

METRICS = {"spend": "Spend (USD)", "tokens": "Tokens", "requests": "Requests"}
SPLITS = {"model": "Model", "key": "API key", "none": "Nothing (total)"}
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
    # One value per day of the range (0 for a day with no usage), in the metric's unit:
    # pico-USD for spend.
    values: list[int] = field(default_factory=list)


def chart_values(metric: str, values: list[int]) -> list[float | int]:
    """For the chart's JSON: spend in dollars (a float: pico-USD overflows JavaScript's
    exact integers past $9,007), the counts as they are."""
    if metric == "spend":
        return [v / PICO_PER_USD for v in values]
    return values


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _rollups(organization: Organization, start: date, end: date):
    return UsageRollup.objects.filter(organization=organization, day__gte=start, day__lte=end)


def key_labels(organization: Organization, key_ids) -> dict[int, str]:
    """'name (prefix…)' per key id of this organization, in one query; 0 is a deleted key."""
    ids = [k for k in key_ids if k]
    labels = {0: "(deleted key)"}
    if ids:
        keys = APIKey.objects.filter(organization=organization, pk__in=ids).only("name", "prefix")
        labels.update({k.pk: f"{k.name} ({k.prefix}…)" for k in keys})
    return labels


def daily_totals(*, organization: Organization, start: date, end: date) -> list[Totals]:
    """Every day of [start, end], with zeros on days without usage: one query."""
    rows = _rollups(organization, start, end).values("day").annotate(**_SUMS).order_by("day")
    by_day = {row["day"]: row for row in rows}
    empty = dict.fromkeys(_SUMS, 0)
    return [
        Totals.of(by_day.get(day, empty), label=day.isoformat()) for day in days_between(start, end)
    ]


def totals(*, organization: Organization, start: date, end: date) -> Totals:
    return Totals.of(_rollups(organization, start, end).aggregate(**_SUMS), label="Total")


def top_groups(
    *, organization: Organization, start: date, end: date, by: str, labels: dict | None = None
) -> list[Totals]:
    """Totals per model or key over the range, the most spent first: one query (and one
    for the keys' names unless `labels` has them)."""
    column = {"model": "model", "key": "key_id"}[by]
    rows = list(
        _rollups(organization, start, end)
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
    days: list[date]
    series: list[Series]
    top_models: list[Totals]
    top_keys: list[Totals]
    total: Totals


def usage_chart(
    *, organization: Organization, start: date, end: date, metric: str, split: str
) -> UsageChart:
    """The Usage page's data: per-day series of `metric` split by model, key or nothing
    (at most MAX_SERIES, the smaller groups summed as "Other"), the top models and keys,
    and the total. Five queries at most, whatever the range."""
    if metric not in METRICS or split not in SPLITS:
        raise ValueError("unknown metric or split")
    days = days_between(start, end)
    top_models = top_groups(organization=organization, start=start, end=end, by="model")
    keys_rows = list(
        _rollups(organization, start, end)
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
    index = {day: n for n, day in enumerate(days)}
    if split == "none":
        per_day = daily_totals(organization=organization, start=start, end=end)
        series = [Series("Total", [t.metric(metric) for t in per_day])]
        return UsageChart(days, series, top_models, top_keys, total)
    column = {"model": "model", "key": "key_id"}[split]
    ranked = top_models if split == "model" else top_keys
    # Rank by the chosen metric, so the drawn series are the largest in what is drawn.
    ranked = sorted(ranked, key=lambda t: -t.metric(metric))
    names = [t.label for t in ranked]
    keep = set(names[:MAX_SERIES]) if len(names) > MAX_SERIES else set(names)
    drawn = {name: Series(name, [0] * len(days)) for name in names if name in keep}
    other = Series("Other", [0] * len(days))
    rows = _rollups(organization, start, end).values("day", column).annotate(**_SUMS)
    for row in rows:
        name = row["model"] if split == "model" else labels.get(row["key_id"], "")
        target = drawn.get(name, other)
        target.values[index[row["day"]]] += Totals.of(row).metric(metric)
    series = list(drawn.values()) + ([other] if len(names) > len(keep) else [])
    return UsageChart(days, series, top_models, top_keys, total)


def csv_rows(*, organization: Organization, start: date, end: date, split: str):
    """(day, group, Totals) per day and model or key (or per day), oldest first."""
    if split == "none":
        for t in daily_totals(organization=organization, start=start, end=end):
            if t.requests or t.cost_pico or t.tokens:
                yield t.label, "", t
        return
    column = {"model": "model", "key": "key_id"}[split]
    rows = list(
        _rollups(organization, start, end)
        .values("day", column)
        .annotate(**_SUMS)
        .order_by("day", column)
    )
    labels = key_labels(organization, {row["key_id"] for row in rows}) if split == "key" else {}
    for row in rows:
        name = row["model"] if split == "model" else labels.get(row["key_id"], "")
        yield row["day"].isoformat(), name, Totals.of(row)
