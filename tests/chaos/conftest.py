"""Fault injection: each test gets its own stack of separate processes (``harness.ChaosStack``, built by
tests/support/processes.py) against the real RabbitMQ and a real SecantusDB process, removed again after the
test (processes, temp directory, and the broker's queues and exchanges under the run's prefix). A test that
restarts the broker itself gets its stack on a private RabbitMQ node (``chaos_stack_on_own_node``,
tests/support/rabbit_node.py), killed and removed with its data after the test, whatever its outcome. The
report of every fault is printed at the end of the session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import pytest_asyncio

from ..support.rabbit_node import RabbitNode
from .harness import BOUND, ChaosStack
from .verify import Verdict, report

VERDICTS: list[Verdict] = []


@asynccontextmanager
async def running(stack: ChaosStack) -> AsyncIterator[ChaosStack]:
    """``stack`` started; closed afterwards whatever happens (processes, temporary files, queues)."""
    try:
        await stack.start()
        yield stack
    finally:
        await stack.close()


@pytest_asyncio.fixture
async def chaos_stack() -> AsyncIterator[ChaosStack]:
    stack = ChaosStack()
    async with running(stack):
        yield stack


@pytest_asyncio.fixture
async def bounded_stack() -> AsyncIterator[ChaosStack]:
    """A chaos stack whose gateway bounds the ingest backlog at ``BOUND`` messages (MAX_BACKLOG)."""
    stack = ChaosStack(MAX_BACKLOG=str(BOUND))
    async with running(stack):
        yield stack


@pytest_asyncio.fixture
async def rabbit_node() -> AsyncIterator[RabbitNode]:
    node = RabbitNode("chaos")
    try:
        await node.start()
        yield node
    finally:
        node.close()


@pytest_asyncio.fixture
async def chaos_stack_on_own_node(rabbit_node: RabbitNode) -> AsyncIterator[ChaosStack]:
    """A ``chaos_stack`` whose services talk to ``rabbit_node`` (its ``broker``), which the test may stop."""
    stack = ChaosStack(broker=rabbit_node)
    async with running(stack):
        yield stack


@pytest.fixture
def verdicts() -> list[Verdict]:
    return VERDICTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if VERDICTS:
        terminalreporter.section("chaos report")
        terminalreporter.write_line(report(VERDICTS))
