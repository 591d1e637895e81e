"""Blueprint work_queues (pages land in the next commits)."""

from flask import Blueprint

bp = Blueprint("work_queues", __name__)
