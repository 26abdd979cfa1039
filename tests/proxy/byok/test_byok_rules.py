"""BYOK's rules (issue 14) around the end-to-end tests of test_byok.py: who may write
and what input is refused, a model over the platform's provider priced as the platform's,
cooldowns kept apart, the key's limits, a patched key used at once."""

import openai
import pytest

from accounts.services import api_key_create
from proxy import balancer, table
from proxy.models import Deployment, Provider
from proxy.routes_file import apply
from tests.api.conftest import session
from tests.proxy.byok.conftest import ORG_SECRET, PLATFORM_SECRET, gpt
from tests.proxy.conftest import records


def test_only_owners_and_admins_write_and_bad_input_is_a_field_error(tenancy, platform, settings):
    member = session(tenancy.member)
    body = {"name": "mine", "kind": "openai", "base_url": platform.url + "/v1", "api_key": "k"}
    refused = member.post("/api/orgs/org-a/providers/", body, format="json")
    assert refused.status_code == 403 and not Provider.objects.filter(name="mine").exists()
    assert member.get("/api/orgs/org-a/providers/").status_code == 200
    owner = session(tenancy.owner)
    assert owner.post("/api/orgs/org-a/providers/", body, format="json").status_code == 201
    again = owner.post("/api/orgs/org-a/providers/", body, format="json")
    assert again.status_code == 409 and "mine" in again.json()["detail"]
    for field, bad in (
        ("name", "Has Spaces"),
        ("kind", "gemini"),
        ("base_url", "ftp://example.com"),
        ("base_url", "http://user:pw@example.com/v1"),
        ("base_url", "not a url"),
    ):
        answer = owner.post(
            "/api/orgs/org-a/providers/", {**body, "name": "x2", field: bad}, format="json"
        )
        assert answer.status_code == 400 and field in answer.json(), (field, bad, answer.content)
    settings.BYOK_ALLOW_PRIVATE_URLS = False
    for url in ("http://127.0.0.1:8000/v1", "http://localhost/v1", "http://10.1.2.3/v1",
                "http://[::1]/v1", "http://169.254.169.254/latest"):  # fmt: skip
        answer = owner.post(
            "/api/orgs/org-a/providers/", {**body, "name": "x3", "base_url": url}, format="json"
        )
        assert answer.status_code == 400 and "private" in answer.json()["base_url"][0], url
    assert not Provider.objects.filter(name__in=["x2", "x3"]).exists()
    model = {"name": "m", "deployments": [{"provider": "nope", "model": "x"}]}
    answer = owner.post("/api/orgs/org-a/models/", model, format="json")
    assert answer.status_code == 400 and "nope" in str(answer.json()["deployments"])
    answer = owner.post("/api/orgs/org-a/models/", {"name": "m", "deployments": []}, format="json")
    assert answer.status_code == 400
    mixed = {"name": "m", "deployments": [{"provider": "mine", "model": "a"},
                                          {"provider": "up-openai", "model": "platform-chat"}]}  # fmt: skip
    answer = owner.post("/api/orgs/org-a/models/", mixed, format="json")
    assert answer.status_code == 400 and "not both" in str(answer.json()["deployments"])
    assert member.post("/api/orgs/org-a/models/", {"name": "m", "deployments": [
        {"provider": "mine", "model": "a"}]}, format="json").status_code == 403  # fmt: skip
    assert owner.post("/api/orgs/org-a/models/", {"name": "m", "deployments": [
        {"provider": "mine", "model": "a"}]}, format="json").status_code == 201  # fmt: skip
    used = owner.delete("/api/orgs/org-a/providers/mine/")
    assert used.status_code == 409 and "m" in used.json()["detail"]
    assert owner.delete("/api/orgs/org-a/models/m/").status_code == 204
    assert owner.delete("/api/orgs/org-a/providers/mine/").status_code == 204
    assert not Deployment.objects.filter(model_route__organization=tenancy.org).exists()


