from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.signals import organization_signed_up
        from billing.signals import grant_signup_credit

        # A fixed dispatch_uid: connected once however often ready() runs.
        organization_signed_up.connect(grant_signup_credit, dispatch_uid="billing.signup_credit")
