"""`manage.py reconcile`: the same work as the beat, in the foreground."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.models import Invoice, InvoiceStatus
from tests.billing.invoices.helpers import OCT, event, make_org, write


@pytest.mark.django_db
def test_reconcile_prints_the_invoices_it_touched_and_only_once():
    org, other = make_org("acme"), make_org("globex")
    write([event(org, at=OCT + timedelta(days=2), cost=2 * 10**12)])
    write([event(other, at=OCT + timedelta(days=3), cost=10**12)])
    out = StringIO()
    call_command("reconcile", "--period", "2026-10", "--org", "acme", stdout=out)
    assert "2026-10 acme in_review $2.00" in out.getvalue()
    assert "1 invoice(s) touched." in out.getvalue()
    assert list(Invoice.objects.values_list("organization__slug", "status")) == [
        ("acme", InvoiceStatus.IN_REVIEW)
    ]
    out = StringIO()
    call_command("reconcile", "--period", "2026-10", stdout=out)
    assert "globex" in out.getvalue() and "acme" not in out.getvalue()
    out = StringIO()
    call_command("reconcile", "--period", "2026-10", stdout=out)
    assert out.getvalue().strip() == "0 invoice(s) touched."


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026-13"], "not a period; write it as YYYY-MM"),
        (["--period", "Oct"], "not a period"),
        (["--org", "nobody"], "No organization has the slug 'nobody'"),
    ],
)
def test_bad_arguments_are_a_sentence(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("reconcile", *args)
