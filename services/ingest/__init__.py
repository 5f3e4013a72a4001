"""The ingest service."""

from .app import Worker, create_worker

__all__ = ["Worker", "create_worker"]
