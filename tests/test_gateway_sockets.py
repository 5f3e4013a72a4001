"""``alertbus run``'s gateway processes each listen on a socket of their own on one port (SO_REUSEPORT), so that
the kernel spreads connections over them: with one shared socket, the process that wakes first took every
connection a client opened at once (services/process.py ``bind_each``)."""

from __future__ import annotations

import socket
from contextlib import AsyncExitStack, ExitStack

import pytest

from services.process import bind_each


async def test_each_process_gets_its_own_socket_on_one_port() -> None:
    async with AsyncExitStack() as stack:
        sets = bind_each(stack, "127.0.0.1", 0, "PORT", 3)
        assert len(sets) == 3
        ports = {sock.getsockname()[1] for group in sets for sock in group}
        assert len(ports) == 1 and ports != {0}
        assert len({sock.fileno() for group in sets for sock in group}) == 3


async def test_connections_opened_at_once_reach_every_socket() -> None:
    async with AsyncExitStack() as stack:
        sets = bind_each(stack, "127.0.0.1", 0, "PORT", 2)
        listeners = [group[0] for group in sets]
        for sock in listeners:
            sock.listen(128)
            sock.setblocking(False)
        port = listeners[0].getsockname()[1]
        with ExitStack() as clients:
            for _ in range(64):
                clients.enter_context(socket.create_connection(("127.0.0.1", port)))
            accepted = []
            for sock in listeners:
                count = 0
                while True:
                    try:
                        conn, _ = sock.accept()
                    except BlockingIOError:
                        break
                    conn.close()
                    count += 1
                accepted.append(count)
        assert sum(accepted) == 64
        assert min(accepted) > 0, accepted  # all 64 on one socket by chance: 2 ** -63


async def test_one_process_binds_plainly() -> None:
    async with AsyncExitStack() as stack:
        (only,) = bind_each(stack, "127.0.0.1", 0, "PORT", 1)
        assert only[0].getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 0


async def test_a_port_taken_by_another_program_is_one_clear_error() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        async with AsyncExitStack() as stack:
            with pytest.raises(RuntimeError, match="already in use"):
                bind_each(stack, "127.0.0.1", other.getsockname()[1], "PORT", 2)
