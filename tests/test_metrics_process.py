"""Every service's ``/metrics`` serves the standard process metrics of its own process (CPU seconds, resident
memory, open file descriptors), as Prometheus scrapes them: the gateway, the query service and an ingest worker's
ops port, each a separate ``alertbus <service>`` process (tests/support/processes.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from .support.metrics import Samples, scrape
from .support.processes import ProcessStack

PROCESS_METRICS = ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
                   "process_start_time_seconds")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process metrics read /proc")


@pytest_asyncio.fixture(scope="module")
async def processes() -> AsyncIterator[ProcessStack]:
    stack = ProcessStack("test", workers=1)
    try:
        await stack.start(timeout=90.0, one_worker_at_a_time=True)  # also until the worker's port listens
        yield stack
    finally:
        stack.stop(grace=15.0)
        await stack.delete_topology()


def started_at(pid: int) -> float:
    """When ``pid`` started, in seconds since the epoch, as /proc says (what ProcessCollector reports)."""
    boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                if line.startswith("btime "))
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return boot + float(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime, in clock ticks


async def test_every_service_serves_its_own_process_metrics(processes: ProcessStack) -> None:
    settings = processes.settings
    worker = processes.worker_names[0]
    urls = {"gateway": f"{processes.url}/metrics",
            "query": f"http://127.0.0.1:{settings.query.port}/metrics",  # open to the scraper: no service secret
            worker: f"http://127.0.0.1:{processes.services[worker].env['INGEST_PORT']}/metrics"}
    pids = processes.pids()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        for name, url in urls.items():
            samples: Samples = await scrape(session, url)
            missing = [metric for metric in PROCESS_METRICS if (metric, ()) not in samples]
            assert not missing, (name, missing)
            values = {metric: samples[(metric, ())] for metric in PROCESS_METRICS}
            assert values["process_cpu_seconds_total"] > 0 and values["process_open_fds"] > 2, (name, values)
            assert values["process_resident_memory_bytes"] > 10 * 2**20, (name, values)  # a Python service
            # The process behind the port is the service's own, not the test's nor another service's.
            assert values["process_start_time_seconds"] == pytest.approx(started_at(pids[name]), abs=0.05), name
            assert any(key[0] == "python_info" for key in samples), name
            assert any(key[0].startswith("alertbus_") for key in samples), name
