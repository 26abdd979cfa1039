"""The /v1 calls this process is serving, so that a shutdown can end them on purpose
(each records what it consumed) instead of leaving them to die with the event loop.

uvicorn cancels its own connection tasks when the graceful timeout runs out, but a
consumer serves each request in a task of its own, which nothing else would cancel before
the loop closes: their usage was lost (40 of 40 open streams at SIGTERM)."""

import asyncio

_tasks: set[asyncio.Task] = set()


def track(task: asyncio.Task) -> None:
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def open_calls() -> int:
    return len(_tasks)


async def end_all(timeout_s: float = 5.0) -> int:
    """Cancels the calls of this event loop still open and waits up to timeout_s for them
    to finish: each records what it consumed as a client abort (proxy.relay). Returns how
    many were ended."""
    loop = asyncio.get_running_loop()
    tasks = [t for t in _tasks if not t.done() and t.get_loop() is loop]
    for task in tasks:
        task.cancel("The gateway is shutting down.")
    if tasks:
        await asyncio.wait(tasks, timeout=timeout_s)
    return len(tasks)
