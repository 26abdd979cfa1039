"""The sliding minute both rate backends keep: what a limit is, what an admission
answers, and how a request is named in the logs.

A limit is a log of the last minute's admissions: for requests, one entry per request;
for tokens, one entry per request holding its tokens (the estimate when admitted, the
actual count once settled), beside a running sum. An entry stamped t counts while
now < t + WINDOW_MS, so any 60 s span [a, a + 60 s) holds at most `limit` admitted
requests wherever it starts: no fixed window's 2× at its edge. A request is admitted when every
limit still has room: fewer requests than the limit, fewer tokens than the limit
(so a window's tokens reach at most the limit plus one request's estimate, and a request
larger than the whole limit still passes into an empty window instead of waiting forever).

proxy.rate_local keeps the logs in this process; proxy.rate_redis in Redis sorted sets,
shared by every process. Both take an injectable clock (milliseconds) for tests.
"""

import itertools
import secrets
from dataclasses import dataclass
from typing import Protocol

WINDOW_MS = 60_000
REQUESTS = "r"
TOKENS = "t"
# A request's tokens are clamped here so they stay exact in Lua's doubles and its
# "%.14g" number formatting.
MAX_TOKENS = 10**12

_process = secrets.token_hex(4)
_sequence = itertools.count()


@dataclass(frozen=True, slots=True)
class Limit:
    """One rate limit: a key's or its organization's requests or tokens per minute."""

    scope: str  # "key" | "organization"
    owner_id: int
    kind: str  # REQUESTS | TOKENS
    limit: int

    @property
    def name(self) -> str:
        """The log's name, shared by every process (a key and its org never collide)."""
        return f"{self.scope[0]}{self.owner_id}:{self.kind}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the logs said: per limit (in order), what it held before this request and,
    when refused, the milliseconds until it has room again (0 where it has room)."""

    admitted: bool
    used: tuple[int, ...]
    wait_ms: tuple[int, ...]


class Backend(Protocol):
    async def admit(
        self, limits: tuple[Limit, ...], member: str, tokens: int, now_ms: int | None
    ) -> Verdict: ...

    async def settle(
        self,
        limits: tuple[Limit, ...],
        member: str,
        reserved: int,
        actual: int,
        now_ms: int | None,
    ) -> None: ...


def new_member() -> str:
    """A request's entry name, unique across processes (no ':', which ends the name)."""
    return f"{_process}{next(_sequence):x}"


def clamp(tokens: int) -> int:
    return min(max(int(tokens), 0), MAX_TOKENS)
