"""Typed application keys of the query service."""

from __future__ import annotations

from aiohttp import web

from shared.settings import Settings
from shared.store import Store

from .reads import AlertQueries

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
QUERIES = web.AppKey("queries", AlertQueries)
