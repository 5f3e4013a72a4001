"""Typed application keys of the hooks service."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from shared.broker import RpcClient
from shared.settings import Settings
from shared.store import Store

from .metrics import HooksMetrics

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("hooks_metrics", HooksMetrics)
RPC = web.AppKey("rpc", RpcClient)
STORE = web.AppKey("store", Store)
CLIENT = web.AppKey("client", aiohttp.ClientSession)
