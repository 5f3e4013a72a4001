"""A child of ``alertbus run`` that does not stop on SIGTERM: before it is killed, it says where it waits — its
asyncio tasks (SIGUSR1) and, even with its event loop blocked, its threads' stacks (SIGUSR2). Real processes."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import pytest

from services import supervisor
from services.supervisor import Child, Supervisor

ROOT = Path(__file__).parent.parent

# A service that installs the signal handlers every service installs, says it is up, and then never stops: its
# loop either blocked in a call (``blocked``) or awaiting what never comes (``waiting``).
CHILD = textwrap.dedent("""
    import asyncio, contextlib, logging, sys, time
    from services.process import wait_for_signal

    async def never_answers():
        await asyncio.Event().wait()

    @contextlib.asynccontextmanager
    async def cleanup_that_hangs():
        yield
        await never_answers()

    async def main(mode):
        wait_for_signal()
        task = asyncio.create_task(never_answers(), name="stuck-task")
        print("up", flush=True)
        if mode == "blocked":
            time.sleep(3600)
        if mode == "cleanup":
            async with cleanup_that_hangs():
                pass
        await task

    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(sys.argv[1]))
""")


async def stuck_child(mode: str, stderr: Path) -> asyncio.subprocess.Process:
    with stderr.open("wb") as err:
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD, mode, cwd=ROOT,
                                                       stdout=asyncio.subprocess.PIPE, stderr=err)
    assert process.stdout is not None
    assert await asyncio.wait_for(process.stdout.readline(), 30) == b"up\n"
    return process


@pytest.mark.parametrize(("mode", "where"), [
    ("waiting", "stuck-task: <string>:6 never_answers"),  # the task dump (SIGUSR1)
    ("blocked", 'File "<string>", line 18 in main'),  # the thread stacks (SIGUSR2), the loop blocked
    # Inside an async context manager's exit, as in an aiohttp cleanup context: on into its generator's frames.
    ("cleanup", "__aexit__ > <string>:11 cleanup_that_hangs > <string>:6 never_answers"),
])
def test_a_child_that_does_not_stop_says_where_it_waits_then_is_killed(
        mode: str, where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(supervisor, "STOP_GRACE", 0.5)
    stderr = tmp_path / "stderr"

    async def scenario() -> int:
        child = Child("ingest", "ingest", process=await stuck_child(mode, stderr))
        runner = Supervisor({}, asyncio.Event(), str(tmp_path))
        runner.children = [child]
        await runner.stop_all()
        assert child.process is not None
        return await child.process.wait()

    assert asyncio.run(scenario()) == -9
    assert "the ingest process did not stop within 0s; where it waits, then killed" in caplog.text
    assert where in stderr.read_text(), stderr.read_text()
