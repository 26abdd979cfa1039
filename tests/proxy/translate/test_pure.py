"""proxy/translate is plain functions over dicts and bytes: no Django, no network, no
event loop. A fresh interpreter where importing Django fails, sockets cannot be made and
no event loop can be had imports every module of the package, parses a rich body of each
translatable shape, builds the upstream request of each provider kind from it and renders
an answer back in the shape, streamed and whole."""

import json
import os
import pathlib
import subprocess
import sys

from tests.proxy.fuzz_bodies import CHAT, MESSAGES, RESPONSES

ROOT = pathlib.Path(__file__).resolve().parents[3]

SCRIPT = r"""
import sys
sys.modules["django"] = None  # any `import django…` now raises ImportError

import asyncio
import json
import socket


def refused(*args, **kwargs):
    raise RuntimeError("proxy.translate reached for a socket or an event loop")


socket.socket = socket.create_connection = refused
asyncio.get_event_loop = asyncio.new_event_loop = asyncio.get_running_loop = refused
asyncio.run = refused

import importlib
import pathlib

import proxy.translate

root = pathlib.Path(list(proxy.translate.__path__)[0])
modules = []
for path in sorted(root.rglob("*.py")):
    parts = path.relative_to(root.parents[1]).with_suffix("").parts
    name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    importlib.import_module(name)
    modules.append(name)

from proxy.translate.canonical import Answer, Cost, Finish, Start, TextDelta, Usage
from proxy.translate.providers import KINDS
from proxy.translate.shapes import SHAPES, TRANSLATABLE
from proxy.translate.wire import Upstream

bodies = json.loads(sys.stdin.read())
upstream = Upstream("http://upstream.test/v1", "sk-test", "up-model")
events = [Start("up-1", "up-model"), TextDelta("Hi."), Finish("stop"), Usage(3, 2)]
built = []
for endpoint in sorted(TRANSLATABLE):
    shape = SHAPES[endpoint]
    request = shape.parse(bodies[endpoint])
    for kind, adapter in sorted(KINDS.items()):
        sent = adapter.build(upstream, request)
        assert sent.url.startswith("http://upstream.test/") and json.loads(sent.body)["model"] == "up-model"
        built.append(f"{endpoint}->{kind}")
    shape.render(Answer.of(events), model="m", cost_usd=0.0, request=request)
    renderer = shape.stream_renderer(
        model="m", include_usage=True, price=lambda u: Cost(0, 0.0), request=request
    )
    assert b"".join(renderer.render(e) for e in events) + renderer.end()
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("django", "channels", "httpx"))
print(json.dumps({"modules": modules, "built": built, "leaked": leaked}))
"""


def test_translation_needs_no_django_no_network_and_no_event_loop():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(ROOT)
    bodies = {"chat": CHAT, "messages": MESSAGES, "responses": RESPONSES}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        input=json.dumps(bodies),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert "proxy.translate.canonical" in result["modules"]
    assert "proxy.translate.shapes.responses_request" in result["modules"]
    assert len(result["modules"]) >= 20
    assert len(result["built"]) == 6  # three shapes × two kinds
    assert result["leaked"] == ["django"]  # only the None we planted
