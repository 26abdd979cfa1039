"""The automatic model's rules (proxy.auto), as plain functions: which candidate fits a
request, which is healthy, which is preferred."""

import pytest

from proxy import auto, balancer
from proxy.table import Catalogue, DeploymentEntry, ModelEntry, Prices, ProviderEntry
from proxy.translate.errors import ProxyError
from proxy.translate.providers import KINDS
from proxy.translate.wire import Upstream

_ids = iter(range(1000, 10_000))


def model(name: str, *, price=(1, 2), kind="openai", **catalogue) -> ModelEntry:
    provider = ProviderEntry("p-" + name, kind, "http://up", "k", 5.0, KINDS[kind])
    deployment = DeploymentEntry(next(_ids), provider, name, 0, 1, Upstream("http://up", "k", name))
    return ModelEntry(
        name=name,
        input_price=price[0],
        output_price=price[1],
        cached_input_price=None,
        cache_write_price=None,
        drop_unsupported=False,
        deployments=(deployment,),
        prices=(Prices(*price),),
        catalogue=Catalogue(**catalogue),
    )


def automatic(*candidates, **rules) -> ModelEntry:
    raw = {"candidates": list(candidates), **rules}
    return ModelEntry("jinf-auto", 0, 0, None, None, False, (), auto=auto.spec_from_json(raw))


@pytest.fixture(autouse=True)
def _healthy():
    balancer.reset()
    yield
    balancer.reset()


SMALL = model("small", price=(100_000, 400_000), context_window=8_000, input_modalities=("text",))
FRONTIER = model(
    "frontier", price=(3_000_000, 15_000_000), context_window=200_000,
    input_modalities=("text", "image"),
)  # fmt: skip
NO_TOOLS = model("no-tools", tools=False, context_window=100_000)
TABLE = {m.name: m for m in (SMALL, FRONTIER, NO_TOOLS)}
SHORT = {"model": "jinf-auto", "messages": [{"role": "user", "content": "hi"}]}


def pick(spec: ModelEntry, body: dict, endpoint: str = "chat", size: int | None = None) -> str:
    size = len(str(body)) if size is None else size
    return auto.choose(spec, TABLE, endpoint, body, size).name


def test_a_short_chat_goes_to_the_first_listed_candidate():
    assert pick(automatic("small", "frontier"), SHORT) == "small"


def test_a_long_prompt_goes_past_a_context_window_it_would_overflow():
    # 40,000 bytes estimate 10,001 tokens: over small's 8,000, within frontier's 200,000.
    assert pick(automatic("small", "frontier"), SHORT, size=40_000) == "frontier"
    assert pick(automatic("small", "frontier"), SHORT, size=30_000) == "small"


def test_the_requested_output_counts_against_the_context_window():
    body = {**SHORT, "max_tokens": 7_990}
    assert pick(automatic("small", "frontier"), body, size=400) == "frontier"
    assert pick(automatic("small", "frontier"), {**SHORT, "max_tokens": 100}, size=400) == "small"


def test_a_candidate_s_own_max_input_tokens_keeps_it_to_short_prompts():
    spec = automatic({"model": "small", "max_input_tokens": 1_000}, "frontier")
    assert pick(spec, SHORT, size=3_000) == "small"
    assert pick(spec, SHORT, size=5_000) == "frontier"


