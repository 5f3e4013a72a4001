"""Nothing accepted is lost: one test per fault, each on its own stack of separate processes under load.

The faults: kill -9 of a worker mid-batch; a store outage; broker connections closed and the gateway killed; a
SIGTERM of every service; and a full restart of the RabbitMQ node — a private node (tests/support/rabbit_node.py),
never the shared one, stopped and started again on its data.

After each fault the test waits for the queues to drain and checks, alert by alert, that every request answered
201 or 202 is in the store and counted once (``verify.py``), that no alert exists twice, and that the dead-letter
queue is empty. The numbers go to the chaos report printed at the end of the session.
"""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from ..support.alerts import eventually
from ..support.processes import STOP_GRACE
from .harness import BOUND, ChaosStack, close_our_connections, shard_consumers
from .scenario import Scenario, check
from .verify import Verdict

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(300)]
STORE_DOWN = 20.0  # seconds
FLOOD_OUTAGE = 60.0  # seconds
FLOOD_RATE = 250.0  # requests a second, all asking for 202
BROKER_DOWN = 10.0  # seconds the RabbitMQ node stays stopped: the services' reconnection attempts fail meanwhile
THAW = 0.05  # seconds the frozen store runs before the kill: the batches' reads pass, their writes wait


async def busiest_worker(stack: ChaosStack) -> str:
    """The worker that has applied the most batches: each applies only the shards it holds, so its death takes
    the most work in hand with it."""
    batches = {name: await stack.metric("alertbus_ingest_batch_size_count", name) for name in stack.worker_names}
    return max(batches, key=lambda name: batches[name])


async def test_kill_9_of_a_worker_mid_batch_loses_nothing(chaos_stack: ChaosStack, verdicts: list[Verdict]) -> None:
    scenario = Scenario(chaos_stack, "1. kill -9 of an ingest worker mid-batch", "kill9")
    await scenario.start()
    victim = await busiest_worker(chaos_stack)
    # Mid-batch for sure: with the store frozen, the worker's batches wait on it, holding their deliveries. A
    # short thaw lets the reads of those batches through, so that their bulk writes reach the store and wait
    # there. The worker dies; the store resumes and completes the writes — applied, never acknowledged: their
    # redelivery must be recognised, not counted again.
    chaos_stack.pause("store")
    await asyncio.sleep(1.0)
    chaos_stack.resume("store")
    await asyncio.sleep(THAW)
    chaos_stack.pause("store")
    await asyncio.sleep(0.3)
    injected = time.monotonic()
    await chaos_stack.signal_and_wait(victim, signal.SIGKILL)
    chaos_stack.resume("store")
    await scenario.recovered("the other worker took over its shards", injected)
    others = [name for name in chaos_stack.worker_names if name != victim]
    recognised = sum([await chaos_stack.metric("alertbus_messages_redelivered_skipped_total", name)
                      for name in others])
    scenario.notes.append(f"{victim} killed while its batches waited on the frozen store; the other worker "
                          f"recognised {recognised:.0f} redelivered messages as applied already (written, not acked)")
    chaos_stack.restart(victim)
    await chaos_stack.wait_until_ready()
    verdict = await scenario.finish()
    verdicts.append(verdict)
    check(verdict)


async def test_store_outage_of_20_seconds_loses_nothing(chaos_stack: ChaosStack, verdicts: list[Verdict]) -> None:
    scenario = Scenario(chaos_stack, f"2. store stopped {STORE_DOWN:.0f}s, restarted on its data", "store")
    await scenario.start()
    injected = time.monotonic()
    await chaos_stack.signal_and_wait("store", signal.SIGTERM)
    # A graceful stop while the store is down must not wait on it: the batch in hand goes back to the broker.
    await asyncio.sleep(STORE_DOWN / 3)
    victim = await busiest_worker(chaos_stack)
    took = await chaos_stack.signal_and_wait(victim, signal.SIGTERM)
    code = chaos_stack.services[victim].exits[-1][1]
    stopping_log = chaos_stack.log_tail(victim, 30)
    scenario.notes.append(f"{victim} stopped on SIGTERM in {took:.1f}s (exit code {code}) while the store was down")
    await asyncio.sleep(max(0.0, injected + STORE_DOWN - time.monotonic()))
    chaos_stack.restart("store")
    await chaos_stack.wait_for_port(chaos_stack.store_port, 60)
    chaos_stack.restart(victim)
    await scenario.recovered("store back", injected)
    verdict = await scenario.finish()
    verdicts.append(verdict)
    check(verdict)
    assert code == 0 and took < 12, (f"graceful stop with the store down: exit {code} after {took:.1f}s; its log:\n"
                                     f"{stopping_log}")


async def test_broker_connections_closed_and_gateway_restart_lose_nothing(
    chaos_stack: ChaosStack, verdicts: list[Verdict]
) -> None:
    scenario = Scenario(chaos_stack, "3. broker connections closed; gateway killed", "broker")
    await scenario.start()
    closed = await close_our_connections(chaos_stack.prefix)
    injected = time.monotonic()
    scenario.notes.append(f"closed from the broker side: {len(closed)} connections")
    assert len(closed) >= 1 + chaos_stack.workers
    await scenario.recovered("broker connections closed", injected)
    injected = time.monotonic()
    await chaos_stack.signal_and_wait("gateway", signal.SIGKILL)
    chaos_stack.restart("gateway")
    await scenario.recovered("gateway killed and restarted", injected)
    verdict = await scenario.finish()
    verdicts.append(verdict)
    check(verdict)


