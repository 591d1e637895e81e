"""Blueprint pa_contacts (pages land in the next commits)."""

from flask import Blueprint

bp = Blueprint("pa_contacts", __name__)
