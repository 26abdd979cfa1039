"""The sliding minute in Redis, shared by every process: one script call per admission
(all of a request's limits, key and organization, at once) and one per settlement.

Each limit is a sorted set scored by admission time in milliseconds; a tokens limit's
members are "<request>:<tokens>" and a running sum sits beside it (rebuilt from the set
if Redis ever loses it). Every key expires a little after its newest entry leaves the
window. The clock is Redis' own (TIME) unless a test passes one, so processes on hosts
whose clocks disagree still share one minute.

Connections come from billing.redis_client's bounded pool, which queues a burst instead
of failing it. A Redis that does not answer raises RateLimiterDown, which proxy.limits
turns into a 503 that says so, never a 500.
"""

import asyncio
import hashlib
from collections.abc import Callable

from django.conf import settings

from billing import redis_client
from proxy.rate_window import REQUESTS, WINDOW_MS, Limit, Verdict

PREFIX = "jinf:rl:"
# Keys outlive their newest entry by this much, so a key never vanishes while it counts.
TTL_SLACK_MS = 1_000

_COMMON = """
local function clock(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function tokens_of(member)
  return tonumber(string.match(member, ':(%d+)$'))
end

-- Drops a tokens log's entries at or before cutoff; returns the tokens left in it.
local function prune_tokens(log, total, cutoff)
  local sum = redis.call('GET', total)
  local old = redis.call('ZRANGEBYSCORE', log, '-inf', cutoff)
  if #old > 0 then redis.call('ZREMRANGEBYSCORE', log, '-inf', cutoff) end
  if not sum then
    sum = 0
    for _, m in ipairs(redis.call('ZRANGE', log, 0, -1)) do sum = sum + tokens_of(m) end
    return sum
  end
  sum = tonumber(sum)
  for _, m in ipairs(old) do sum = sum - tokens_of(m) end
  return sum
end
"""

# KEYS: per limit its log (and, for tokens, its running sum after it).
# ARGV: now ms ('' for Redis' clock), window ms, ttl ms, member, tokens; then per limit
# its kind ('r' or 't') and its limit.
# Returns {admitted (1|0), then per limit: what it held before, ms until it has room}.
_ADMIT = (
    _COMMON
    + """
local now = clock(ARGV[1])
local window, ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
local member, tokens = ARGV[4], tonumber(ARGV[5])
local cutoff = now - window
local out = {1}
local plan = {}
local k = 1
for i = 6, #ARGV, 2 do
  local kind, limit = ARGV[i], tonumber(ARGV[i + 1])
  local used, wait = 0, 0
  if kind == 'r' then
    local log = KEYS[k]
    k = k + 1
    redis.call('ZREMRANGEBYSCORE', log, '-inf', cutoff)
    used = redis.call('ZCARD', log)
    if used >= limit then
      wait = window
      if limit > 0 then
        local e = redis.call('ZRANGE', log, used - limit, used - limit, 'WITHSCORES')
        wait = tonumber(e[2]) + window - now
      end
    end
    plan[#plan + 1] = {log}
  else
    local log, total = KEYS[k], KEYS[k + 1]
    k = k + 2
    used = prune_tokens(log, total, cutoff)
    if used >= limit then
      wait = window
      -- The oldest entries leave first: walk them, a page at a time, until enough go.
      local need, at = used - limit + 1, 0
      while need > 0 do
        local e = redis.call('ZRANGE', log, at, at + 63, 'WITHSCORES')
        if #e == 0 then break end
        for j = 1, #e, 2 do
          need = need - tokens_of(e[j])
          if need <= 0 then
            wait = tonumber(e[j + 1]) + window - now
            break
          end
        end
        at = at + 64
      end
    end
    plan[#plan + 1] = {log, total, used}
  end
  if wait > 0 then out[1] = 0 end
  out[#out + 1] = used
  out[#out + 1] = wait
end
for _, p in ipairs(plan) do
  if #p == 1 then
    if out[1] == 1 then
      redis.call('ZADD', p[1], now, member)
      redis.call('PEXPIRE', p[1], ttl)
    end
  else
    local sum = p[3]
    if out[1] == 1 and tokens > 0 then
      redis.call('ZADD', p[1], now, member .. ':' .. tokens)
      redis.call('PEXPIRE', p[1], ttl)
      sum = sum + tokens
    end
    -- The pruned sum is written even when refused: it must match the pruned log.
    redis.call('SET', p[2], sum, 'PX', ttl)
  end
end
return out
"""
)

