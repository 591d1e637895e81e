"""Blueprint find_pa (pages land in the next commits)."""

from flask import Blueprint

bp = Blueprint("find_pa", __name__)
