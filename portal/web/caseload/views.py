"""Staff views of their caseload and a case's life: the list with search and filters, reassigning
(managers), set-up steps, closing a case and moving a person to another provider or council, and
inviting people to create an account. The rules are in services/case_lifecycle.py."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.access import (
    CASE_STAFF,
    COUNCIL_OFFICER,
    DPSS_MANAGER,
    DPSS_STAFF,
    capacity_caption,
    count_visible_recipients,
    recipient_or_404,
    requires,
    visible_recipients,
)
from portal.extensions import db
from portal.models import Recipient, Role, User
from portal.models.case_lifecycle import ClosureReason
from portal.services import accounts, case_lifecycle, caseload_search
from portal.services.clock import london_today
from portal.web.caseload.forms import CloseCaseForm, InvitationForm, MoveCaseForm, SetupForm
from portal.web.helpers import audit, render_page_or_block, safe_next_url

bp = Blueprint("caseload", __name__)


@bp.get("/caseload")
@requires(*CASE_STAFF)
def index():
    """The people this member of staff may see: search, filters and sorting in a GET form (bookmarkable,
    works without JavaScript; htmx swaps only the results), 50 to a page."""
    user = current_user._get_current_object()
    filters = caseload_search.Filters.from_args(request.args)
    page = caseload_search.search(user, filters, london_today())
    is_manager = user.role == Role.DPSS_MANAGER
    caseworkers = case_lifecycle.caseworkers_of(user.organisation_id) if user.role.is_dpss else []
    return render_page_or_block(
        "caseload/index.html", "results",
        page=page, filters=filters, total=count_visible_recipients(user), caseworkers=caseworkers,
        is_manager=is_manager, services=caseload_search.SERVICES, flags=caseload_search.FLAGS,
        statuses=caseload_search.STATUSES, sorts=caseload_search.SORTS, unassigned=caseload_search.UNASSIGNED,
        reference=case_lifecycle.reference, page_url=_page_url, officer=user.role == Role.COUNCIL_OFFICER,
        heading="People we fund" if user.role == Role.COUNCIL_OFFICER else "Caseload",
    )


def _page_url(page_number: int) -> str:
    args = request.args.to_dict(flat=False)
    args["page"] = [str(page_number)]
    return url_for("caseload.index", **args)


@bp.post("/caseload/reassign")
@requires(DPSS_MANAGER)
def reassign():
    """A manager gives the ticked cases to one caseworker, then returns to the same list."""
    back = safe_next_url(request.form.get("return_to")) or url_for("caseload.index")
    people = [int(v) for v in request.form.getlist("people") if v.isdigit()]
    worker = request.form.get("caseworker", "")
    try:
        changed = case_lifecycle.reassign(current_user, people, int(worker) if worker.isdigit() else 0)
    except case_lifecycle.CaseLifecycleError as error:
        flash(str(error), "error")
        return redirect(back)
    audit("cases.reassigned", record_type="user", record_id=int(worker), outcome=f"{changed} cases")
    db.session.commit()
    name = db.session.get(User, int(worker)).display_name
    flash(f"{changed} {'case' if changed == 1 else 'cases'} given to {name}." if changed
          else f"Those cases were already {name}'s.", "success")
    return redirect(back)


@bp.route("/people/<int:person_id>/invite", methods=["GET", "POST"])
@requires(*CASE_STAFF)
def invite(person_id: int):
    recipient = recipient_or_404(person_id)
    candidates = accounts.people_without_accounts(recipient)
    form = InvitationForm()
    form.person.choices = [(str(c.person.id), f"{c.person.full_name} ({c.description})") for c in candidates]
    if not candidates:
        return render_template(
            "caseload/invite.html", recipient=recipient, form=form, candidates=candidates,
            caption=capacity_caption(current_user, recipient),
        )
    if form.validate_on_submit():
        chosen = next((c for c in candidates if str(c.person.id) == form.person.data), None)
        if chosen is None:
            abort(400)
        email = form.email.data.strip().lower()
        if accounts.email_in_use(email):
            form.email.errors.append("There is already an account with that email address")
        else:
            user, token = accounts.invite_person(chosen, email, current_app.config["INVITATION_DAYS"])
            audit("invitation.sent", record_type="user", record_id=user.id, acting_for_id=recipient.person_id)
            db.session.commit()
            days = current_app.config["INVITATION_DAYS"]
            link = url_for("auth.set_password", token=token, _external=True)
            accounts.send_invitation(current_app.config, user, link, days)
            flash(f"We have sent an invitation to {email}.", "success")
            return redirect(url_for("recipient.overview", person_id=recipient.person_id))
    return render_template(
        "caseload/invite.html", recipient=recipient, form=form, candidates=candidates,
        caption=capacity_caption(current_user, recipient),
    )


# A case's life ---------------------------------------------------------------------------------


def _show_problems(form, problems: list[tuple[str, str]]) -> None:
    for name, message in problems:
        field = getattr(form, name, None) or form.submit
        field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]


@bp.get("/people/<int:person_id>/set-up")
@requires(*CASE_STAFF)
def setup(person_id: int):
    """Set-up steps and the case's history (moves, closing). DPSS staff change them; the council reads."""
    recipient = recipient_or_404(person_id)
    life = case_lifecycle.summary(person_id)
    form = SetupForm(obj=life.setup) if current_user.role.is_dpss else None
    return _setup_page(recipient, life, form)


