from allauth.account.adapter import DefaultAccountAdapter

from accounts.services import signup_organization_create


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            signup_organization_create(user=user)
        return user
