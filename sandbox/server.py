"""Run the sandbox in a background thread on a free loopback port, for tests and benches."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from .app import SandboxApp
from .options import Settings
from .state import SandboxState


class SandboxServer:
    """`with SandboxServer() as sandbox: httpx.get(sandbox.url + "/v1/models")`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        chunks: int = 8,
        delay_ms: float = 0.0,
        responses: bool = True,
        system_turns_need_beta: bool = True,
    ) -> None:
        """`responses=False` makes /v1/responses a 404, like an upstream without it;
        `system_turns_need_beta=False` accepts Anthropic system turns without their beta."""
        self.host = host
        self.port = port
        self.state = SandboxState()
        settings = Settings(
            chunks=chunks,
            delay_ms=delay_ms,
            responses=responses,
            system_turns_need_beta=system_turns_need_beta,
        )
        self.app = SandboxApp(settings, self.state)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> SandboxServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            access_log=False,
            log_level="warning",
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="sandbox", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"The sandbox did not start on {self.url}.")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
