"""Where the CPU went during a phase: per process (from /proc/<pid>/stat) and for the whole machine.

On a 2-core machine the client, the services, the store and the broker all compete for the same cores, so
a throughput number means little without knowing which process was saturated.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def machine_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of all cores since boot."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values) - idle) / TICK, sum(values) / TICK


def broker_pids() -> dict[str, int]:
    """The local RabbitMQ (beam.smp), if visible: it is part of alertbus' cost."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "beam.smp":
                    found["rabbitmq"] = int(entry.name)
            except OSError:
                continue
    return found


async def background_share(seconds: float = 2.0) -> float:
    """The machine's busy share of all cores before the bench starts anything: other work on the machine
    skews every number, so the report shows it."""
    busy, total = machine_seconds()
    await asyncio.sleep(seconds)
    busy2, total2 = machine_seconds()
    return round((busy2 - busy) / (total2 - total), 2) if total2 > total else 0.0


class Sampler:
    """``start()`` before a phase, ``stop(seconds)`` after: CPU use as a share of one core per process,
    and the machine's busy share of all cores."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.before: dict[str, float] = {}
        self.machine = (0.0, 0.0)

    def start(self) -> None:
        self.before = {name: s for name, pid in self.pids.items() if (s := process_seconds(pid)) is not None}
        self.machine = machine_seconds()

    def stop(self, seconds: float) -> dict[str, float]:
        shares: dict[str, float] = {}
        for name, before in self.before.items():
            after = process_seconds(self.pids[name])
            if after is not None and seconds > 0:
                shares[name] = round((after - before) / seconds, 2)
        busy, total = machine_seconds()
        if total > self.machine[1]:
            shares["machine (all cores)"] = round((busy - self.machine[0]) / (total - self.machine[1]), 2)
        return shares
