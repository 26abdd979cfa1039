"""The README's four compatibility checks, run with curl exactly as written there."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_checks() -> dict[str, str]:
    section = README.read_text().split("### Compatibility checks", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    checks = re.split(r"^# \d\. (.+)$", block, flags=re.M)[1:]
    return {
        name.strip(): command.strip()
        for name, command in zip(checks[::2], checks[1::2], strict=True)
    }


def run(command: str, url: str, key: str) -> str:
    env = {**os.environ, "JINF_URL": url, "JINF_KEY": key}
    done = subprocess.run(
        ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def sse(text: str) -> list:
    events = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    return [json.loads(e) for e in events[:-1]]


def test_the_readme_has_the_four_checks():
    assert list(readme_checks()) == ["non-stream", "stream", "tools, non-stream", "tools, streamed"]


@pytest.fixture
def call(asgi_server, routes, tenant):
    return lambda name: run(readme_checks()[name], asgi_server.url + "/v1", tenant.secret)


def test_non_stream(call):
    answer = json.loads(call("non-stream"))
    assert (
        answer["model"] == "demo" and "hello" in answer["choices"][0]["message"]["content"].lower()
    )
    assert answer["usage"]["total_tokens"] > 0 and answer["usage"]["cost"] > 0


def test_stream(call):
    chunks = sse(call("stream"))
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert "hello" in text.lower() and chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_tools_non_stream(call):
    choice = json.loads(call("tools, non-stream"))["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (tool_call,) = choice["message"]["tool_calls"]
    assert tool_call["function"]["name"] == "get_weather"
    assert "city" in json.loads(tool_call["function"]["arguments"])


def test_tools_streamed(call):
    chunks = sse(call("tools, streamed"))
    deltas = [tc for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls") or []]
    assert deltas[0]["function"]["name"] == "get_weather" and deltas[0]["id"]
    arguments = "".join(d["function"].get("arguments") or "" for d in deltas)
    assert "city" in json.loads(arguments)
    assert {d["index"] for d in deltas} == {0}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
