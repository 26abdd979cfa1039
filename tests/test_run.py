"""`make run`'s process runner: serves the portal, and Ctrl-C stops every process."""

import contextlib
import os
import signal
import socket
import subprocess
import sys

import httpx
import openai
import psutil
import pytest

from tests.processes import wait_for


@pytest.fixture
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_run_serves_and_ctrl_c_stops_web_worker_and_beat(tmp_path, free_port):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_FS_BROKER_DIR": str(tmp_path / "broker"),
        "PORT": str(free_port),
        "SANDBOX_PORT": str(free_port + 1),
    }
    env.pop("REDIS_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v", "0"], env=env, check=True, timeout=120)
    seed = subprocess.run(
        [py, "manage.py", "seeddemo"], env=env, check=True, capture_output=True, text=True
    )
    assert "admin login   admin@example.com" in seed.stdout
    assert "demo key      jinf_" in seed.stdout
    demo_key = seed.stdout.split("demo key      ")[1].split()[0]

    log = open(tmp_path / "run.log", "w")  # noqa: SIM115
    children: list[psutil.Process] = []
    runner = subprocess.Popen(
        [py, "-m", "platform_site.run"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        url = f"http://127.0.0.1:{free_port}"

        def portal_up() -> bool:
            try:
                return httpx.get(url + "/accounts/login/").status_code == 200
            except httpx.TransportError:
                return False

        assert wait_for(portal_up, timeout_s=60), (tmp_path / "run.log").read_text()
        children = psutil.Process(runner.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        assert "uvicorn" in names and " worker" in names and " beat" in names
        assert "sandbox" in names

        # The newcomer's first call: a streamed answer from the demo model, no internet.
        client = openai.OpenAI(base_url=url + "/v1", api_key=demo_key, max_retries=0)
        stream = client.chat.completions.create(
            model="demo-fast", messages=[{"role": "user", "content": "hello"}], stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert "hello" in text
        assert f"portal        {url}/" in (tmp_path / "run.log").read_text()

        runner.send_signal(signal.SIGINT)
        assert runner.wait(timeout=30) == 0
        _gone, alive = psutil.wait_procs(children, timeout=15)
        assert alive == []
        assert "exited with 'signal" not in (tmp_path / "run.log").read_text(), "unclean stop"
    finally:
        # Even when an assertion failed: no process of this run outlives the test.
        with contextlib.suppress(psutil.NoSuchProcess):
            children = children or psutil.Process(runner.pid).children(recursive=True)
        for child in children:
            if child.is_running():
                child.kill()
        if runner.poll() is None:
            runner.kill()
