"""The operator console: one HTML page, a few ES modules and one stylesheet (``static/``), served by the gateway
without a key. Everything the page shows comes from the API with the user's credential (see main.js)."""

from .assets import API_ROOT_ROUTE, CONSOLE_ROUTES, OPEN_CONSOLE_ROUTES

__all__ = ["API_ROOT_ROUTE", "CONSOLE_ROUTES", "OPEN_CONSOLE_ROUTES"]
