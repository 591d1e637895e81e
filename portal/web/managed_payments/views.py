"""Managed accounts: the DPSS records payments out and contributions in, with a second person to approve large payments.

Every page about a person sits under /people/<id>/managed-account and is found through the person
(recipient_or_404, then their managed account: a person without an account held by a DPSS is 404), and a
payment only through the person's account (else 404). Anyone who may see the person reads: the person,
their representatives (view or manage), the DPSS's staff who see the case, the council's officers.
Staff of the DPSS that holds the account record payments and contributions and approve or cancel
payments (anyone else who reaches a record page gets 404; a POST by anyone else changes nothing).
The approvals page lists an organisation's payments waiting for a second person; the approval limit is
set by a manager of the DPSS (their own organisation) or the administrator.
"""

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, send_file, url_for
from flask_login import current_user

from portal.access import ADMINISTRATOR, CASE_VIEWERS, DPSS_MANAGER, DPSS_STAFF, capacity_caption, recipient_or_404, requires
from portal.extensions import db
from portal.models import (
    Category,
    ContributionMethod,
    DPAccount,
    ManagedPayment,
    ManagedPaymentKind,
    ManagedPaymentStatus,
    Organisation,
    OrganisationKind,
    Recipient,
    Role,
)
from portal.services import evidence, ledger
from portal.services import managed_payments as service
from portal.services.clock import london_today
from portal.services.evidence import UploadRefused
from portal.sqlite import immediate_transaction
from portal.storage import Storage
from portal.web import format_pounds
from portal.web.helpers import audit
from portal.web.managed_payments.forms import (
    ACCEPT,
    ApproveForm,
    CancelForm,
    ContributionForm,
    InvoiceForm,
    LimitForm,
    OtherForm,
    PayRunForm,
    WagesForm,
    new_request_key,
)
from portal.web.uploads import storage_failed

bp = Blueprint("managed_payments", __name__)

STATUS_TAGS = {
    ManagedPaymentStatus.RECORDED: "govuk-tag--orange",
    ManagedPaymentStatus.APPROVED: "govuk-tag--blue",
    ManagedPaymentStatus.PAID: "govuk-tag--green",
    ManagedPaymentStatus.CANCELLED: "govuk-tag--grey",
}
FORMS = {ManagedPaymentKind.WAGES: WagesForm, ManagedPaymentKind.INVOICE: InvoiceForm, ManagedPaymentKind.OTHER: OtherForm,
         ManagedPaymentKind.PAY_RUN: PayRunForm}
TITLES = {
    ManagedPaymentKind.WAGES: "Pay PA wages",
    ManagedPaymentKind.INVOICE: "Pay an invoice",
    ManagedPaymentKind.OTHER: "Record another payment",
    ManagedPaymentKind.PAY_RUN: "Pay from a pay run",
}


def _account_or_404(recipient: Recipient) -> DPAccount:
    account = service.managed_account(recipient.person_id)
    if account is None:
        abort(404)
    return account


def _payment_or_404(recipient: Recipient, payment_id: int) -> ManagedPayment:
    payment = service.payment_of(recipient.person_id, payment_id)
    if payment is None:
        abort(404)
    return payment


def _index_url(recipient: Recipient) -> str:
    return url_for(".index", person_id=recipient.person_id)


def _show_url(payment: ManagedPayment) -> str:
    return url_for(".show", person_id=payment.account.recipient_id, payment_id=payment.id)


def status_of(payment: ManagedPayment) -> tuple[str, str]:
    return service.STATUS_WORDS[payment.status], STATUS_TAGS[payment.status]


def _put_problems(form, problems: list[tuple[str | None, str]]) -> list[str]:
    """Problems beside their fields (unless the field already says something); those with no field are returned."""
    loose = []
    for name, message in problems:
        target = form._fields.get(name) if name else None
        if target is None:
            loose.append(message)
        elif not target.errors:
            target.errors = [*target.errors, message]
    return loose


# Reading ------------------------------------------------------------------------------------------------


