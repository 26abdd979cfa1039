from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from accounts.money import format_usd
from billing.invoices.reconcile import reconcile
from billing.periods import period_bounds


class Command(BaseCommand):
    help = (
        "Reconciles usage into invoices now, as the Celery beat does every few minutes: "
        "refreshes the rollups, then the invoices of the period (the previous and the "
        "current one by default), and prints each invoice it created or rewrote."
    )

    def add_arguments(self, parser):
        parser.add_argument("--period", help="the period, YYYY-MM (UTC calendar month)")
        parser.add_argument("--org", help="only this organization (its slug)")

    def handle(self, *args, **opts):
        period = opts.get("period")
        if period:
            try:
                period_bounds(period)
            except ValueError as err:
                raise CommandError(
                    f"{period!r} is not a period; write it as YYYY-MM, e.g. 2026-11."
                ) from err
        organization = None
        if opts.get("org"):
            organization = Organization.objects.filter(slug=opts["org"]).first()
            if organization is None:
                raise CommandError(
                    f"No organization has the slug {opts['org']!r}; "
                    "check it in the portal's organization settings."
                )
        touched = reconcile(period=period, organization=organization)
        slugs = dict(
            Organization.objects.filter(pk__in={i.organization_id for i in touched}).values_list(
                "pk", "slug"
            )
        )
        for inv in touched:
            self.stdout.write(
                f"{inv.period} {slugs.get(inv.organization_id, inv.organization_id)} "
                f"{inv.status} {format_usd(inv.total_pico)} check {inv.check_status}"
            )
        self.stdout.write(f"{len(touched)} invoice(s) touched.")
