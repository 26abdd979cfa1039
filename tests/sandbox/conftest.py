from collections.abc import Iterator

import anthropic
import openai
import pytest

from sandbox import SandboxServer


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.fixture
def oai(sandbox: SandboxServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=sandbox.url + "/v1", api_key="sk-test", max_retries=0)


@pytest.fixture
def claude(sandbox: SandboxServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=sandbox.url, api_key="sk-ant-test", max_retries=0)
