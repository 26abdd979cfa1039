"""The live usage feed: `/ws/orgs/<slug>/usage/` checked on connect (session or management
key, members only), published after the usage write commits, one organization per socket.

The consumer's rules run through channels' WebsocketCommunicator on the project's ASGI
application; the isolation between organizations over two real sockets on a real uvicorn
(in-process: the in-memory layer; and two gateway processes over Redis)."""

import asyncio
import json
import time
from contextlib import ExitStack
from decimal import Decimal

import openai
import pytest
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.test import Client
from django.utils import timezone
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from accounts.key_services import api_key_revoke
from accounts.services import api_key_create
from billing.usage import UsageEvent, usage_record_batch
from dashboard import live_publish
from proxy import auth, balancer, limits, relay, table
from tests.multiproc import Gateways, needs_shared_services, usage_stream_clear
from tests.processes import AsgiServer
from tests.proxy.conftest import load_routes, make_tenant

FEED = "/ws/orgs/{}/usage/"
QUIET_S = 1.5  # how long a socket that must receive nothing is listened to

CONTRACT_FIELDS = {
    "request_id", "created_at", "key_prefix", "model", "status", "http_status",
    "input_tokens", "output_tokens", "cost_usd", "latency_ms",
}  # fmt: skip


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def event(org, key=None, request_id="req_1", **fields) -> UsageEvent:
    return UsageEvent(
        request_id=request_id, organization_id=org.pk, api_key_id=key.pk if key else None,
        endpoint="chat/completions", model="demo", status="ok", input_tokens=12,
        output_tokens=34, cost_pico=1_234_567, latency_ms=12.5, **fields,
    )  # fmt: skip


def run(coro):
    return asyncio.run(coro)


class Communicator(ApplicationCommunicator):
    """channels.testing's WebsocketCommunicator, whose package needs daphne."""

    def __init__(self, application, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        scope = {
            "type": "websocket", "path": path, "raw_path": path.encode(), "query_string": b"",
            "headers": headers, "subprotocols": [],
        }  # fmt: skip
        super().__init__(application, scope)

    async def connect(self, timeout: float = 2.0) -> tuple[bool, object]:
        await self.send_input({"type": "websocket.connect"})
        answer = await self.receive_output(timeout)
        if answer["type"] == "websocket.close":
            return False, answer.get("code", 1000)
        assert answer["type"] == "websocket.accept", answer
        return True, answer.get("subprotocol")

    async def receive_from(self, timeout: float = 2.0) -> str:
        message = await self.receive_output(timeout)
        assert message["type"] == "websocket.send", message
        return message["text"]

    async def disconnect(self, code: int = 1000, timeout: float = 2.0) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)


async def feed(slug: str, headers: list[tuple[bytes, bytes]] = ()) -> Communicator:
    from platform_site.asgi import application

    return Communicator(application, FEED.format(slug), list(headers))


async def handshake(slug: str, headers=()) -> tuple[bool, object]:
    comm = await feed(slug, headers)
    connected, code = await comm.connect()
    if connected:
        await comm.disconnect()
    return connected, code


