"""The proxy's side of the BYOK fee: a call on a BYOK model records its fee beside its
cost, and its worst case is held as a BYOK hold (fee against credit, cost against budgets)."""

import asyncio
from decimal import Decimal
from types import SimpleNamespace

import pytest

from billing import byok
from proxy import recording, spend
from proxy.call import Call, Outcome
from proxy.table import ModelEntry


@pytest.fixture
def five_percent(settings):
    settings.BYOK_FEE_PERCENT = Decimal("5")
    byok.numerator.cache_clear()
    yield
    byok.numerator.cache_clear()


def _model(*, own: bool) -> ModelEntry:
    return ModelEntry(
        name="own-model",
        input_price=1_000_000,
        output_price=2_000_000,
        cached_input_price=None,
        cache_write_price=None,
        drop_unsupported=False,
        deployments=(),
        byok=own,
    )


def _recorded(monkeypatch, *, own: bool, cost: int):
    seen = []

    async def fake_record(event, hold=None):
        seen.append(event)
        return event

    monkeypatch.setattr(recording, "record", fake_record)
    key = SimpleNamespace(
        organization_id=1, key_id=2, prefix="jk_x", plan=SimpleNamespace(prepaid=True)
    )
    call = Call(request_id="req_1", endpoint="chat", key=key, model=_model(own=own), body={})
    asyncio.run(recording.record_call(call, Outcome(status="ok", http_status=200, cost_pico=cost)))
    [event] = seen
    return event


def test_a_byok_call_records_its_fee_and_keeps_its_cost(monkeypatch, five_percent):
    event = _recorded(monkeypatch, own=True, cost=1_000_010)
    assert (event.byok, event.cost_pico, event.fee_pico) == (True, 1_000_010, 50_001)


def test_a_platform_call_records_no_fee(monkeypatch, five_percent):
    event = _recorded(monkeypatch, own=False, cost=1_000_010)
    assert (event.byok, event.cost_pico, event.fee_pico) == (False, 1_000_010, 0)


def test_the_worst_case_of_a_byok_model_is_held_as_byok():
    assert spend.worst_case(_model(own=True), "chat", {"max_tokens": 10}, 40).byok is True
    assert spend.worst_case(_model(own=False), "chat", {"max_tokens": 10}, 40).byok is False
