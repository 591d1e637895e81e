"""Security headers, the CSP nonce and the request id on every response; form and query text without control characters."""

import re
import secrets
import time
import uuid

from flask import Flask, Request, abort, g, request
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.utils import cached_property

# Control characters nobody types: NUL cannot even be stored by PostgreSQL (a 500 instead of an answer).
# Tabs and line breaks are kept.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text_only(values: MultiDict) -> MultiDict:
    if not any(CONTROL_CHARACTERS.search(key) or CONTROL_CHARACTERS.search(value) for key, value in values.items(multi=True)):
        return values
    return type(values)((CONTROL_CHARACTERS.sub("", key), CONTROL_CHARACTERS.sub("", value)) for key, value in values.items(multi=True))


class PortalRequest(Request):
    """Form fields and query values with control characters taken out, before any form or query sees them."""

    @cached_property
    def args(self) -> MultiDict:
        return _text_only(super().args)

    def _load_form_data(self) -> None:
        super()._load_form_data()
        self.__dict__["form"] = _text_only(self.__dict__["form"])


def init_app(app: Flask) -> None:
    app.request_class = PortalRequest

    @app.before_request
    def _per_request_values():
        if CONTROL_CHARACTERS.search(request.path):
            abort(404)  # no page has such an address (and a slug or token with NUL would reach the database)
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
