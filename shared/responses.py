"""JSON answers, and the one place where whatever a handler raised becomes one: Alerta's error body for an
``ApiError``, a domain exception (``domain_error``), an aiohttp HTTP exception, or anything else (a 500). The
shared error middleware (shared/http.py) answers every request of every service through ``answer``."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from .backlog import Backlogged
from .broker import BrokerUnavailable
from .replies import ReplyError
from .schemas import BadInput
from .store import StoreUnavailable
from .store.core import QueryTimeout

log = logging.getLogger("alertbus.http")


class ApiError(Exception):
    """An error with an HTTP status, rendered as Alerta's JSON error body."""

    def __init__(self, code: int, message: str, errors: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.errors, self.headers = code, message, errors, headers or {}


SAME_AS_BEFORE = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(body: Any) -> bytes:
    """JSON of an answer: orjson (a tenth of the standard library's CPU, a few % of the gateway's per request),
    or the standard library for what orjson refuses — an integer beyond 64 bits, a lone surrogate — so every
    body that encoded before still does, the same way: dates, times and dataclasses go to ``default=str`` as they
    did (orjson would write them its own way)."""
    try:
        return orjson.dumps(body, default=str, option=SAME_AS_BEFORE)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(body, separators=(",", ":"), default=str).encode()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=dumps(body), status=status, content_type="application/json", charset="utf-8",
                        headers=headers)


def error_response(code: int, message: str, request_id: str, errors: Any = None) -> web.Response:
    body = {"status": "error", "message": message, "code": code, "errors": errors, "requestId": request_id}
    return json_response(body, status=code)


# Raised by handlers of any service, never translated by them: ``domain_error`` says what they answer.
DOMAIN_ERRORS: tuple[type[BaseException], ...] = (ReplyError, BadInput, BrokerUnavailable, QueryTimeout,
                                                  *StoreUnavailable)


def domain_error(exc: BaseException) -> tuple[int, str, Any]:
    """The HTTP answer (code, message, errors) to one of ``DOMAIN_ERRORS``."""
    if isinstance(exc, ReplyError):  # a worker refused the message: its own code and error body
        return exc.code, exc.message, exc.errors
    if isinstance(exc, BadInput):
        return 400, exc.message, exc.errors
    if isinstance(exc, BrokerUnavailable):  # its text says whether the message may be queued all the same
        return 503, f"message broker unavailable: {exc}", None
    if isinstance(exc, QueryTimeout):  # the store stopped a read at STORE_MAX_TIME_MS
        return 503, str(exc), None
    return 503, "the store is unavailable; try again shortly", None  # StoreUnavailable


async def answer(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                 rid: str) -> web.StreamResponse:
    """The handler's response, or the JSON error for whatever it raised."""
    try:
        return await handler(request)
    except ApiError as exc:
        response = error_response(exc.code, exc.message, rid, exc.errors)
        response.headers.update(exc.headers)
        return response
    except Backlogged as exc:  # before the others: it needs its Retry-After
        response = error_response(503, str(exc), rid)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except DOMAIN_ERRORS as exc:
        code, message, errors = domain_error(exc)
        return error_response(code, message, rid, errors)
    except web.HTTPRequestEntityTooLarge:
        limit = request.app._client_max_size  # aiohttp keeps the limit only here
        return error_response(413, f"request body is larger than the limit of {limit} bytes", rid)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.reason if exc.status != 404 else "not found", rid)
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal error", rid)
