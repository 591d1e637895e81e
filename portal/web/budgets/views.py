"""Budgets and support plans, managed by DPSS managers and council officers."""

from flask import Blueprint

bp = Blueprint("budgets", __name__)
