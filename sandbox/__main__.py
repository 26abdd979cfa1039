"""`python -m sandbox --port 8001`: the fake upstream in the foreground."""

from __future__ import annotations

import argparse

import uvicorn

from .app import SandboxApp
from .options import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="A deterministic fake OpenAI/Anthropic upstream with fault injection.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--chunks", type=int, default=8, help="content chunks per stream")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="delay between stream chunks")
    parser.add_argument(
        "--no-responses",
        action="store_true",
        help="answer /v1/responses with 404, as an upstream with only chat completions",
    )
    parser.add_argument(
        "--system-turns-without-beta",
        action="store_true",
        help="accept Anthropic system turns in messages without the mid-conversation beta",
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    settings = Settings(
        chunks=args.chunks,
        delay_ms=args.delay_ms,
        responses=not args.no_responses,
        system_turns_need_beta=not args.system_turns_without_beta,
    )
    app = SandboxApp(settings)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        lifespan="off",
        # One process, whatever WEB_CONCURRENCY says: uvicorn reads that variable when
        # `workers` is not given, and `make run` sets it for the gateway's processes.
        workers=1,
        log_level=args.log_level,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
