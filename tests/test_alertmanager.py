"""A real Prometheus Alertmanager (Debian package ``prometheus-alertmanager``, installed by ``.ci/run``) with a
webhook receiver pointing at alertbus: ``amtool alert add`` opens an alert in alertbus, and adding it again
with an end in the past resolves it, which closes the alert."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from services.embedded import free_port

from .support import ADMIN_KEY, Stack, eventually, unique

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
AMTOOL = shutil.which("amtool")
# CI installs the package (.ci/run), so there a missing binary is a failure, not a skip.
pytestmark = pytest.mark.skipif(
    not (ALERTMANAGER and AMTOOL) and not os.environ.get("CI"),
    reason="needs prometheus-alertmanager and amtool (apt-get install prometheus-alertmanager)",
)

CONFIG = """\
route:
  receiver: alertbus
  group_by: [alertname, instance]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: alertbus
    webhook_configs:
      - url: "{url}"
        send_resolved: true
"""


async def _ready(url: str, process: asyncio.subprocess.Process, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            if process.returncode is not None:
                raise RuntimeError(f"alertmanager exited with code {process.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{url}/-/ready") as resp:
                    if resp.status == 200:
                        return
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"alertmanager at {url} was not ready within {timeout:.0f}s")
            await asyncio.sleep(0.1)


@pytest_asyncio.fixture(scope="module")
async def alertmanager_url(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    assert ALERTMANAGER is not None
    work: Path = tmp_path_factory.mktemp("alertmanager")
    (work / "alertmanager.yml").write_text(CONFIG.format(url=f"{stack.url}/webhooks/prometheus?api-key={ADMIN_KEY}"))
    port = free_port()
    log = (work / "alertmanager.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        ALERTMANAGER, f"--config.file={work / 'alertmanager.yml'}", f"--storage.path={work / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn",
        stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _ready(url, process)
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


async def amtool(url: str, *args: str) -> None:
    assert AMTOOL is not None
    process = await asyncio.create_subprocess_exec(
        AMTOOL, f"--alertmanager.url={url}", "--timeout=10s", *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, output.decode()


async def test_amtool_alert_opens_and_its_end_closes_it(stack: Stack, alertmanager_url: str) -> None:
    instance, name = unique("web"), unique("HighLatency")
    labels = [f"alertname={name}", f"instance={instance}", "severity=critical", "environment=Production",
              "service=web", "team=ops"]
    await amtool(alertmanager_url, "alert", "add", *labels, "--annotation=summary=p99 latency above 2s")

    async def stored(status: str) -> Any:
        doc = await stack.store.alerts.find_one({"resource": instance, "event": name})
        return doc if doc is not None and doc["status"] == status else None

    opened = await eventually(lambda: stored("open"), timeout=20)
    assert (opened["environment"], opened["severity"], opened["service"]) == ("Production", "critical", ["web"])
    assert (opened["origin"], opened["type"], opened["text"]) == (
        "prometheus/alertmanager", "prometheusAlert", "p99 latency above 2s")
    assert "team=ops" in opened["tags"] and opened["attributes"]["externalUrl"].startswith("http")
    assert opened["history"][-1]["user"] == "admin"  # Alertmanager authenticated with ?api-key=

    ended = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await amtool(alertmanager_url, "alert", "add", *labels, f"--end={ended}")
    closed = await eventually(lambda: stored("closed"), timeout=20)
    assert (closed["_id"], closed["severity"], closed["previousSeverity"]) == (opened["_id"], "normal", "critical")
    assert [entry["status"] for entry in closed["history"]][-1] == "closed"
