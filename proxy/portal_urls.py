"""The portal's Providers page (mounted at /): an organization's own providers and models.

The actions sit one level below providers/ (add/, model-add/, model-remove/) or two
(<name>/test/), so no provider name can shadow one of them."""

from django.urls import path

from proxy import byok_views

org = "o/<slug:slug>/"

urlpatterns = [
    path(f"{org}providers/", byok_views.providers_page, name="providers"),
    path(f"{org}providers/add/", byok_views.provider_add, name="provider_add"),
    path(f"{org}providers/model-add/", byok_views.model_add, name="own_model_add"),
    path(f"{org}providers/model-remove/", byok_views.model_remove, name="own_model_remove"),
    path(f"{org}providers/<slug:name>/test/", byok_views.provider_test, name="provider_test"),
    path(f"{org}providers/<slug:name>/key/", byok_views.provider_key, name="provider_key"),
    path(
        f"{org}providers/<slug:name>/remove/",
        byok_views.provider_remove,
        name="provider_remove",
    ),
]
