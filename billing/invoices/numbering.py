"""Gapless invoice numbers: taken under a row lock in the finalizing transaction, so a
rolled-back finalization gives its number back and two finalizations never share one."""

from django.db import IntegrityError, transaction

from billing.models import InvoiceCounter

COUNTER = "invoice"


def invoice_number_next() -> str:
    """The next number ("INV-000042"). Call inside the finalizing transaction."""
    try:
        with transaction.atomic():  # a savepoint: a racing first finalization wins
            InvoiceCounter.objects.get_or_create(name=COUNTER)
    except IntegrityError:
        pass
    counter = InvoiceCounter.objects.select_for_update().get(name=COUNTER)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"INV-{counter.last:06d}"
