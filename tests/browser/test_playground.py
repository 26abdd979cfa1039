"""The Playground in headless Chromium, against the whole ASGI application (portal and
/v1, same origin) in front of the sandbox upstream: a member pastes a key, writes
messages, and watches the answer stream in, then its tokens, cost and latency."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.money import PICO_PER_USD
from accounts.services import api_key_create, organization_create
from billing.models import UsageRecord
from billing.services import credits_grant
from tests.browser.test_portal_flows import sign_in
from tests.conftest import make_user
from tests.processes import wait_for
from tests.proxy.conftest import _fresh_proxy_state, load_routes, sandbox  # noqa: F401

pytestmark = pytest.mark.browser

# Twenty chunks 80 ms apart: long enough to see text before the stream ends.
SLOW = "demo@chunks=20,delay_ms=80"


@pytest.fixture
def gateway(asgi_server, sandbox):  # noqa: F811
    load_routes(sandbox, {"pg-slow": [{"model": SLOW}], "pg-fast": [{"model": "demo"}]})
    return asgi_server


@pytest.fixture
def member_page(browser, gateway):
    user = make_user("player@a.example")
    org = organization_create(name="Play Org", owner=user, slug="play")
    credits_grant(organization=org, amount_pico=5 * PICO_PER_USD, reason="test")
    new = api_key_create(organization=org, name="playground", created_by=user)
    context = browser.new_context(base_url=gateway.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, user.email)
    yield page, new
    context.close()


def test_a_member_streams_an_answer_and_sees_tokens_cost_and_latency(member_page, artifacts):
    page, new = member_page
    page.goto("/o/play/playground/")
    expect(page.get_by_role("heading", name="Playground")).to_be_visible()
    assert page.locator("#pg-model option").all_inner_texts() == ["pg-fast", "pg-slow"]
    page.select_option("#pg-model", "pg-slow")
    page.fill("#pg-key", new.secret)
    page.locator(".turn textarea").nth(1).fill("tell me about streams")
    page.click("#pg-add")
    assert page.locator(".turn").count() == 3
    page.locator(".turn [data-remove]").nth(2).click()
    assert page.locator(".turn").count() == 2

    page.click("#pg-send")
    # Text arrives while the stream is still open (the stats appear only at its end).
    expect(page.locator("#pg-answer")).to_contain_text("Hello from the sandbox")
    assert page.locator("#pg-stats").is_hidden()
    expect(page.locator("#pg-stats")).to_be_visible(timeout=20_000)
    answer = page.locator("#pg-answer").inner_text()
    assert "tell me about streams" in answer
    assert page.locator("#pg-error").is_hidden()

    assert wait_for(lambda: UsageRecord.objects.filter(api_key=new.key).exists())
    record = UsageRecord.objects.get(api_key=new.key)
    assert record.model == "pg-slow" and record.streamed and record.cost_pico > 0
    assert page.locator("#pg-input-tokens").inner_text() == str(record.input_tokens)
    assert page.locator("#pg-output-tokens").inner_text() == str(record.output_tokens)
    cost = page.locator("#pg-cost")
    shown = Decimal(cost.inner_text().lstrip("$"))
    exact = Decimal(record.cost_pico) / PICO_PER_USD
    assert abs(shown - exact) < Decimal("0.00000001"), (shown, exact)
    assert re.fullmatch(r"\d+ ms", page.locator("#pg-ttfb").inner_text())
    ttfb = int(page.locator("#pg-ttfb").inner_text().split()[0])
    total = int(page.locator("#pg-latency").inner_text().split()[0])
    assert 0 < ttfb < total and total >= 19 * 80
    page.screenshot(path=str(artifacts / "playground.png"), full_page=True)

    # The key survives a reload of the tab (sessionStorage), never the server's pages.
    page.reload()
    assert page.locator("#pg-key").input_value() == new.secret
    assert new.secret not in page.content().replace(page.locator("#pg-key").input_value(), "")

    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide at 390 px"
    for control in ("#pg-model", "#pg-key", "#pg-send", "#pg-add"):
        box = page.locator(control).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (control, box)
    page.screenshot(path=str(artifacts / "playground-phone.png"), full_page=True)


def test_an_error_from_v1_is_shown_as_its_message(member_page, artifacts):
    page, _ = member_page
    page.goto("/o/play/playground/")
    page.fill("#pg-key", "jinf_not-a-real-key-" + "x" * 40)
    page.locator(".turn textarea").nth(1).fill("hello")
    page.click("#pg-send")
    error = page.locator("#pg-error")
    expect(error).to_be_visible()
    text = error.inner_text()
    assert "key" in text.lower() and "answered" not in text, text
    assert page.locator("#pg-answer").inner_text() == ""


def test_the_models_page_at_desktop_and_phone_width(member_page, artifacts):
    page, _ = member_page
    page.goto("/o/play/models/")
    expect(page.locator("#model-pg-slow")).to_contain_text("healthy")
    expect(page.locator("#model-pg-slow")).to_contain_text("/v1/chat/completions")
    page.screenshot(path=str(artifacts / "models.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide at 390 px"
    page.screenshot(path=str(artifacts / "models-phone.png"), full_page=True)


def test_a_new_key_is_limited_by_ticking_served_models(member_page, artifacts):
    page, _ = member_page
    page.goto("/o/play/keys/")
    choices = page.locator("input[name=allowed_models]")
    assert [choices.nth(i).get_attribute("value") for i in range(choices.count())] == [
        "pg-fast",
        "pg-slow",
    ]
    page.get_by_label("Name").fill("only slow")
    page.get_by_label("pg-slow").check()
    page.locator("form").filter(has=choices.first).screenshot(
        path=str(artifacts / "keys-allowed-models.png")
    )
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_text("you won't see it again")).to_be_visible()
    from accounts.models import APIKey

    assert APIKey.objects.get(name="only slow").allowed_models == ["pg-slow"]
