"""Card statement imports, rows kept for review, and money settings (council settings, rates, rules).

Uploading a statement: DPSS staff and council officers. Rows for card accounts the portal does not
know: DPSS managers and council officers (nobody can tell whose they are yet), who attach each one to
an account of someone they may see. Council settings, national rates and categorisation rules: the
administrator. Settings and rates are history (a change adds a row from a date); rules are
configuration.
"""

import tempfile
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from portal.access import (
    ADMINISTRATOR,
    COUNCIL_OFFICER,
    DPSS_MANAGER,
    DPSS_STAFF,
    accounts_of,
    recipient_or_404,
    requires,
    visible_recipients,
)
from portal.extensions import csrf, db
from portal.models import (
    CardImport,
    CardImportRejection,
    Category,
    CategoryRule,
    Organisation,
    OrganisationKind,
    PaymentMethod,
    Person,
    Recipient,
    UnmatchedCardRow,
    User,
)
from portal.services import audits, card_import, local_settings
from portal.services.clock import london_today, utcnow
from portal.web.helpers import audit
from portal.web.uploads import storage_failed
from portal.web.money_admin.forms import (
    LAYOUT_HINTS,
    ActionForm,
    CardImportForm,
    CategoryRuleForm,
    CouncilSettingsForm,
    NationalRateForm,
    ResolveForm,
)

bp = Blueprint("money_admin", __name__)

PAGE_SIZE = 50
REJECTIONS_SHOWN = 1000
SEARCH_RESULTS = 20
# Statement uploads have a limit of their own, CARD_IMPORT_MAX_CONTENT_LENGTH, applied to this
# endpoint's requests only (not the site-wide MAX_CONTENT_LENGTH, which is sized for evidence files).
# The import runs inside the request, at roughly 2,000 to 4,500 rows a second, so time limits the size
# before bytes do: 12MB of a typical export (about 120,000 rows) already takes 30 to 60 seconds. Raise
# it together with the server's timeout, or import bigger files with `flask import-card-transactions`.
DEFAULT_CARD_IMPORT_MAX_BYTES = 12 * 1024 * 1024


# Card statement uploads ------------------------------------------------------------------------


def _upload_limit() -> int:
    return int(current_app.config.get("CARD_IMPORT_MAX_CONTENT_LENGTH", DEFAULT_CARD_IMPORT_MAX_BYTES))


def _size_in_words(size: int) -> str:
    """10MB, or 500KB for a limit under a megabyte (GOV.UK writes sizes without a space)."""
    if size >= 1024 * 1024:
        return f"{size // (1024 * 1024)}MB"
    return f"{max(1, size // 1024)}KB"