@bp.get("/people/<int:person_id>/managed-account")
@requires(*CASE_VIEWERS)
def index(person_id: int):
    recipient = recipient_or_404(person_id)
    account = _account_or_404(recipient)
    organisation = db.session.get(Organisation, account.managed_by_id)
    payments = service.payments_of(account.id)
    owed = service.money_owed(account.id)
    # The payment recorded for an item owed (an invoice's, or a pay run item's while a payment holds it).
    owed_payments = {service.payment_key(p.id): p for p in payments if p.kind == ManagedPaymentKind.INVOICE}
    keys = {item.id: item.key for item in owed}
    owed_payments.update({keys[p.live_item_id]: p for p in payments if p.live_item_id in keys})
    return render_template(
        "managed_payments/index.html", recipient=recipient, caption=capacity_caption(current_user, recipient),
        account=account, organisation=organisation, payments=payments, status=status_of,
        waiting=[p for p in payments if p.status == ManagedPaymentStatus.RECORDED],
        owed=owed, owed_payments=owed_payments, owed_words=service.pay_run_words(owed),
        contributions=service.contributions_of(account.id),
        balance_pence=ledger.balance(account.id), can_record=service.may_record(current_user, account),
        kinds=service.KIND_WORDS, own=current_user.role == Role.RECIPIENT,
    )


def _history(payment: ManagedPayment) -> list[tuple[object, str]]:
    who = service.names([payment.recorded_by_id, payment.approved_by_id, payment.cancelled_by_id])
    events = [(payment.recorded_at, f"Recorded by {who.get(payment.recorded_by_id, 'a member of staff')}"
                                    + (f": over the limit of {format_pounds(payment.approval_limit_pence)}, so a second "
                                       "person must approve it" if payment.needs_approval else ""))]
    if payment.approved_at:
        events.append((payment.approved_at, f"Approved by {who.get(payment.approved_by_id, 'a member of staff')}"))
    if payment.status == ManagedPaymentStatus.PAID and payment.paid_on:
        events.append((None, f"Paid from the account on {payment.paid_on.day} {payment.paid_on:%B %Y}"))
    if payment.cancelled_at:
        events.append((payment.cancelled_at, f"Cancelled by {who.get(payment.cancelled_by_id, 'a member of staff')}: "
                                             f"{payment.cancel_reason}"))
    return events


def _show(recipient: Recipient, payment: ManagedPayment, approve_form=None, cancel_form=None):
    can_approve = service.may_approve(current_user, payment)
    can_cancel = service.may_cancel(current_user, payment)
    if can_approve and approve_form is None:
        approve_form = ApproveForm(formdata=None, version=str(payment.version))
    if can_cancel and cancel_form is None:
        cancel_form = CancelForm(formdata=None, version=str(payment.version))
    shown = cancel_form if (cancel_form is not None and cancel_form.errors) else None
    extra = {"form": shown} if shown is not None else {}  # base.html reads form.errors for the error summary
    who = service.names([payment.recorded_by_id, payment.approved_by_id])
    pay_run = service.pay_run_item_of(payment) if payment.kind == ManagedPaymentKind.PAY_RUN else None
    gone = service.pay_run_item_gone(payment) if pay_run is not None and payment.status == ManagedPaymentStatus.RECORDED else None
    return render_template(
        "managed_payments/show.html", recipient=recipient, caption=capacity_caption(current_user, recipient),
        payment=payment, status=status_of(payment), kind_words=service.KIND_WORDS[payment.kind], pay_run=pay_run,
        pay_run_gone=gone,
        timesheets=service.timesheets_paid_by(payment), history=_history(payment),
        recorded_by=who.get(payment.recorded_by_id, ""), approved_by=who.get(payment.approved_by_id, ""),
        approve_form=approve_form if can_approve else None, cancel_form=cancel_form if can_cancel else None,
        own_recording=payment.status == ManagedPaymentStatus.RECORDED and current_user.id == payment.recorded_by_id,
        staff_view=current_user.is_staff, **extra,
    )


@bp.get("/people/<int:person_id>/managed-account/<int:payment_id>")
@requires(*CASE_VIEWERS)
def show(person_id: int, payment_id: int):
    recipient = recipient_or_404(person_id)
    payment = _payment_or_404(recipient, payment_id)
    return _show(recipient, payment)


