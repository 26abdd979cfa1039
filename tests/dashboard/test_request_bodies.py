"""Prompts and answers on the portal: the logging switch in Settings (owners and admins),
a request's page showing its stored body, and the delete-all button."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Organization
from billing.models import UsageBody
from billing.usage import UsageEvent, usage_record_batch
from dashboard.bodies import stream_text

STREAM = (
    'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n'
    'data: {"choices":[{"delta":{"content":"Hello "}}]}\n\n'
    'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":'
    '{"name":"read_file","arguments":"{\\"path\\":"}}]}}]}\n\n'
    'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":'
    '{"arguments":"\\"a.py\\"}"}}]}}]}\n\n'
    "data: [DONE]\n\n"
)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def logged(tenancy):
    Organization.objects.filter(pk=tenancy.org.pk).update(log_bodies=True)
    prompt = json.dumps({"model": "demo", "messages": [{"role": "user", "content": "<b>x</b>"}]})
    usage_record_batch([
        UsageEvent(request_id="req_with_body", organization_id=tenancy.org.pk,
                   api_key_id=tenancy.owner_key.key.pk, endpoint="chat", model="demo",
                   status="ok", streamed=True, prompt=prompt, answer=STREAM),
        UsageEvent(request_id="req_without", organization_id=tenancy.org.pk, api_key_id=None,
                   endpoint="chat", model="demo", status="ok"),
    ])  # fmt: skip
    return tenancy


def test_a_stream_is_joined_back_into_its_text_and_tool_calls():
    assert stream_text(STREAM) == 'Hello \n[tool call read_file] {"path":"a.py"}'
    anthropic = (
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        '"delta":{"type":"text_delta","text":"Hi"}}\n\n'
    )
    assert stream_text(anthropic) == "Hi"
    assert stream_text('{"not": "a stream"}') == ""


def test_a_members_request_page_shows_the_stored_prompt_and_answer(logged):
    page = _client(logged.member).get(reverse("request_detail", args=["org-a", "req_with_body"]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="d-prompt"' in html and "&lt;b&gt;x&lt;/b&gt;" in html  # escaped, never markup
    assert "<b>x</b>" not in html
    assert 'id="d-answer-text"' in html and "[tool call read_file]" in html
    other = _client(logged.member).get(reverse("request_detail", args=["org-a", "req_without"]))
    assert 'id="d-no-body"' in other.content.decode()


def test_another_organization_cannot_read_a_body(logged):
    outsider = _client(logged.outsider)
    assert (
        outsider.get(reverse("request_detail", args=["org-a", "req_with_body"])).status_code == 404
    )
    assert (
        outsider.get(reverse("request_detail", args=["org-b", "req_with_body"])).status_code == 404
    )


def test_owners_and_admins_switch_logging_members_cannot(tenancy):
    url = reverse("org_logging", args=["org-a"])
    on = {"log_bodies": "on", "body_retention_days": "90"}
    assert _client(tenancy.member).post(url, on).status_code == 403
    assert Organization.objects.get(pk=tenancy.org.pk).log_bodies is False
    assert _client(tenancy.admin).post(url, on).status_code == 302
    org = Organization.objects.get(pk=tenancy.org.pk)
    assert org.log_bodies is True and org.body_retention_days == 90
    bad = _client(tenancy.owner).post(url, {"log_bodies": "on", "body_retention_days": "5"})
    assert bad.status_code == 400 and "Select a valid choice" in bad.content.decode()
    assert _client(tenancy.owner).post(url, {"body_retention_days": "1"}).status_code == 302
    org.refresh_from_db()
    assert org.log_bodies is False and org.body_retention_days == 1
    settings = _client(tenancy.member).get(reverse("org_settings", args=["org-a"]))
    assert "not stored" in settings.content.decode()


def test_an_admin_deletes_every_stored_body_a_member_cannot(logged):
    url = reverse("request_bodies_delete", args=["org-a"])
    requests_page = _client(logged.owner).get(reverse("requests", args=["org-a"]))
    assert 'id="bodies-delete"' in requests_page.content.decode()
    assert _client(logged.member).post(url).status_code == 403
    assert UsageBody.objects.count() == 1
    reply = _client(logged.admin).post(url, follow=True)
    assert reply.status_code == 200 and "Deleted 1 stored prompt" in reply.content.decode()
    assert UsageBody.objects.count() == 0
    # The other organization's delete URL is a 404 for them, not a way in.
    assert _client(logged.outsider).post(url).status_code == 404
