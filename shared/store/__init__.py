"""All database code lives in this package (PyMongo Async API). ``core`` holds the client, the indexes and the
ingest write path; the other modules hold one repository each, built on a ``Store``."""

from .core import (
    DUPLICATE_KEY,
    INTERNAL_FIELDS,
    AlertWrite,
    Store,
    StoreError,
    StoreUnavailable,
    database_name,
    make_client,
    new_token,
    now_ms,
    open_store,
)

__all__ = [
    "DUPLICATE_KEY",
    "INTERNAL_FIELDS",
    "AlertWrite",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "database_name",
    "make_client",
    "new_token",
    "now_ms",
    "open_store",
]
