"""Dated prices: a model's price from a date on, in the route table with no query per call,
from the routes file idempotently; cache writes, cache reads and reasoning tokens priced
at their own rates."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from billing.models import ModelPrice
from billing.prices import PriceChange, model_price_set
from proxy import table
from proxy.call import Call
from proxy.routes_file import RoutesFileError, apply
from proxy.translate.canonical import Usage
from proxy.translate.providers.anthropic.translate import usage_of as anthropic_usage
from proxy.translate.providers.openai.responses import usage_of as responses_usage
from proxy.translate.providers.openai.translate import usage_of as chat_usage

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def route(**prices) -> SimpleNamespace:
    fields = {"input_price": 1_000_000, "output_price": 4_000_000, "cached_input_price": None}
    fields |= {"cache_write_price": None, "name": "m", "drop_unsupported": False} | prices
    return SimpleNamespace(**fields)


def row(at: datetime, input_price: int, output_price: int, **more) -> SimpleNamespace:
    more = {"cached_input_price": None, "cache_write_price": None} | more
    return SimpleNamespace(
        effective_from=at, input_price=input_price, output_price=output_price, **more
    )


def call_at(entry: table.ModelEntry, at: datetime) -> Call:
    call = Call("req_x", "chat", key=None, model=entry, body={})
    call.started_at = at.timestamp()
    return call


def test_each_dated_price_is_in_force_from_its_time_until_the_next():
    entry = table.model_entry(
        route(), (), [row(T0, 2_000_000, 8_000_000), row(T0 + timedelta(days=10), 3, 5)]
    )
    usage = Usage(input=1_000, output=100)
    before = call_at(entry, T0 - timedelta(microseconds=1)).price(usage).pico
    at_start = call_at(entry, T0).price(usage).pico
    later = call_at(entry, T0 + timedelta(days=10, seconds=1)).price(usage).pico
    assert before == 1_000 * 1_000_000 + 100 * 4_000_000  # the route's own price
    assert at_start == 1_000 * 2_000_000 + 100 * 8_000_000
    assert later == 1_000 * 3 + 100 * 5


def test_a_future_price_takes_effect_at_its_time_without_a_reload(db, django_assert_num_queries):
    ModelPrice.objects.create(
        model="m", effective_from=T0 + timedelta(hours=1), input_price=7, output_price=9
    )
    entry = table.model_entry(route(), (), ModelPrice.objects.filter(model="m"))
    usage = Usage(input=10, output=10)
    with django_assert_num_queries(0):  # the hot path: the schedule is in memory
        now = call_at(entry, T0).price(usage).pico
        then = call_at(entry, T0 + timedelta(hours=1)).price(usage).pico
    assert (now, then) == (10 * 1_000_000 + 10 * 4_000_000, 10 * 7 + 10 * 9)


def test_the_route_table_carries_each_models_schedule(db):
    apply(
        {
            "providers": [{"name": "p", "kind": "openai", "base_url": "http://x", "api_key": ""}],
            "models": [
                {
                    "name": "m",
                    "price": {"input": 1, "output": 4},
                    "prices": [{"from": "2026-03-01", "input": 2, "output": 8}],
                    "deployments": [{"provider": "p"}],
                }
            ],
        }
    )
    entry = table.load().models["m"]
    assert entry.price_at(T0.timestamp() - 1).input == 1_000_000
    assert entry.price_at(T0.timestamp()).input == 2_000_000


def routes_with(prices: list) -> dict:
    return {
        "providers": [{"name": "p", "kind": "openai", "base_url": "http://x", "api_key": ""}],
        "models": [
            {
                "name": "m",
                "price": {"input": 1, "output": 4},
                "prices": prices,
                "deployments": [{"provider": "p"}],
            }
        ],
    }


def test_routes_file_prices_are_upserted_idempotently(db):
    from datetime import date

    prices = [
        {"from": date(2026, 3, 1), "input": 2, "output": 8},  # YAML's bare date
        {"from": "2026-04-01T12:30", "input": 3, "output": 9, "cached_input": 0.3,
         "cache_write": 3.75},
    ]  # fmt: skip
    first = apply(routes_with(prices))
    assert (first.prices_created, first.prices_updated) == (2, 0)
    again = apply(routes_with(prices))
    assert (again.prices_created, again.prices_updated) == (0, 0)
    assert "dated prices: 0 created, 0 updated" in str(again)
    prices[1]["output"] = 10
    changed = apply(routes_with(prices))
    assert (changed.prices_created, changed.prices_updated) == (0, 1)
    rows = list(ModelPrice.objects.filter(model="m").order_by("effective_from"))
    assert [r.effective_from for r in rows] == [T0, datetime(2026, 4, 1, 12, 30, tzinfo=UTC)]
    assert (rows[1].output_price, rows[1].cached_input_price, rows[1].cache_write_price) == (
        10_000_000,
        300_000,
        3_750_000,
    )
    assert rows[0].cached_input_price is None and rows[0].cache_write_price is None


@pytest.mark.parametrize(
    ("prices", "says"),
    [
        ([{"from": "March", "input": 1, "output": 1}], "models[0].prices[0].from"),
        ([{"from": "2026-03-01", "output": 1}], "models[0].prices[0]: 'input' is required"),
        ([{"from": "2026-03-01", "input": -1, "output": 1}], "models[0].prices[0].input"),
        ({"from": "2026-03-01"}, "models[0].prices must be a list"),
        (
            [{"from": "2026-03-01", "input": 1, "output": 1}] * 2,
            "two entries start at the same time",
        ),
    ],
)
def test_a_bad_price_entry_is_named(db, prices, says):
    with pytest.raises(RoutesFileError, match=says.replace("[", r"\[").replace("]", r"\]")):
        apply(routes_with(prices))
    assert not ModelPrice.objects.exists()  # nothing half-applied


def test_model_price_set_says_what_it_did(db):
    change = PriceChange(model="m", effective_from=T0, input_price=1, output_price=2)
    assert model_price_set(change=change) == "created"
    assert model_price_set(change=change) == "unchanged"
    changed = PriceChange(model="m", effective_from=T0, input_price=5, output_price=2)
    assert model_price_set(change=changed) == "updated"
    assert ModelPrice.objects.get().input_price == 5


# -- cache writes, cache reads, reasoning: the "priced wrongly" reports -----------------


def test_cache_writes_cost_a_quarter_more_than_input_unless_priced_and_reads_their_own_rate():
    entry = table.model_entry(route(cached_input_price=100_000), ())
    usage = Usage(input=1_000, output=0, cached=200, cache_write=400)
    cost = call_at(entry, T0).price(usage).pico
    assert cost == 400 * 1_000_000 + 200 * 100_000 + 400 * 1_250_000
    priced = table.model_entry(route(cached_input_price=100_000, cache_write_price=2_000_000), ())
    assert call_at(priced, T0).price(usage).pico == (
        400 * 1_000_000 + 200 * 100_000 + 400 * 2_000_000
    )


def test_an_odd_cache_write_is_exact_integer_pico():
    entry = table.model_entry(route(input_price=3), ())
    cost = call_at(entry, T0).price(Usage(input=3, output=0, cache_write=3)).pico
    assert cost == 3 * 3 * 5 // 4 == 11 and isinstance(cost, int)


def test_reasoning_tokens_are_output_on_every_provider_path():
    entry = table.model_entry(route(), ())
    chat = chat_usage(
        {"prompt_tokens": 10, "completion_tokens": 50,
         "completion_tokens_details": {"reasoning_tokens": 40}}
    )  # fmt: skip
    responses = responses_usage(
        {"input_tokens": 10, "output_tokens": 50, "output_tokens_details": {"reasoning_tokens": 40}}
    )
    # Anthropic's output_tokens include the thinking blocks' tokens.
    anthropic = anthropic_usage({"input_tokens": 10, "output_tokens": 50})
    for usage in (chat, responses, anthropic):
        assert (usage.input, usage.output) == (10, 50)
        assert call_at(entry, T0).price(usage).pico == 10 * 1_000_000 + 50 * 4_000_000


def test_anthropic_cache_reads_and_writes_are_priced_apart():
    entry = table.model_entry(route(cached_input_price=100_000), ())
    usage = anthropic_usage(
        {"input_tokens": 10, "cache_read_input_tokens": 200,
         "cache_creation_input_tokens": 400, "output_tokens": 5}
    )  # fmt: skip
    assert (usage.input, usage.cached, usage.cache_write) == (610, 200, 400)
    assert call_at(entry, T0).price(usage).pico == (
        10 * 1_000_000 + 200 * 100_000 + 400 * 1_250_000 + 5 * 4_000_000
    )


def test_the_worst_case_holds_a_cache_write_where_an_upstream_reports_them():
    from proxy.spend import worst_case_pico

    anthropic = SimpleNamespace(provider=SimpleNamespace(kind="anthropic"))
    openai = SimpleNamespace(provider=SimpleNamespace(kind="openai"))
    assert worst_case_pico(table.model_entry(route(), (anthropic,)), 100, 0) == 125_000_000
    assert worst_case_pico(table.model_entry(route(), (openai,)), 100, 0) == 100_000_000


def test_dated_prices_are_edited_in_the_admin_next_to_the_routes(db, client):
    from accounts.models import User

    admin = User.objects.create_superuser(email="root@example.com", password="x")
    client.force_login(admin)
    ModelPrice.objects.create(model="m", effective_from=T0, input_price=1, output_price=2)
    listing = client.get("/admin/billing/modelprice/")
    assert listing.status_code == 200 and b"m from 2026-03-01 00:00" in listing.content
    added = client.post(
        "/admin/billing/modelprice/add/",
        {"model": "m", "effective_from_0": "2026-04-01", "effective_from_1": "00:00:00",
         "input_price": 3, "output_price": 4, "note": "", "created_at_0": "2026-03-01",
         "created_at_1": "00:00:00"},
    )  # fmt: skip
    assert added.status_code == 302, added.content[:2000]
    assert ModelPrice.objects.filter(model="m").count() == 2