@bp.get("/people/<int:person_id>/managed-account/<int:payment_id>/invoice")
@requires(*CASE_VIEWERS)
def invoice(person_id: int, payment_id: int):
    recipient = recipient_or_404(person_id)
    payment = _payment_or_404(recipient, payment_id)
    if not payment.invoice_storage_name:
        abort(404)
    try:
        handle = Storage.from_config().open(payment.invoice_storage_name)
    except FileNotFoundError:
        current_app.logger.error("managed payment %s has an invoice row but no stored file", payment.id)
        abort(404)
    audit("managed_payment.invoice_downloaded", record_type="managed_payment", record_id=payment.id,
          acting_for_id=recipient.person_id)
    db.session.commit()
    response = send_file(
        handle, mimetype=payment.invoice_content_type, as_attachment=True, download_name=payment.invoice_display_name,
        max_age=0, etag=False, conditional=False,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


# Recording ------------------------------------------------------------------------------------------------


def _recordable(person_id: int) -> tuple[Recipient, DPAccount]:
    """The person and their managed account, for staff of the DPSS that holds it (else 404)."""
    recipient = recipient_or_404(person_id)
    account = _account_or_404(recipient)
    if not service.may_record(current_user, account):
        abort(404)
    return recipient, account


def _read_invoice(form: InvoiceForm):
    """The cleaned invoice, or None with the refusal beside the field."""
    upload = form.invoice.data
    if not upload or not getattr(upload, "filename", None):
        return None
    data = upload.stream.read(evidence.MAX_BYTES + 1)
    try:
        return evidence.check_and_clean(data, upload.filename or "")
    except UploadRefused as refusal:
        form.invoice.errors = [refusal.message]
        return None


def _new_payment(kind: ManagedPaymentKind, form) -> service.NewPayment:
    category = getattr(form, "category", None)
    category_value = category.data if category is not None else None
    return service.NewPayment(
        kind=kind, amount_pence=form.amount.pence if hasattr(form, "amount") else None, pay_on=form.pay_on.data,
        request_key=form.key(), payee=(form.payee.data or "") if hasattr(form, "payee") else "",
        description=(form.description.data or "") if hasattr(form, "description") else "",
        expected_item_id=form.item_id() if hasattr(form, "item_id") else None,
        category=Category(category_value) if category_value in {c.value for c in Category} else None,
        invoice_number=(form.invoice_number.data or "") if hasattr(form, "invoice_number") else "",
        invoice_due_on=form.invoice_due_on.data if hasattr(form, "invoice_due_on") else None,
        timesheet_ids=tuple(form.timesheets.data or ()) if hasattr(form, "timesheets") else (),
    )


@bp.route("/people/<int:person_id>/managed-account/new/<kind_slug>", methods=["GET", "POST"])
@requires(DPSS_STAFF)
def record(person_id: int, kind_slug: str):
    kind = service.KIND_SLUGS.get(kind_slug)
    if kind is None:
        abort(404)
    recipient, account = _recordable(person_id)
    form = FORMS[kind]()
    payable, offered = [], []
    if kind == ManagedPaymentKind.WAGES:
        payable, _, _ = service.timesheet_choices(recipient.person_id)
        form.timesheets.choices = [(str(p.timesheet.id), p.words) for p in payable]
    if kind in (ManagedPaymentKind.PAY_RUN, ManagedPaymentKind.WAGES):  # wages: to point to the pay run's instead
        offered, _, _ = service.pay_run_choices(account.id)
    if kind == ManagedPaymentKind.PAY_RUN:
        form.item.choices = [(str(p.item.id), f"{p.words}: {format_pounds(p.owed_pence)}") for p in offered]
    loose: list[str] = []
    if form.is_submitted():
        form.validate()  # reads what was typed; the rules below are the service's
        cleaned = _read_invoice(form) if kind == ManagedPaymentKind.INVOICE and not form.invoice.errors else None
        new = _new_payment(kind, form)
        if kind == ManagedPaymentKind.INVOICE and form.invoice.errors:
            has_invoice = True  # the file's own refusal is already beside the field
        else:
            has_invoice = cleaned is not None
        if form.errors:
            # Say everything at once: the rules' problems for the fields that read well.
            payables, refused, pay_run, pay_run_refused = [], {}, None, None
            if kind == ManagedPaymentKind.WAGES:
                _, payables, refused = service.timesheet_choices(recipient.person_id, new.timesheet_ids)
            if kind == ManagedPaymentKind.PAY_RUN and new.expected_item_id is not None:
                _, pay_run, pay_run_refused = service.pay_run_choices(account.id, new.expected_item_id)
            loose = _put_problems(form, [(n, m) for n, m in service.payment_problems(
                new, account, london_today(), has_invoice=has_invoice, payables=payables, refused=refused, pay_run=pay_run,
                pay_run_refused=pay_run_refused)
                if n not in form._fields or n not in ("amount", "pay_on", "invoice_due_on") or not form._fields[n].errors])
        else:
            try:
                payment = service.record(
                    account, current_user, new, cleaned,
                    before_commit=lambda p: audit("managed_payment.recorded", record_type="managed_payment", record_id=p.id,
                                                  acting_for_id=recipient.person_id,
                                                  outcome="waiting for approval" if p.needs_approval else "paid"),
                )
            except service.AlreadyRecorded as already:
                flash(already.message, "info")
                return redirect(_show_url(already.record))
            except service.PaymentError as error:
                loose = _put_problems(form, error.problems)
            except OSError as error:  # the folder is full or read-only: no invoice stored, nothing recorded or paid
                if kind != ManagedPaymentKind.INVOICE:
                    raise  # only an invoice is stored: anything else is not the folder's fault
                storage_failed(form.invoice, error)
            else:
                if payment.needs_approval:
                    flash(f"Payment of {format_pounds(payment.amount_pence)} to {payment.payee} recorded. It is over "
                          f"the limit of {format_pounds(payment.approval_limit_pence)}, so another member of staff must "
                          "approve it before it is paid.", "success")
                else:
                    flash(f"Payment of {format_pounds(payment.amount_pence)} to {payment.payee} recorded and paid from "
                          f"{recipient.full_name}'s account.", "success")
                return redirect(_show_url(payment))
    else:
        form.request_key.data = new_request_key()
        form.pay_on.data = london_today()
        if kind == ManagedPaymentKind.WAGES and len(payable) == 1:
            form.timesheets.data = [payable[0].timesheet.id]
        if kind == ManagedPaymentKind.PAY_RUN and len(offered) == 1:
            form.item.data = str(offered[0].item.id)
    organisation = db.session.get(Organisation, account.managed_by_id)
    return render_template(
        "managed_payments/record.html", recipient=recipient, caption=capacity_caption(current_user, recipient),
        form=form, kind=kind, kind_slug=kind_slug, title=TITLES[kind], accept=ACCEPT, payable=payable, offered=offered,
        item_hints=[{"hint": {"text": f"To {p.payee}, due {p.item.due_date.day} {p.item.due_date:%B %Y}"}} for p in offered],
        limit_pence=organisation.payment_approval_limit_pence, balance_pence=ledger.balance(account.id), loose=loose,
        back_url=_index_url(recipient),
    )


@bp.route("/people/<int:person_id>/managed-account/contributions/new", methods=["GET", "POST"])
@requires(DPSS_STAFF)
def record_contribution(person_id: int):
    recipient, account = _recordable(person_id)
    form = ContributionForm()
    loose: list[str] = []
    if form.is_submitted():
        form.validate()
        method = form.method.data if form.method.data in {m.value for m in ContributionMethod} else None
        new = service.NewContribution(
            amount_pence=form.amount.pence, received_on=form.received_on.data,
            method=ContributionMethod(method) if method else None, request_key=form.key(), note=form.note.data or "")
        if form.errors:
            _put_problems(form, [(n, m) for n, m in service.contribution_problems(new, account, london_today())
                                 if n not in ("amount", "received_on") or not form._fields[n].errors])
        else:
            try:
                received = service.record_contribution(
                    account, current_user, new,
                    before_commit=lambda c: audit("managed_contribution.recorded", record_type="managed_contribution",
                                                  record_id=c.id, acting_for_id=recipient.person_id))
            except service.AlreadyRecorded as already:
                flash(already.message, "info")
                return redirect(_index_url(recipient))
            except service.PaymentError as error:
                loose = _put_problems(form, error.problems)
            else:
                words = f"Contribution of {format_pounds(received.amount_pence)} recorded in {recipient.full_name}'s account."
                if received.settled_item_id:
                    words += " It pays the contribution that was due."
                flash(words, "success")
                return redirect(_index_url(recipient))
    else:
        form.request_key.data = new_request_key()
        form.received_on.data = london_today()
    return render_template(
        "managed_payments/contribution.html", recipient=recipient, caption=capacity_caption(current_user, recipient),
        form=form, loose=loose, back_url=_index_url(recipient),
    )


# Approving and cancelling ----------------------------------------------------------------------------------


@bp.post("/people/<int:person_id>/managed-account/<int:payment_id>/approve")
@requires(DPSS_STAFF)
def approve(person_id: int, payment_id: int):
    recipient = recipient_or_404(person_id)
    payment = _payment_or_404(recipient, payment_id)
    form = ApproveForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        with immediate_transaction():
            service.approve(payment, current_user, form.version_number())
            audit("managed_payment.approved", record_type="managed_payment", record_id=payment.id,
                  acting_for_id=recipient.person_id)
    except service.PaymentError as error:
        flash(error.message, "info" if isinstance(error, service.AlreadyPaid) else "error")
        return redirect(_show_url(payment))
    flash(f"Payment approved: {format_pounds(payment.amount_pence)} was paid to {payment.payee} from "
          f"{recipient.full_name}'s account.", "success")
    return redirect(_show_url(payment))


@bp.post("/people/<int:person_id>/managed-account/<int:payment_id>/cancel")
@requires(DPSS_STAFF)
def cancel(person_id: int, payment_id: int):
    recipient = recipient_or_404(person_id)
    payment = _payment_or_404(recipient, payment_id)
    form = CancelForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        with immediate_transaction():
            service.cancel(payment, current_user, form.version_number(), form.reason.data or "")
            audit("managed_payment.cancelled", record_type="managed_payment", record_id=payment.id,
                  acting_for_id=recipient.person_id)
    except service.PaymentError as error:
        loose = _put_problems(form, [(n, m) for n, m in error.problems if n == "reason"])
        if form.reason.errors and not loose and service.may_cancel(current_user, payment):
            return _show(recipient, payment, cancel_form=form), 200
        flash(error.message, "error")
        return redirect(_show_url(payment))
    flash(f"Payment cancelled: nothing was paid to {payment.payee}.", "success")
    return redirect(_show_url(payment))


# The organisation's payments waiting for a second person -----------------------------------------------------


@bp.get("/managed-account/approvals")
@requires(DPSS_STAFF)
def approvals():
    user = current_user._get_current_object()
    if user.organisation_id is None:
        abort(403)
    waiting = service.waiting_for_approval(user)
    return render_template(
        "managed_payments/approvals.html", waiting=waiting, organisation=user.organisation,
        limit_pence=user.organisation.payment_approval_limit_pence, kinds=service.KIND_WORDS,
        is_manager=user.role == Role.DPSS_MANAGER,
    )


# The approval limit ------------------------------------------------------------------------------------------


@bp.get("/managed-account/approval-limit")
@requires(DPSS_MANAGER, ADMINISTRATOR)
def limits():
    """A manager goes straight to their organisation's limit; the administrator picks a DPSS."""
    if current_user.role == Role.DPSS_MANAGER:
        if current_user.organisation_id is None:
            abort(403)
        return redirect(url_for(".limit", organisation_id=current_user.organisation_id))
    providers = list(db.session.scalars(
        sa.select(Organisation).where(Organisation.kind == OrganisationKind.DPSS).order_by(Organisation.name)))
    return render_template("managed_payments/limits.html", providers=providers)


@bp.route("/managed-account/approval-limit/<int:organisation_id>", methods=["GET", "POST"])
@requires(DPSS_MANAGER, ADMINISTRATOR)
def limit(organisation_id: int):
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None or not service.may_set_limit(current_user, organisation):
        abort(404)
    form = LimitForm()
    if form.validate_on_submit():
        before = organisation.payment_approval_limit_pence
        try:
            service.set_limit(organisation, current_user, form.limit.pence)
        except service.PaymentError as error:
            _put_problems(form, error.problems)
        else:
            audit("organisation.approval_limit_changed", record_type="organisation", record_id=organisation.id,
                  outcome=f"{format_pounds(before)} to {format_pounds(organisation.payment_approval_limit_pence)}")
            db.session.commit()
            flash(f"Approval limit saved: payments over {format_pounds(organisation.payment_approval_limit_pence)} "
                  "need a second member of staff to approve them.", "success")
            return redirect(url_for(".limit", organisation_id=organisation.id))
    elif not form.is_submitted():
        form.limit.data = service.pounds(organisation.payment_approval_limit_pence).lstrip("£")
    back = url_for(".approvals") if current_user.role.is_dpss else url_for(".limits")
    return render_template("managed_payments/limit.html", organisation=organisation, form=form, back_url=back)


# The person's money page -----------------------------------------------------------------------------------


@dataclass
class MoneyPageManaged:
    """What the money page shows of a managed account (its block marked "managed_payments")."""

    organisation_name: str = ""
    payments: list = field(default_factory=list)  # the newest few, any status
    waiting: int = 0
    any_payments: bool = False


@bp.app_template_global("managed_on_money_page")
def managed_on_money_page(recipient: Recipient) -> MoneyPageManaged | None:
    """The newest payments from the person's managed account, or None when they have none."""
    account = service.managed_account(recipient.person_id)
    if account is None:
        return None
    organisation = db.session.get(Organisation, account.managed_by_id)
    recent = service.payments_of(account.id, limit=service.RECENT)
    waiting = sum(1 for p in service.payments_of(account.id) if p.status == ManagedPaymentStatus.RECORDED) if recent else 0
    return MoneyPageManaged(organisation_name=organisation.name, payments=recent, waiting=waiting, any_payments=bool(recent))


@bp.app_template_global("managed_payment_status")
def managed_payment_status(payment: ManagedPayment) -> tuple[str, str]:
    return status_of(payment)


@bp.app_template_global("has_managed_account")
def has_managed_account(recipient: Recipient) -> bool:
    """Whether a DPSS holds the person's money (for the person's navigation: the page is 404 otherwise)."""
    return service.managed_account(recipient.person_id) is not None
