"""Holds in Redis, shared by every process: one Lua script call per reserve and settle.

Each pot is a hash {v, e}: for credit, v is what is available (the balance when loaded,
less every hold and settled cost since, plus every grant since); for a budget or cap, v is
what was spent in the period plus what is held. e is a token set when the pot was loaded:
a settle whose hold was taken before a reload (Redis lost the key) does not refund a hold
the reloaded pot never had, it only charges the cost.

Grants and other ledger entries reach the pot through `ledger_changed` after their commit;
usage debits do not, since settling already took the cost off. Values are exact integers
(HINCRBY); the comparisons run on Lua's doubles, exact below 2⁵³ pico-USD (USD 9,007) and
within a few pico-USD above.
"""

import secrets

from django.utils import timezone

from billing import redis_client
from billing.holds import CREDIT, Hold, NotEnough, Pot, load_async

PREFIX = "jinf:hold:"

# KEYS: the pots. ARGV[1]: amount; then per pot: kind ('c' credit, 'm' meter), limit.
# Returns {1, e1, e2, …} when held; {0, i, v} when pot i is short; {-1, i} when pot i is
# not loaded yet.
_RESERVE = """
local amount = tonumber(ARGV[1])
local epochs = {1}
for i = 1, #KEYS do
  local v = redis.call('HGET', KEYS[i], 'v')
  if not v then return {-1, i} end
  v = tonumber(v)
  local kind = ARGV[2 * i]
  if kind == 'c' then
    if v <= 0 or v < amount then return {0, i, tostring(v)} end
  else
    local limit = tonumber(ARGV[2 * i + 1])
    if limit - v <= 0 or limit - v < amount then return {0, i, tostring(limit - v)} end
  end
  epochs[#epochs + 1] = redis.call('HGET', KEYS[i], 'e')
end
-- A zero hold (a BYOK call's fee at BYOK_FEE_PERCENT 0, a free model) takes nothing:
-- and '-0' is not an integer to HINCRBY.
if ARGV[1] == '0' then return epochs end
for i = 1, #KEYS do
  if ARGV[2 * i] == 'c' then
    redis.call('HINCRBY', KEYS[i], 'v', '-' .. ARGV[1])
  else
    redis.call('HINCRBY', KEYS[i], 'v', ARGV[1])
  end
end
return epochs
"""

# KEYS[1]: the pot. ARGV: value, epoch, ttl seconds (0: none).
_LOAD = """
if redis.call('HSETNX', KEYS[1], 'v', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'e', ARGV[2])
  if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
end
return 1
"""

# KEYS: the pots. ARGV per pot: epoch of the hold, delta if same epoch, delta otherwise.
_SETTLE = """
for i = 1, #KEYS do
  local e = redis.call('HGET', KEYS[i], 'e')
  if e then
    if e == ARGV[3 * i - 2] then
      redis.call('HINCRBY', KEYS[i], 'v', ARGV[3 * i - 1])
    else
      redis.call('HINCRBY', KEYS[i], 'v', ARGV[3 * i])
    end
  end
end
return 1
"""

# KEYS[1]: the credit pot. ARGV[1]: amount. Only a loaded pot changes (a missing one
# loads the new balance from the database).
_GRANT = """
if redis.call('HEXISTS', KEYS[1], 'v') == 1 then
  redis.call('HINCRBY', KEYS[1], 'v', ARGV[1])
end
return 1
"""

# The usage stream's XADD and the hold's settle in one call (billing.usage_stream.add):
# KEYS[1] the stream, KEYS[2..] the pots; ARGV[1], ARGV[2] the entry's field and value,
# then _SETTLE's triplets.
RECORD_AND_SETTLE = """
redis.call('XADD', KEYS[1], '*', ARGV[1], ARGV[2])
for i = 2, #KEYS do
  local e = redis.call('HGET', KEYS[i], 'e')
  if e then
    local j = 3 * i - 3
    if e == ARGV[j] then
      redis.call('HINCRBY', KEYS[i], 'v', ARGV[j + 1])
    else
      redis.call('HINCRBY', KEYS[i], 'v', ARGV[j + 2])
    end
  end
end
return 1
"""

DAY_S = 86_400


def settle_arguments(hold: Hold, cost: int) -> tuple[list[str], list]:
    """The pots' keys and _SETTLE's triplets: give back the hold, take the cost (credit),
    or the other way round (budgets and caps); a reloaded pot only takes the cost."""
    args: list = []
    for pot, epoch in zip(hold.pots, hold.tokens, strict=True):
        if pot.kind == CREDIT:
            args += [epoch, hold.amount - cost, -cost]
        else:
            args += [epoch, cost - hold.amount, cost]
    return [PREFIX + p.name for p in hold.pots], args


class RedisHolds:
    def __init__(self) -> None:
        self.scripts: dict[object, tuple] = {}

    def _scripts(self, client) -> tuple:
        found = self.scripts.get(client)
        if found is None:
            found = self.scripts[client] = tuple(
                client.register_script(s) for s in (_RESERVE, _LOAD, _SETTLE, _GRANT)
            )
        return found

    async def reserve(self, pots: tuple[Pot, ...], amount: int) -> Hold:
        client = redis_client.client()
        reserve, load, _, _ = self._scripts(client)
        keys = [PREFIX + p.name for p in pots]
        args: list = [amount]
        for pot in pots:
            args += ["c", 0] if pot.kind == CREDIT else ["m", pot.limit]
        for _ in range(4):
            out = await reserve(keys=keys, args=args)
            status = int(out[0])
            if status == 1:
                return Hold(pots, amount, tuple(_text(e) for e in out[1:]))
            pot = pots[int(out[1]) - 1]
            if status == 0:
                raise NotEnough(pot, amount, int(float(_text(out[2]))))
            value = await load_async(pot)
            await load(keys=[PREFIX + pot.name], args=[value, secrets.token_hex(8), _ttl(pot)])
        raise RuntimeError("A spending pot could not be loaded into Redis.")

    def settle_now(self, hold: Hold, cost: int) -> bool:
        return False  # a round trip: settle() or record_and_settle()

    async def settle(self, hold: Hold, cost: int) -> None:
        client = redis_client.client()
        keys, args = settle_arguments(hold, cost)
        await self._scripts(client)[2](keys=keys, args=args)

    async def record_and_settle(self, hold: Hold, cost: int, stream: str, field, value) -> None:
        """XADDs a usage entry and settles its hold in one round trip."""
        client = redis_client.client()
        script = self.scripts.get((client, "record"))
        if script is None:
            script = self.scripts[(client, "record")] = client.register_script(RECORD_AND_SETTLE)
        keys, args = settle_arguments(hold, cost)
        await script(keys=[stream, *keys], args=[field, value, *args])

    def ledger_changed(self, organization_id: int, entry_id: int, amount: int, *, usage: bool):
        if usage or not amount:
            return
        client = redis_client.sync_client()
        client.eval(_GRANT, 1, PREFIX + Pot(CREDIT, organization_id).name, amount)


def _ttl(pot: Pot) -> int:
    """Budget and cap pots live until a day after their period ends; credit for a week
    without use (then it loads afresh from the ledger)."""
    if pot.kind == CREDIT:
        return 7 * DAY_S
    if pot.resets_at is None:
        return 30 * DAY_S
    return max(60, int((pot.resets_at - timezone.now()).total_seconds()) + DAY_S)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
