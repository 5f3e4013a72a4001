"""Logging in: ``POST /auth/login`` and ``POST /auth/signup`` answer a login token (shared/tokens.py);
``GET /userinfo`` shows what the caller's token says. Failed logins are counted per login in the store, shared by
every gateway process: ``LOGIN_MAX_FAILURES`` within ``LOGIN_FAILURE_WINDOW`` seconds lock that login (429 with
``Retry-After``) until the window has passed. Also the bootstrap of the ``ADMIN_USERS`` (``accounts_context``)."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from shared.account_schemas import NEW_USER_BODY
from shared.auth import presented_token
from shared.customers import NoCustomerMatch
from shared.http import ApiError, Handler, base_url, json_response, read_json
from shared.schemas import load_body
from shared.scopes import ADMIN_ROLE, USER_ROLE, role_scopes
from shared.settings import Settings
from shared.store.accounts import AlreadyExists
from shared.store.users import Users
from shared.tokens import Tokens, signing_key
from shared.users import check_password, hash_password, user_document

from .auth import PRINCIPAL
from .customers import customer_store
from .keys import SETTINGS, STORE, THROTTLE, TOKENS, USERS
from .views import require

log = logging.getLogger("alertbus.gateway.login")
LOGIN_CHARS = 256
PASSWORD_CHARS = 1024


async def accounts_context(app: web.Application) -> AsyncIterator[None]:
    """Users, permissions and groups on the store (after ``store_context``), the token maker, and the bootstrap
    admin users: each ``ADMIN_USERS`` login is created once with ``ADMIN_PASSWORD`` (role admin, active) when
    it does not exist — idempotent across restarts and gateway processes; an existing user is never changed."""
    settings = app[SETTINGS]
    users = Users(app[STORE])
    await users.ensure_indexes()
    app[USERS] = users
    app[TOKENS] = Tokens(signing_key(settings.secret_key, settings.service_secret), settings.token_expire_days)
    if settings.admin_password:
        await bootstrap_admins(users, settings)
    yield


async def bootstrap_admins(users: Users, settings: Settings) -> None:
    for login in settings.admin_users:
        if await users.by_login(login) is not None:
            continue
        email = login if "@" in login else None
        body = {"name": login, "login": login, "email": email, "text": "bootstrap admin (ADMIN_USERS)",
                "email_verified": bool(email)}
        doc = user_document(body, await hash_password(settings.admin_password), [ADMIN_ROLE], datetime.now(UTC))
        if await users.ensure(doc):
            log.info("created the admin user %s (ADMIN_USERS, ADMIN_PASSWORD)", login)


async def scopes_of(users: Users, settings: Settings, doc: dict[str, Any]) -> tuple[list[str], list[str]]:
    """A user's scopes (from their roles and groups, as permissions say) and the names of their groups."""
    groups = [group["name"] for group in await users.groups_of(doc["_id"])]
    matches = list(doc.get("roles") or []) + groups
    perms = await users.perms_of(matches)
    admins = set(settings.admin_users)
    login = doc["login"] if doc["login"] in admins else (doc.get("email") or doc["login"])
    return role_scopes(login, matches, perms, admins), groups


async def token_answer(request: web.Request, doc: dict[str, Any], status: int = 200) -> web.Response:
    users, settings = request.app[USERS], request.app[SETTINGS]
    scopes, groups = await scopes_of(users, settings, doc)
    if settings.customer_views:  # the token names the customers the user is bound to (Alerta: none matches → 403)
        try:
            customers = await customer_store(request).customers_of(doc["login"], groups, admin="admin" in scopes)
        except NoCustomerMatch:
            raise ApiError(403, f"No customer lookup configured for user {doc['login']}") from None
        doc = {**doc, "customers": sorted(customers)}
    token = request.app[TOKENS].issue(doc, scopes, groups, base_url(request))
    return json_response({"token": token}, status=status)