def _setup_page(recipient, life, form):
    # No form at all for the council (the page template checks `form` for its error summary).
    forms = {"form": form} if form is not None else {}
    return render_template(
        "caseload/setup.html", recipient=recipient, life=life, **forms, reference=case_lifecycle.reference(recipient.person_id),
        caption=capacity_caption(current_user, recipient), is_manager=current_user.role == Role.DPSS_MANAGER,
        may_move=current_user.role in (Role.DPSS_MANAGER, Role.COUNCIL_OFFICER),
    )


@bp.post("/people/<int:person_id>/set-up")
@requires(DPSS_STAFF)
def save_setup(person_id: int):
    recipient = recipient_or_404(person_id)
    form = SetupForm()
    if form.validate_on_submit():
        dates = {key: getattr(form, key).data for key, _ in case_lifecycle.SETUP_STEPS}
        try:
            case_lifecycle.record_setup(recipient, current_user, dates, london_today())
        except case_lifecycle.CaseLifecycleError as error:
            db.session.rollback()
            _show_problems(form, error.problems)
        else:
            audit("case.setup_recorded", record_type="recipient", record_id=person_id, acting_for_id=person_id)
            db.session.commit()
            flash("Set-up dates saved.", "success")
            return redirect(url_for("caseload.setup", person_id=person_id))
    return _setup_page(recipient, case_lifecycle.summary(person_id), form), 400


@bp.route("/people/<int:person_id>/close", methods=["GET", "POST"])
@requires(DPSS_STAFF)
def close(person_id: int):
    recipient = recipient_or_404(person_id)
    life = case_lifecycle.summary(person_id)
    form = CloseCaseForm()
    if request.method == "GET" and form.closed_on.data is None:
        form.closed_on.data = london_today()
    status = 200
    if form.validate_on_submit():
        try:
            case_lifecycle.close_case(recipient, current_user, form.reason.data, form.note.data, form.closed_on.data, london_today())
        except case_lifecycle.CaseLifecycleError as error:
            db.session.rollback()
            _show_problems(form, error.problems)
        else:
            # The audit's outcome column is short: the reason's name ("self_managed"), not its words.
            audit("case.closed", record_type="recipient", record_id=person_id, acting_for_id=person_id,
                  outcome=ClosureReason(form.reason.data).name.lower())
            db.session.commit()
            flash(f"{recipient.full_name}'s case is closed. It stays on your list under ‘Closed cases’.", "success")
            return redirect(url_for("caseload.setup", person_id=person_id))
    if request.method == "POST":
        status = 400
    return render_template(
        "caseload/close.html", recipient=recipient, life=life, form=form, caption=capacity_caption(current_user, recipient)
    ), status


@bp.post("/people/<int:person_id>/reopen")
@requires(DPSS_MANAGER)
def reopen(person_id: int):
    recipient = recipient_or_404(person_id)
    if case_lifecycle.reopen_case(recipient):
        audit("case.reopened", record_type="recipient", record_id=person_id, acting_for_id=person_id)
        db.session.commit()
        flash(f"{recipient.full_name}'s case is open again.", "success")
    else:
        flash(f"{recipient.full_name}'s case is already open.", "success")
    return redirect(url_for("caseload.setup", person_id=person_id))


@bp.route("/people/<int:person_id>/move", methods=["GET", "POST"])
@requires(DPSS_MANAGER, COUNCIL_OFFICER)
def move(person_id: int):
    """Move a person to another provider (managers and the council) or council (the council only)."""
    recipient = recipient_or_404(person_id)
    life = case_lifecycle.summary(person_id)
    form = MoveCaseForm()
    current_provider = life.entry.provider_id if life.entry else None
    form.to_provider.choices = [("", "Stay with the current service")] + [
        (str(o.id), o.name) for o in case_lifecycle.providers() if o.id != current_provider
    ]
    is_council = current_user.role == Role.COUNCIL_OFFICER
    if is_council:
        form.to_council.choices = [("", "Stay with the current council")] + [
            (str(o.id), o.name) for o in case_lifecycle.councils() if o.id != recipient.council_id
        ]
    else:
        del form.to_council  # only the council moves a person to another council
    if request.method == "GET" and form.moved_on.data is None:
        form.moved_on.data = london_today()
    status = 400 if request.method == "POST" else 200
    if form.validate_on_submit():
        to_provider = int(form.to_provider.data) if form.to_provider.data else None
        to_council = int(form.to_council.data) if is_council and form.to_council.data else None
        try:
            moved = case_lifecycle.move_case(
                recipient, current_user, to_provider_id=to_provider, to_council_id=to_council,
                moved_on=form.moved_on.data, reason=form.reason.data, today=london_today(),
            )
        except case_lifecycle.CaseLifecycleError as error:
            db.session.rollback()
            _show_problems(form, error.problems)
        else:
            audit("case.moved", record_type="case_move", record_id=moved.id, acting_for_id=person_id)
            name, provider, council = recipient.full_name, moved.to_provider, moved.to_council
            db.session.commit()
            where = " and ".join(
                part for part in (
                    provider.name if moved.to_provider_id != moved.from_provider_id and provider else "",
                    council.name if moved.to_council_id != moved.from_council_id else "",
                ) if part
            )
            still_visible = db.session.scalar(
                visible_recipients(current_user).where(Recipient.person_id == person_id).with_only_columns(Recipient.person_id)
            )
            if still_visible is not None:
                flash(f"{name} has moved to {where}.", "success")
                return redirect(url_for("caseload.setup", person_id=person_id))
            flash(f"{name} has moved to {where}. Your organisation no longer sees their records.", "success")
            return redirect(url_for("caseload.index"))
    return render_template(
        "caseload/move.html", recipient=recipient, life=life, form=form, is_council=is_council,
        caption=capacity_caption(current_user, recipient),
    ), status

