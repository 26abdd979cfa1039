"""The portal's Providers page (issue 14): an organization's own providers and models,
through the Django test client and a real database.

An admin adds a provider whose key appears on no page afterwards (the list, a failed form,
a test's answer); Test says whether it reached the server, with the key; a member sees the
page but every write is refused; another organization's member gets 404; a model over the
provider is listed with its prices and removed."""

import re
import socket
from decimal import Decimal

import pytest
from django.urls import reverse

from proxy.models import ModelRoute, Provider
from proxy.routes_file import apply
from proxy.translate.providers import KINDS

SECRET = "sk-org-secret-7c41e0b9a2d35f68"


def page_url(slug: str = "org-a") -> str:
    return reverse("providers", kwargs={"slug": slug})


def action(url_name: str, /, slug: str = "org-a", **kwargs) -> str:
    return reverse(url_name, kwargs={"slug": slug, **kwargs})


def provider_fields(base_url: str, **overrides) -> dict:
    return {
        "name": "org-sandbox",
        "kind": "openai",
        "base_url": base_url,
        "api_key": SECRET,
        "timeout_s": "",
        **overrides,
    }


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def html(response) -> str:
    return response.content.decode()


@pytest.fixture
def private_urls_allowed(settings):
    """The sandbox listens on loopback, which the gateway refuses unless allowed."""
    settings.BYOK_ALLOW_PRIVATE_URLS = True


def test_an_admin_adds_a_provider_and_its_key_is_on_no_page(
    tenancy, sandbox, settings, private_urls_allowed
):
    admin = tenancy.client(tenancy.admin)
    empty = admin.get(page_url())
    assert empty.status_code == 200
    assert 'id="no-providers"' in html(empty)
    assert 'type="password"' in html(empty) and 'autocomplete="off"' in html(empty)

    added = admin.post(action("provider_add"), provider_fields(sandbox.url + "/v1"), follow=True)
    assert added.status_code == 200
    page = html(added)
    assert "Added the provider org-sandbox" in page
    assert 'id="provider-org-sandbox"' in page
    assert KINDS["openai"].label in page
    assert sandbox.url + "/v1" in page
    assert "key set" in page
    assert SECRET not in page and SECRET[:12] not in page and SECRET[-8:] not in page
    provider = Provider.objects.get(organization=tenancy.org, name="org-sandbox")
    assert provider.api_key == SECRET and SECRET not in provider.api_key_encrypted
    assert provider.timeout_s == 600.0

    # A refused form is shown again with the message beside the field, the key not in it.
    settings.BYOK_ALLOW_PRIVATE_URLS = False
    refused = admin.post(
        action("provider_add"),
        provider_fields("http://127.0.0.1:9/v1", name="local"),
    )
    assert refused.status_code == 400
    page = html(refused)
    assert 'id="provider_base_url_error"' in page
    assert "127.0.0.1 is a private or local address" in page
    assert 'value="local"' in page  # the other fields are kept…
    assert SECRET not in page and SECRET[:12] not in page  # …never the key
    assert not Provider.objects.filter(name="local").exists()

    # A name taken: the Conflict above the form, the key again absent.
    settings.BYOK_ALLOW_PRIVATE_URLS = True
    taken = admin.post(action("provider_add"), provider_fields(sandbox.url + "/v1"))
    assert taken.status_code == 400
    assert "has a provider named &#x27;org-sandbox&#x27;" in html(taken)
    assert SECRET not in html(taken)
    bad_name = admin.post(action("provider_add"), provider_fields(sandbox.url, name="Bad Name"))
    assert bad_name.status_code == 400 and 'id="provider_name_error"' in html(bad_name)

    # The member's view of the same page shows no more of it.
    member_page = html(tenancy.client(tenancy.member).get(page_url()))
    assert "org-sandbox" in member_page and SECRET not in member_page


def test_the_test_button_says_whether_it_reached_the_server(tenancy, sandbox, private_urls_allowed):
    admin = tenancy.client(tenancy.admin)
    admin.post(action("provider_add"), provider_fields(sandbox.url + "/v1"))
    admin.post(
        action("provider_add"),
        provider_fields(f"http://127.0.0.1:{closed_port()}/v1", name="closed"),
    )

    reached = admin.post(action("provider_test", name="org-sandbox"), follow=True)
    assert reached.status_code == 200
    page = html(reached)
    assert f"org-sandbox: Reached {sandbox.url}/v1/models in" in page
    assert "alert-success" in page
    assert SECRET not in page
    # It went with the organization's key.
    assert sandbox.state.last_headers["authorization"] == f"Bearer {SECRET}"

    unreachable = admin.post(action("provider_test", name="closed"), follow=True)
    page = html(unreachable)
    assert "closed: Could not reach http://127.0.0.1:" in page
    assert "alert-error" in page
    assert "Check its base URL and key" in page
    assert SECRET not in page

    assert admin.get(action("provider_test", name="org-sandbox")).status_code == 405
    assert admin.post(action("provider_test", name="no-such")).status_code == 404


