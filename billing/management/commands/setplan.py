from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Organization
from billing.models import Plan
from billing.plans import plan_in_force, plan_set, scheduled_change


class Command(BaseCommand):
    help = (
        "Moves an organization to a plan from the next billing period (--now: at once, "
        "prorated). Prints the plan now and the plan scheduled."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--plan", required=True, help="plan name (loadplans)")
        parser.add_argument("--now", action="store_true", help="at once, prorated")

    def handle(self, *args, **opts):
        org = Organization.objects.filter(slug=opts["org"]).first()
        if org is None:
            raise CommandError(f"No organization has the slug {opts['org']!r}.")
        plan = Plan.objects.filter(name=opts["plan"]).first()
        if plan is None:
            names = ", ".join(Plan.objects.order_by("name").values_list("name", flat=True))
            raise CommandError(
                f"No plan is named {opts['plan']!r}. "
                + (f"Plans: {names}." if names else "Load a plans file with loadplans first.")
            )
        if not plan.is_active:
            raise CommandError(f"The plan {plan.name!r} is no longer offered.")
        plan_set(organization=org, plan=plan, now=opts["now"], reason="manage.py setplan")
        now = timezone.now()
        current = plan_in_force(organization_id=org.pk, at=now)
        scheduled = scheduled_change(organization_id=org.pk, now=now)
        self.stdout.write(f"now: {current.name}")
        self.stdout.write(
            "scheduled: none"
            if scheduled is None
            else f"scheduled: {scheduled.plan.name} from {scheduled.effective_at:%Y-%m-%d %H:%M} UTC"
        )
