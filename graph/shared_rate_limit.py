"""A source's rate limit kept in Redis, so that all gateway replicas together stay under it (BAG: 50 calls
per second per key, whoever of the replicas makes them).

The rule is ``graph.source.RateLimit``'s: a call counts from its start until one second after its answer.
In Redis that is one sorted set per source: each call is a member whose score is the moment it stops
counting (while it is in flight: its start plus the source's timeout, so a replica that dies mid-call frees
its place by itself), and a call may start while fewer than ``limit`` members still count. Redis's own clock
(``TIME``) is used, so the replicas' clocks need not agree. While Redis cannot be reached, each replica
falls back to its in-process limit: the gateway keeps answering, and that is the one time the sum of the
replicas may pass the limit.
"""

from __future__ import annotations

import asyncio
import secrets

from graph.cache import RedisStore
from graph.calls import Next, SourceCall, SourceResponse, Stage

ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], math.ceil((tonumber(ARGV[3]) + 1) * 1000))
  return '0'
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(tonumber(first[2]) - now)
"""
RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[1], 'XX', now + 1, ARGV[1])
return 1
"""
MAX_WAIT_S = 0.25  # ask again at least this often: places free up as other replicas' answers come in


class SharedRateLimit:
    def __init__(self, store: RedisStore, source: str, limit: int, hold_s: float, fallback: Stage) -> None:
        self.store, self.key, self.limit, self.hold_s = store, f"rate:{source}", max(1, limit), hold_s
        self.fallback = fallback

    async def __call__(self, call: SourceCall, next: Next) -> SourceResponse:
        member = secrets.token_hex(8)
        while True:
            wait = await self.store.run(ACQUIRE, [self.key], [self.limit, member, self.hold_s])
            if wait is None:  # Redis away: this replica's own limit, until it is back
                return await self.fallback(call, next)
            seconds = float(wait.decode() if isinstance(wait, bytes) else wait)
            if seconds <= 0:
                break
            await asyncio.sleep(min(max(seconds, 0.005), MAX_WAIT_S))
        try:
            return await next(call)
        finally:
            await self.store.run(RELEASE, [self.key], [member])
