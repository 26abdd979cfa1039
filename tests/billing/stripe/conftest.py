"""Stripe in tests: off unless a test asks for `stripe_on` (the loopback double), and
pointed at a closed loopback port meanwhile, so nothing can reach api.stripe.com."""

import pytest

from tests.billing.stripe.doubles import SECRET_KEY, WEBHOOK_SECRET, StripeDouble


@pytest.fixture(autouse=True)
def _stripe_offline(settings):
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


@pytest.fixture(scope="session")
def stripe_double(tmp_path_factory):
    double = StripeDouble(tmp_path_factory.mktemp("stripe") / "double.log").start()
    try:
        yield double
    finally:
        double.stop()


@pytest.fixture
def stripe_on(settings, stripe_double):
    """Stripe configured against the double, which starts each test empty."""
    stripe_double.reset()
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_API_BASE = stripe_double.url
    return stripe_double
