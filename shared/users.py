"""Users with a login: password hashing (argon2), the stored document, and the user as Alerta 9.1 shows it.

Passwords are hashed with argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane: about 50 ms on one
core here; argon2-cffi's defaults take 64 MiB and 4 lanes, 270 ms, on a 2-core gateway). A stored hash names its
parameters, so they can be raised later without invalidating any password. Hashing is slow on purpose and takes
memory, so it runs in a worker thread, never on the event loop; an unknown login still costs one verification, so
that the time of an answer does not tell which logins exist.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .fieldtypes import isoformat

HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_DECOY = HASHER.hash("alertbus: no such user")  # verified against when a login is unknown (constant time)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(HASHER.hash, password.encode("utf-8", "surrogatepass"))


def _verify(digest: str | None, password: str) -> bool:
    try:
        return HASHER.verify(digest or _DECOY, password.encode("utf-8", "surrogatepass")) and digest is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def check_password(digest: str | None, password: str) -> bool:
    """Does ``password`` match the stored hash? ``None`` (no user, or a user without a password) never matches,
    after the same work as a real check."""
    return await asyncio.to_thread(_verify, digest, password)


def domain_of(login: str, email: str | None) -> str | None:
    """Alerta's ``domain``: the part before a backslash of a ``DOMAIN\\login``, else the e-mail's domain."""
    if "\\" in login:
        return login.split("\\", 1)[0]
    if email and "@" in email:
        return email.rsplit("@", 1)[1]
    return None


def user_document(body: dict[str, Any], password_hash: str | None, roles: list[str], now: datetime) -> dict[str, Any]:
    """A new user from a validated body: its login is ``login`` or else ``email``."""
    email = body.get("email")
    login = body.get("login") or email
    return {
        "_id": str(uuid.uuid4()), "name": body.get("name") or login, "login": login, "email": email,
        "password": password_hash, "status": body.get("status") or "active", "roles": roles,
        "attributes": body.get("attributes") or {}, "createTime": now, "lastLogin": None,
        "text": body.get("text") or "", "updateTime": now, "email_verified": bool(body.get("email_verified")),
    }


def _iso(value: datetime | None) -> str | None:
    return isoformat(value) if value is not None else None


def user_body(doc: dict[str, Any], base: str) -> dict[str, Any]:
    """A user as Alerta 9.1 answers it (never its password hash), with ``customers`` when it has some."""
    body = {
        "id": doc["_id"], "href": f"{base}/user/{doc['_id']}", "name": doc.get("name") or "",
        "login": doc["login"], "email": doc.get("email"), "domain": domain_of(doc["login"], doc.get("email")),
        "status": doc.get("status") or "active", "roles": list(doc.get("roles") or []),
        "attributes": doc.get("attributes") or {}, "createTime": _iso(doc.get("createTime")),
        "lastLogin": _iso(doc.get("lastLogin")), "text": doc.get("text") or "",
        "updateTime": _iso(doc.get("updateTime")), "email_verified": bool(doc.get("email_verified")),
    }
    if doc.get("customers"):
        body["customers"] = list(doc["customers"])
    return body


def whitelisted_body(doc: dict[str, Any], base: str) -> dict[str, Any]:
    """A v3 white-listed e-mail in a ``GET /users`` listing: its v3 fields (``user``, ``sponsor``) and today's
    (``id`` is the address, which ``DELETE /user/{id}`` takes; no login, so ``status`` is ``inactive``)."""
    email = doc["user"]
    return {
        "id": email, "href": f"{base}/user/{email}", "name": email, "login": email, "email": email,
        "domain": domain_of(email, email), "status": "inactive", "roles": [], "attributes": {},
        "createTime": _iso(doc.get("createTime")), "lastLogin": None, "text": "v3 e-mail white-list",
        "updateTime": _iso(doc.get("createTime")), "email_verified": False,
        "user": email, "sponsor": doc.get("sponsor"),
    }
