"""The /v1 calls this process is serving, so that a shutdown can end them on purpose
(each records what it consumed) instead of leaving them to die with the event loop."""

import asyncio

_tasks: set[asyncio.Task] = set()


def track(task: asyncio.Task) -> None:
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def open_calls() -> int:
    return len(_tasks)
