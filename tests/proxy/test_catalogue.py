"""The model catalogue (proxy/catalogue.py): OpenAI's model object with OpenRouter's extra
fields, prices exact per token at the prices in force, an automatic model's from its
candidates; and the same through the real /v1/models with the openai SDK."""

import httpx
import pytest

from proxy import table
from proxy.auto import AutoSpec, Candidate
from proxy.catalogue import capabilities, endpoints, model_object, pricing, usd_per_token
from proxy.routes_file import apply
from proxy.table import Catalogue, DeploymentEntry, ModelEntry, Prices, ProviderEntry
from proxy.translate.providers import KINDS
from proxy.translate.wire import Upstream
from tests.proxy.conftest import make_tenant

OPENAI_PATHS = [
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/responses",
    "/v1/messages",
]
ANTHROPIC_PATHS = [
    "/v1/chat/completions",
    "/v1/responses",
    "/v1/messages",
    "/v1/messages/count_tokens",
]


DEFAULTS = Catalogue()


def deployment(kind: str, pk: int = 1) -> DeploymentEntry:
    provider = ProviderEntry(f"up-{kind}", kind, "http://x", "k", 5.0, KINDS[kind], pk)
    return DeploymentEntry(pk, provider, "m", 0, 1, Upstream("http://x", "k", "m"))


def entry(
    name: str = "m",
    *,
    kind: str = "openai",
    prices: tuple[Prices, ...] = (Prices(2_500_000, 10_000_000),),
    starts: tuple[float, ...] = (float("-inf"),),
    catalogue: Catalogue = DEFAULTS,
    auto: AutoSpec | None = None,
) -> ModelEntry:
    return ModelEntry(
        name=name,
        input_price=prices[0].input,
        output_price=prices[0].output,
        cached_input_price=prices[0].cached_input,
        cache_write_price=prices[0].cache_write,
        drop_unsupported=False,
        deployments=() if auto is not None else (deployment(kind),),
        starts=starts,
        prices=prices,
        catalogue=catalogue,
        auto=auto,
    )


def test_the_openai_fields_stay_exactly_as_the_sdk_parses_them():
    obj = model_object(entry("gpt-x"))
    assert {k: obj[k] for k in ("id", "object", "created", "owned_by")} == {
        "id": "gpt-x",
        "object": "model",
        "created": 0,
        "owned_by": "jinf",
    }
    assert "auto" not in obj


def test_pricing_is_exact_usd_per_token_with_billings_cache_defaults():
    assert model_object(entry())["pricing"] == {
        "prompt": "0.0000025",
        "completion": "0.00001",
        "input_cache_read": "0.0000025",  # no own price: the input price
        "input_cache_write": "0.000003125",  # no own price: 1.25 × input
    }
    own = Prices(3_000_000, 15_000_000, cached_input=300_000, cache_write=3_750_000)
    assert pricing(own) == {
        "prompt": "0.000003",
        "completion": "0.000015",
        "input_cache_read": "0.0000003",
        "input_cache_write": "0.00000375",
    }


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "0"),
        (1, "0.000000000001"),
        (150_000, "0.00000015"),
        (1_000_000_000_000, "1"),
        (123_456_789_000_000, "123.456789"),
    ],
)
def test_a_price_per_token_is_a_plain_decimal_without_exponent(micros, text):
    assert usd_per_token(micros) == text


def test_a_cache_write_default_below_a_micro_stays_exact():
    # 1.25 × 1 micro-USD per million tokens: a quarter that a float or a floor would lose.
    assert pricing(Prices(1, 1))["input_cache_write"] == "0.00000000000125"
    assert pricing(Prices(3, 1))["input_cache_write"] == "0.00000000000375"


def test_pricing_is_the_one_in_force_at_the_given_time():
    dated = entry(
        prices=(Prices(1_000_000, 2_000_000), Prices(4_000_000, 8_000_000, 400_000)),
        starts=(float("-inf"), 1_000.0),
    )
    assert model_object(dated, at=999.0)["pricing"]["prompt"] == "0.000001"
    later = model_object(dated, at=1_000.0)["pricing"]
    assert (later["prompt"], later["completion"], later["input_cache_read"]) == (
        "0.000004",
        "0.000008",
        "0.0000004",
    )


