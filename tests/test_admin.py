"""Every model of ours is in the Django admin, and its list page renders."""

import pytest
from django.apps import apps
from django.contrib import admin

from accounts.models import User
from billing.models import UsageBody

OUR_APPS = ("accounts", "billing", "proxy")
# Kept out of the admin on purpose, each with its reason.
NOT_IN_ADMIN = {UsageBody: "customers' stored prompts and answers are not for browsing"}


@pytest.mark.parametrize(
    "model", [m for app in OUR_APPS for m in apps.get_app_config(app).get_models()], ids=str
)
def test_every_model_has_an_admin_page(client, db, model):
    if model in NOT_IN_ADMIN:
        assert not admin.site.is_registered(model), NOT_IN_ADMIN[model]
        return
    assert admin.site.is_registered(model), f"{model.__name__} is not in the admin"
    staff = User.objects.create_superuser(email="root@example.com", password="x")
    client.force_login(staff)
    opts = model._meta
    r = client.get(f"/admin/{opts.app_label}/{opts.model_name}/")
    assert r.status_code == 200
