"""Users, organizations (the tenants), memberships, invitations and API keys."""

from datetime import UTC, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **fields):
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields):
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields):
        fields.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **fields)


class User(AbstractUser):
    """A person; signs in with an email address, belongs to organizations."""

    username = None
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.email


class Organization(models.Model):
    """The tenant: owns keys, credits, usage and invoices."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The sum of the credit ledger, in pico-USD (accounts.money), kept in step by billing.services.
    credit_balance_pico = models.BigIntegerField(default=0)
    # The organization's own caps over all its keys (setlimits); None: no cap.
    rpm_limit = models.PositiveIntegerField(null=True, blank=True)
    tpm_limit = models.PositiveIntegerField(null=True, blank=True)
    monthly_cap_pico = models.BigIntegerField(null=True, blank=True)
    # Alerts (billing.alerts): the owners are told when the balance falls below this.
    low_balance_threshold_pico = models.BigIntegerField(null=True, blank=True)
    # On a spend spike, pause the keys that made it, not only tell the owners.
    pause_keys_on_spike = models.BooleanField(default=False)
    # Store each /v1 request's prompt and answer (billing.models.UsageBody), kept this
    # many days. Off by default: the gateway keeps counts, never content, unless asked.
    log_bodies = models.BooleanField(default=False)
    body_retention_days = models.PositiveSmallIntegerField(default=30)

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def can_manage(self) -> bool:
        """Admins and owners manage keys and members."""
        return self.role in (Role.OWNER, Role.ADMIN)

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER


class Invitation(models.Model):
    """An email link that makes its holder a member; only the token's digest is stored."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    token_digest = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.email} to {self.organization}"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()


class BudgetPeriod(models.TextChoices):
    """When a key's budget starts again: never, or at 00:00 UTC each day, on Monday, on the 1st."""

    TOTAL = "total", "Total"
    DAY = "day", "Per day"
    WEEK = "week", "Per week"
    MONTH = "month", "Per month"


class APIKey(models.Model):
    """A `jinf_…` key. The secret is shown once and never stored: only a visible prefix
    and a keyed digest (HMAC-SHA256) of the whole secret, by which it is looked up."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=32, unique=True)
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # A revocation may lie in the future: the grace period of a rotated key.
    revoked_at = models.DateTimeField(null=True, blank=True)
    # A management key calls /api/ for its organization and never /v1.
    is_management = models.BooleanField(default=False)
    allowed_models = models.JSONField(default=list, blank=True)
    rpm_limit = models.PositiveIntegerField(null=True, blank=True)
    tpm_limit = models.PositiveIntegerField(null=True, blank=True)
    budget_pico = models.BigIntegerField(null=True, blank=True)
    budget_period = models.CharField(
        max_length=5, choices=BudgetPeriod.choices, default=BudgetPeriod.TOTAL
    )
    # The price ceiling, micro-USD per million tokens (the routes' unit): a model whose
    # input or output price is above it is refused, and the automatic model skips it.
    max_price_micros = models.BigIntegerField(null=True, blank=True)
    # CIDRs (IPv4 and IPv6) the key may be used from; empty: anywhere.
    allowed_ips = models.JSONField(default=list, blank=True)
    # Paused keys are refused until resumed (a spend spike, billing.alerts).
    paused_at = models.DateTimeField(null=True, blank=True)
    # What the key's requests have cost, kept in step with usage records (billing.usage).
    spent_pico = models.BigIntegerField(default=0, editable=False)
    rotated_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rotated_to"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(budget_pico__isnull=True) | models.Q(budget_pico__gte=0),
                name="apikey_budget_not_negative",
            )
        ]
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.expires_at is None or self.expires_at > now

    @property
    def status(self) -> str:
        now = timezone.now()
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        if self.paused_at is not None:  # refused by the proxy until an admin resumes it
            return "paused"
        if self.revoked_at is not None:
            return "revoking"
        return "active"

    @property
    def portal_status(self) -> str:
        """`status` as the portal shows it: an active key whose budget is used up reads
        "budget spent" (the API keeps the contract's five states)."""
        status = self.status
        return "budget spent" if status == "active" and self.budget_spent else status

    # What a day, week or month budget has spent this period: set by accounts.key_spend
    # (the counters are billing's); None when not read.
    period_spent_pico: int | None = None

    @property
    def budget_used_pico(self) -> int | None:
        """What the budget's current period has spent: every request of the key for a
        total budget, the period's counter for the others (None when not read)."""
        if self.budget_period == BudgetPeriod.TOTAL:
            return self.spent_pico
        return self.period_spent_pico

    @property
    def budget_spent(self) -> bool:
        """The budget of the current period is used up."""
        used = self.budget_used_pico
        return self.budget_pico is not None and used is not None and used >= self.budget_pico

    @property
    def last_valid_day(self):
        """The last UTC day the key works: it expires at 00:00 UTC of the day after."""
        if self.expires_at is None:
            return None
        return (self.expires_at.astimezone(UTC) - timedelta(microseconds=1)).date()
