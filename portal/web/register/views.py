"""Blueprint register (pages land in the next commits)."""

from flask import Blueprint

bp = Blueprint("register", __name__)
