from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation


@shared_task
def invitation_send(invitation_id: int, token: str) -> None:
    """Emails the invitation link. The token travels only in this message and the email."""
    invitation = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(pk=invitation_id)
        .first()
    )
    # Gone (cancelled, or replaced by a newer invitation) or resent: nothing to send.
    if invitation is None or invitation.sent_at is not None or not invitation.is_open:
        return
    link = settings.PORTAL_URL.rstrip("/") + reverse("invitation_accept", args=[token])
    inviter = invitation.invited_by.email if invitation.invited_by else "Someone"
    send_mail(
        subject=f"[jinf] {inviter} invited you to {invitation.organization.name}",
        message=(
            f"{inviter} invited you to join {invitation.organization.name} on jinf "
            f"as {invitation.role}.\n\nAccept within 7 days: {link}\n"
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )
    Invitation.objects.filter(pk=invitation.pk).update(sent_at=timezone.now())
