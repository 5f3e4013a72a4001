"""Running the real ``alerta`` command-line client (PyPI ``alerta`` 8.5.3) against the test stack (its
environment is the ``cli_env`` fixture of conftest.py)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ALERTA = str(Path(sys.executable).with_name("alerta"))


async def alerta(env: dict[str, str], *args: str) -> str:
    """Run the client without blocking the event loop that serves it; stdin is /dev/null (see README)."""
    proc = await asyncio.create_subprocess_exec(
        ALERTA, *args, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, f"alerta {' '.join(args)} failed: {err.decode()}{out.decode()}"
    return out.decode()
