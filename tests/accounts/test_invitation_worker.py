from django.test import override_settings

from accounts.models import Invitation, Membership, Role
from accounts.services import invitation_create
from tests.processes import wait_for


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
def test_invitation_is_sent_by_a_real_worker_process(tenancy, celery_worker, mailoutbox):
    owner = Membership.objects.get(user=tenancy.owner, organization=tenancy.org)

    new = invitation_create(membership=owner, email="new@a.example", role=Role.MEMBER)

    # The email left through the broker: not in this process's outbox, but the worker
    # process marked the invitation sent in the shared database.
    assert wait_for(lambda: Invitation.objects.get(pk=new.invitation.pk).sent_at is not None)
    assert mailoutbox == []
    log = celery_worker.log()
    assert "accounts.tasks.invitation_send" in log and "succeeded" in log
