"""The worker's memory of messages whose batch journalled its counter updates and then failed (groups.py)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable


class Attempted:
    """Receive ids of messages whose batch journalled its counter updates but then failed before its alert
    write was known to land (the store went away). The worker retries such a batch itself, with the same
    messages; a retry that applies one of them again leaves a redelivery marker, exactly as a broker
    redelivery does, so that recovery does not mistake the retry's write for the failed attempt's
    (shared/store/counters.py). The worker's memory about messages in hand (its ``Processor`` holds one and
    passes it to ``apply_groups``), bounded: a batch is retried within seconds or given back to the broker (and
    then redelivered, which says the same)."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self.ids: OrderedDict[str, None] = OrderedDict()

    def add(self, ids: Iterable[str]) -> None:
        for ident in ids:
            self.ids[ident] = None
        while len(self.ids) > self.LIMIT:
            self.ids.popitem(last=False)

    def __contains__(self, ident: str) -> bool:
        return ident in self.ids
