"""Runs a command (the embedded store) so that it ends with the process that started it, however that one ends
(``kill -9`` included): ``python store_guard.py [--poll] <parent pid> <command> [args…]``. Standard library only:
it runs as a script, before anything of alertbus is imported.

On Linux it asks the kernel to send SIGTERM when the parent goes (``prctl(PR_SET_PDEATHSIG)``; "the parent" is
the thread that started it, so start it from the main thread), checks that the parent is still there (it may have
gone before the request), then becomes the command (exec): nothing stays in between. Where that is not available,
or with ``--poll``, it stays as a small watcher instead: it runs the command, polls every ``POLL_SECONDS`` whether
the parent is gone and then terminates the command; SIGTERM and SIGINT it receives are passed on to the command,
and it exits with the command's code.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from types import FrameType

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL_SECONDS = 0.5
STOP_GRACE = 20.0  # seconds the command may take to stop once its parent is gone


def die_with_parent(parent: int) -> bool:
    """Whether the kernel will send this process SIGTERM when ``parent`` ends (False: not on this system)."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # the parent went before the request: nobody will send the signal
        os._exit(1)
    return True


def watch(parent: int, argv: list[str]) -> int:
    """Run ``argv`` until it exits or ``parent`` is gone (then terminate it); the command's exit code."""
    child = subprocess.Popen(argv, close_fds=False)  # the sockets alertbus run passes on (services/supervisor.py)

    def pass_on(signum: int, _frame: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)
    while child.poll() is None:
        if os.getppid() != parent:  # re-parented: the process that started us is gone
            child.terminate()
            try:
                return child.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                child.kill()
                return child.wait()
        time.sleep(POLL_SECONDS)
    return child.returncode


def main(args: list[str]) -> int:
    poll = bool(args) and args[0] == "--poll"
    if poll:
        args = args[1:]
    parent, argv = int(args[0]), args[1:]
    if not poll and die_with_parent(parent):
        os.execv(argv[0], argv)  # the same process, the same pid: the request survives the exec
    return watch(parent, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
