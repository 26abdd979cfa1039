"""Celery tasks of the Stripe seam (imported by billing.tasks so Celery finds them): each
loads ids and calls the seam's service, and is safe to run twice, or twice at once."""

from celery import shared_task

from billing.stripe import autoreload, invoices


@shared_task(autoretry_for=(Exception,), retry_backoff=30, max_retries=8)
def stripe_invoice_push(invoice_id: int) -> str:
    """Sent on commit of an invoice's finalization when Stripe is on and money is due."""
    return invoices.stripe_invoice_push(invoice_id=invoice_id)


@shared_task
def autoreload_check() -> None:
    """Every minute (CELERY_BEAT_SCHEDULE "autoreload-check")."""
    autoreload.autoreload_check()
