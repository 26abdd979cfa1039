"""/o/<slug>/models/ shows what each model takes, from proxy.catalogue (the data /v1/models
lists): context window, max output, input modalities, tools and JSON schema, and for an
automatic model its candidates in place of prices of its own."""

import re

import pytest

from proxy import table
from proxy.routes_file import apply

URL = "/o/org-a/models/"
PROVIDER = {"name": "up", "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "k"}
CLAUDE = {
    "name": "up-claude",
    "kind": "anthropic",
    "base_url": "http://127.0.0.1:9",
    "api_key": "k",
}


@pytest.fixture
def page(tenancy):
    apply(
        {
            "providers": [PROVIDER, CLAUDE],
            "models": [
                {"name": "small", "price": {"input": 0.15, "output": 0.6},
                 "context_window": 128000, "max_output_tokens": 16384,
                 "modalities": ["text", "image"], "tools": False, "json_schema": False,
                 "deployments": [{"provider": "up", "model": "m"}]},
                {"name": "frontier", "price": {"input": 3, "output": 15},
                 "deployments": [{"provider": "up-claude", "model": "c"}]},
                {"name": "jinf-auto", "auto": {"candidates": ["small", "frontier"],
                                               "prefer": "cheapest"}},
            ],
        }
    )  # fmt: skip
    table.invalidate()
    response = tenancy.client(tenancy.member).get(URL)
    assert response.status_code == 200
    yield response.content.decode()
    table.invalidate()


def row(page: str, name: str) -> str:
    match = re.search(rf'<tr id="model-{name}".*?</tr>', page, re.S)
    assert match, f"no row for {name}"
    return match.group(0)


def takes(row_html: str) -> dict[str, str]:
    return {
        k: re.sub(r"\s+", " ", v.replace("&nbsp;", " ")).strip()
        for k, v in re.findall(r'<li data-take="(\w+)"[^>]*>(.*?)</li>', row_html, re.S)
    }


def test_a_model_shows_what_it_takes(page):
    assert '<th scope="col">Takes</th>' in page
    assert takes(row(page, "small")) == {
        "context_window": "Context: 128,000",
        "max_output": "Max output: 16,384",
        "input": "Input: text, image",
        "tools": "Tools: no",
        "json_schema": "JSON schema: no",
    }
    assert takes(row(page, "frontier")) == {
        "context_window": "Context: not set",
        "max_output": "Max output: not set",
        "input": "Input: text",
        "tools": "Tools: yes",
        "json_schema": "JSON schema: yes",
    }


def test_an_automatic_model_shows_its_candidates_instead_of_prices(page):
    auto = row(page, "jinf-auto")
    candidates = re.search(r"<div[^>]*data-candidates>(.*?)</div>", auto, re.S).group(1)
    assert re.findall(r"<code>([^<]+)</code>", candidates) == ["small", "frontier"]
    assert "prefer cheapest" in candidates
    assert 'data-price="auto"' in auto and "$0.00" not in auto
    assert 'data-price="input"' in row(page, "small")
    # What the candidates take together: the largest window (none when one is not set),
    # the union of inputs, tools when one takes them.
    assert takes(auto)["context_window"] == "Context: not set"  # frontier's is not
    assert takes(auto)["input"] == "Input: text, image"
    assert takes(auto)["tools"] == "Tools: yes"
    # And the endpoints either candidate answers.
    assert "/v1/messages/count_tokens" in auto and "/v1/embeddings" in auto