def test_a_member_sees_the_page_but_every_write_is_refused(tenancy, sandbox, private_urls_allowed):
    owner = tenancy.client(tenancy.owner)
    owner.post(action("provider_add"), provider_fields(sandbox.url + "/v1"))
    owner.post(
        action("own_model_add"),
        {"name": "mine", "provider": "org-sandbox", "upstream_model": "demo"},
    )
    member = tenancy.client(tenancy.member)

    page = member.get(page_url())
    assert page.status_code == 200
    text = html(page)
    assert 'id="provider-org-sandbox"' in text and 'data-model="mine"' in text
    assert 'id="providers-admins-only"' in text
    assert 'name="api_key"' not in text
    assert action("provider_test", name="org-sandbox") not in text
    assert action("provider_remove", name="org-sandbox") not in text

    refused = member.post(action("provider_add"), provider_fields(sandbox.url, name="sneaky"))
    assert refused.status_code == 403
    assert not Provider.objects.filter(name="sneaky").exists()
    assert member.post(action("provider_test", name="org-sandbox")).status_code == 403
    assert member.post(action("provider_remove", name="org-sandbox")).status_code == 403
    assert (
        member.post(
            action("own_model_add"),
            {"name": "sneaky", "provider": "org-sandbox", "upstream_model": "demo"},
        ).status_code
        == 403
    )
    assert member.post(action("own_model_remove"), {"name": "mine"}).status_code == 403
    assert Provider.objects.filter(organization=tenancy.org, name="org-sandbox").exists()
    assert list(
        ModelRoute.objects.filter(organization=tenancy.org).values_list("name", flat=True)
    ) == ["mine"]


def test_another_organizations_member_gets_404(tenancy, sandbox, private_urls_allowed):
    tenancy.client(tenancy.admin).post(action("provider_add"), provider_fields(sandbox.url + "/v1"))
    outsider = tenancy.client(tenancy.outsider)

    assert outsider.get(page_url()).status_code == 404
    for url_name in ("provider_test", "provider_remove"):
        assert outsider.post(action(url_name, name="org-sandbox")).status_code == 404
        # Through their own organization, A's provider is no provider at all.
        assert outsider.post(action(url_name, slug="org-b", name="org-sandbox")).status_code == 404
    assert (
        outsider.post(
            action("provider_add"), provider_fields(sandbox.url, name="planted")
        ).status_code
        == 404
    )
    assert not Provider.objects.filter(name="planted").exists()
    assert Provider.objects.filter(organization=tenancy.org, name="org-sandbox").exists()
    assert sandbox.state.requests == []  # no test ran

    own_page = html(outsider.get(page_url("org-b")))
    assert "org-sandbox" not in own_page and SECRET not in own_page


