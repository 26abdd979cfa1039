"""billing.usage.cost_pico: every token kind at its own price, exactly."""

from hypothesis import given
from hypothesis import strategies as st

from billing.usage import cost_pico


def test_cache_reads_and_writes_are_priced_apart_from_plain_input():
    cost = cost_pico(
        input_tokens=1_000, output_tokens=10, cached_tokens=600, cache_write_tokens=300,
        input_price=3_000_000, output_price=15_000_000, cached_input_price=300_000,
        cache_write_price=3_750_000,
    )  # fmt: skip
    assert cost == 100 * 3_000_000 + 600 * 300_000 + 300 * 3_750_000 + 10 * 15_000_000


def test_unset_cache_read_price_is_the_input_price_and_writes_cost_a_quarter_more():
    plain = cost_pico(
        input_tokens=50, output_tokens=5, cached_tokens=0, input_price=7, output_price=11,
        cached_input_price=None,
    )  # fmt: skip
    read = cost_pico(
        input_tokens=50, output_tokens=5, cached_tokens=20, input_price=7, output_price=11,
        cached_input_price=None,
    )  # fmt: skip
    written = cost_pico(
        input_tokens=50, output_tokens=5, cached_tokens=20, cache_write_tokens=20,
        input_price=7, output_price=11, cached_input_price=None, cache_write_price=None,
    )  # fmt: skip
    assert plain == read == 50 * 7 + 5 * 11
    # Anthropic: a cache write is 1.25 × input, floored once over all the writes (exact).
    assert written == 30 * 7 + 20 * 7 * 5 // 4 + 5 * 11 == plain + 35


counts = st.integers(min_value=0, max_value=2**31)
prices = st.integers(min_value=0, max_value=10**9)


@given(counts, counts, counts, counts, prices, prices, prices, prices)
def test_cost_is_never_negative_nor_above_the_dearest_kind(
    input_tokens, output, cached, written, p_in, p_out, p_cached, p_write
):
    cost = cost_pico(
        input_tokens=input_tokens, output_tokens=output, cached_tokens=cached,
        cache_write_tokens=written, input_price=p_in, output_price=p_out,
        cached_input_price=p_cached, cache_write_price=p_write,
    )  # fmt: skip
    assert 0 <= cost <= input_tokens * max(p_in, p_cached, p_write) + output * p_out
