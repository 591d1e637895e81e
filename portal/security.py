"""Security headers, the CSP nonce and the request id, on every response."""

import secrets
import time
import uuid

from flask import Flask, g, request
from flask_login import current_user


def init_app(app: Flask) -> None:
    @app.before_request
    def _per_request_values():
        g.csp_nonce = secrets.token_urlsafe(16)
        g.request_id = request.headers.get("X-Request-Id", "")[:40] or uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.context_processor
    def _template_values():
        return {"csp_nonce": g.get("csp_nonce", "")}

    @app.after_request
    def _headers(response):
        nonce = g.get("csp_nonce", "")
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self'; "
            "img-src 'self' data:; "
            "font-src 'self'; "
            "connect-src 'self'; "
            "form-action 'self'; "
            "base-uri 'none'; "
            "object-src 'none'; "
            "frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        response.headers["X-Request-Id"] = g.get("request_id", "")
        if "started" in g:
            # Server time for this request, read by `make bench` (and browsers' developer tools).
            response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - g.started) * 1000:.2f}"
        if app.config.get("HSTS"):
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        # Pages for signed-in people (and anything not static) must not be kept by browsers or proxies.
        if request.endpoint != "static" and (current_user.is_authenticated or not response.cache_control.public):
            response.headers["Cache-Control"] = "no-store"
        return response
