import pytest

from sandbox.options import Options, OptionsError, Settings, parse_model


def test_plain_model_has_defaults() -> None:
    opts = parse_model("gpt-4o-mini")
    assert opts == Options(base="gpt-4o-mini")
    assert opts.stream_chunks(Settings(chunks=12)) == 12
    assert opts.stream_delay(Settings(delay_ms=5)) == 0.005
    assert opts.first_byte_delay() == 0


def test_options_after_the_last_at() -> None:
    opts = parse_model("org@team/demo@chunks=100, delay_ms=5,fault=drop,cached=7,parallel=1")
    assert opts.base == "org@team/demo"
    assert (opts.chunks, opts.delay_ms, opts.fault, opts.cached, opts.parallel) == (
        100,
        5.0,
        "drop",
        7,
        True,
    )
    assert opts.given == {
        "chunks": "100",
        "delay_ms": "5",
        "fault": "drop",
        "cached": "7",
        "parallel": "1",
    }
    assert parse_model("demo@").base == "demo"


def test_faults() -> None:
    assert parse_model("m@fault=429").status_fault == 429
    assert parse_model("m@fault=timeout").status_fault is None
    assert parse_model("m@fault=slow_first_byte").first_byte_delay() == 2.0
    assert parse_model("m@fault=slow_first_byte,first_byte_ms=50").first_byte_delay() == 0.05


@pytest.mark.parametrize(
    "model",
    [
        "m@chunks=0",
        "m@chunks=x",
        "m@delay_ms=-1",
        "m@fault=boom",
        "m@fault=200",
        "m@colour=red",
        "m@chunks",
        "m@chunks=2,chunks=3",
    ],
)
def test_bad_options(model: str) -> None:
    with pytest.raises(OptionsError):
        parse_model(model)
