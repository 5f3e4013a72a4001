"""Signatures of the messages the services publish: the ingest worker trusts the ``user`` header and the
``message_id`` of a message signed with ``SERVICE_SECRET`` only (see shared/broker.py and
services/ingest/processor.py)."""

from __future__ import annotations

import hashlib
import hmac

from aio_pika.abc import AbstractIncomingMessage

SIGNATURE_HEADER = "x-alertbus-signature"


def sign(secret: str, kind: str, message_id: str, user: str | None, body: bytes) -> str:
    """HMAC-SHA256 over what the worker trusts a signed message for: its kind, its id (the receive id), its
    ``user`` header and its body. Each part is length-prefixed, so that no two messages share an input."""
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    # None and "" differ: a present user is marked by a leading byte.
    who = b"" if user is None else b"\x01" + user.encode("utf-8", "surrogatepass")
    for part in (kind.encode("utf-8", "surrogatepass"), message_id.encode("utf-8", "surrogatepass"), who, body):
        mac.update(len(part).to_bytes(8, "big"))
        mac.update(part)
    return "v1=" + mac.hexdigest()


def signed_by_service(secret: str, message: AbstractIncomingMessage) -> bool:
    """True when ``message`` carries a valid signature of ``secret`` (never without a secret). Headers arrive as
    whatever the publisher encoded (str, bytes, int ...): anything but the shapes ``sign`` makes is unsigned."""
    headers = message.headers or {}
    given, user = headers.get(SIGNATURE_HEADER), headers.get("user")
    if not secret or not isinstance(given, (str, bytes)) or not (user is None or isinstance(user, str)):
        return False
    kind, ident = message.type, message.message_id
    if not isinstance(kind, str) or not isinstance(ident, str):
        return False
    expected = sign(secret, kind, ident, user, message.body).encode()
    given_bytes = given.encode("utf-8", "surrogatepass") if isinstance(given, str) else given
    return hmac.compare_digest(expected, given_bytes)  # constant time: no prefix of a valid signature leaks
