"""Cancelling tasks so that they stop.

In Python 3.11 ``asyncio.wait_for`` returns the awaited result when a cancel lands in the same loop iteration
as that result (fixed in 3.12): the cancel is lost. PyMongo waits for server selection that way, and with the
store down its topology wakes that wait at every failed check, so a task cancelled there can carry on as if it
had never been cancelled (an ingest worker told to stop during a store outage kept its scheduler running until
it was killed: chaos fault 2). A stopper therefore cancels again until its tasks have ended, within a bound.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("alertbus.tasks")
REPEAT = 0.5  # seconds between repeated cancels


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], *, patience: float = 3.0,
                          grace: float = 10.0) -> set[asyncio.Task[Any]]:
    """Cancel ``tasks`` and wait until they end. Those still running after ``patience`` seconds (time enough for
    the cleanup of a ``finally`` block) are cancelled again every half second; returns those still running after
    ``grace`` seconds, which are left behind with a warning."""
    pending = {task for task in tasks if not task.done()}
    if not pending:
        return set()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    for task in pending:
        task.cancel()
    _, pending = await asyncio.wait(pending, timeout=min(patience, grace))
    while pending and loop.time() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(REPEAT, max(0.0, deadline - loop.time())))
    if pending:
        log.warning("%d tasks still running %.0fs after they were cancelled: %s", len(pending), grace,
                    ", ".join(sorted(task.get_name() for task in pending)))
    return pending
