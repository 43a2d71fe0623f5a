"""A source's circuit shared by every replica on one Redis: when one replica finds a source failing and opens
its circuit, the others stop calling it too, and one probe, by whichever replica asks first, finds out for all
of them whether it is back.

Each replica still counts failures on its own (``graph.resilience.CircuitBreaker``); what it shares are the
transitions. Two keys per source in the cache store (``graph.cache.RedisStore``):

- ``breaker:<source>``: present while the circuit is open; it expires ``breaker_open_s`` after the replica
  that opened it wrote it, on Redis's clock, so the replicas' clocks need not agree;
- ``breaker:<source>:probe``: ``probing`` while one replica's probe is out (it expires after the call's total
  time limit, in case that replica dies mid-call), then ``closed`` for ``breaker_open_s`` once a probe has
  succeeded, so a replica that finds its own pause over learns the source is back without probing again.

Why not read Redis on every call: a closed circuit is the normal case, and a Redis round trip per source call
would cost every call for the rare moment another replica opens a circuit. So a closed breaker reads the
shared state at most once per ``breaker_sync_s`` (default 1 s) per source, and writes only when it opens or
closes the circuit. Meanwhile a replica may send a few more calls to a source another replica already gave up
on; those fail as they would have, and count towards its own threshold. An open breaker asks Redis only when
its own pause is over (is it still open elsewhere, is someone probing, did a probe succeed), and at most
once per ``breaker_sync_s`` while another replica's probe is out.

While Redis cannot be reached (``RedisStore.run`` answers None at once), each replica is its own breaker,
exactly as without Redis, and shares again when the store finds the server back.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence

from graph.cache import RedisStore
from graph.calls import Stage
from graph.config import SourceConfig, declare_source_keys
from graph.resilience import Change, CircuitBreaker, CircuitOpen, call_time_limits

log = logging.getLogger("gemeentegraaf.resilience")

SYNC_S = 1.0

LOOK = "return redis.call('PTTL', KEYS[1])"  # ms the circuit stays open; negative: closed

OPEN = """
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('DEL', KEYS[2])
return 1
"""
CLOSE = """
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], 'closed', 'PX', ARGV[1])
return 1
"""
# A replica whose own pause is over: > 0 ms still open (reopened elsewhere), 0 closed by another's probe,
# -1 another replica's probe is out, -2 this call is the probe.
HALF_OPEN = """
local open = redis.call('PTTL', KEYS[1])
if open > 0 then return open end
local probe = redis.call('GET', KEYS[2])
if probe == 'closed' then return 0 end
if probe then return -1 end
redis.call('SET', KEYS[2], 'probing', 'PX', ARGV[1])
return -2
"""


class SharedCircuitBreaker(CircuitBreaker):
    """``CircuitBreaker`` whose open and closed transitions every replica on the same Redis follows."""

    def __init__(
        self,
        store: RedisStore,
        source: str,
        failures: int,
        open_s: float,
        probe_s: float,
        sync_s: float = SYNC_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(source, failures, open_s, clock)
        self.store, self.sync_s = store, sync_s
        self._keys = [f"breaker:{source}", f"breaker:{source}:probe"]
        self._open_ms, self._probe_ms = _ms(open_s), _ms(probe_s)
        self._looked = -math.inf  # when a closed breaker last read the shared state

    @classmethod
    def sharing(cls, breaker: CircuitBreaker, store: RedisStore, config: SourceConfig) -> SharedCircuitBreaker:
        """The shared form of a source's configured breaker; a probe holds its turn for the call's total time."""
        probe_s = call_time_limits(config)[1] + 1.0
        return cls(store, breaker.source, breaker.threshold, breaker.open_s, probe_s,
                   config.number("breaker_sync_s", SYNC_S))

    async def _enter(self) -> bool:
        now = self._clock()
        if self._open_until is None:
            if now - self._looked >= self.sync_s:
                self._looked = now
                remaining = await self.store.run(LOOK, self._keys, [])
                if isinstance(remaining, int) and remaining > 0 and self._open_until is None:
                    log.warning("source %s: another replica paused calls to it", self.source)
                    self._open_until = self._clock() + remaining / 1000
            return self._admit()
        if self._probing or now < self._open_until:
            raise CircuitOpen(self.source)
        answer = await self.store.run(HALF_OPEN, self._keys, [self._probe_ms])
        if not isinstance(answer, int):  # Redis away: this replica decides alone, as without Redis
            return self._admit()
        if answer == -2:
            self._probing = True
            return True
        if answer == 0:
            log.warning("source %s answers again (another replica's probe): circuit closed", self.source)
            self._failures, self._open_until = 0, None
            return False
        # still open elsewhere, or another replica's probe is out: ask again when that may have changed
        self._open_until = self._clock() + (answer / 1000 if answer > 0 else self.sync_s)
        raise CircuitOpen(self.source)

    async def _changed(self, change: Change) -> None:
        await self.store.run(OPEN if change == "opened" else CLOSE, self._keys, [self._open_ms])


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def shared_breakers(stages: Sequence[Stage], store: RedisStore, config: SourceConfig) -> list[Stage]:
    """The stages with a source's breaker, if chosen, shared through ``store``."""
    return [SharedCircuitBreaker.sharing(s, store, config) if isinstance(s, CircuitBreaker) else s for s in stages]


declare_source_keys(breaker_sync_s="number")
