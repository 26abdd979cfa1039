"""Issue 12's defects of the keys pages, each proven by a test that fails without its fix."""

import re
from datetime import UTC, datetime

from accounts import keys
from accounts.models import APIKey, BudgetPeriod

SECRET = re.compile(r"jinf_[A-Za-z0-9_-]{40,}")
KEYS = "/o/org-a/keys/"
TOKEN = re.compile(r'name="create_token" value="([^"]+)"')


def test_reloading_the_key_created_page_does_not_mint_a_second_key(tenancy):
    client = tenancy.client(tenancy.owner)
    token = TOKEN.search(client.get(KEYS).content.decode()).group(1)
    data = {"name": "once", "create_token": token}
    first = client.post(KEYS, data)
    assert first.status_code == 200 and SECRET.search(first.content.decode())
    # The browser's reload posts the same form again.
    again = client.post(KEYS, data, follow=True)
    assert not SECRET.search(again.content.decode())
    assert "already created" in again.content.decode()
    assert APIKey.objects.filter(organization=tenancy.org, name="once").count() == 1
    # A fresh form (a new token) still creates another key.
    token2 = TOKEN.search(client.get(KEYS).content.decode()).group(1)
    assert token2 != token
    assert SECRET.search(client.post(KEYS, {**data, "create_token": token2}).content.decode())
    assert APIKey.objects.filter(organization=tenancy.org, name="once").count() == 2


def test_a_form_error_keeps_the_token_so_the_corrected_post_creates_the_key(tenancy):
    client = tenancy.client(tenancy.owner)
    token = TOKEN.search(client.get(KEYS).content.decode()).group(1)
    bad = client.post(KEYS, {"name": "", "create_token": token})
    assert bad.status_code == 400 and TOKEN.search(bad.content.decode()).group(1) == token
    good = client.post(KEYS, {"name": "fixed", "create_token": token})
    assert SECRET.search(good.content.decode())


def test_the_last_valid_day_is_shown_not_the_instant_after(tenancy):
    key = APIKey.objects.get(pk=tenancy.owner_key.key.pk)
    key.expires_at = datetime(2027, 2, 1, tzinfo=UTC)  # works through 2027-01-31
    key.save(update_fields=["expires_at"])
    client = tenancy.client(tenancy.owner)
    listing = client.get(KEYS).content.decode()
    assert "valid through 2027-01-31" in listing
    assert "2027-02-01" not in listing
    edit = client.get(f"{KEYS}{key.pk}/").content.decode()
    assert "2027-01-31" in edit and "2027-02-01" not in edit
    # The edit form offers the same day.
    assert 'value="2027-01-31"' in edit


def test_the_key_created_page_shows_the_last_valid_day(tenancy):
    client = tenancy.client(tenancy.owner)
    page = client.post(KEYS, {"name": "dated", "expires_on": "2031-01-31"}).content.decode()
    key = APIKey.objects.get(digest=keys.digest(SECRET.search(page).group(0)))
    assert key.expires_at == datetime(2031, 2, 1, tzinfo=UTC)
    assert "2031-01-31" in page and "2031-02-01" not in page


def test_a_key_whose_total_budget_is_spent_reads_budget_spent(tenancy):
    key = APIKey.objects.get(pk=tenancy.owner_key.key.pk)
    key.budget_pico, key.budget_period = 10**12, BudgetPeriod.TOTAL
    key.spent_pico = 10**12
    key.save()
    client = tenancy.client(tenancy.owner)
    row = _row(client.get(KEYS).content.decode(), key.pk)
    assert ">budget spent<" in row and ">active<" not in row
    assert "status-budget-spent" in row
    assert "budget spent" in client.get(f"{KEYS}{key.pk}/").content.decode()
    # Not yet spent: active.
    APIKey.objects.filter(pk=key.pk).update(spent_pico=10**12 - 1)
    assert ">active<" in _row(client.get(KEYS).content.decode(), key.pk)
    # The API keeps the contract's states.
    key.refresh_from_db()
    APIKey.objects.filter(pk=key.pk).update(spent_pico=10**12)
    key.refresh_from_db()
    assert key.status == "active" and key.portal_status == "budget spent"


def _row(html: str, pk: int) -> str:
    start = html.index(f'id="key-{pk}"')
    return html[start : html.index("</tr>", start)]


def test_a_key_whose_monthly_budget_is_spent_reads_budget_spent_until_next_month(tenancy):
    """The period's spend comes from billing's counters (accounts.key_spend); last
    month's spend does not count against this month's budget."""
    from datetime import timedelta

    from django.utils import timezone

    from billing.usage import UsageEvent, usage_record_batch

    key = APIKey.objects.get(pk=tenancy.owner_key.key.pk)
    APIKey.objects.filter(pk=key.pk).update(budget_pico=10**12, budget_period=BudgetPeriod.MONTH)
    now = timezone.now()
    last_month = now.replace(day=1) - timedelta(days=1)

    def spend(request_id: str, at, pico: int) -> None:
        usage_record_batch([UsageEvent(
            request_id=request_id, organization_id=tenancy.org.pk, api_key_id=key.pk,
            endpoint="chat", model="demo", status="ok", cost_pico=pico, created_at=at,
        )])  # fmt: skip

    client = tenancy.client(tenancy.owner)
    spend("req_last_month", last_month, 5 * 10**12)
    row = _row(client.get(KEYS).content.decode(), key.pk)
    assert ">active<" in row and "$0.00 of $1.00 budget per month" in row
    spend("req_this_month", now, 10**12)
    row = _row(client.get(KEYS).content.decode(), key.pk)
    assert ">budget spent<" in row and "$1.00 of $1.00 per month" in row
    assert "wait for the next month" in row
    assert "budget spent" in client.get(f"{KEYS}{key.pk}/").content.decode()
