"""Blueprint casework (pages land in the next commits)."""

from flask import Blueprint

bp = Blueprint("casework", __name__)
