"""Issue 13, "Refuse unsafe production": the refusals at start, `check --deploy` with the
production environment the README documents, the keys kept apart, and the headers."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.test import Client

from accounts import keys
from proxy import crypto
from proxy.models import Provider

ROOT = Path(__file__).resolve().parents[2]
# The README's "Production settings" (values are examples; every one is required or
# checked by `check --deploy`).
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "q8V-7mZ2xYk1WcBn4TgRr9Lp0sHdJfEeUaKiOo3vNlMyQzXwCtSbGhDj5uP6AF",
    "API_KEY_DIGEST_SECRET": "Zt3nW8qLxR1vB6yK0pJ5mCfHsGdE9aUoTiNlMwQzXcVbYrPkAgSjD2hF7eO4uI",
    "PROVIDER_SECRETS_KEY": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "gateway.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://gateway.example.com",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}
OURS = {*PRODUCTION_ENV, "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_REDIRECT_EXEMPT"}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`manage.py` in a fresh process with exactly these variables set among ours."""
    # DJANGO_ALLOW_ASYNC_UNSAFE is the browser tests' (tests/browser/conftest.py), set in
    # this process once they are collected; no deployment has it, and check --deploy says so.
    clean = {
        k: v for k, v in os.environ.items() if k not in OURS and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def without(*names: str, **extra: str) -> dict[str, str]:
    return {**{k: v for k, v in PRODUCTION_ENV.items() if k not in names}, **extra}


def test_debug_false_without_secret_key_refuses_to_start_and_says_what_to_set():
    run = manage("check", env={"DEBUG": "false"})
    assert run.returncode != 0
    message = run.stderr.strip().splitlines()[-1]
    assert message.startswith("django.core.exceptions.ImproperlyConfigured: DEBUG=false")
    assert "Set SECRET_KEY" in message and "secrets.token_urlsafe(50)" in message


@pytest.mark.parametrize(
    ("env", "named"),
    [
        (without("SECRET_KEY"), "SECRET_KEY"),
        (without(SECRET_KEY=django_settings.DEV_SECRET_KEY), "SECRET_KEY"),
        (without("API_KEY_DIGEST_SECRET"), "API_KEY_DIGEST_SECRET"),
        (without(API_KEY_DIGEST_SECRET=PRODUCTION_ENV["SECRET_KEY"]), "API_KEY_DIGEST_SECRET"),
        (without("PROVIDER_SECRETS_KEY"), "PROVIDER_SECRETS_KEY"),
        (without(PROVIDER_SECRETS_KEY="not-a-fernet-key"), "PROVIDER_SECRETS_KEY"),
    ],
    ids=["no-secret", "dev-secret", "no-digest", "digest-is-secret", "no-fernet", "bad-fernet"],
)
def test_production_refuses_a_missing_or_shared_key(env, named):
    run = manage("check", env=env)
    assert run.returncode != 0
    assert "ImproperlyConfigured" in run.stderr and named in run.stderr.splitlines()[-1]


def test_check_deploy_is_clean_with_the_documented_production_environment():
    run = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "System check identified no issues (0 silenced)." in run.stdout
    # and each variable matters: without HSTS or the redirect, Django warns.
    weaker = without("SECURE_HSTS_SECONDS", "SECURE_SSL_REDIRECT")
    run = manage("check", "--deploy", env=weaker)
    assert "security.W004" in run.stderr and "security.W008" in run.stderr


def test_development_needs_no_variable_and_derives_separate_stable_keys():
    """`make run` and the tests start with nothing set; the derived keys differ from
    SECRET_KEY and from each other, and are the same in every process."""
    script = (
        "from django.conf import settings as s; "
        "print(s.API_KEY_DIGEST_SECRET, s.PROVIDER_SECRETS_KEY, s.SESSION_COOKIE_SECURE)"
    )
    run = manage("shell", "-c", script, env={})
    assert run.returncode == 0, run.stderr
    digest_key, fernet_key, secure = run.stdout.splitlines()[-1].split()
    assert secure == "False"
    assert digest_key == manage("shell", "-c", script, env={}).stdout.splitlines()[-1].split()[0]
    assert django_settings.SECRET_KEY == django_settings.DEV_SECRET_KEY  # the test run's too
    assert (digest_key, fernet_key) == (
        django_settings.API_KEY_DIGEST_SECRET,
        django_settings.PROVIDER_SECRETS_KEY,
    )
    assert len({digest_key, fernet_key, django_settings.SECRET_KEY}) == 3
    Fernet(fernet_key)


def test_production_environment_sets_cookies_hsts_and_the_proxy_header():
    script = (
        "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
        "s.SECURE_HSTS_PRELOAD, s.SECURE_SSL_REDIRECT, *s.SECURE_PROXY_SSL_HEADER)"
    )
    run = manage("shell", "-c", script, env=PRODUCTION_ENV)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1].split() == [
        "True", "True", "31536000", "True", "True", "True", "HTTP_X_FORWARDED_PROTO", "https",
    ]  # fmt: skip


