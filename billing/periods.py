"""Billing periods: calendar months in UTC, named "YYYY-MM"."""

from datetime import UTC, datetime


def period_of(moment: datetime) -> str:
    """The period a moment falls in."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """[start, end) of a period, as aware UTC datetimes. ValueError for a bad name."""
    try:
        start = datetime.strptime(period, "%Y-%m").replace(tzinfo=UTC)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{period!r} is not a period; write it as YYYY-MM.") from err
    return start, next_start(start)


def next_start(start: datetime) -> datetime:
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def next_period(period: str) -> str:
    return period_of(period_bounds(period)[1])


def previous_period(period: str) -> str:
    start, _ = period_bounds(period)
    if start.month == 1:
        return start.replace(year=start.year - 1, month=12).strftime("%Y-%m")
    return start.replace(month=start.month - 1).strftime("%Y-%m")
