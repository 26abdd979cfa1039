"""Rollup rows for the dashboard's page tests, written as the rollup task writes them."""

from datetime import date

from accounts.models import APIKey, Organization
from billing.models import UsageRollup


def rollup(
    org: Organization,
    day: date,
    *,
    model: str = "gpt-4o-mini",
    key: APIKey | None = None,
    requests: int = 1,
    errors: int = 0,
    input_tokens: int = 100,
    output_tokens: int = 50,
    cost_pico: int = 1_000_000,
) -> UsageRollup:
    return UsageRollup.objects.create(
        organization=org,
        day=day,
        key_id=key.pk if key else 0,
        model=model,
        requests=requests,
        errors=errors,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_pico=cost_pico,
    )
