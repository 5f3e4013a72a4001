"""Failed authentications, throttled per client address: each unknown key costs a store lookup, so a client that
guesses keys (or sends a new random one per request) is slowed down to a trickle instead of loading the store."""

from __future__ import annotations

import time
from collections import OrderedDict

FAILURE_BURST = 20  # failed authentications a client may have at once...
FAILURE_RATE = 1.0  # ...and then this many per second
CLIENTS = 10_000  # addresses remembered, least recently failed dropped first


class FailureThrottle:
    """A token bucket per client address, spent by failed authentications only: a client that authenticates
    with a key the gateway knows is never slowed down."""

    def __init__(self, burst: int = FAILURE_BURST, rate: float = FAILURE_RATE, clients: int = CLIENTS) -> None:
        self.burst, self.rate, self.clients = burst, rate, clients
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address -> (tokens, at)

    def _tokens(self, address: str, now: float) -> float:
        tokens, at = self.buckets.get(address, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - at) * self.rate)

    def retry_after(self, address: str) -> float:
        """Seconds until this client may try an unknown key again (0: now)."""
        if address not in self.buckets:
            return 0.0
        tokens = self._tokens(address, time.monotonic())
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def failed(self, address: str) -> None:
        now = time.monotonic()
        self.buckets[address] = (max(0.0, self._tokens(address, now) - 1.0), now)
        self.buckets.move_to_end(address)
        while len(self.buckets) > self.clients:
            self.buckets.popitem(last=False)