def test_a_model_over_the_platforms_provider_is_priced_as_the_platform_model_without_fee(
    asgi_server, tenancy, platform, own
):
    api = session(tenancy.admin)
    priced = api.post(
        "/api/orgs/org-a/models/",
        {"name": "alias", "deployments": [{"provider": "up-openai", "model": "platform-chat"}],
         "input_price_usd": "0"},
        format="json",
    )  # fmt: skip
    assert priced.status_code == 201 and priced.json()["byok"] is False
    unknown = api.post(
        "/api/orgs/org-a/models/",
        {"name": "other", "deployments": [{"provider": "up-openai", "model": "gpt-5-pro"}]},
        format="json",
    )
    assert unknown.status_code == 400 and "gpt-5-pro" in str(unknown.json())
    free = api.post(
        "/api/orgs/org-a/models/",
        {"name": "free", "deployments": [{"provider": "up-openai", "model": "platform-chat"}],
         "input_price_usd": "0.01"},
        format="json",
    )  # fmt: skip
    assert free.status_code == 400
    answer = gpt(asgi_server, tenancy.owner_key.secret).chat.completions.create(
        model="alias", messages=[{"role": "user", "content": "hello"}]
    )
    assert answer.model == "alias"
    sent = platform.state.requests[-1]
    assert sent["headers"]["authorization"] == f"Bearer {PLATFORM_SECRET}"
    (record,) = records(1)
    assert not record.byok and record.fee_pico == 0
    assert record.cost_pico == 500_000 * record.input_tokens + 1_000_000 * record.output_tokens


def test_an_organizations_provider_failing_never_cools_a_platform_provider_nor_the_reverse(
    asgi_server, tenancy, platform, own
):
    api = session(tenancy.admin)
    made = api.post(
        "/api/orgs/org-a/models/",
        {"name": "own-faulty", "deployments": [{"provider": "own-up", "model": "x@fault=503"}]},
        format="json",
    )
    assert made.status_code == 201
    client = gpt(asgi_server, tenancy.owner_key.secret)
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(
            model="own-faulty", messages=[{"role": "user", "content": "x"}]
        )
    own_faulty = Deployment.objects.get(model_route__name="own-faulty")
    platform_dep = Deployment.objects.get(model_route__name="platform-chat")
    own_ok = Deployment.objects.get(model_route__name="our-llama")
    assert balancer.cooling_until(own_faulty.pk) is not None
    assert balancer.cooling_until(platform_dep.pk) is None
    assert (
        client.chat.completions.create(
            model="platform-chat", messages=[{"role": "user", "content": "x"}]
        ).model
        == "platform-chat"
    )
    # The reverse: the platform's model failing leaves the organization's own served.
    apply(
        {
            "providers": [{"name": "up-openai", "kind": "openai", "base_url": platform.url + "/v1",
                           "api_key": PLATFORM_SECRET}],
            "models": [{"name": "platform-chat", "price": {"input": 0.5, "output": 1},
                        "deployments": [{"provider": "up-openai", "model": "p@fault=503"}]}],
        }
    )  # fmt: skip
    table.invalidate()
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(
            model="platform-chat", messages=[{"role": "user", "content": "x"}]
        )
    failing = Deployment.objects.get(model_route__name="platform-chat")
    assert balancer.cooling_until(failing.pk) is not None
    assert balancer.cooling_until(own_ok.pk) is None
    assert (
        client.chat.completions.create(
            model="our-llama", messages=[{"role": "user", "content": "x"}]
        ).model
        == "our-llama"
    )


def test_the_keys_limits_apply_to_an_own_model(asgi_server, tenancy, platform, own):
    limited = api_key_create(organization=tenancy.org, name="one a minute", rpm_limit=1)
    client = gpt(asgi_server, limited.secret)
    client.chat.completions.create(model="our-llama", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(
            model="our-llama", messages=[{"role": "user", "content": "x"}]
        )
    assert refused.value.body["code"] == "rate_limit_exceeded"


def test_patching_a_providers_key_serves_its_models_with_the_new_key_at_once(
    asgi_server, tenancy, platform, own
):
    client = gpt(asgi_server, tenancy.owner_key.secret)
    ask = {"model": "our-llama", "messages": [{"role": "user", "content": "x"}]}
    client.chat.completions.create(**ask)
    rotated = "sk-org-rotated-93a1c6f0"
    api = session(tenancy.admin)
    path = "/api/orgs/org-a/providers/own-up/"
    assert session(tenancy.member).patch(path, {"api_key": "m"}, format="json").status_code == 403
    assert session(tenancy.outsider).patch(path, {"api_key": "b"}, format="json").status_code == 404
    bad = api.patch(path, {"timeout_s": 0}, format="json")
    assert bad.status_code == 400 and "timeout_s" in bad.json()
    changed = api.patch(path, {"api_key": rotated, "timeout_s": 30}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["timeout_s"] == 30 and rotated.encode() not in changed.content
    client.chat.completions.create(**ask)
    sent = [r for r in platform.state.requests if r["base_model"] == "llama-own"]
    assert [r["headers"]["authorization"] for r in sent] == [
        f"Bearer {ORG_SECRET}",
        f"Bearer {rotated}",
    ]
