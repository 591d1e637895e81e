"""Blueprint vacancies (pages land in the next commits)."""

from flask import Blueprint

bp = Blueprint("vacancies", __name__)
