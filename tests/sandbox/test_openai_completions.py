import base64
import struct

import openai

from sandbox.openai_embeddings import vector


def test_legacy_completion(oai: openai.OpenAI) -> None:
    completion = oai.completions.create(model="demo@cached=1", prompt="say hi")
    assert completion.object == "text_completion"
    assert completion.id.startswith("cmpl-")
    assert completion.choices[0].text == "Hello from the sandbox. You said: say hi"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens == 3
    assert completion.usage.completion_tokens == 8


def test_legacy_completion_prompt_list_and_n(oai: openai.OpenAI) -> None:
    completion = oai.completions.create(model="demo", prompt=["one", "two"], n=2, max_tokens=2)
    assert [c.index for c in completion.choices] == [0, 1, 2, 3]
    assert {c.text for c in completion.choices} == {"Hello from"}
    assert {c.finish_reason for c in completion.choices} == {"length"}
    assert completion.usage.completion_tokens == 8


def test_legacy_stream_matches_non_stream(oai: openai.OpenAI) -> None:
    plain = oai.completions.create(model="demo@chunks=4", prompt="say hi")
    chunks = list(
        oai.completions.create(
            model="demo@chunks=4",
            prompt="say hi",
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == plain.choices[0].text
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.model_dump() == plain.usage.model_dump()

    without = list(oai.completions.create(model="demo", prompt="say hi", stream=True))
    assert all(c.usage is None for c in without)


def test_embeddings_float_and_base64_agree(oai: openai.OpenAI) -> None:
    floats = oai.embeddings.create(
        model="embed", input=["alpha beta", "gamma"], encoding_format="float"
    )
    assert floats.object == "list"
    assert [d.index for d in floats.data] == [0, 1]
    assert len(floats.data[0].embedding) == 8
    assert floats.usage.prompt_tokens == floats.usage.total_tokens == 3
    # The SDK asks for base64 by default and decodes it back to floats.
    default = oai.embeddings.create(model="embed", input=["alpha beta", "gamma"])
    assert [d.embedding for d in default.data] == [d.embedding for d in floats.data]
    again = oai.embeddings.create(model="embed", input="alpha beta", dimensions=16)
    assert len(again.data[0].embedding) == 16
    assert abs(sum(v * v for v in again.data[0].embedding) - 1.0) < 1e-5


def test_embeddings_raw_base64_is_little_endian_float32(oai: openai.OpenAI) -> None:
    raw = oai.embeddings.with_raw_response.create(
        model="embed", input=[1, 2, 3], encoding_format="base64"
    ).http_response.json()
    encoded = raw["data"][0]["embedding"]
    assert list(struct.unpack("<8f", base64.b64decode(encoded))) == vector([1, 2, 3], 8).tolist()
    assert raw["usage"]["prompt_tokens"] == 3
