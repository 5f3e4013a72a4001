"""How the store's repository methods are timed and bounded: ``timed`` observes a method's duration into
``alertbus_store_operation_seconds{operation}``, ``time_limited`` turns the store's "maxTimeMS expired" into
``QueryTimeout``."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from pymongo.errors import OperationFailure

from ..metrics import Metrics

MAX_TIME_EXPIRED = 50  # the server stopped an operation at its maxTimeMS (pymongo raises ExecutionTimeout)


class QueryTimeout(Exception):
    """The store stopped a read at its time limit (``maxTimeMS``): the filter asked for more work than a request
    may cost. Not a client mistake nor an outage: the HTTP layer answers 503."""

    def __init__(self) -> None:
        super().__init__("query took too long")


class _Timed(Protocol):
    metrics: Metrics | None


_S = TypeVar("_S", bound=_Timed)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def timed(method: Callable[Concatenate[_S, _P], Awaitable[_R]]) -> Callable[Concatenate[_S, _P], Awaitable[_R]]:
    """Observe a repository method's duration, labelled with its name (a fixed, small set of labels)."""
    operation = method.__name__

    @functools.wraps(method)
    async def timed_method(self: _S, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        if self.metrics is None:
            return await method(self, *args, **kwargs)
        started = time.perf_counter()
        try:
            return await method(self, *args, **kwargs)
        finally:
            self.metrics.store_seconds.labels(operation).observe(time.perf_counter() - started)

    return timed_method  # type: ignore[return-value]  # functools.wraps' wrapper type is not the declared one


def time_limited(method: Callable[_P, Awaitable[_R]]) -> Callable[_P, Awaitable[_R]]:
    """Raise ``QueryTimeout`` where the store reports that a read outlived its ``maxTimeMS``."""

    @functools.wraps(method)
    async def limited(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return await method(*args, **kwargs)
        except OperationFailure as exc:
            if exc.code == MAX_TIME_EXPIRED:
                raise QueryTimeout() from exc
            raise

    return limited