def _display_name(filename: str | None) -> str:
    """The name the person's computer gave the file, without any folders (shown, never used as a path)."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name[:200] or "statement.csv"


def _render_upload(form: CardImportForm, status: int = 200):
    return render_template(
        "money_admin/new_import.html", form=form, limit=_size_in_words(_upload_limit()),
        layout_items=[{"hint": {"text": LAYOUT_HINTS.get(value, "")}} for value, _ in form.layout.choices],
    ), status


@bp.route("/card-imports/new", methods=["GET", "POST"])
# The automatic CSRF check reads the form before any view runs, under the site-wide size limit; this
# view sets its own limit first and then runs the same check itself (csrf.protect below).
@csrf.exempt
@requires(DPSS_STAFF, COUNCIL_OFFICER)
def new_import():
    if request.method == "POST":
        request.max_content_length = _upload_limit()
        try:
            csrf.protect()
        except RequestEntityTooLarge:
            form = CardImportForm(formdata=None)
            form.statement.errors = [f"The selected file must be smaller than {_size_in_words(_upload_limit())}"]
            return _render_upload(form, 413)
    form = CardImportForm()
    if not form.validate_on_submit():
        return _render_upload(form)
    upload = form.statement.data
    layout = card_import.LAYOUTS[form.layout.data]
    # Copied in chunks to a file of its own (the upload itself is already spooled to disk when large),
    # read by the importer a row at a time, and removed whatever happens.
    temporary = None
    try:
        with tempfile.NamedTemporaryFile(prefix="card-import-", suffix=".csv", delete=False) as spool:
            temporary = Path(spool.name)
            upload.save(spool)
    except OSError as error:  # the temporary folder is full or read-only: nothing was imported
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        storage_failed(form.statement, error)
        return _render_upload(form)
    try:
        report = card_import.import_file(
            temporary, layout, user_id=current_user.id, display_name=_display_name(upload.filename)
        )
    finally:
        temporary.unlink(missing_ok=True)
    audit(
        "card_import.uploaded", record_type="card_import", record_id=report.import_id,
        outcome="file refused" if report.file_error else "imported",
    )
    db.session.commit()
    if report.file_error:
        form.statement.errors.append(
            f"The file could not be imported: {report.file_error}. Check the file and how it is laid out"
        )
        return _render_upload(form)
    flash(f"{report.filename} has been imported.", "success")
    return redirect(url_for("money_admin.import_report", import_id=report.import_id))


@bp.get("/card-imports")
@requires(DPSS_STAFF, COUNCIL_OFFICER)
def imports():
    """Past imports, newest first, 50 to a page (keyset: older than an id)."""
    query = (
        sa.select(CardImport, User.display_name)
        .outerjoin(User, User.id == CardImport.created_by_id)
        .order_by(CardImport.id.desc())
    )
    before = request.args.get("before", type=int)
    if before:
        query = query.where(CardImport.id < before)
    rows = db.session.execute(query.limit(PAGE_SIZE + 1)).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render_template("money_admin/imports.html", rows=rows, more=more)


@bp.get("/card-imports/<int:import_id>")
@requires(DPSS_STAFF, COUNCIL_OFFICER)
def import_report(import_id: int):
    record = db.session.get(CardImport, import_id)
    if record is None:
        abort(404)
    rejections = db.session.scalars(
        sa.select(CardImportRejection).where(CardImportRejection.import_id == import_id)
        .order_by(CardImportRejection.line_number, CardImportRejection.id).limit(REJECTIONS_SHOWN)
    ).all()
    uploaded_by = db.session.scalar(sa.select(User.display_name).where(User.id == record.created_by_id)) if record.created_by_id else None
    return render_template(
        "money_admin/import_report.html", record=record, rejections=rejections, uploaded_by=uploaded_by,
        may_review=_may_review(),
    )


# Rows kept for review ---------------------------------------------------------------------------


def _may_review() -> bool:
    return DPSS_MANAGER.allows(current_user) or COUNCIL_OFFICER.allows(current_user)


@bp.get("/card-imports/unmatched")
@requires(DPSS_MANAGER, COUNCIL_OFFICER)
def unmatched():
    """Rows for card accounts the portal does not know, oldest first, 50 to a page."""
    query = sa.select(UnmatchedCardRow).where(UnmatchedCardRow.resolved_entry_id.is_(None)).order_by(UnmatchedCardRow.id)
    after = request.args.get("after", type=int)
    if after:
        query = query.where(UnmatchedCardRow.id > after)
    rows = db.session.scalars(query.limit(PAGE_SIZE + 1)).all()
    more = len(rows) > PAGE_SIZE
    total = db.session.scalar(
        sa.select(sa.func.count()).select_from(UnmatchedCardRow).where(UnmatchedCardRow.resolved_entry_id.is_(None))
    )
    return render_template("money_admin/unmatched.html", rows=rows[:PAGE_SIZE], more=more, total=total)


def _row_or_404(row_id: int) -> UnmatchedCardRow:
    row = db.session.get(UnmatchedCardRow, row_id)
    if row is None:
        abort(404)
    return row


def _card_accounts(recipient: Recipient):
    """The accounts a card statement row can belong to: the person's prepaid card accounts."""
    return [account for account in accounts_of(recipient) if account.method == PaymentMethod.PREPAID_CARD]


