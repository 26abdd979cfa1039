from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import key_spend
        from accounts.signals import key_rotated, organization_signed_up
        from billing.signals import carry_spend_over, grant_signup_credit
        from billing.spend_counters import keys_spent

        # A fixed dispatch_uid: connected once however often ready() runs.
        organization_signed_up.connect(grant_signup_credit, dispatch_uid="billing.signup_credit")
        key_rotated.connect(carry_spend_over, dispatch_uid="billing.carry_spend_over")
        key_spend.set_reader(keys_spent)
