"""Typed application keys of the gateway."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from shared.auth import KeyRing
from shared.broker import RpcClient
from shared.metrics import Metrics
from shared.rules import Policy
from shared.settings import Settings
from shared.store import Store
from shared.store.accounts import Accounts
from shared.store.users import Users
from shared.tokens import Tokens

from .throttle import FailureThrottle

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
RPC = web.AppKey("rpc", RpcClient)
KEYRING = web.AppKey("keyring", KeyRing)
CLIENT = web.AppKey("client", aiohttp.ClientSession)
STORE = web.AppKey("store", Store)
ACCOUNTS = web.AppKey("accounts", Accounts)
THROTTLE = web.AppKey("throttle", FailureThrottle)
POLICY = web.AppKey("policy", Policy)
USERS = web.AppKey("users", Users)
TOKENS = web.AppKey("tokens", Tokens)
