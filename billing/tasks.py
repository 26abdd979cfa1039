"""Celery tasks of billing: they load ids and call billing's functions, nothing more."""

from celery import shared_task
from django.db import transaction

from billing import alerts
from billing.stripe.tasks import *  # noqa: F403  Celery finds tasks in billing.tasks


@shared_task
def alerts_check() -> None:
    """Every minute (CELERY_BEAT_SCHEDULE): raises and resolves alerts, then sends the
    emails still owed, each in its own task so that one failing send delays no other."""
    alerts.alerts_check()
    for alert_id in alerts.alerts_unsent():
        transaction.on_commit(lambda alert_id=alert_id: alert_email_send.delay(alert_id))


@shared_task
def alert_email_send(alert_id: int) -> None:
    alerts.alert_email_send(alert_id=alert_id)


@shared_task
def usage_rollup() -> int:
    """Every BILLING_ROLLUP_EVERY_S (60 s): recomputes the days the usage writer marked."""
    from billing.rollups import rollups_refresh

    return rollups_refresh()


@shared_task
def invoices_reconcile() -> int:
    """Every BILLING_RECONCILE_EVERY_S (5 min): the invoices of the previous and the
    current period. Run twice at once, both runs reach the same invoices."""
    from billing.invoices.reconcile import reconcile

    return len(reconcile())


@shared_task
def periods_close() -> int:
    """Every BILLING_CLOSE_EVERY_S (5 min): the drafts of periods closed for the grace go
    to in_review, after a last refresh."""
    from billing.invoices.reconcile import periods_close as close

    return len(close())


@shared_task
def bodies_purge() -> int:
    """Every BILLING_BODIES_PURGE_EVERY_S (1 h): deletes the prompt and answer bodies older
    than their organization's retention."""
    from billing.bodies import bodies_purge as purge

    return purge()
