"""Why a connection to RabbitMQ failed, as one line that names the cause and the fix: the services print it and
exit when the broker cannot be reached at start-up (``BrokerUnavailable``)."""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

import aio_pika

START_HINT = "start RabbitMQ ('sudo make broker' starts a local one with the plugin alertbus needs) or set AMQP_URL"


def safe_url(url: str) -> str:
    """``url`` without its user name and password: fit for logs and error messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}:{parts.port or 5672}{parts.path or '/'}"


def vhost(url: str) -> str:
    """The virtual host of an AMQP URL (as the client reads it: an empty path is ``/``)."""
    return unquote(urlsplit(url).path[1:]) or "/"


def explain(url: str, exc: BaseException) -> str:
    """One line: what went wrong connecting to the broker at ``url``, and what to do."""
    where = f"RabbitMQ at {safe_url(url)}"
    user = unquote(urlsplit(url).username or "guest")
    if isinstance(exc, aio_pika.exceptions.ProbableAuthenticationError | aio_pika.exceptions.AuthenticationError):
        return (f"{where} refused the login of user {user!r} (authentication failed): check the user name and "
                f"password in AMQP_URL")
    text = str(exc)
    # The broker answers Connection.Open with Connection.Close when the virtual host does not exist or the user
    # may not use it; the client reports that as an unexpected frame (the broker's reason is not kept).
    refused_vhost = isinstance(exc, aio_pika.exceptions.ConnectionClosed) and getattr(exc, "code", 0) == 530
    if refused_vhost or (isinstance(exc, aio_pika.exceptions.InvalidFrameError)
                         and "Connection.OpenOk" in text and "Connection.Close" in text):
        name = vhost(url)
        return (f"{where} refused virtual host {name!r}: it does not exist or user {user!r} may not use it; create "
                f"it with 'rabbitmqctl add_vhost {name}' and 'rabbitmqctl set_permissions -p {name} {user} "
                f"\".*\" \".*\" \".*\"', or fix the virtual host in AMQP_URL")
    if isinstance(exc, TimeoutError):
        return f"{where} did not answer in time: {START_HINT}"
    if isinstance(exc, OSError):  # refused, unreachable, a host name that does not resolve …
        reason = os.strerror(exc.errno) if isinstance(exc.errno, int) and exc.errno > 0 else text
        reason = reason or type(exc).__name__
        return f"{where} did not answer ({reason}): {START_HINT}"
    return f"{where} did not answer ({type(exc).__name__}: {text}): {START_HINT}"
