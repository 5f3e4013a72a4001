"""How the tests, the benchmark and the fault-injection tests build and take down alertbus stacks, and the
factories the tests share. Nothing here is collected as a test.

* ``namespace`` — a stack's own broker prefix, database, keys and ports on the shared RabbitMQ and store server
  (``Namespace``, ``make_settings``, ``other_database``), and deleting its queues and exchanges
  (``delete_topology``);
* ``stack`` — the services in the test process from their factories (``start_stack`` → ``Stack``; ``serve``,
  ``serving``; a database of one's own, ``own_store``; the session's, ``session_database``);
* ``processes`` — the services as separate OS processes, as in production (``ProcessStack``: bench, chaos);
* ``rabbit_node`` — a private RabbitMQ node on ports and data of its own (``RabbitNode``), for tests that stop
  or restart the broker itself (the shared one never is);
* ``alerts``, ``notes``, ``documents``, ``webhooks``, ``broker``, ``metrics`` — bodies, notes, stored documents,
  webhook payloads, direct AMQP publishing and ``/metrics`` scraping for the tests.

The names most tests need are importable from here.
"""

from .alerts import alert, assert_error, created, eventually, fetch, unique
from .namespace import (
    ADMIN_KEY,
    AMQP_URL,
    SERVICE_SECRET,
    Namespace,
    delete_topology,
    isolated_settings,
    make_settings,
    other_database,
)
from .stack import Stack, own_store, serve, serving, session_database, start_stack

__all__ = [
    "ADMIN_KEY", "AMQP_URL", "SERVICE_SECRET", "Namespace", "Stack", "alert", "assert_error", "created",
    "delete_topology", "eventually", "fetch", "isolated_settings", "make_settings", "other_database", "own_store",
    "serve", "serving", "session_database", "start_stack", "unique",
]