def test_context_modalities_and_parameters_follow_the_catalogue():
    cat = Catalogue(
        context_window=128_000,
        max_output_tokens=16_384,
        input_modalities=("image", "text", "file"),
        tools=False,
        json_schema=True,
    )
    obj = model_object(entry(catalogue=cat))
    assert obj["context_length"] == 128_000
    assert obj["top_provider"] == {"context_length": 128_000, "max_completion_tokens": 16_384}
    assert obj["architecture"] == {
        "input_modalities": ["text", "image", "file"],
        "output_modalities": ["text"],
        "modality": "text+image+file->text",
    }
    assert obj["supported_parameters"] == [
        "max_tokens",
        "response_format",
        "stop",
        "stream",
        "structured_outputs",
        "temperature",
        "top_p",
    ]
    plain = model_object(entry(catalogue=Catalogue(json_schema=False)))
    assert plain["context_length"] is None
    assert plain["top_provider"] == {"context_length": None, "max_completion_tokens": None}
    assert plain["architecture"]["modality"] == "text->text"
    assert "tools" in plain["supported_parameters"]
    assert "tool_choice" in plain["supported_parameters"]
    assert "response_format" not in plain["supported_parameters"]


def test_endpoints_follow_the_provider_kind():
    assert model_object(entry(kind="openai"))["endpoints"] == OPENAI_PATHS
    assert model_object(entry(kind="anthropic"))["endpoints"] == ANTHROPIC_PATHS
    (messages,) = [e for e in endpoints(entry(kind="anthropic")) if e.path == "/v1/messages"]
    assert (messages.how, messages.native_by) == ("native", ("Anthropic",))


def _auto_table(*candidates: Candidate, prefer: str = "order") -> dict[str, ModelEntry]:
    small = entry(
        "small",
        kind="openai",
        catalogue=Catalogue(8_000, 2_000, ("text",), tools=False, json_schema=False),
    )
    frontier = entry(
        "frontier",
        kind="anthropic",
        catalogue=Catalogue(200_000, 64_000, ("text", "image"), tools=True, json_schema=False),
    )
    auto = entry("jinf-auto", auto=AutoSpec(candidates, prefer), prices=(Prices(0, 0),))
    return {"small": small, "frontier": frontier, "jinf-auto": auto}


def test_an_automatic_model_shows_its_candidates_and_no_price_of_its_own():
    models = _auto_table(
        Candidate("small"), Candidate("frontier"), Candidate("gone"), prefer="cheapest"
    )
    obj = model_object(models["jinf-auto"], models=models)
    assert obj["id"] == "jinf-auto" and obj["owned_by"] == "jinf"
    assert obj["pricing"] is None  # each call is priced at the chosen candidate's prices
    assert obj["auto"] == {"candidates": ["small", "frontier"], "prefer": "cheapest"}
    assert obj["context_length"] == 200_000  # the largest candidate's
    assert obj["top_provider"] == {"context_length": 200_000, "max_completion_tokens": 64_000}
    assert obj["architecture"]["modality"] == "text+image->text"
    assert "tools" in obj["supported_parameters"]  # frontier takes them
    assert "response_format" not in obj["supported_parameters"]  # neither takes a schema
    # What either candidate answers: the OpenAI kind's and the Anthropic kind's endpoints.
    assert obj["endpoints"] == [
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/responses",
        "/v1/messages",
        "/v1/messages/count_tokens",
    ]


def test_a_candidates_own_tools_override_and_an_undeclared_window_count():
    models = _auto_table(Candidate("small", tools=True))
    caps = capabilities(models["jinf-auto"], models)
    assert (caps.candidates, caps.tools, caps.context_window) == (("small",), True, 8_000)
    models = _auto_table(Candidate("small"), Candidate("frontier"))
    models["frontier"] = entry("frontier")  # no context window declared: no bound known
    assert capabilities(models["jinf-auto"], models).context_window is None


def test_an_automatic_model_without_its_table_names_its_spec_and_answers_nothing_known():
    models = _auto_table(Candidate("small"), Candidate("frontier"))
    obj = model_object(models["jinf-auto"])
    assert obj["auto"] == {"candidates": ["small", "frontier"], "prefer": "order"}
    assert obj["endpoints"] == [] and obj["pricing"] is None