def _credentials(body: Any) -> tuple[str, str]:
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object")
    username, password = body.get("username") or body.get("email"), body.get("password")
    if not username or password is None:
        raise ApiError(401, "must supply 'username' and 'password'")
    if not isinstance(username, str) or len(username) > LOGIN_CHARS:
        raise ApiError(400, f"username: must be a string of at most {LOGIN_CHARS} characters")
    if not isinstance(password, str) or len(password) > PASSWORD_CHARS:
        raise ApiError(400, f"password: must be a string of at most {PASSWORD_CHARS} characters")
    return username, password


async def check_lock(users: Users, settings: Settings, login: str) -> None:
    failures = await users.failures_of(login)
    if not failures or failures.get("count", 0) < settings.login_max_failures:
        return
    until = failures["since"] + timedelta(seconds=settings.login_failure_window)
    wait = (until - datetime.now(UTC)).total_seconds()
    if wait > 0:
        raise ApiError(429, "too many failed logins for this user; try again later",
                       headers={"Retry-After": str(math.ceil(wait))})


def check_address(request: web.Request) -> None:
    """Failed logins also count against the client's address, as failed keys do (a burst, then one a second):
    each costs a password hash, so trying many logins from one address is bounded too."""
    wait = request.app[THROTTLE].retry_after(request.remote or "")
    if wait:
        raise ApiError(429, "too many failed authentications from this address; try again later",
                       headers={"Retry-After": str(math.ceil(wait))})


async def login(request: web.Request) -> web.Response:
    users, settings = request.app[USERS], request.app[SETTINGS]
    username, password = _credentials(await read_json(request))
    check_address(request)
    doc = await users.by_username(username)
    counted = doc["login"] if doc else username  # a login and its e-mail share one count
    await check_lock(users, settings, counted)
    if not await check_password(doc.get("password") if doc else None, password) or doc is None:
        request.app[THROTTLE].failed(request.remote or "")
        await users.record_failure(counted, datetime.now(UTC), settings.login_failure_window)
        raise ApiError(401, "Invalid username or password")
    if doc.get("status", "active") != "active":
        raise ApiError(403, f"User {doc['login']} not active")
    await users.clear_failures(counted)
    doc = await users.update(doc["_id"], {"lastLogin": datetime.now(UTC)}) or doc
    return await token_answer(request, doc)


async def signup(request: web.Request) -> web.Response:
    users, settings = request.app[USERS], request.app[SETTINGS]
    if not settings.signup_enabled:
        raise ApiError(403, "user signup is disabled")
    body = load_body(NEW_USER_BODY, await read_json(request))
    if not body.get("password"):
        raise ApiError(400, "password: a password is required to sign up")
    login_name = str(body.get("login") or body.get("email"))
    if await users.by_username(login_name) or (body.get("email") and await users.by_email(body["email"])):
        raise ApiError(409, "user with that email already exists")
    doc = user_document({**body, "email_verified": False}, await hash_password(body["password"]), [USER_ROLE],
                        datetime.now(UTC))
    try:
        await users.insert(doc)
    except AlreadyExists:
        raise ApiError(409, "user with that email already exists") from None
    if doc["status"] != "active":
        raise ApiError(403, f"User {doc['login']} not active")
    doc = await users.update(doc["_id"], {"lastLogin": datetime.now(UTC)}) or doc
    return await token_answer(request, doc)


async def userinfo(request: web.Request) -> web.Response:
    """The caller's token claims; for an API key (Alerta answers 401 there), what the key says: its user and
    scopes, so that ``alerta whoami`` works with a key too."""
    require(request, "read:userinfo")
    principal = request[PRINCIPAL]
    token = presented_token(request)
    if token:
        claims = request.app[TOKENS].claims(token, base_url(request))
        return json_response(claims)
    return json_response({"sub": principal.user_id, "preferred_username": principal.user, "provider": "apikey",
                          "scope": " ".join(sorted(principal.scopes)), "customers": sorted(principal.customers)})


LOGIN_ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/auth/login", login),
    ("POST", "/auth/signup", signup),
    ("GET", "/userinfo", userinfo),
]
