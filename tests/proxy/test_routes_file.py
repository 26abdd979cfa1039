"""The routes file of the contract: loadroutes, idempotence, secrets encrypted at rest."""

import pytest
from django.db import connection

from proxy.models import Deployment, ModelRoute, Provider
from proxy.routes_file import RoutesFileError, apply, parse
from tests.processes import manage

ROUTES = """
providers:
  - name: openai-main
    kind: openai
    base_url: https://api.openai.com/v1/
    api_key: env:TEST_UPSTREAM_KEY
    timeout_s: 30
  - name: local-vllm
    kind: openai
    base_url: http://127.0.0.1:9/v1
    api_key: literal-secret-value
models:
  - name: gpt-4o-mini
    price: {input: 0.15, output: 0.60, cached_input: 0.075}
    deployments:
      - {provider: openai-main, model: gpt-4o-mini, priority: 0, weight: 3}
      - {provider: local-vllm, model: qwen, priority: 1}
"""


def test_loadroutes_creates_then_is_idempotent(transactional_db, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_UPSTREAM_KEY", "sk-from-the-environment")
    path = tmp_path / "routes.yaml"
    path.write_text(ROUTES)
    first = manage("loadroutes", str(path), env={"TEST_UPSTREAM_KEY": "sk-from-the-environment"})
    assert "providers: 2 created" in first.stdout and "models: 1 created" in first.stdout
    again = manage("loadroutes", str(path), env={"TEST_UPSTREAM_KEY": "sk-from-the-environment"})
    assert "providers: 0 created, 0 updated; models: 0 created, 0 updated" in again.stdout
    assert Provider.objects.count() == 2 and Deployment.objects.count() == 2

    model = ModelRoute.objects.get(name="gpt-4o-mini")
    assert (model.input_price, model.output_price, model.cached_input_price) == (
        150_000,
        600_000,
        75_000,
    )
    main = Provider.objects.get(name="openai-main")
    assert (
        main.api_key == "sk-from-the-environment" and main.base_url == "https://api.openai.com/v1"
    )
    dep = Deployment.objects.get(provider=main)
    assert (dep.upstream_model, dep.priority, dep.weight) == ("gpt-4o-mini", 0, 3)


def test_provider_secrets_are_encrypted_at_rest(db):
    apply(parse(ROUTES.replace("env:TEST_UPSTREAM_KEY", "sk-plain")))
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key_encrypted FROM proxy_provider")
        stored = " ".join(row[0] for row in cursor.fetchall())
    assert "sk-plain" not in stored and "literal-secret-value" not in stored
    assert Provider.objects.get(name="local-vllm").api_key == "literal-secret-value"


def test_removed_deployments_are_removed(db):
    apply(parse(ROUTES.replace("env:TEST_UPSTREAM_KEY", "k")))
    shorter = ROUTES.replace("env:TEST_UPSTREAM_KEY", "k").split("      - {provider: local-vllm")[0]
    apply(parse(shorter))
    assert list(Deployment.objects.values_list("upstream_model", flat=True)) == ["gpt-4o-mini"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("providers: 3", "'providers' must be a list"),
        ("providers: [{name: x, kind: azure, base_url: http://a}]", "kind must be one of"),
        ("providers: [{name: x, kind: openai}]", "'base_url' is required"),
        (
            "providers: [{name: x, kind: openai, base_url: http://a, api_key: env:NOPE_NOT_SET}]",
            "NOPE_NOT_SET is not set",
        ),
        ("models: [{name: m, deployments: [{provider: ghost}]}]", "no provider is named 'ghost'"),
        ("models: [{name: m, price: {input: -1}, deployments: []}]", "a price must be"),
        ("models: [{name: m, price: {input: 0.0000001}, deployments: []}]", "at most 6 decimals"),
        ("models: [{name: m, deployments: []}]", "at least one deployment"),
        ("{{{", "Not valid YAML"),
        (
            "models: [{name: m, drop_unsupported: sometimes, deployments: []}]",
            "drop_unsupported must be true or false",
        ),
    ],
)
def test_invalid_files_get_a_clear_error_and_change_nothing(db, text, message):
    with pytest.raises(RoutesFileError, match=message):
        apply(parse(text))
    assert not Provider.objects.exists() and not ModelRoute.objects.exists()


def test_loadroutes_command_reports_errors_without_a_traceback(transactional_db, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("providers: [{name: x, kind: nope, base_url: http://a}]")
    done = manage("loadroutes", str(path), check=False)
    assert done.returncode != 0 and "kind must be one of" in done.stderr
    assert "Traceback" not in done.stderr
    missing = manage("loadroutes", str(tmp_path / "missing.yaml"), check=False)
    assert missing.returncode != 0 and "Cannot read the routes file" in missing.stderr


def test_demo_routes_add_real_models_only_with_their_keys(db, monkeypatch):
    from proxy.demo_routes import seed_demo_routes

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    seed_demo_routes("http://127.0.0.1:9/v1")
    assert set(ModelRoute.objects.values_list("name", flat=True)) == {"demo", "demo-fast"}
    monkeypatch.setenv("OPENAI_API_KEY", "sk-o")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-a")
    seed_demo_routes("http://127.0.0.1:9/v1")
    assert {"gpt-4o-mini", "claude-sonnet-4-5"} <= set(
        ModelRoute.objects.values_list("name", flat=True)
    )
    assert Provider.objects.get(name="anthropic-main").kind == "anthropic"
    assert Provider.objects.get(name="anthropic-main").api_key == "sk-a"


def test_cache_write_prices_and_drop_unsupported_are_read(db):
    apply(
        parse(
            ROUTES.replace("env:TEST_UPSTREAM_KEY", "k").replace(
                "cached_input: 0.075}",
                "cached_input: 0.075, cache_write: 0.1875}\n    drop_unsupported: true",
            )
        )
    )
    route = ModelRoute.objects.get(name="gpt-4o-mini")
    assert (route.cached_input_price, route.cache_write_price) == (75_000, 187_500)
    assert route.drop_unsupported is True


def test_a_kind_is_any_adapter_of_the_registry(db, monkeypatch):
    """A new provider kind is one folder and one line in KINDS: no migration, and the
    model's validation and the routes file take it at once."""
    from django.core.exceptions import ValidationError

    from proxy.translate import providers

    provider = Provider(name="p", kind="future", base_url="http://127.0.0.1:9")
    with pytest.raises(ValidationError, match="Unknown provider kind"):
        provider.full_clean()
    monkeypatch.setitem(providers.KINDS, "future", providers.KINDS["openai"])
    provider.full_clean()
    apply(parse("providers: [{name: f, kind: future, base_url: 'http://127.0.0.1:9'}]"))
    assert Provider.objects.get(name="f").kind == "future"