# End to end: the real /v1/models through the openai SDK.

SMALL = {"input": 0.15, "output": 0.6}
FRONTIER = {"input": 3, "output": 15, "cached_input": 0.3, "cache_write": 3.75}


@pytest.fixture
def catalogue_routes(sandbox):
    apply(
        {
            "providers": [
                {"name": "up-openai", "kind": "openai", "base_url": sandbox.url + "/v1",
                 "api_key": "sk-o"},
                {"name": "up-anthropic", "kind": "anthropic", "base_url": sandbox.url,
                 "api_key": "sk-a"},
            ],
            "models": [
                {"name": "small", "price": SMALL, "context_window": 128000,
                 "max_output_tokens": 16384, "modalities": ["text", "image"], "tools": False,
                 "deployments": [{"provider": "up-openai", "model": "small"}]},
                {"name": "frontier", "price": FRONTIER, "context_window": 200000,
                 "max_output_tokens": 64000, "modalities": ["text", "image", "file"],
                 "deployments": [{"provider": "up-anthropic", "model": "frontier"}]},
                {"name": "jinf-auto", "auto": {"candidates": ["small", "frontier"],
                                               "prefer": "cheapest"}},
            ],
        }
    )  # fmt: skip
    table.invalidate()
    return sandbox


def test_v1_models_carries_the_catalogue_through_the_openai_sdk(
    asgi_server, catalogue_routes, tenant
):
    client = tenant.client(asgi_server)
    listed = {m.id: m for m in client.models.list()}
    assert sorted(listed) == ["frontier", "jinf-auto", "small"]
    small = listed["small"]
    assert (small.object, small.created, small.owned_by) == ("model", 0, "jinf")
    extra = small.model_extra
    assert extra["context_length"] == 128000
    assert extra["top_provider"] == {"context_length": 128000, "max_completion_tokens": 16384}
    assert extra["architecture"]["modality"] == "text+image->text"
    assert extra["pricing"] == {
        "prompt": "0.00000015",
        "completion": "0.0000006",
        "input_cache_read": "0.00000015",
        "input_cache_write": "0.0000001875",
    }
    assert "tools" not in extra["supported_parameters"]
    assert extra["endpoints"] == OPENAI_PATHS
    frontier = listed["frontier"].to_dict()
    assert frontier["pricing"] == {
        "prompt": "0.000003",
        "completion": "0.000015",
        "input_cache_read": "0.0000003",
        "input_cache_write": "0.00000375",
    }
    assert frontier["architecture"]["input_modalities"] == ["text", "image", "file"]
    assert frontier["endpoints"] == ANTHROPIC_PATHS
    auto = listed["jinf-auto"].model_extra
    assert auto["pricing"] is None
    assert auto["auto"] == {"candidates": ["small", "frontier"], "prefer": "cheapest"}
    assert auto["context_length"] == 200000


def test_one_model_by_id_is_the_same_object_and_an_unknown_one_a_404(
    asgi_server, catalogue_routes, tenant
):
    client = tenant.client(asgi_server)
    one = client.models.retrieve("frontier")
    assert one.id == "frontier" and one.owned_by == "jinf"
    listed = {m.id: m.to_dict() for m in client.models.list()}
    assert one.to_dict() == listed["frontier"]
    raw = httpx.get(
        asgi_server.url + "/v1/models/nope",
        headers={"Authorization": f"Bearer {tenant.secret}"},
    )
    assert raw.status_code == 404
    assert raw.json()["error"]["code"] == "model_not_found"


def test_a_key_allowed_the_automatic_model_alone_sees_it_with_its_candidates(
    asgi_server, catalogue_routes, transactional_db
):
    limited = make_tenant("only-auto", allowed_models=["jinf-auto"])
    listed = list(limited.client(asgi_server).models.list())
    assert [m.id for m in listed] == ["jinf-auto"]
    extra = listed[0].model_extra
    assert extra["auto"]["candidates"] == ["small", "frontier"]
    assert "/v1/messages/count_tokens" in extra["endpoints"]
