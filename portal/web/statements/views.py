"""Statements for a date range: an HTML page, a PDF (WeasyPrint) and a CSV of the transactions."""

from flask import Blueprint

bp = Blueprint("statements", __name__, url_prefix="/people")
