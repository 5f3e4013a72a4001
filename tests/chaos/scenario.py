"""One fault-injection run: load before, during and after the fault; recovery timed; then drain and verify."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .harness import ChaosStack
from .load import Load, Recorder
from .verify import Verdict, verify, wait_empty, wait_stored

WARMUP = 6.0  # seconds of load before the fault
SETTLE = 4.0  # seconds of load after recovery
RECOVERY_TIMEOUT = 120.0


class Scenario:
    def __init__(self, stack: ChaosStack, fault: str, slug: str, **load: Any) -> None:
        """``load``: the ``Load``'s rate, concurrency and shares, when not its defaults."""
        self.stack, self.fault = stack, fault
        self.recorder = Recorder(run=f"{stack.prefix}{slug}")
        self.load = Load(stack.url, stack.write_key, self.recorder, **load)
        self.recovery: list[str] = []
        self.notes: list[str] = []

    async def start(self) -> None:
        self.load.start()
        await asyncio.sleep(WARMUP)
        assert self.recorder.tally()["accepted"] > 0, f"no request accepted before the fault\n{self.stack.logs()}"

    async def recovered(self, phase: str, injected: float) -> None:
        """Wait until the gateway answers 2xx again — a request accepted, sent after the last one the fault made
        fail, and no failure for a second — and then until every request accepted so far is applied (the backlog
        the fault left is gone). Both times are counted from the injection."""
        deadline = injected + RECOVERY_TIMEOUT
        while True:
            answered = self._answered_again(injected)
            if answered is not None:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{phase}: no 2xx within {RECOVERY_TIMEOUT:.0f}s\n{self.stack.logs()}")
            await asyncio.sleep(0.1)
        try:
            await wait_stored(self.stack.database_url, self.recorder, timeout=max(5.0, deadline - time.monotonic()))
        except AssertionError as exc:  # the verdict counts what is missing
            self.recovery.append(f"{phase}: 2xx after {answered:.1f}s, backlog NOT applied: {exc}")
            return
        self.recovery.append(f"{phase}: 2xx after {answered:.1f}s, backlog applied after "
                             f"{time.monotonic() - injected:.1f}s")

    def _answered_again(self, injected: float) -> float | None:
        now = time.monotonic()
        requests = [r for r in self.recorder.requests if r.sent >= injected]
        failed = [r for r in requests if r.done and r.outcome != "accepted"]
        last_failure = max((r.sent for r in failed), default=injected)
        if now - max((r.done for r in failed), default=injected) < 1.0:
            return None
        accepted = [r.done for r in requests if r.sent >= last_failure and r.outcome == "accepted" and r.done]
        return min(accepted) - injected if accepted else None

    async def finish(self) -> Verdict:
        await asyncio.sleep(SETTLE)
        await self.load.stop()
        try:
            await wait_stored(self.stack.database_url, self.recorder)
            await wait_empty(self.stack.prefix, self.stack.amqp_url)
        except AssertionError as exc:  # the verdict counts what is missing
            self.notes.append(f"not drained: {exc}")
        verdict = await verify(self.fault, self.recorder, self.stack.database_url, self.stack.prefix,
                               self.stack.amqp_url)
        verdict.recover = self.recovery
        verdict.notes += self.notes
        verdict.redelivered_skipped = sum([
            await self.stack.metric("alertbus_messages_redelivered_skipped_total", name)
            for name in self.stack.worker_names
        ])
        crashed = self.stack.exited()
        if crashed:
            verdict.problems.append(f"services exited on their own: {crashed}")
        return verdict


def check(verdict: Verdict) -> None:
    """What every fault must show: nothing accepted lost or counted twice, no second document, no dead letter,
    no 4xx/500, and no hang (a client timeout)."""
    hung = sum(1 for note in verdict.notes if "TimeoutError" in note)
    assert verdict.accepted > 0
    assert verdict.lost == 0, verdict.problems[:20]
    assert verdict.duplicated_docs == 0
    assert verdict.miscounted == 0, verdict.problems[:20]
    assert verdict.dead_letters == 0
    assert verdict.errors == 0, verdict.problems[:20]
    assert hung == 0, verdict.notes
    assert not verdict.problems, verdict.problems[:20]
