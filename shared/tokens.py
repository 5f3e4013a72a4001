"""Login tokens: JSON Web Tokens signed with HS256, carrying the claims Alerta's tokens carry (``sub``, ``name``,
``preferred_username``, ``email``, ``roles``, ``scope``, ``customers`` ...), so that a token is checked without a
store round-trip — the scopes were decided at login, as in Alerta.

The signing key is derived from ``SECRET_KEY`` (or, unset, from ``SERVICE_SECRET``, which every gateway process of
an installation shares) through SHA-256: any secret gives a 256-bit HMAC key, and a token made by one gateway
process is good on every other.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from .auth import Principal

ALGORITHM = "HS256"
LEEWAY_SECONDS = 10  # clocks of several gateway hosts may differ a little


class BadToken(Exception):
    """A token that is not ours, was altered, or has expired; the message says which (a 401)."""


def signing_key(secret_key: str, service_secret: str) -> bytes:
    """The HMAC key: ``SECRET_KEY`` hashed, else one derived from ``SERVICE_SECRET``, else a random one (tokens
    then hold in this process only: a test or a single gateway without either secret)."""
    if secret_key:
        return hashlib.sha256(secret_key.encode("utf-8", "surrogatepass")).digest()
    if service_secret:
        return hmac.new(service_secret.encode("utf-8", "surrogatepass"), b"alertbus login tokens", "sha256").digest()
    return secrets.token_bytes(32)


def audience(base: str) -> str:
    """Issuer and audience: the gateway's root URL with its slash, as Alerta writes them."""
    return base.rstrip("/") + "/"


@dataclass(frozen=True)
class Tokens:
    """Makes and checks the tokens of one installation (``base`` is the gateway's public URL: issuer and
    audience)."""

    key: bytes
    expire_days: int

    def issue(self, user: dict[str, Any], scopes: Iterable[str], groups: list[str], base: str,
              now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        base = audience(base)
        claims: dict[str, Any] = {
            "iss": base, "typ": "Bearer", "sub": user["_id"], "aud": base,
            "exp": now + timedelta(days=self.expire_days), "nbf": now, "iat": now, "jti": str(uuid.uuid4()),
            "name": user.get("name") or "", "preferred_username": user["login"], "email": user.get("email"),
            "provider": "basic", "roles": list(user.get("roles") or []), "scope": " ".join(scopes),
            "email_verified": bool(user.get("email_verified")),
            "customers": sorted(user.get("customers") or []),
        }
        if groups:
            claims["groups"] = groups
        return jwt.encode(claims, self.key, algorithm=ALGORITHM)

    def claims(self, token: str, base: str) -> dict[str, Any]:
        """The claims of a token this installation signed for ``base``, still valid; else ``BadToken``."""
        try:
            return dict(jwt.decode(token, self.key, algorithms=[ALGORITHM], audience=audience(base),
                                   leeway=LEEWAY_SECONDS,
                                   options={"require": ["exp", "sub", "preferred_username"]}))
        except jwt.ExpiredSignatureError:
            raise BadToken("Token has expired") from None
        except jwt.InvalidAudienceError:
            raise BadToken("Invalid audience") from None
        except jwt.InvalidTokenError:
            raise BadToken("Token is invalid") from None

    def principal(self, token: str, base: str) -> Principal:
        claims = self.claims(token, base)
        scope = claims.get("scope")
        customers = claims.get("customers")
        return Principal(
            user=str(claims["preferred_username"]),
            scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
            customers=frozenset(str(c) for c in customers) if isinstance(customers, list) else frozenset(),
            user_id=str(claims["sub"]),
        )
