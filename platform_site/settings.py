"""Settings, read from the environment (12-factor).

Every knob is here, read through django-environ. With no variables set, the platform runs
on embedded defaults: SQLite, in-process cache and channel layer, and a filesystem Celery
broker, so `make run` needs no server. Production sets DATABASE_URL and REDIS_URL.
"""

import base64
import os
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)
# --- Secrets: three keys, each of its own (README, "Production settings") ----------------
# SECRET_KEY signs sessions and CSRF tokens; API_KEY_DIGEST_SECRET keys the HMAC digest
# stored for every API key; PROVIDER_SECRETS_KEY encrypts provider keys at rest. In
# development the last two derive from SECRET_KEY (HKDF, one info string each) so nothing
# needs setting; with DEBUG=false each must be set, and a leak of one reveals no other.
DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-in-production"
_GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
_GENERATE_FERNET = (
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


def _refuse(name: str, why: str, generate: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(
        f"DEBUG=false and {name} {why}. Set {name} in the environment to a value of its "
        f"own, generated with: {generate}   (or set DEBUG=true for development)."
    )


def _derived(info: bytes, secret: str) -> bytes:
    """32 bytes for one purpose from SECRET_KEY: distinct info strings, unrelated keys."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret.encode())


SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
if not DEBUG and SECRET_KEY.strip() in ("", DEV_SECRET_KEY):
    raise _refuse("SECRET_KEY", "is not set (the public development default)", _GENERATE)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS: cookies, HSTS, redirect (README, "Production settings") ----------------------
# Cookies are Secure whenever DEBUG is off. HSTS and the redirect stay off until set: they
# are right only once TLS reaches the browser, and HSTS cannot be taken back for its max-age.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# The load balancer's probes and scrapes speak plain HTTP to each host: never redirected.
SECURE_REDIRECT_EXEMPT = [
    r"^healthz$",
    r"^readyz$",
    r"^metrics$",
    *env.list("SECURE_REDIRECT_EXEMPT", default=[]),
]
# The header a TLS-terminating load balancer sets to "https" (e.g. X-Forwarded-Proto).
# Only behind a proxy that always sets or strips it: a client could send it otherwise.
_SSL_HEADER = env.str("SECURE_PROXY_SSL_HEADER", default="")
if _SSL_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _SSL_HEADER.upper().replace("-", "_"), "https")

# --- Content-Security-Policy (django-csp) -------------------------------------------------
# Scripts only from our origin or with the response's nonce; no inline handlers. Inline
# styles stay allowed (style attributes in allauth's and the API docs' pages): they cannot
# run code. 'self' in connect-src covers the live feed's ws:/wss: to this origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        # The top-up form's answer redirects to Stripe Checkout, which form-action governs.
        "form-action": [SELF, "https://checkout.stripe.com"],
        "frame-ancestors": [NONE],
    },
}

# --- Keys -------------------------------------------------------------------------------
JINF_KEY_PREFIX = env.str("JINF_KEY_PREFIX", default="jinf_")
# The server-side secret of the keyed digest (HMAC-SHA256) stored for every API key.
# Changing it invalidates every key (their digests no longer match): set it once.
API_KEY_DIGEST_SECRET = env.str("API_KEY_DIGEST_SECRET", default="")
if not API_KEY_DIGEST_SECRET:
    if not DEBUG:
        raise _refuse("API_KEY_DIGEST_SECRET", "is not set", _GENERATE)
    API_KEY_DIGEST_SECRET = _derived(b"jinf api key digests", SECRET_KEY).hex()
elif not DEBUG and API_KEY_DIGEST_SECRET in (SECRET_KEY, DEV_SECRET_KEY):
    raise _refuse(
        "API_KEY_DIGEST_SECRET", "equals SECRET_KEY or the development default", _GENERATE
    )
# USD granted to every new sign-up's organization.
SIGNUP_CREDIT_USD = env.str("SIGNUP_CREDIT_USD", default="0.05")

# --- Apps -------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "csp",  # the {% csp_nonce %} tag, and its checks
    "allauth",
    "allauth.account",
    "accounts",
    "billing",
    "proxy",
    "dashboard",
    "platform_site",  # composes the apps: the operator commands that need several of them
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.PortalNotFoundMiddleware",  # templates/404.html, DEBUG or not
]

ROOT_URLCONF = "platform_site.urls"
ASGI_APPLICATION = "platform_site.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.organizations",
                "billing.context_processors.alerts",
            ],
        },
    },
]

# --- Data -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, for the test database too: a Celery worker process in the tests
    # must see what the test wrote. One per test run, so that runs side by side don't meet.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
    # WAL: readers never wait for the usage writer, and commits need no full sync.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Persistent connections on both: the proxy's cache reloads and usage writes run in
# long-lived threads, and opening SQLite afresh (with its PRAGMAs) each time costs more
# than the query.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# billing.redis_client: connections per process and event loop; a caller beyond them waits.
REDIS_POOL_MAX_CONNECTIONS = env.int("REDIS_POOL_MAX_CONNECTIONS", default=64)
REDIS_POOL_TIMEOUT_S = env.float("REDIS_POOL_TIMEOUT_S", default=10.0)

# --- Celery -----------------------------------------------------------------------------
CELERY_FS_BROKER_DIR = Path(env.str("CELERY_FS_BROKER_DIR", default=str(VAR_DIR / "broker")))
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # A broker that needs no server: messages are files both processes can see.
    for sub in ("queue", "processed", "control"):
        (CELERY_FS_BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FS_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_FS_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_FS_BROKER_DIR / "processed"),
        # Without it, kombu keeps its exchange tables in ./control of whatever directory
        # a process starts in.
        "control_folder": str(CELERY_FS_BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {
    # Low balance and spend spikes (billing.alerts); idempotent, so a missed or doubled
    # run changes nothing.
    "billing-alerts": {"task": "billing.tasks.alerts_check", "schedule": 60.0},
    # Rollups and invoices (billing/rollups.py, billing/invoices/reconcile.py): every task
    # recomputes absolute figures under unique constraints, so a doubled or missed run
    # changes nothing. The intervals are settings so that a test's beat runs in seconds.
    "billing-usage-rollup": {
        "task": "billing.tasks.usage_rollup",
        "schedule": env.float("BILLING_ROLLUP_EVERY_S", default=60.0),
    },
    "billing-invoices-reconcile": {
        "task": "billing.tasks.invoices_reconcile",
        "schedule": env.float("BILLING_RECONCILE_EVERY_S", default=300.0),
    },
    "billing-periods-close": {
        "task": "billing.tasks.periods_close",
        "schedule": env.float("BILLING_CLOSE_EVERY_S", default=300.0),
    },
    # Stored prompts and answers past their organization's retention (billing/bodies.py).
    "billing-bodies-purge": {
        "task": "billing.tasks.bodies_purge",
        "schedule": env.float("BILLING_BODIES_PURGE_EVERY_S", default=3600.0),
    },
    # Auto-reload (billing/stripe/autoreload.py): each charge has its idempotency key.
    "billing-autoreload-check": {"task": "billing.stripe.tasks.autoreload_check", "schedule": 60.0},
}

# --- Auth (django-allauth: sign-up, verification, login throttling, password reset) -----
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[jinf] "
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_RATE_LIMITS = {
    "login_failed": env.str("LOGIN_FAILED_RATE_LIMIT", default="10/m/ip,5/5m/key"),
}
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"

# --- Email: console by default, SMTP when EMAIL_URL is set ------------------------------
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = env.str(
        "EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
    )
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="jinf <noreply@localhost>")

# --- Management API ---------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.authentication.ManagementKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "accounts.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "jinf management API",
    "DESCRIPTION": "Organizations, members and API keys. Authenticate with a session or "
    "with a management key: `Authorization: Bearer jinf_…`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Static, i18n -----------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# Absolute links in emails (invitations) start here: by default the address `make run`
# serves (HOST and PORT; a wildcard host is reached on loopback).
_RUN_HOST = env.str("HOST", default="127.0.0.1")
_RUN_HOST = "127.0.0.1" if _RUN_HOST in ("", "0.0.0.0", "::") else _RUN_HOST
PORTAL_URL = env.str("PORTAL_URL", default=f"http://{_RUN_HOST}:{env.int('PORT', default=8000)}")

# --- Proxy ------------------------------------------------------------------------------
# Fernet keys for provider secrets at rest (proxy.crypto), comma-separated: the first
# encrypts, every one decrypts, so a key is rotated by putting a new one first and running
# `manage.py rotatesecrets`. Development derives one from SECRET_KEY.
PROVIDER_SECRETS_KEY = env.str("PROVIDER_SECRETS_KEY", default="").strip()
if not PROVIDER_SECRETS_KEY:
    if not DEBUG:
        raise _refuse("PROVIDER_SECRETS_KEY", "is not set", _GENERATE_FERNET)
    PROVIDER_SECRETS_KEY = base64.urlsafe_b64encode(
        _derived(b"jinf provider secrets", SECRET_KEY)
    ).decode()
for _position, _key in enumerate(PROVIDER_SECRETS_KEY.split(","), start=1):
    try:
        Fernet(_key.strip())
    except ValueError as _exc:
        raise ImproperlyConfigured(
            f"PROVIDER_SECRETS_KEY: key {_position} is not a Fernet key (32 url-safe "
            f"base64-encoded bytes). Generate one with: {_GENERATE_FERNET}"
        ) from _exc
ROUTES_FILE = env.str("ROUTES_FILE", default="")
PROXY_MAX_BODY_BYTES = env.int("PROXY_MAX_BODY_MB", default=32) * 1024 * 1024
# A deployment failing this many times in a row is cooled down for PROXY_COOLDOWN_S.
PROXY_COOLDOWN_FAILURES = env.int("PROXY_COOLDOWN_FAILURES", default=3)
PROXY_COOLDOWN_S = env.float("PROXY_COOLDOWN_S", default=30.0)
# How long a process trusts its copy of the routes and of a balance.
PROXY_ROUTES_TTL_S = env.float("PROXY_ROUTES_TTL_S", default=5.0)
PROXY_BALANCE_TTL_S = env.float("PROXY_BALANCE_TTL_S", default=2.0)
# Load balancers whose X-Forwarded-For names the client (proxy.addresses, keys' --ips).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# What a request reserves for its answer when it names no max_tokens (billing.holds).
PROXY_DEFAULT_MAX_OUTPUT_TOKENS = env.int("PROXY_DEFAULT_MAX_OUTPUT_TOKENS", default=4096)

# Django 6's default for URL form fields, adopted now (silences the transition warning).
FORMS_URLFIELD_ASSUME_HTTPS = True

# --- Billing ----------------------------------------------------------------------------
# A plans file (CONTRACT.md) loaded at start; none: one prepaid plan, payg.
PLANS_FILE = env.str("PLANS_FILE", default="")
# Stripe is off without a secret key: invoices stay internal, a top-up answers 409.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
# Another server for the SDK to talk to (a local Stripe double in tests).
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
# Stripe Billing's finalization grace: usage recorded this long after a period ends still
# lands on that period's invoice before it goes to review.
BILLING_CLOSE_GRACE_S = env.float("BILLING_CLOSE_GRACE_S", default=3600.0)

# --- Operations and the HTTP server: their own modules ------------------------------------
from platform_site.settings_ops import *  # noqa: E402, F403  metrics, health, logs
from platform_site.settings_server import *  # noqa: E402, F403  timeouts and limits
