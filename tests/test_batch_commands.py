"""The store commands one batch of the ingest write path costs (shared/store/batch.py), counted with PyMongo's
command listener on a real SecantusDB: a deterministic regression guard for the round trips of the write path
(what ``python -m bench.commands`` prints), not a timing."""

from __future__ import annotations

from bench.commands import SIZES, measure


async def test_a_batch_costs_one_read_and_one_write_command(store_url: str) -> None:
    rows = await measure(store_url, trusted=False, rounds=1)
    assert [(row["size"], row["kind"]) for row in rows] == [(s, k) for s in SIZES for k in ("new", "duplicate")]
    for row in rows:
        # The group read, then journal + counters + alert writes in one ordered bulkWrite (was 4: find, counters
        # update, alert insert/update, journal delete); duplicates of groups the worker just wrote skip the read.
        expected = {"bulkWrite": 1} if row["kind"] == "duplicate" else {"find": 1, "bulkWrite": 1}
        assert row["by_name"] == expected, row


async def test_a_server_without_bulk_write_costs_three(store_url: str) -> None:
    rows = await measure(store_url, trusted=False, rounds=1, client_bulk=False)
    for row in rows:
        # MongoDB 7: the read (not for known groups), the counters with the journal, the alert writes (one command:
        # all inserts or all replaces); the journal is still never deleted after a batch.
        expected = {"update": 2} if row["kind"] == "duplicate" else {"find": 1, "update": 1, "insert": 1}
        assert row["by_name"] == expected, row


async def test_blackouts_and_customer_views_cost_no_store_command(store_url: str) -> None:
    """100 active blackouts in the worker's cache (each alert checked against all of them) and CUSTOMER_VIEWS with
    alerts of a customer: the same commands per batch as without either (the cache, not the store, answers)."""
    rows = await measure(store_url, trusted=False, rounds=1, blackouts=100, customer_views=True)
    for row in rows:
        expected = {"bulkWrite": 1} if row["kind"] == "duplicate" else {"find": 1, "bulkWrite": 1}
        assert row["by_name"] == expected, row