def _search(text: str) -> tuple[list[Recipient], bool]:
    """People the user may see whose name contains the text (never anyone outside their scope)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    full_name = sa.func.lower(Person.given_name + " " + Person.family_name)
    found = db.session.scalars(
        visible_recipients(current_user)
        .join(Person, Person.id == Recipient.person_id)
        .where(full_name.like(f"%{escaped}%", escape="\\"))
        .order_by(Person.family_name, Person.given_name, Person.id)
        .limit(SEARCH_RESULTS + 1)
    ).all()
    return found[:SEARCH_RESULTS], len(found) > SEARCH_RESULTS


@bp.get("/card-imports/unmatched/<int:row_id>")
@requires(DPSS_MANAGER, COUNCIL_OFFICER)
def unmatched_row(row_id: int):
    """Three steps on one URL: find the person (q), choose their card account (recipient), check (account)."""
    row = _row_or_404(row_id)
    context = {"row": row}
    if row.resolved_entry_id is not None:
        return render_template("money_admin/unmatched_row.html", step="done", refused=False, **context)
    person_id = request.args.get("recipient", type=int)
    if person_id is None:
        text = request.args.get("q", "").strip()[:100]
        results, more = _search(text) if text else ([], False)
        return render_template("money_admin/unmatched_row.html", step="search", q=text, results=results, more=more, **context)
    recipient = recipient_or_404(person_id)
    accounts = _card_accounts(recipient)
    account_id = request.args.get("account", type=int)
    if account_id is None and len(accounts) == 1:
        account_id = accounts[0].id
    account = next((a for a in accounts if a.id == account_id), None)
    if account is None:
        chosen_wrongly = "account" in request.args
        return render_template(
            "money_admin/unmatched_row.html", step="account", recipient=recipient, accounts=accounts,
            account_error="Select the account to add the transaction to" if chosen_wrongly else None, **context,
        )
    form = ResolveForm(formdata=None, recipient_id=recipient.person_id, account_id=account.id)
    return render_template(
        "money_admin/unmatched_row.html", step="check", recipient=recipient, account=account, accounts=accounts,
        form=form, **context,
    )


def _already_attached(row: UnmatchedCardRow):
    db.session.rollback()
    row = db.session.get(UnmatchedCardRow, row.id)
    return render_template("money_admin/unmatched_row.html", step="done", row=row, refused=True), 409


@bp.post("/card-imports/unmatched/<int:row_id>")
@requires(DPSS_MANAGER, COUNCIL_OFFICER)
def resolve_row(row_id: int):
    row = _row_or_404(row_id)
    if row.resolved_entry_id is not None:
        return _already_attached(row)
    form = ResolveForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        person_id, account_id = int(form.recipient_id.data), int(form.account_id.data)
    except ValueError:
        abort(400)
    recipient = recipient_or_404(person_id)  # someone outside the user's scope is not found
    account = next((a for a in _card_accounts(recipient) if a.id == account_id), None)
    if account is None:
        abort(404)
    # Claim the row first: a second request at the same moment waits for this one, then finds it taken.
    claimed = db.session.execute(
        sa.update(UnmatchedCardRow)
        .where(UnmatchedCardRow.id == row.id, UnmatchedCardRow.resolved_entry_id.is_(None), UnmatchedCardRow.resolved_at.is_(None))
        .values(resolved_at=utcnow(), resolved_by_id=current_user.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return _already_attached(row)
    try:
        entry = card_import.resolve_unmatched(row, account, user_id=current_user.id)
        audit(
            "card_row.resolved", record_type="unmatched_card_row", record_id=row.id, acting_for_id=recipient.person_id,
            outcome=f"entry {entry.id}",
        )
        db.session.commit()
    except (ValueError, IntegrityError):
        return _already_attached(row)
    flash(f"Transaction {row.external_id} has been added to {recipient.full_name}'s account.", "success")
    return redirect(url_for("money_admin.unmatched"))


# Money settings: overview -----------------------------------------------------------------------


@bp.get("/admin/money-settings")
@requires(ADMINISTRATOR)
def settings_overview():
    councils = db.session.scalars(
        sa.select(Organisation).where(Organisation.kind == OrganisationKind.COUNCIL).order_by(Organisation.name)
    ).all()
    today = london_today()
    return render_template(
        "money_admin/settings_overview.html", councils=councils, in_force=local_settings.council_settings_in_force(today),
        defaults=local_settings.DEFAULTS, today=today,
    )


# Council settings ---------------------------------------------------------------------------------


def _council_or_404(council_id: int) -> Organisation:
    council = db.session.get(Organisation, council_id)
    if council is None or council.kind != OrganisationKind.COUNCIL:
        abort(404)
    return council


@bp.get("/admin/councils/<int:council_id>/settings")
@requires(ADMINISTRATOR)
def council_settings(council_id: int):
    council = _council_or_404(council_id)
    today = london_today()
    current = local_settings.council_settings_row(council.id, today)
    return render_template(
        "money_admin/council_settings.html", council=council, history=local_settings.council_settings_history(council.id),
        current=current, defaults=local_settings.DEFAULTS, today=today,
    )


@bp.route("/admin/councils/<int:council_id>/settings/new", methods=["GET", "POST"])
@requires(ADMINISTRATOR)
def new_council_settings(council_id: int):
    council = _council_or_404(council_id)
    form = CouncilSettingsForm()
    if request.method == "GET":
        # Start from what is in force today, so a change means typing only what changes.
        base = local_settings.council_settings(council.id, london_today())
        form.cycle_anchor.data = base.cycle_anchor
        form.excess_weeks.data = base.excess_weeks
        form.contingency.data = base.contingency_pence
        form.evidence_threshold.data = base.evidence_threshold_pence
        form.retention_years.data = base.retention_years
        in_force = local_settings.council_settings_row(council.id, london_today())
        form.safeguarding_email.data = in_force.safeguarding_email if in_force else ""
        form.audit_months.data = in_force.audit_months if in_force else 12
    if form.validate_on_submit():
        try:
            row = local_settings.add_council_settings(
                council_id=council.id, effective_from=form.effective_from.data, cycle_anchor=form.cycle_anchor.data,
                excess_weeks=form.excess_weeks.data, contingency_pence=form.contingency.data,
                evidence_threshold_pence=form.evidence_threshold.data, retention_years=form.retention_years.data,
                user_id=current_user.id,
            )
            row.safeguarding_email = form.safeguarding_email.data or ""  # issue 6: the safeguarding contact
            if form.audit_months.data is None:  # issue 6: how often each person is audited (empty: as before)
                before = local_settings.council_settings_row(council.id, row.effective_from - timedelta(days=1))
                row.audit_months = before.audit_months if before is not None else 12
            else:
                row.audit_months = form.audit_months.data
            db.session.flush()
            # The council's people's audit due dates follow its frequency (stored for the work queues).
            audits.refresh_due_dates(council_id=council.id)
            audit("council_settings.added", record_type="council_settings", record_id=row.id, outcome=f"council {council.id}")
            db.session.commit()
        except local_settings.SettingsError as error:
            db.session.rollback()
            getattr(form, error.field or "effective_from").errors.append(str(error))
        except IntegrityError:
            db.session.rollback()
            form.effective_from.errors.append("This council already has settings from that date: choose another date")
        else:
            flash(f"Settings for {council.name} from {_long_date(row.effective_from)} have been saved.", "success")
            return redirect(url_for("money_admin.council_settings", council_id=council.id))
    return render_template("money_admin/new_council_settings.html", council=council, form=form)


def _long_date(day) -> str:
    return f"{day.day} {day:%B %Y}"


# National rates -------------------------------------------------------------------------------------


@bp.get("/admin/rates")
@requires(ADMINISTRATOR)
def rates():
    today = london_today()
    history = local_settings.rate_history()
    in_force = {}
    for key, rows in history.items():
        in_force[key] = next((row.id for row in rows if row.effective_from <= today), None)
    return render_template("money_admin/rates.html", history=history, in_force=in_force, today=today)


@bp.route("/admin/rates/new", methods=["GET", "POST"])
@requires(ADMINISTRATOR)
def new_rate():
    form = NationalRateForm()
    history = local_settings.rate_history()
    form.existing_key.choices = [("", "A new rate (enter its key below)")] + [
        (key, f"{rows[0].label} ({key})") for key, rows in history.items()
    ]
    if request.method == "GET":
        key = request.args.get("key", "")
        if key in history:
            latest = history[key][0]
            form.existing_key.data, form.label.data, form.unit.data, form.source.data = key, latest.label, latest.unit, ""
    if form.validate_on_submit():
        try:
            row = local_settings.add_national_rate(
                key=form.key, label=form.label.data, effective_from=form.effective_from.data, value=form.value.data,
                unit=form.unit.data, source=form.source.data, user_id=current_user.id,
            )
            audit("national_rate.added", record_type="national_rate", record_id=row.id, outcome=row.key[:40])
            db.session.commit()
        except local_settings.SettingsError as error:
            db.session.rollback()
            field = error.field if error.field != "new_key" or not form.existing_key.data else "existing_key"
            getattr(form, field or "effective_from").errors.append(str(error))
        except IntegrityError:
            db.session.rollback()
            form.effective_from.errors.append("This rate already has a row from that date: choose another date")
        else:
            flash(f"{row.label} from {_long_date(row.effective_from)} has been saved.", "success")
            return redirect(url_for("money_admin.rates"))
    return render_template("money_admin/new_rate.html", form=form)


# Categorisation rules ---------------------------------------------------------------------------------


@bp.get("/admin/category-rules")
@requires(ADMINISTRATOR)
def category_rules():
    rules = db.session.scalars(sa.select(CategoryRule).order_by(CategoryRule.position, CategoryRule.id)).all()
    return render_template("money_admin/category_rules.html", rules=rules, action_form=ActionForm())


@bp.route("/admin/category-rules/new", methods=["GET", "POST"])
@requires(ADMINISTRATOR)
def new_category_rule():
    form = CategoryRuleForm()
    if request.method == "GET" and form.position.data is None:
        highest = db.session.scalar(sa.select(sa.func.max(CategoryRule.position))) or 0
        form.position.data = highest + 10
    if form.validate_on_submit():
        rule = CategoryRule(
            position=form.position.data,
            merchant_contains=(form.merchant_contains.data or "").strip(),
            mcc=(form.mcc.data or "").strip(),
            category=Category(form.category.data) if form.category.data else None,
            flag=form.flag.data or "",
        )
        db.session.add(rule)
        db.session.flush()
        audit("category_rule.added", record_type="category_rule", record_id=rule.id)
        db.session.commit()
        flash("The rule has been added. It applies to statements imported from now on.", "success")
        return redirect(url_for("money_admin.category_rules"))
    return render_template("money_admin/new_category_rule.html", form=form)


@bp.post("/admin/category-rules/<int:rule_id>/delete")
@requires(ADMINISTRATOR)
def delete_category_rule(rule_id: int):
    rule = db.session.get(CategoryRule, rule_id)
    if rule is None:
        abort(404)
    if ActionForm().validate_on_submit():
        audit(
            "category_rule.deleted", record_type="category_rule", record_id=rule.id,
            outcome=f"{rule.merchant_contains or '-'}/{rule.mcc or '-'}"[:40],
        )
        db.session.delete(rule)
        db.session.commit()
        flash("The rule has been deleted. Transactions already imported keep their category.", "success")
    return redirect(url_for("money_admin.category_rules"))
