"""Receipts and invoices: attaching them to transactions, adding manual spending, downloading them."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, send_file, url_for
from flask_login import current_user

from portal.access import CASE_VIEWERS, MONEY_EDITORS, capacity_caption, entry_or_404, recipient_or_404, requires
from portal.extensions import db
from portal.models import Category, RepresentativeLevel
from portal.services import evidence
from portal.services.evidence import AmountError, UploadRefused
from portal.sqlite import immediate_transaction
from portal.storage import Storage
from portal.web.evidence.forms import ACCEPT, ReceiptForm, SpendingForm
from portal.web.helpers import audit
from portal.web.uploads import storage_failed

bp = Blueprint("evidence", __name__, url_prefix="/people")


def _transactions_url(person_id: int) -> str:
    """The transaction list when it exists (another blueprint's page), else the person's overview."""
    if "money.transactions" in current_app.view_functions:
        return url_for("money.transactions", person_id=person_id)
    return url_for("recipient.overview", person_id=person_id)


def _read_upload(field) -> tuple[bytes, str]:
    """The uploaded bytes (at most one byte over the limit: enough to know it is too large) and name."""
    upload = field.data
    return upload.stream.read(evidence.MAX_BYTES + 1), upload.filename or ""


def _check_file(field):
    """The cleaned file, or None with the refusal shown on the field."""
    data, filename = _read_upload(field)
    try:
        return evidence.check_and_clean(data, filename)
    except UploadRefused as refusal:
        field.errors.append(refusal.message)
        return None


@bp.route("/<int:person_id>/transactions/<int:entry_id>/receipt", methods=["GET", "POST"])
@requires(*MONEY_EDITORS)
def add_receipt(person_id: int, entry_id: int):
    recipient = recipient_or_404(person_id, RepresentativeLevel.MANAGE)
    entry = entry_or_404(recipient, entry_id)
    if not evidence.takes_receipt(entry):
        abort(404)
    form = ReceiptForm()
    if form.validate_on_submit():
        cleaned = _check_file(form.receipt)
        if cleaned is not None:
            try:
                # The write lock from the start (SQLite): a read-then-write transaction racing another
                # writer would otherwise fail with "database is locked" instead of waiting its turn.
                with immediate_transaction():
                    evidence.attach(
                        entry, cleaned, current_user.id,
                        before_commit=lambda item: audit("evidence.added", record_type="evidence", record_id=item.id,
                                                         acting_for_id=recipient.person_id),
                    )
            except OSError as error:
                storage_failed(form.receipt, error)
            else:
                flash(f"Receipt added: {cleaned.display_name}", "success")
                return redirect(_transactions_url(recipient.person_id))
    return render_template(
        "evidence/receipt.html", recipient=recipient, entry=entry, form=form, accept=ACCEPT,
        existing=evidence.evidence_for_entries([entry.id])[entry.id],
        caption=capacity_caption(current_user, recipient), back_url=_transactions_url(recipient.person_id),
    )


@bp.route("/<int:person_id>/spending/new", methods=["GET", "POST"])
@requires(*MONEY_EDITORS)
def add_spending(person_id: int):
    recipient = recipient_or_404(person_id, RepresentativeLevel.MANAGE)
    caption = capacity_caption(current_user, recipient)
    back_url = _transactions_url(recipient.person_id)
    accounts = evidence.bank_accounts(recipient)
    if not accounts:
        return render_template("evidence/spending_not_available.html", recipient=recipient, caption=caption, back_url=back_url)

    form = SpendingForm()
    if len(accounts) > 1:
        form.account.choices = [(str(a.id), f"Bank account opened {a.opened_on.day} {a.opened_on:%B %Y}") for a in accounts]
    else:
        del form.account
    if form.is_submitted():
        # Every field is checked, the file included, before anything is stored.
        form.validate()
        amount_pence = None
        try:
            amount_pence = evidence.parse_amount(form.amount.data)
        except AmountError as problem:
            form.amount.errors.append(problem.message)
        account = accounts[0] if len(accounts) == 1 else next((a for a in accounts if str(a.id) == form.account.data), None)
        if account is not None and form.date_paid.data and form.date_paid.data < account.opened_on:
            opened = f"{account.opened_on.day} {account.opened_on:%B %Y}"
            form.date_paid.errors.append(f"The date you paid must be on or after {opened}, when the account opened")
        cleaned = _check_file(form.receipt) if form.receipt.data and not form.receipt.errors else None
        if not form.errors and cleaned is not None and account is not None:
            try:
                with immediate_transaction():  # see add_receipt
                    evidence.add_manual_spend(
                        account, form.date_paid.data, form.payee.data.strip(), Category(form.category.data),
                        form.description.data or "", amount_pence, cleaned, current_user.id,
                        before_commit=lambda item: audit("spending.added", record_type="ledger_entry",
                                                         record_id=item.entry_id, acting_for_id=recipient.person_id),
                    )
            except OSError as error:
                storage_failed(form.receipt, error)
            else:
                flash("Spending added with its receipt", "success")
                return redirect(back_url)
    return render_template(
        "evidence/spending.html", recipient=recipient, form=form, accept=ACCEPT, caption=caption, back_url=back_url,
    )


@bp.get("/<int:person_id>/evidence/<int:evidence_id>")
@requires(*CASE_VIEWERS)
def download(person_id: int, evidence_id: int):
    recipient = recipient_or_404(person_id)
    item = evidence.evidence_of(recipient, evidence_id)
    if item is None:
        abort(404)
    try:
        handle = Storage.from_config().open(item.storage_name)
    except FileNotFoundError:
        current_app.logger.error("evidence %s has a row but no stored file", item.id)
        abort(404)
    audit("evidence.downloaded", record_type="evidence", record_id=item.id, acting_for_id=recipient.person_id)
    db.session.commit()
    response = send_file(
        handle, mimetype=item.content_type, as_attachment=True, download_name=item.display_name,
        max_age=0, etag=False, conditional=False,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
