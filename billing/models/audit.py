"""Every billing action a person took: who, what, on what, before and after."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class BillingAudit(models.Model):
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=40)  # invoice_finalize, invoice_void, credits_adjust…
    target = models.CharField(max_length=80)  # "invoice:12", "organization:3"
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "billing audit entries"

    def __str__(self) -> str:
        return f"{self.action} {self.target}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Audit entries are immutable.")
        super().save(*args, **kwargs)
