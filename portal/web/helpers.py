"""Small helpers shared by the blueprints: the audit call with request details, htmx rendering."""

from flask import g, request
from flask_login import current_user
from jinja2_fragments.flask import render_block

from flask import render_template
from portal.services import audit as audit_service


def client_address() -> str:
    return (request.remote_addr or "")[:64]


def audit(action: str, *, user=None, **fields):
    """Record an audit event for this request (who, role, address, request id); commits with the change."""
    return audit_service.record(
        action,
        user=user if user is not None else current_user,
        request_id=g.get("request_id", ""),
        address=client_address(),
        **fields,
    )


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def render_page_or_block(template: str, block: str, **context):
    """The whole page, or for an htmx request only the named block; Vary tells caches they differ."""
    from flask import make_response

    body = render_block(template, block, **context) if is_htmx() else render_template(template, **context)
    response = make_response(body)
    response.vary.add("HX-Request")
    return response


def safe_next_url(target: str | None) -> str | None:
    """Only follow redirects to paths on this site (never another host)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target
