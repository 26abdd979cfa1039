"""Sign-up, email verification, log in, password reset and login throttling."""

import re

from django.test import Client, override_settings

from accounts.models import Membership, Role, User
from billing.models import CreditLedgerEntry
from tests.conftest import PASSWORD, make_user

EMAIL = "newcomer@example.com"


def signup(client: Client, email: str = EMAIL):
    return client.post(
        "/accounts/signup/", {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    )


def link_in(mail) -> str:
    return re.search(r"https?://[^/\s]+(/\S+)", mail.body).group(1)


def test_signup_creates_own_organization_with_starting_credit(db, mailoutbox):
    signup(Client())
    user = User.objects.get(email=EMAIL)
    membership = Membership.objects.get(user=user)
    assert membership.role == Role.OWNER
    org = membership.organization
    assert org.credit_balance_pico == 50_000_000_000  # USD 0.05, the default setting
    entry = CreditLedgerEntry.objects.get(organization=org)
    assert entry.amount_pico == 50_000_000_000 and entry.kind == "grant"
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [EMAIL]


@override_settings(SIGNUP_CREDIT_USD="1.25")
def test_starting_credit_is_a_setting(db):
    signup(Client())
    assert (
        Membership.objects.get(user__email=EMAIL).organization.credit_balance_pico
        == 1_250_000_000_000
    )


def test_login_needs_a_verified_email(db, mailoutbox):
    client = Client()
    signup(client)
    client.post("/accounts/logout/")
    client.post("/accounts/login/", {"login": EMAIL, "password": PASSWORD})
    assert "_auth_user_id" not in client.session  # held at "verify your email"

    confirm = link_in(mailoutbox[-1])
    client.post(confirm)
    client.post("/accounts/login/", {"login": EMAIL, "password": PASSWORD})
    assert client.session["_auth_user_id"] == str(User.objects.get(email=EMAIL).pk)


def test_password_reset_by_email(db, mailoutbox):
    make_user("forgetful@example.com")
    client = Client()
    client.post("/accounts/password/reset/", {"email": "forgetful@example.com"})
    reset = link_in(mailoutbox[-1])
    form_page = client.get(reset, follow=True)
    client.post(
        form_page.request["PATH_INFO"],
        {"password1": "a brand new passphrase 7", "password2": "a brand new passphrase 7"},
    )
    assert User.objects.get(email="forgetful@example.com").check_password(
        "a brand new passphrase 7"
    )


def test_login_is_throttled_after_repeated_failures(db):
    make_user("target@example.com")
    client = Client()
    for _ in range(5):
        r = client.post("/accounts/login/", {"login": "target@example.com", "password": "wrong"})
        assert r.status_code == 200
    r = client.post("/accounts/login/", {"login": "target@example.com", "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert r.status_code == 429 or b"Too many failed login attempts" in r.content


@override_settings(SIGNUP_CREDIT_USD="0")
def test_no_starting_credit_writes_no_ledger_entry(db):
    signup(Client())
    org = Membership.objects.get(user__email=EMAIL).organization
    assert org.credit_balance_pico == 0
    assert not CreditLedgerEntry.objects.filter(organization=org).exists()


def test_the_credit_is_billings_answer_to_the_signup_signal(db):
    """accounts only announces the sign-up (it may not import billing); without billing's
    receiver the organization is still made, with no credit."""
    from accounts.signals import organization_signed_up
    from billing.signals import grant_signup_credit

    assert organization_signed_up.disconnect(dispatch_uid="billing.signup_credit")
    try:
        signup(Client())
    finally:
        organization_signed_up.connect(grant_signup_credit, dispatch_uid="billing.signup_credit")
    org = Membership.objects.get(user__email=EMAIL).organization
    assert org.credit_balance_pico == 0 and not CreditLedgerEntry.objects.exists()
