"""Pages for everyone: the start page, information and advice, accessibility and privacy."""

from flask import Blueprint, abort, render_template

from portal.access import public
from portal.services import content

bp = Blueprint("public", __name__)


@bp.get("/")
@public
def start():
    return render_template("public/start.html", guides=content.guide_pages())


@bp.get("/information")
@public
def information():
    return render_template("public/information.html", guides=content.guide_pages())


@bp.get("/information/<slug>")
@public
def information_page(slug: str):
    page = content.page(slug)
    if page is None or slug in content.STANDALONE:
        abort(404)
    guides = content.guide_pages()
    return render_template("public/content_page.html", page=page, blocks=content.parse_body(page.body), guides=guides)


@bp.get("/accessibility")
@public
def accessibility():
    return _standalone("accessibility")


@bp.get("/privacy")
@public
def privacy():
    return _standalone("privacy")


def _standalone(slug: str):
    page = content.page(slug)
    if page is None:
        abort(404)
    return render_template("public/content_page.html", page=page, blocks=content.parse_body(page.body), guides=[])