def test_a_model_over_the_provider_is_listed_then_removed(tenancy, sandbox, private_urls_allowed):
    admin = tenancy.client(tenancy.admin)
    admin.post(action("provider_add"), provider_fields(sandbox.url + "/v1"))

    page = html(admin.get(page_url()))
    ids = re.findall(r' id="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert '<optgroup label="Your providers">' in page
    assert '<option value="org-sandbox">' in page

    added = admin.post(
        action("own_model_add"),
        {
            "name": "my-chat",
            "provider": "org-sandbox",
            "upstream_model": "demo",
            "input_price_usd": "1.25",
            "output_price_usd": "3",
            "context_window": "128000",
            "max_output_tokens": "",
        },
        follow=True,
    )
    assert added.status_code == 200
    page = html(added)
    assert "Added the model my-chat" in page
    assert 'data-model="my-chat"' in page
    assert "<code>org-sandbox</code> → <code>demo</code>" in page
    assert "own key (BYOK fee)" in page
    assert "$1.25" in page and "$3.00" in page
    assert "128000 tokens" in page
    route = ModelRoute.objects.get(organization=tenancy.org, name="my-chat")
    assert (route.input_price, route.output_price) == (1_250_000, 3_000_000)

    # Over 6 decimals is refused by the form; a taken name by the service, above the form.
    too_fine = admin.post(
        action("own_model_add"),
        {"name": "fine", "provider": "org-sandbox", "upstream_model": "demo",
         "input_price_usd": "0.0000001"},
    )  # fmt: skip
    assert too_fine.status_code == 400 and 'id="model_input_price_usd_error"' in html(too_fine)
    taken = admin.post(
        action("own_model_add"),
        {"name": "my-chat", "provider": "org-sandbox", "upstream_model": "demo"},
    )
    assert taken.status_code == 400 and "has a model named" in html(taken)

    # The provider stays while a model uses it.
    kept = admin.post(action("provider_remove", name="org-sandbox"), follow=True)
    assert "serves the models my-chat" in html(kept)
    assert Provider.objects.filter(organization=tenancy.org, name="org-sandbox").exists()

    removed = admin.post(action("own_model_remove"), {"name": "my-chat"}, follow=True)
    assert "Removed the model my-chat" in html(removed)
    assert 'data-model="my-chat"' not in html(removed)
    assert not ModelRoute.objects.filter(organization=tenancy.org).exists()
    assert admin.post(action("own_model_remove"), {"name": "my-chat"}).status_code == 404

    gone = admin.post(action("provider_remove", name="org-sandbox"), follow=True)
    assert "Removed the provider org-sandbox" in html(gone)
    assert not Provider.objects.filter(organization=tenancy.org).exists()
    assert 'id="no-providers"' in html(gone)


def test_a_model_over_a_platform_provider_takes_the_platforms_prices(tenancy, sandbox):
    apply(
        {
            "providers": [
                {"name": "up-openai", "kind": "openai", "base_url": sandbox.url + "/v1",
                 "api_key": "sk-platform"},
            ],
            "models": [
                {"name": "platform-chat", "price": {"input": 0.5, "output": 1},
                 "deployments": [{"provider": "up-openai", "model": "platform-chat"}]},
            ],
        }
    )  # fmt: skip
    admin = tenancy.client(tenancy.admin)
    page = html(admin.get(page_url()))
    assert '<optgroup label="The platform&#x27;s providers">' in page
    assert '<option value="up-openai">' in page
    assert "sk-platform" not in page

    fields = {"name": "team-chat", "provider": "up-openai", "upstream_model": "platform-chat"}
    priced = admin.post(action("own_model_add"), {**fields, "input_price_usd": "2"})
    assert priced.status_code == 400
    assert 'id="model_input_price_usd_error"' in html(priced)
    unknown = admin.post(action("own_model_add"), {**fields, "upstream_model": "nope"})
    assert unknown.status_code == 400
    assert 'id="model_upstream_model_error"' in html(unknown)
    assert "No platform model is served by up-openai as &#x27;nope&#x27;" in html(unknown)

    added = admin.post(action("own_model_add"), fields, follow=True)
    page = html(added)
    assert 'data-model="team-chat"' in page
    assert "platform provider" in page and "the platform model's" in page


def test_the_navigation_links_the_page_which_states_the_fee(tenancy, settings):
    settings.BYOK_FEE_PERCENT = Decimal("2.5")
    page = html(tenancy.client(tenancy.member).get(page_url()))
    assert f'<a href="{page_url()}" aria-current="page">Providers</a>' in page
    assert "<h1>Providers</h1>" in page
    assert "a fee of 2.5% of each request" in page
    assert 'id="no-own-models"' in page


def test_replace_key_stores_the_new_key_keeps_the_models_and_shows_neither(
    tenancy, sandbox, private_urls_allowed
):
    admin = tenancy.client(tenancy.admin)
    admin.post(action("provider_add"), provider_fields(sandbox.url + "/v1"))
    rotated = "sk-org-rotated-0e9d8c7b6a5f4e3d"
    member = tenancy.client(tenancy.member)
    refused = member.post(action("provider_key", name="org-sandbox"), {"api_key": "sk-member"})
    assert refused.status_code == 403
    assert Provider.objects.get(name="org-sandbox").api_key == SECRET
    outsider = tenancy.client(tenancy.outsider)
    gone = outsider.post(action("provider_key", name="org-sandbox"), {"api_key": "sk-b"})
    assert gone.status_code == 404
    empty = admin.post(action("provider_key", name="org-sandbox"), {"api_key": " "}, follow=True)
    assert "type the new key" in html(empty)
    assert Provider.objects.get(name="org-sandbox").api_key == SECRET
    done = admin.post(action("provider_key", name="org-sandbox"), {"api_key": rotated}, follow=True)
    assert "Replaced the key of org-sandbox" in html(done)
    assert rotated not in html(done) and SECRET not in html(done)
    assert Provider.objects.get(name="org-sandbox").api_key == rotated
    admin.post(action("provider_test", name="org-sandbox"))
    assert sandbox.state.requests[-1]["headers"]["authorization"] == f"Bearer {rotated}"
