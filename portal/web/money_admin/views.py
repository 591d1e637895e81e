"""Card statement imports, rows kept for review, and money settings (council settings, rates, rules)."""

from flask import Blueprint

bp = Blueprint("money_admin", __name__)
