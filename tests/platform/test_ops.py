"""/healthz, /readyz and /metrics on the real ASGI server (platform_site.ops)."""

import threading
import time

import httpx
import pytest

from platform_site import ops

pytestmark = pytest.mark.django_db(transaction=True)


def get(server, path: str, **kwargs) -> httpx.Response:
    return httpx.get(server.url + path, timeout=10, **kwargs)


def test_healthz_answers_json_to_any_host_without_the_database(asgi_server, monkeypatch):
    def no_database(*_):
        raise AssertionError("/healthz touched the database")

    monkeypatch.setattr(ops, "check_database", no_database)
    # A load balancer's check names the backend's address, which ALLOWED_HOSTS does not list.
    r = get(asgi_server, "/healthz", headers={"Host": "10.9.8.7:8000"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"status": "ok"}
    assert httpx.head(asgi_server.url + "/healthz").status_code == 200
    assert httpx.post(asgi_server.url + "/healthz").status_code == 405


def test_readyz_is_200_when_the_database_and_redis_answer(asgi_server, settings):
    r = get(asgi_server, "/readyz", headers={"Host": "10.9.8.7:8000"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok" and r.json()["checks"]["database"] == "ok"
    if settings.REDIS_URL:
        assert r.json()["checks"]["redis"] == "ok"
    else:
        assert "redis" not in r.json()["checks"]


def test_readyz_is_503_quickly_while_the_database_hangs(asgi_server, settings, monkeypatch):
    """A database that holds its lock or drops packets: 503 within READY_TIMEOUT_S, the
    next probes at once (no thread piles up), 200 again once it answers."""
    settings.READY_TIMEOUT_S = 0.5
    released = threading.Event()
    real = ops._database

    def stuck() -> None:
        released.wait(30)
        real()

    monkeypatch.setattr(ops, "_database", stuck)
    try:
        started = time.monotonic()
        r = get(asgi_server, "/readyz")
        assert r.status_code == 503
        body = r.json()
        assert body["status"] == "unavailable" and body["failed"] == ["database"]
        assert body["checks"]["database"] == "no answer"
        assert time.monotonic() - started < 3.0  # 0.5 s of timeout, with room for load
        started = time.monotonic()
        for _ in range(10):
            assert get(asgi_server, "/readyz").status_code == 503
        assert (
            time.monotonic() - started < 3.0
        )  # not 10 × 0.5 s: the stuck check is not queued behind
    finally:
        released.set()
    monkeypatch.setattr(ops, "_database", real)
    assert _eventually_status(asgi_server, "/readyz", 200)


def _eventually_status(server, path: str, status: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if get(server, path).status_code == status:
            return True
        time.sleep(0.1)
    return False


def test_readyz_names_redis_when_it_does_not_answer(asgi_server, settings):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.READY_TIMEOUT_S = 0.5
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/6"
    try:
        started = time.monotonic()
        r = get(asgi_server, "/readyz")
        assert time.monotonic() - started < 3.0
        assert r.status_code == 503
        assert r.json()["failed"] == ["redis"]
        assert r.json()["checks"] == {"database": "ok", "redis": "error"}
        assert str(port) not in r.text  # details go to the log, not to whoever asks
    finally:
        ops.forget()


def test_metrics_only_to_metrics_allow(asgi_server, settings):
    r = get(asgi_server, "/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert "# TYPE jinf_requests_total counter" in r.text
    assert "# TYPE jinf_request_duration_seconds histogram" in r.text

    settings.METRICS_ALLOW = ["10.0.0.0/8"]
    r = get(asgi_server, "/metrics")
    assert r.status_code == 403 and "jinf_" not in r.text
    settings.METRICS_ALLOW = []
    assert get(asgi_server, "/metrics").status_code == 403


def test_metrics_behind_a_trusted_proxy_go_by_the_forwarded_client(asgi_server, settings):
    """A load balancer on loopback forwarding an outsider's /metrics must not pass it as
    loopback: with the balancer in TRUSTED_PROXIES, its X-Forwarded-For decides."""
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    outsider = {"X-Forwarded-For": "203.0.113.9"}
    assert get(asgi_server, "/metrics", headers=outsider).status_code == 403
    local = {"X-Forwarded-For": "127.0.0.5"}
    assert get(asgi_server, "/metrics", headers=local).status_code == 200
    settings.TRUSTED_PROXIES = []  # untrusted peers' X-Forwarded-For is ignored
    assert get(asgi_server, "/metrics", headers=outsider).status_code == 200
