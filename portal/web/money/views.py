"""A recipient's money: My money and Transactions (and explaining a flagged transaction)."""

from flask import Blueprint

bp = Blueprint("money", __name__, url_prefix="/people")
