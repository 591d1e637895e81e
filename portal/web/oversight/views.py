"""Blueprint oversight (pages land in the next commits)."""

from flask import Blueprint

bp = Blueprint("oversight", __name__)
