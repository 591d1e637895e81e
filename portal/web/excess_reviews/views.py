"""Blueprint excess_reviews (pages land in the next commits)."""

from flask import Blueprint

bp = Blueprint("excess_reviews", __name__)