async def test_sigterm_of_every_service_under_load_loses_nothing(
    chaos_stack: ChaosStack, verdicts: list[Verdict]
) -> None:
    scenario = Scenario(chaos_stack, "4. SIGTERM of every service, restart", "sigterm")
    await scenario.start()
    injected = time.monotonic()
    stops = await chaos_stack.stop_all(signal.SIGTERM)
    scenario.notes.append("stopped: " + ", ".join(f"{name} {took:.1f}s (exit {code})"
                                                   for name, (code, took) in stops.items()))
    chaos_stack.restart("query", *chaos_stack.worker_names, "gateway")
    await scenario.recovered("every service restarted", injected)
    verdict = await scenario.finish()
    verdicts.append(verdict)
    check(verdict)
    assert all(code == 0 and took < STOP_GRACE for code, took in stops.values()), stops


@pytest.mark.timeout(600)  # its own stack, a minute of outage, then a backlog of a thousand to store: slow machines
async def test_a_flood_through_a_60_second_store_outage_is_bounded_and_loses_nothing(
    bounded_stack: ChaosStack, verdicts: list[Verdict]
) -> None:
    """A flood of 202 writes, bigger than MAX_BACKLOG, while the store is down for a minute: the gateway accepts
    until the backlog reaches the bound, then refuses at once (503 + Retry-After) instead of letting the queues
    grow until RabbitMQ blocks every publisher; what it accepted is stored once the store is back."""
    scenario = Scenario(bounded_stack, f"5. flood, store down {FLOOD_OUTAGE:.0f}s, MAX_BACKLOG {BOUND}", "flood",
                        rate=FLOOD_RATE, concurrency=64, async_share=1.0)
    await scenario.start()
    injected = time.monotonic()
    await bounded_stack.signal_and_wait("store", signal.SIGTERM)
    await asyncio.sleep(FLOOD_OUTAGE)
    during = scenario.recorder.tally(since=injected)
    health = await bounded_stack.get_status("/management/healthcheck")
    bounded_stack.restart("store")
    await bounded_stack.wait_for_port(bounded_stack.store_port, 60)
    await scenario.recovered("store back after the flood", injected)
    verdict = await scenario.finish()
    scenario_note = (f"during the outage: {during['sent']} sent, {during['accepted']} accepted, {during['refused']} "
                     f"refused (503); the health check answered {health}")
    verdict.notes.append(scenario_note)
    verdicts.append(verdict)
    check(verdict)
    assert during["sent"] > 3 * BOUND, f"not a flood: {scenario_note}"
    assert during["refused"] > 0 and during["accepted"] < during["sent"] / 2, scenario_note
    assert health in (200, 503), f"the health check must answer while writes are refused: {health}"


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
async def test_restart_of_the_rabbitmq_node_under_load_loses_nothing(
    chaos_stack_on_own_node: ChaosStack, verdicts: list[Verdict], how: signal.Signals
) -> None:
    stack = chaos_stack_on_own_node
    node = stack.broker
    assert node is not None
    label, stop = ("SIGTERM", "stopped (SIGTERM)") if how == signal.SIGTERM else ("kill -9", "killed (kill -9)")
    scenario = Scenario(stack, f"6. RabbitMQ node {label}, restarted on data", f"rabbit-{how.name.lower()}")
    await scenario.start()
    injected = time.monotonic()
    # SIGTERM: a graceful stop, as an operator's restart does (rabbitmq-server stops the node). SIGKILL: the node
    # crashes. Either way every connection goes, deliveries not acknowledged return to their quorum queues, and
    # the node starts again on the data directory it keeps them in.
    stopped = await node.stop(how)
    await asyncio.sleep(max(0.0, injected + BROKER_DOWN - time.monotonic()))
    booted = await node.start()
    scenario.notes.append(f"node {node.name} {stop} in {stopped:.1f}s, started again on its data after "
                          f"{BROKER_DOWN:.0f}s: booted in {booted:.1f}s (listening {node.listening - injected:.1f}s "
                          f"after the fault)")
    await scenario.recovered("RabbitMQ node restarted", injected)
    back = time.monotonic()
    # The services came back on their own: the gateway answers 201 (the worker's reply reached its reply queue,
    # declared again on the new connection), and every shard has a consumer again, taken by both workers.
    await eventually(lambda: _answered_201_since(scenario, back), timeout=30)
    held = await eventually(lambda: _shared_again(stack), timeout=30)
    scenario.notes.append(f"after the restart every shard has a consumer again; shards per worker {held}")
    verdict = await scenario.finish()
    verdicts.append(verdict)
    check(verdict)


async def _answered_201_since(scenario: Scenario, since: float) -> bool | None:
    return any(r.sent >= since and r.status == 201 for r in scenario.recorder.requests) or None


async def _shared_again(stack: ChaosStack) -> dict[str, float] | None:
    """Each shard consumed (as the broker sees it), every worker holding some, and the workers' own counts
    adding up: the shards per worker, or None."""
    consumers = await shard_consumers(stack.prefix, stack.amqp_url)
    held = {name: await stack.metric("alertbus_ingest_shards", name) for name in stack.worker_names}
    shared = all(n == 1 for n in consumers) and all(held.values()) and sum(held.values()) == len(consumers)
    return held if shared else None