def bearer(secret: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {secret}".encode())]


def cookie(user) -> list[tuple[bytes, bytes]]:
    return [(b"cookie", f"sessionid={session_cookie(user)}".encode())]


# --- who may connect ------------------------------------------------------------------


def test_members_connect_by_session_outsiders_and_anonymous_are_refused(transactional_db, tenancy):
    for user in (tenancy.owner, tenancy.admin, tenancy.member):
        assert run(handshake("org-a", cookie(user))) == (True, None), user
    # An outsider cannot tell org-a from an organization that does not exist.
    assert run(handshake("org-a", cookie(tenancy.outsider))) == (False, 4404)
    assert run(handshake("no-such-org", cookie(tenancy.owner))) == (False, 4404)
    assert run(handshake("org-a")) == (False, 4403)


def test_a_session_socket_opened_from_another_site_is_refused(transactional_db, tenancy):
    own = [
        *cookie(tenancy.owner),
        (b"host", b"portal.example"),
        (b"origin", b"https://portal.example"),
    ]
    assert run(handshake("org-a", own)) == (True, None)
    forged = [
        *cookie(tenancy.owner),
        (b"host", b"portal.example"),
        (b"origin", b"https://evil.example"),
    ]
    assert run(handshake("org-a", forged)) == (False, 4403)


def test_management_keys_of_the_organization_only(transactional_db, tenancy):
    manage_a = api_key_create(organization=tenancy.org, name="ops", is_management=True)
    manage_b = api_key_create(organization=tenancy.other_org, name="ops b", is_management=True)
    assert run(handshake("org-a", bearer(manage_a.secret))) == (True, None)
    assert run(handshake("org-a", bearer(manage_b.secret))) == (False, 4404)
    # A /v1 key of the organization itself reads no feed.
    assert run(handshake("org-a", bearer(tenancy.owner_key.secret))) == (False, 4403)
    assert run(handshake("org-a", bearer("jinf_not_a_key"))) == (False, 4403)
    assert run(handshake("org-a", [(b"authorization", b"Basic abc")])) == (False, 4403)
    api_key_revoke(key=manage_a.key)
    assert run(handshake("org-a", bearer(manage_a.secret))) == (False, 4403)


# --- what a socket receives -----------------------------------------------------------


def test_written_records_reach_their_organizations_socket_only(transactional_db, tenancy):
    key_a = tenancy.owner_key.key
    member, outsider = cookie(tenancy.member), cookie(tenancy.outsider)

    async def scenario():
        a = await feed("org-a", member)
        b = await feed("org-b", outsider)
        assert (await a.connect())[0] and (await b.connect())[0]
        # From a thread, as the usage writer does; a retried batch is not sent again.
        batch = [
            event(tenancy.org, key_a, "req_a1", key_prefix=key_a.prefix),
            event(tenancy.org, key_a, "req_a2"),  # no prefix on the event: looked up
            event(tenancy.other_org, None, "req_b1"),
        ]
        assert await database_sync_to_async(usage_record_batch)(batch) == 3
        assert await database_sync_to_async(usage_record_batch)(batch) == 0
        got = [json.loads(await a.receive_from(timeout=2)) for _ in range(2)]
        assert await a.receive_nothing(timeout=0.3)
        got_b = json.loads(await b.receive_from(timeout=2))
        assert await b.receive_nothing(timeout=0.3)
        await a.disconnect()
        await b.disconnect()
        return got, got_b

    got, got_b = run(scenario())
    assert {m["request_id"] for m in got} == {"req_a1", "req_a2"}
    assert got_b["request_id"] == "req_b1" and got_b["key_prefix"] == ""
    for m in got:
        assert set(m) == CONTRACT_FIELDS
        assert m["key_prefix"] == key_a.prefix
        assert m["cost_usd"] == "0.000001234567" and Decimal(m["cost_usd"]) * 10**12 == 1_234_567
        assert (m["model"], m["status"], m["http_status"]) == ("demo", "ok", 200)
        assert (m["input_tokens"], m["output_tokens"], m["latency_ms"]) == (12, 34, 12.5)
        assert m["created_at"].endswith("Z")
        at = timezone.datetime.fromisoformat(m["created_at"])
        assert abs((timezone.now() - at).total_seconds()) < 60


def test_an_open_socket_is_checked_again_before_it_is_sent_anything(
    transactional_db, tenancy, monkeypatch
):
    """A member removed, a session signed out, a key revoked: closed, sent nothing."""
    from django.contrib.sessions.models import Session

    from accounts.models import Membership
    from dashboard import live

    manage = api_key_create(organization=tenancy.org, name="ops", is_management=True)
    member, admin, owner = (cookie(u) for u in (tenancy.member, tenancy.admin, tenancy.owner))
    admin_session = admin[0][1].decode().split("=", 1)[1]
    monkeypatch.setattr(live, "RECHECK_S", 0.0)

    def revoke_all():
        Membership.objects.filter(user=tenancy.member).delete()
        Session.objects.filter(session_key=admin_session).delete()
        api_key_revoke(key=manage.key)

    async def scenario():
        sockets = [await feed("org-a", h) for h in (member, admin, bearer(manage.secret), owner)]
        for s in sockets:
            assert (await s.connect())[0]
        await database_sync_to_async(revoke_all)()
        batch = [event(tenancy.org, None, "req_after")]
        assert await database_sync_to_async(usage_record_batch)(batch) == 1
        closed = [await s.receive_output(timeout=2) for s in sockets[:3]]
        still = json.loads(await sockets[3].receive_from(timeout=2))["request_id"]
        await sockets[3].disconnect()
        return [(m["type"], m.get("code")) for m in closed], still

    closed, still = run(scenario())
    assert closed == [
        ("websocket.close", 4404),  # no longer a member
        ("websocket.close", 4403),  # signed out
        ("websocket.close", 4403),  # revoked key
    ]
    assert still == "req_after"  # the owner, still a member, is sent the record


def test_a_rolled_back_write_publishes_nothing(transactional_db, tenancy):
    owner = cookie(tenancy.owner)

    async def scenario():
        a = await feed("org-a", owner)
        assert (await a.connect())[0]
        # An organization that does not exist: the database refuses the batch.
        bad = [event(tenancy.org, None, "req_ok"), UsageEvent(
            request_id="req_bad", organization_id=987_654_321, api_key_id=None,
            endpoint="chat/completions", model="demo", status="ok", cost_pico=5,
        )]  # fmt: skip
        with pytest.raises(Exception):  # noqa: B017 - the database's own IntegrityError
            await database_sync_to_async(usage_record_batch)(bad)
        quiet = await a.receive_nothing(timeout=0.5)
        await database_sync_to_async(usage_record_batch)([event(tenancy.org, None, "req_ok")])
        arrived = json.loads(await a.receive_from(timeout=2))["request_id"]
        await a.disconnect()
        return quiet, arrived

    assert run(scenario()) == (True, "req_ok")


def test_a_failing_publisher_never_fails_the_write(transactional_db, tenancy, monkeypatch):
    def broken(events):
        raise RuntimeError("the feed is broken")

    monkeypatch.setattr(live_publish.publisher, "offer", broken)
    assert usage_record_batch([event(tenancy.org, None, "req_x")]) == 1


def test_with_nobody_listening_the_writer_hands_nothing_over(transactional_db, tenancy):
    if not isinstance(get_channel_layer(), InMemoryChannelLayer):
        pytest.skip("with Redis every batch is published: the sockets may be in any process")
    live_publish.publisher.socket_loop = None
    before = live_publish.publisher._queue.qsize(), live_publish.publisher.dropped
    usage_record_batch([event(tenancy.org, None, "req_nobody")])
    assert (live_publish.publisher._queue.qsize(), live_publish.publisher.dropped) == before


# --- two real sockets over a real server --------------------------------------------------


@pytest.fixture
def proxy_state(settings):
    for forget in (auth._cache.clear, balancer.reset, limits.reset, relay.forget, table.invalidate):
        forget()
    yield
    table.invalidate()


@pytest.fixture
def sandbox():
    from sandbox.server import SandboxServer

    server = SandboxServer().start()
    try:
        yield server
    finally:
        server.stop()


def ws_url(base: str, slug: str) -> str:
    return base.replace("http://", "ws://") + FEED.format(slug)


def call(base: str, secret: str, text: str) -> str:
    client = openai.OpenAI(base_url=base + "/v1", api_key=secret, max_retries=0)
    reply = client.chat.completions.with_raw_response.create(
        model="demo", messages=[{"role": "user", "content": text}]
    )
    return reply.headers["x-request-id"]


def receive(ws, timeout: float) -> dict | None:
    try:
        return json.loads(ws.recv(timeout=timeout))
    except TimeoutError:
        return None


def two_orgs(sandbox):
    load_routes(sandbox, {"demo": [{"model": "demo"}]})
    a, b = make_tenant("live-a"), make_tenant("live-b")
    manage_b = api_key_create(organization=b.org, name="ops", is_management=True)
    return a, b, manage_b


def check_isolation(a, b, manage_b, socket_base: str, traffic_base: str, owner_cookie: str):
    """A's socket (a session) and B's (a management key): each request reaches its own
    organization's socket within a second, and never the other's."""
    with ExitStack() as stack:
        ws_a = stack.enter_context(connect(
            ws_url(socket_base, "live-a"), additional_headers={"Cookie": f"sessionid={owner_cookie}"}
        ))  # fmt: skip
        ws_b = stack.enter_context(connect(
            ws_url(socket_base, "live-b"), additional_headers={"Authorization": f"Bearer {manage_b.secret}"}
        ))  # fmt: skip
        for n in range(3):
            request_id = call(traffic_base, a.secret, f"hello {n}")
            answered = time.monotonic()
            message = receive(ws_a, timeout=1.0)
            assert message is not None, "A's request did not arrive on A's socket within 1 s"
            assert time.monotonic() - answered < 1.0
            assert message["request_id"] == request_id
            assert message["key_prefix"] == a.key.prefix and message["status"] == "ok"
            assert Decimal(message["cost_usd"]) > 0 and message["output_tokens"] > 0
        assert receive(ws_b, timeout=QUIET_S) is None, "B's socket received A's traffic"
        # B's socket works: B's own traffic reaches it, and not A's.
        request_id = call(traffic_base, b.secret, "hello from b")
        message = receive(ws_b, timeout=1.0)
        assert message is not None and message["request_id"] == request_id
        assert receive(ws_a, timeout=QUIET_S) is None, "A's socket received B's traffic"


def test_two_real_sockets_see_only_their_own_organization(transactional_db, proxy_state, sandbox):
    from accounts.models import Membership, Role
    from tests.conftest import make_user

    a, b, manage_b = two_orgs(sandbox)
    owner = make_user("owner@live-a.example")
    Membership.objects.create(user=owner, organization=a.org, role=Role.OWNER)
    outsider = make_user("owner@live-b.example")
    Membership.objects.create(user=outsider, organization=b.org, role=Role.OWNER)
    server = AsgiServer().start()
    try:
        # Refused before the handshake completes (the server answers 403).
        for headers in (
            {},
            {"Cookie": f"sessionid={session_cookie(outsider)}"},
            {"Authorization": f"Bearer {a.secret}"},  # a /v1 key
        ):
            with pytest.raises(InvalidStatus):
                connect(ws_url(server.url, "live-a"), additional_headers=headers)
        check_isolation(a, b, manage_b, server.url, server.url, session_cookie(owner))
    finally:
        server.stop()


def test_across_two_gateway_processes_over_redis(transactional_db, proxy_state, sandbox, tmp_path):
    """The socket on one process, the traffic through the other: the Redis channel layer."""
    from accounts.models import Membership, Role
    from tests.conftest import make_user

    needs_shared_services()
    usage_stream_clear()
    a, b, manage_b = two_orgs(sandbox)
    owner = make_user("owner@live-a.example")
    Membership.objects.create(user=owner, organization=a.org, role=Role.OWNER)
    with Gateways(2, tmp_path) as gw:
        check_isolation(a, b, manage_b, gw.urls[0], gw.urls[1], session_cookie(owner))


# --- the page ---------------------------------------------------------------------------


def test_the_live_page_for_members_only(tenancy):
    for user in (tenancy.owner, tenancy.admin, tenancy.member):
        page = tenancy.client(user).get("/o/org-a/live/")
        assert page.status_code == 200, user
        html = page.content.decode()
        assert 'data-ws-path="/ws/orgs/org-a/usage/"' in html
        assert 'id="live-status"' in html and 'role="status"' in html
        assert "js/live-feed.js" in html and page.context["current"] == "live"
    assert tenancy.client(tenancy.outsider).get("/o/org-a/live/").status_code == 404
    assert Client().get("/o/org-a/live/").status_code == 302  # to sign in


def test_the_page_script_writes_text_only():
    from pathlib import Path

    script = (Path(__file__).parents[2] / "static/js/live-feed.js").read_text()
    assert "textContent" in script
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
        assert sink not in script, sink


def test_cost_text_is_usd_text_exactly():
    import random

    from accounts.money import usd_text

    rng = random.Random(12)
    values = [0, 1, 10**10, 10**12, 5 * 10**11, 99 * 10**10, 10**12 + 1, 10**16, -5]
    values += [rng.randrange(10**17) for _ in range(5000)]
    values += [rng.randrange(10**4) * 10 ** rng.randrange(13) for _ in range(5000)]
    assert [live_publish.usd_exact(v) for v in values] == [usd_text(v) for v in values]