def test_tools_skip_a_candidate_that_takes_none():
    tools = {**SHORT, "tools": [{"type": "function", "function": {"name": "f"}}]}
    assert pick(automatic("no-tools", "small"), SHORT) == "no-tools"
    assert pick(automatic("no-tools", "small"), tools) == "small"
    # The auto entry may say it for a candidate whose model claims tools.
    assert pick(automatic({"model": "small", "tools": False}, "frontier"), tools) == "frontier"


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("chat", {"messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is it?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}),
        ("messages", {"messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}]}]}),
        ("responses", {"input": [{"role": "user", "content": [
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]}]}),
    ],
)  # fmt: skip
def test_images_go_to_a_candidate_that_takes_images_in_every_shape(endpoint, body):
    assert pick(automatic("small", "frontier"), {"model": "jinf-auto", **body}, endpoint) == (
        "frontier"
    )


def test_a_json_schema_skips_a_candidate_without_structured_outputs():
    table = {**TABLE, "loose": model("loose", json_schema=False)}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}
    spec = automatic("loose", "small")
    assert auto.choose(spec, table, "chat", SHORT, 50).name == "loose"
    assert auto.choose(spec, table, "chat", {**SHORT, "response_format": fmt}, 50).name == "small"
    text = {"format": {"type": "json_schema", "name": "x", "schema": {}}}
    assert auto.choose(spec, table, "responses", {"text": text}, 50).name == "small"


def test_a_cooling_candidate_is_skipped_and_comes_back_after_a_success(settings):
    settings.PROXY_COOLDOWN_FAILURES = 1
    balancer.record_failure(SMALL.deployments[0].id)
    assert pick(automatic("small", "frontier"), SHORT) == "frontier"
    balancer.record_success(SMALL.deployments[0].id, 0.05)
    assert pick(automatic("small", "frontier"), SHORT) == "small"


def test_a_high_error_rate_skips_a_candidate_before_it_cools_down(settings):
    settings.PROXY_COOLDOWN_FAILURES = 1_000
    spec = automatic("small", "frontier", max_error_rate=0.3)
    for _ in range(2):  # 0.2, then 0.36
        balancer.record_failure(SMALL.deployments[0].id)
    assert balancer.live(SMALL.deployments[0].id).error_rate == pytest.approx(0.36)
    assert pick(spec, SHORT) == "frontier"
    assert pick(automatic("small", "frontier", max_error_rate=0.5), SHORT) == "small"


def test_every_candidate_down_still_answers_with_the_first_fitting(settings):
    settings.PROXY_COOLDOWN_FAILURES = 1
    for m in (SMALL, FRONTIER):
        balancer.record_failure(m.deployments[0].id)
    assert pick(automatic("small", "frontier"), SHORT) == "small"


def test_fastest_prefers_the_lowest_time_to_first_byte_and_tries_the_unmeasured():
    spec = automatic("small", "frontier", prefer="fastest")
    balancer.record_success(SMALL.deployments[0].id, 0.400)
    assert pick(spec, SHORT) == "frontier"  # not measured yet: tried first
    balancer.record_success(FRONTIER.deployments[0].id, 0.900)
    assert pick(spec, SHORT) == "small"
    assert pick(automatic("small", "frontier", max_ttfb_ms=300), SHORT) == "small"  # none under


def test_a_slow_candidate_is_skipped_past_max_ttfb_ms():
    balancer.record_success(SMALL.deployments[0].id, 0.800)
    balancer.record_success(FRONTIER.deployments[0].id, 0.100)
    assert pick(automatic("small", "frontier", max_ttfb_ms=500), SHORT) == "frontier"


def test_cheapest_prices_this_call_at_each_candidate():
    spec = automatic("frontier", "small", prefer="cheapest")
    assert pick(spec, SHORT) == "small"


def test_nothing_fits_is_a_400_naming_each_candidate_s_reason():
    with pytest.raises(ProxyError) as caught:
        pick(automatic("small", "no-tools"), SHORT, size=800_000)
    err = caught.value
    assert (err.status, err.code, err.param) == (400, "no_candidate_fits", "model")
    assert "small: its context window of 8,000 tokens" in err.message
    assert "no-tools: its context window of 100,000 tokens" in err.message


def test_an_endpoint_no_candidate_answers_is_named():
    with pytest.raises(ProxyError) as caught:
        pick(automatic("small"), {"model": "jinf-auto"}, "count_tokens")
    assert "small: does not answer /v1 count_tokens" in caught.value.message
    anthropic = model("claude", kind="anthropic")
    spec = automatic("small", "claude")
    chosen = auto.choose(spec, {**TABLE, "claude": anthropic}, "count_tokens", {}, 10)
    assert chosen.name == "claude"


def test_a_key_s_price_ceiling_skips_a_candidate_priced_above_it():
    spec = automatic("frontier", "small")
    # frontier: $3/M in, $15/M out; small: $0.10/M in, $0.40/M out.
    assert auto.choose(spec, TABLE, "chat", SHORT, 50).name == "frontier"
    assert auto.choose(spec, TABLE, "chat", SHORT, 50, max_price_micros=14_999_999).name == (
        "small"
    )
    assert auto.choose(spec, TABLE, "chat", SHORT, 50, max_price_micros=15_000_000).name == (
        "frontier"
    )
    with pytest.raises(ProxyError) as caught:
        auto.choose(spec, TABLE, "chat", SHORT, 50, max_price_micros=100_000)
    assert "small: it is priced above this key's price ceiling" in caught.value.message
