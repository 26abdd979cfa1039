"""Credit leases: with Redis, a process takes a slice of an organization's credit at once
and holds requests against it in memory, so that a request whose only pot is credit
costs no Redis round trip in steady state.

A lease is itself a hold in Redis (the pot's value goes down by the whole slice), so the
sum of what is held still never exceeds what is available. A slice is LEASE_REQUESTS
worst cases of the request that asks for it, and is granted only while the pot keeps at
least LEASE_FLOOR slices beyond it: an organization near the end of its credit gets no
leases, and every request is then held exactly, one round trip each. What a lease has not
spent goes back to the pot after LEASE_IDLE_S without use and at shutdown; a process that
dies keeps its slice away (credit is under-stated by at most one slice per process and
organization until the pot reloads). Budgets and caps are never leased.
"""

import asyncio
import threading
import time
from dataclasses import dataclass

from billing import redis_client
from billing.holds import CREDIT, Hold, Pot
from billing.holds_redis import PREFIX, RedisHolds

LEASE_REQUESTS = 32
LEASE_FLOOR = 3
LEASE_IDLE_S = 2.0
LEASED = "leased"

# KEYS[1]: the credit pot. ARGV: the slice, the floor left after it.
# {1, epoch} granted; {0} not granted; {-1} not loaded.
_TAKE = """
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return {-1} end
if tonumber(v) - tonumber(ARGV[1]) < tonumber(ARGV[2]) then return {0} end
redis.call('HINCRBY', KEYS[1], 'v', '-' .. ARGV[1])
return {1, redis.call('HGET', KEYS[1], 'e')}
"""

# KEYS[1]: the credit pot. ARGV: amount, epoch. Back only to the pot it was taken from.
_GIVE_BACK = """
if redis.call('HGET', KEYS[1], 'e') == ARGV[2] then
  redis.call('HINCRBY', KEYS[1], 'v', ARGV[1])
end
return 1
"""


@dataclass
class _Lease:
    epoch: str
    free: int = 0  # not held by any request
    held: int = 0  # held by requests in flight
    used_at: float = 0.0


class LeasingRedisHolds(RedisHolds):
    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.leases: dict[int, _Lease] = {}
        self.returner: asyncio.Task | None = None

    async def reserve(self, pots: tuple[Pot, ...], amount: int) -> Hold:
        if len(pots) != 1 or pots[0].kind != CREDIT or amount <= 0:
            return await super().reserve(pots, amount)
        org = pots[0].subject_id
        epoch = self._take_local(org, amount)
        if epoch is None and await self._lease(pots[0], amount):
            epoch = self._take_local(org, amount)
        if epoch is not None:
            return Hold(pots, amount, (LEASED, epoch))
        return await super().reserve(pots, amount)

    def _take_local(self, org: int, amount: int) -> str | None:
        with self.lock:
            lease = self.leases.get(org)
            if lease is None or lease.free < amount:
                return None
            lease.free -= amount
            lease.held += amount
            lease.used_at = time.monotonic()
            return lease.epoch

    async def _lease(self, pot: Pot, amount: int) -> bool:
        client = redis_client.client()
        take = self._script(client, "take", _TAKE)
        size = LEASE_REQUESTS * amount
        out = await take(keys=[PREFIX + pot.name], args=[size, LEASE_FLOOR * size])
        if int(out[0]) != 1:
            return False
        epoch = out[1].decode() if isinstance(out[1], bytes) else str(out[1])
        with self.lock:
            lease = self.leases.get(pot.subject_id)
            if lease is None or lease.epoch != epoch:
                # A new lease, or the pot was reloaded: what the old one held went with it.
                lease = self.leases[pot.subject_id] = _Lease(epoch)
            lease.free += size
            lease.used_at = time.monotonic()
        self._start_returner()
        return True

    def _script(self, client, name: str, source: str):
        script = self.scripts.get((client, name))
        if script is None:
            script = self.scripts[(client, name)] = client.register_script(source)
        return script

    def settle_now(self, hold: Hold, cost: int) -> bool:
        """A leased hold settles in memory: its cost is spent from the lease, the rest
        is free again. Only into the lease it came from (the same pot's load)."""
        if hold.tokens[:1] != (LEASED,):
            return False
        with self.lock:
            lease = self.leases.get(hold.pots[0].subject_id)
            if lease is not None and lease.epoch == hold.tokens[1]:
                lease.held -= hold.amount
                lease.free += hold.amount - cost
                lease.used_at = time.monotonic()
        return True

    async def settle(self, hold: Hold, cost: int) -> None:
        if not self.settle_now(hold, cost):
            await super().settle(hold, cost)

    async def record_and_settle(self, hold: Hold, cost: int, stream: str, field, value) -> None:
        if not self.settle_now(hold, cost):
            return await super().record_and_settle(hold, cost, stream, field, value)
        await redis_client.client().xadd(stream, {field: value})

    def _start_returner(self) -> None:
        if self.returner is None or self.returner.done():
            self.returner = asyncio.get_running_loop().create_task(self._return_idle())

    async def _return_idle(self) -> None:
        while self.leases:
            await asyncio.sleep(LEASE_IDLE_S / 2)
            await self.give_back(idle_s=LEASE_IDLE_S)

    async def give_back(self, idle_s: float = 0.0) -> None:
        """Returns what idle leases have not spent (all of them with idle_s=0: shutdown)."""
        now = time.monotonic()
        returned = []
        with self.lock:
            for org, lease in list(self.leases.items()):
                if now - lease.used_at < idle_s:
                    continue
                returned.append((org, lease.epoch, lease.free))
                lease.free = 0
                if lease.held <= 0:  # requests still in flight settle into it
                    del self.leases[org]
        client = redis_client.client()
        give = self._script(client, "give", _GIVE_BACK)
        for org, epoch, free in returned:
            if free:
                await give(keys=[PREFIX + Pot(CREDIT, org).name], args=[free, epoch])
