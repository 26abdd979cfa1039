"""Every model of ours is in the Django admin, and its list page renders."""

import pytest
from django.apps import apps
from django.contrib import admin

from accounts.models import User

OUR_APPS = ("accounts", "billing", "proxy")


@pytest.mark.parametrize(
    "model", [m for app in OUR_APPS for m in apps.get_app_config(app).get_models()], ids=str
)
def test_every_model_has_an_admin_page(client, db, model):
    assert admin.site.is_registered(model), f"{model.__name__} is not in the admin"
    staff = User.objects.create_superuser(email="root@example.com", password="x")
    client.force_login(staff)
    opts = model._meta
    r = client.get(f"/admin/{opts.app_label}/{opts.model_name}/")
    assert r.status_code == 200
