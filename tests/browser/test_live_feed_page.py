"""The live feed page in Chromium, on the real ASGI server (the websocket needs it):
a request through /v1 appears as a row without a reload, written as text."""

import openai
import pytest
from django.test import Client

from accounts.models import Membership, Role
from tests.conftest import make_user
from tests.processes import AsgiServer
from tests.proxy.conftest import load_routes, make_tenant


@pytest.fixture
def sandbox():
    from sandbox.server import SandboxServer

    server = SandboxServer().start()
    try:
        yield server
    finally:
        server.stop()


def test_a_request_appears_on_the_live_page(browser, transactional_db, sandbox, artifacts):
    from proxy import auth, table

    auth._cache.clear()
    load_routes(sandbox, {"demo": [{"model": "demo"}]})
    tenant = make_tenant("live-page")
    owner = make_user("owner@live-page.example")
    Membership.objects.create(user=owner, organization=tenant.org, role=Role.OWNER)
    client = Client()
    client.force_login(owner)
    server = AsgiServer().start()
    try:
        for width, height, name in ((1280, 900, "live-feed"), (390, 844, "live-feed-phone")):
            context = browser.new_context(
                base_url=server.url, viewport={"width": width, "height": height}
            )
            context.set_default_timeout(10_000)
            context.add_cookies([{
                "name": "sessionid", "value": client.cookies["sessionid"].value,
                "url": server.url,
            }])  # fmt: skip
            page = context.new_page()
            page.goto("/o/live-page/live/")
            page.wait_for_selector('#live-status[data-state="open"]')
            reply = openai.OpenAI(
                base_url=server.url + "/v1", api_key=tenant.secret, max_retries=0
            ).chat.completions.with_raw_response.create(
                model="demo", messages=[{"role": "user", "content": "<b>hi</b>"}]
            )
            request_id = reply.headers["x-request-id"]
            row = page.wait_for_selector(f'#live-rows tr[data-request-id="{request_id}"]')
            cells = row.query_selector_all("td")
            assert cells[1].text_content() == tenant.key.prefix + "…"
            assert cells[2].text_content() == "demo"
            assert cells[3].text_content() == "ok 200"
            assert cells[6].text_content().startswith("$")
            assert page.is_hidden("#live-empty")
            page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
            context.close()
    finally:
        server.stop()
        table.invalidate()
