"""All database code lives in this package (PyMongo Async API). ``client`` connects, ``core`` holds the indexes
and the ingest write path; the other modules hold one repository each, built on a ``Store``."""

from .client import StoreUnreachable, database_name, make_client, open_store
from .core import (
    DUPLICATE_KEY,
    INTERNAL_FIELDS,
    AlertWrite,
    Store,
    StoreError,
    StoreUnavailable,
    new_token,
    now_ms,
)

__all__ = [
    "DUPLICATE_KEY",
    "INTERNAL_FIELDS",
    "AlertWrite",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "StoreUnreachable",
    "database_name",
    "make_client",
    "new_token",
    "now_ms",
    "open_store",
]