def test_digest_key_is_its_own(settings):
    """The digest depends on API_KEY_DIGEST_SECRET alone, not on SECRET_KEY."""
    before = keys.digest("jinf_x")
    settings.SECRET_KEY = "another-secret-key-entirely"
    assert keys.digest("jinf_x") == before
    settings.API_KEY_DIGEST_SECRET = "another"
    assert keys.digest("jinf_x") != before


@pytest.mark.django_db
def test_rotatesecrets_moves_every_secret_to_the_first_key(settings, capsys):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.PROVIDER_SECRETS_KEY = old
    for name in ("one", "two"):
        provider = Provider(name=name, kind="openai", base_url="http://upstream.invalid")
        provider.api_key = f"sk-{name}"
        provider.save()
    Provider.objects.create(name="keyless", kind="openai", base_url="http://upstream.invalid")

    settings.PROVIDER_SECRETS_KEY = f"{new}, {old}"  # new first: encrypts; both decrypt
    assert Provider.objects.get(name="one").api_key == "sk-one"
    call_command("rotatesecrets")
    assert "2 provider secret(s) re-encrypted" in capsys.readouterr().out
    call_command("rotatesecrets")
    assert capsys.readouterr().out.startswith("0 provider secret(s) re-encrypted")

    settings.PROVIDER_SECRETS_KEY = new  # the old key dropped
    assert [p.api_key for p in Provider.objects.order_by("name")] == ["", "sk-one", "sk-two"]
    settings.PROVIDER_SECRETS_KEY = old
    with pytest.raises(ValueError, match="PROVIDER_SECRETS_KEY"):
        Provider.objects.get(name="one").api_key  # noqa: B018


@pytest.mark.django_db
def test_rotatesecrets_changes_nothing_when_a_secret_has_no_key(settings):
    settings.PROVIDER_SECRETS_KEY = Fernet.generate_key().decode()
    lost = Provider(name="lost", kind="openai", base_url="http://upstream.invalid")
    lost.api_key = "sk-lost"
    lost.save()
    settings.PROVIDER_SECRETS_KEY = Fernet.generate_key().decode()
    with pytest.raises(CommandError, match="lost"):
        call_command("rotatesecrets")
    assert Provider.objects.get().api_key_encrypted == lost.api_key_encrypted


def test_multifernet_encrypts_with_the_first_key(settings):
    a, b = Fernet.generate_key(), Fernet.generate_key()
    settings.PROVIDER_SECRETS_KEY = f"{b.decode()},{a.decode()}"
    token = crypto.encrypt("sk-x")
    assert Fernet(b).decrypt(token.encode()) == b"sk-x"
    assert crypto.decrypt(Fernet(a).encrypt(b"sk-y").decode()) == "sk-y"


@pytest.mark.django_db
def test_ssl_redirect_spares_the_operations_endpoints(settings):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    page = client.get("/accounts/login/")
    assert page.status_code == 301 and page["Location"].startswith("https://")
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path).status_code != 301, path
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert Client().get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https").status_code == 200


@pytest.mark.django_db
def test_pages_carry_a_strict_csp_and_the_api_docs_script_its_nonce():
    page = Client().get("/accounts/login/")
    policy = dict(part.strip().split(" ", 1) for part in page["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'"  # a nonce only where a template uses one
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["connect-src"] == "'self'"  # and with it the live feed's ws: to self
    docs = Client().get("/api/docs/")
    assert docs.status_code == 200
    nonce = re.search(r"script-src 'self' 'nonce-([^']+)'", docs["Content-Security-Policy"])[1]
    assert f'<script nonce="{nonce}">' in docs.content.decode()


def test_no_template_has_an_inline_handler_or_a_script_without_nonce():
    """What a CSP without 'unsafe-inline' for scripts would block: kept out of templates."""
    found = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        for match in re.finditer(r"<script(?![^>]*\bsrc=)(?![^>]*\bnonce=)[^>]*>", text):
            found.append(f"{path.relative_to(ROOT)}: {match[0]}")
        for match in re.finditer(r"\son[a-z]+\s*=\s*[\"']", text):
            found.append(f"{path.relative_to(ROOT)}: {match[0].strip()}")
        if "javascript:" in text:
            found.append(f"{path.relative_to(ROOT)}: javascript: URL")
    assert not found, found
