"""The store a store-level benchmark runs on: the one at ``--database-url``, or an embedded SecantusDB of its own in
``directory`` (removed afterwards unless ``keep``)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from services.embedded import EmbeddedStore


@asynccontextmanager
async def bench_store(database_url: str | None, directory: Path, *, keep: bool = False) -> AsyncIterator[str]:
    """Yields the store's MongoDB URI."""
    embedded = None
    try:
        if database_url:
            yield database_url
            return
        directory.mkdir(parents=True, exist_ok=True)
        embedded = EmbeddedStore(str(directory))
        url = await embedded.start(timeout=600)  # reopening a large store takes a while
        # SecantusDB: while it runs a long read (tens of seconds at a million alerts) it answers PyMongo's streaming
        # heartbeat late; PyMongo then marks it unknown and cancels the read. Polling heartbeats are answered in time.
        url += "&serverMonitoringMode=poll"
        print(f"SecantusDB at {url} (data in {directory})")
        yield url
    finally:
        if embedded is not None:
            embedded.stop()
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)
