"""The routes file's catalogue fields and automatic models: stored, loaded into the table,
and each mistake named by where it is and what to write instead."""

import pytest

from proxy import table
from proxy.auto import AutoSpec, Candidate
from proxy.models import Deployment, ModelRoute
from proxy.routes_file import RoutesFileError, apply
from proxy.table import Catalogue

PROVIDER = {"name": "up", "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "k"}
DEPLOY = [{"provider": "up", "model": "m"}]


def routes(*models: dict) -> dict:
    return {"providers": [PROVIDER], "models": list(models)}


def small(**extra) -> dict:
    return {"name": "small", "price": {"input": 1, "output": 2}, "deployments": DEPLOY, **extra}


def frontier() -> dict:
    return {"name": "frontier", "deployments": DEPLOY}


AUTO = {"name": "jinf-auto", "auto": {"candidates": ["small", "frontier"]}}


@pytest.mark.django_db
def test_catalogue_fields_and_an_automatic_model_reach_the_table():
    apply(
        routes(
            small(context_window=8000, max_output_tokens=1000, modalities=["text", "image"],
                  tools=False, json_schema=False),
            frontier(),
            {"name": "jinf-auto", "auto": {
                "candidates": [{"model": "small", "max_input_tokens": 500, "tools": True},
                               "frontier"],
                "prefer": "fastest", "max_error_rate": 0.25, "max_ttfb_ms": 900}},
        )
    )  # fmt: skip
    table.invalidate()
    loaded = table.load().models
    assert loaded["small"].catalogue == Catalogue(8000, 1000, ("text", "image"), False, False)
    assert loaded["frontier"].catalogue == Catalogue()
    entry = loaded["jinf-auto"]
    assert entry.deployments == () and entry.price_at(0).output == 0
    assert entry.auto == AutoSpec(
        (Candidate("small", 500, True), Candidate("frontier")), "fastest", 0.25, 900.0
    )
    assert not Deployment.objects.filter(model_route__name="jinf-auto").exists()


@pytest.mark.django_db
def test_an_automatic_model_without_any_candidate_served_is_left_out():
    apply(routes(small(), AUTO | {"auto": {"candidates": ["small"]}}))
    ModelRoute.objects.filter(name="small").update(is_active=False)
    table.invalidate()
    assert "jinf-auto" not in table.load().models


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "message"),
    [
        (AUTO | {"deployments": DEPLOY}, "has 'auto' or 'deployments', not both"),
        (AUTO | {"price": {"input": 1}}, "priced at the chosen candidate's prices"),
        ({"name": "jinf-auto", "auto": {"candidates": []}}, "candidates must be a non-empty list"),
        ({"name": "jinf-auto", "auto": {"candidates": ["nope"]}}, "no model is named 'nope'"),
        ({"name": "jinf-auto", "auto": {"candidates": ["jinf-auto"]}}, "cannot be its own"),
        ({"name": "jinf-auto", "auto": {"candidates": ["small"], "pick": 1}}, "unknown key(s) pick"),
        ({"name": "jinf-auto", "auto": {"candidates": ["small"], "prefer": "best"}},
         "prefer must be one of order, cheapest, fastest"),
        ({"name": "jinf-auto", "auto": {"candidates": ["small"], "max_error_rate": 2}},
         "max_error_rate must be a number from 0 to 1"),
        ({"name": "jinf-auto", "auto": {"candidates": [{"model": "small", "max_input_tokens": 0}]}},
         "max_input_tokens must be a whole number of tokens"),
        (small(name="other", context_window="big"), "context_window must be a whole number"),
        (small(name="other", modalities=["text", "smell"]), "modalities must be a non-empty list"),
    ],
)  # fmt: skip
def test_mistakes_are_named(model, message):
    with pytest.raises(RoutesFileError) as caught:
        apply(routes(small(), model))
    assert message in str(caught.value)


@pytest.mark.django_db
def test_a_candidate_that_is_itself_automatic_is_refused():
    first = {"name": "auto-a", "auto": {"candidates": ["small"]}}
    second = {"name": "auto-b", "auto": {"candidates": ["auto-a"]}}
    with pytest.raises(RoutesFileError, match="is itself automatic"):
        apply(routes(small(), first, second))


def test_the_models_page_lists_an_automatic_model_without_failing(tenancy):
    apply(routes(small(), frontier(), AUTO))
    table.invalidate()
    response = tenancy.client(tenancy.member).get("/o/org-a/models/")
    assert response.status_code == 200
    assert b'id="model-jinf-auto"' in response.content
    assert b'id="model-small"' in response.content
