"""Receipts and invoices: attaching them to transactions, adding manual spending, downloading them."""

from flask import Blueprint

bp = Blueprint("evidence", __name__, url_prefix="/people")
