"""The demo seed `make run` uses. In platform_site because it composes every app: the
organization (accounts), its credit (billing) and the demo routes (proxy)."""

import os

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import APIKey, Membership, Organization, Role, User
from accounts.money import format_usd, usd_to_pico
from accounts.services import api_key_create, organization_create
from billing.services import credits_grant
from proxy.demo_routes import seed_demo_routes

DEMO_KEY_NAME = "demo key"


class Command(BaseCommand):
    help = "Seeds the demo: admin user, demo organization with credit, a demo key. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--email", default="admin@example.com")
        parser.add_argument("--password", default="admin")
        parser.add_argument(
            "--sandbox-url",
            default=os.environ.get("SANDBOX_URL")
            or f"http://127.0.0.1:{os.environ.get('SANDBOX_PORT', '8001')}/v1",
            help="where the sandbox upstream listens (make run starts it)",
        )

    @transaction.atomic
    def handle(self, *args, **opts):
        email, password = opts["email"], opts["password"]
        admin = User.objects.filter(email=email).first()
        if admin is None:
            admin = User.objects.create_superuser(email=email, password=password)
        EmailAddress.objects.update_or_create(
            user=admin, email=email, defaults={"verified": True, "primary": True}
        )
        org = Organization.objects.filter(slug="demo").first()
        if org is None:
            org = organization_create(name="Demo", owner=admin, slug="demo")
            credits_grant(organization=org, amount_pico=usd_to_pico("5"), reason="Demo credit")
        Membership.objects.get_or_create(
            user=admin, organization=org, defaults={"role": Role.OWNER}
        )

        routes = seed_demo_routes(opts["sandbox_url"])

        active = [
            k for k in APIKey.objects.filter(organization=org, name=DEMO_KEY_NAME) if k.is_active()
        ]
        if active:
            key_line = (
                f"{active[0].prefix}… (minted earlier and shown once; "
                "mint another with: python manage.py mintkey --org demo)"
            )
        else:
            key_line = api_key_create(organization=org, name=DEMO_KEY_NAME, created_by=admin).secret
        self.stdout.write(
            f"  admin login   {email} / {password}\n"
            f"  organization  demo ({format_usd(org.credit_balance_pico)} of credit)\n"
            f"  demo key      {key_line}\n"
            f"  routes        {routes}\n"
            f"  key prefix    {settings.JINF_KEY_PREFIX}"
        )