# KEYS: per tokens limit its log and its running sum.
# ARGV: now ms ('' for Redis' clock), window ms, ttl ms, member, reserved, actual.
_SETTLE = (
    _COMMON
    + """
local now = clock(ARGV[1])
local window, ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
local member, reserved, actual = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
for k = 1, #KEYS, 2 do
  local log, total = KEYS[k], KEYS[k + 1]
  local sum = prune_tokens(log, total, now - window)
  local old = member .. ':' .. reserved
  local score = false
  if reserved > 0 then score = redis.call('ZSCORE', log, old) end
  if score then
    -- Still in the window: the entry becomes what was used, where it was.
    redis.call('ZREM', log, old)
    if actual > 0 then redis.call('ZADD', log, score, member .. ':' .. actual) end
    sum = sum - reserved + actual
  elseif actual > reserved then
    -- Its reservation has left the window (or there was none): the excess counts from now.
    redis.call('ZADD', log, now, member .. '+:' .. (actual - reserved))
    sum = sum + actual - reserved
  end
  redis.call('PEXPIRE', log, ttl)
  redis.call('SET', total, sum, 'PX', ttl)
end
return 1
"""
)


class RateLimiterDown(Exception):
    """Redis did not answer an admission: the limits cannot be checked."""


class RedisWindows:
    def __init__(self, prefix: str = PREFIX, client: Callable[[], object] | None = None) -> None:
        self.prefix = prefix
        self.client = client or redis_client.client
        self.shas = {s: hashlib.sha1(s.encode()).hexdigest() for s in (_ADMIT, _SETTLE)}

    def _keys(self, limits: tuple[Limit, ...]) -> list[str]:
        keys = []
        for limit in limits:
            keys.append(self.prefix + limit.name)
            if limit.kind != REQUESTS:
                keys.append(self.prefix + limit.name + ":sum")
        return keys

    async def _run(self, script: str, keys: list[str], args: list) -> list:
        """EVALSHA, loading the script once per Redis server (and after SCRIPT FLUSH)."""
        import redis.exceptions as errors

        client = self.client()
        try:
            async with asyncio.timeout(settings.REDIS_POOL_TIMEOUT_S + 5):
                try:
                    return await client.evalsha(self.shas[script], len(keys), *keys, *args)
                except errors.NoScriptError:
                    return await client.eval(script, len(keys), *keys, *args)
        except (errors.ConnectionError, errors.TimeoutError, TimeoutError, OSError) as exc:
            raise RateLimiterDown(str(exc) or type(exc).__name__) from exc

    async def admit(
        self, limits: tuple[Limit, ...], member: str, tokens: int, now_ms: int | None
    ) -> Verdict:
        args: list = [_clock(now_ms), WINDOW_MS, WINDOW_MS + TTL_SLACK_MS, member, tokens]
        for limit in limits:
            args += [limit.kind, limit.limit]
        out = await self._run(_ADMIT, self._keys(limits), args)
        return Verdict(
            admitted=int(out[0]) == 1,
            used=tuple(int(v) for v in out[1::2]),
            wait_ms=tuple(int(v) for v in out[2::2]),
        )

    async def settle(
        self,
        limits: tuple[Limit, ...],
        member: str,
        reserved: int,
        actual: int,
        now_ms: int | None,
    ) -> None:
        args = [_clock(now_ms), WINDOW_MS, WINDOW_MS + TTL_SLACK_MS, member, reserved, actual]
        await self._run(_SETTLE, self._keys(limits), args)


def _clock(now_ms: int | None) -> str | int:
    return "" if now_ms is None else now_ms
