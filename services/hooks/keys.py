"""Typed application keys of the hooks service."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from shared.broker import RpcClient
from shared.metrics import Metrics
from shared.settings import Settings
from shared.store import Store

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
RPC = web.AppKey("rpc", RpcClient)
STORE = web.AppKey("store", Store)
CLIENT = web.AppKey("client", aiohttp.ClientSession)
