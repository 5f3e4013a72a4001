"""The headers every console response carries. The policy allows scripts, styles and connections from the
gateway's own origin only: no inline script or style, no ``eval``, no framing (clickjacking), no plug-ins, no
``<base>`` rewriting. So even a value that slipped into the page as markup could run nothing."""

from __future__ import annotations

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
    "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
