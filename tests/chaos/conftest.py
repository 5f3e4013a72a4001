"""Fault injection: each test gets its own stack of separate processes (``harness.ChaosStack``, built by
tests/support/processes.py) against the real RabbitMQ and a real SecantusDB process, removed again after the
test (processes, temp directory, and the broker's queues and exchanges under the run's prefix). The report of
every fault is printed at the end of the session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from .harness import BOUND, ChaosStack
from .verify import Verdict, report

VERDICTS: list[Verdict] = []


@pytest_asyncio.fixture
async def chaos_stack() -> AsyncIterator[ChaosStack]:
    stack = ChaosStack()
    try:
        await stack.start()
        yield stack
    finally:
        await stack.close()


@pytest_asyncio.fixture
async def bounded_stack() -> AsyncIterator[ChaosStack]:
    """A chaos stack whose gateway bounds the ingest backlog at ``BOUND`` messages (MAX_BACKLOG)."""
    stack = ChaosStack(MAX_BACKLOG=str(BOUND))
    try:
        await stack.start()
        yield stack
    finally:
        await stack.close()


@pytest.fixture
def verdicts() -> list[Verdict]:
    return VERDICTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if VERDICTS:
        terminalreporter.section("chaos report")
        terminalreporter.write_line(report(VERDICTS))
