"""Case notes and safeguarding concerns about one person.

Case notes: DPSS staff and council officers read and add them for people in their scope
(recipient_or_404: a caseworker their own cases, a manager their organisation's, a council officer the
people their council funds); everyone else gets 403. Reporting a concern: anyone who may see the person
(recipient_or_404 at view level, so a view-level representative too), and a PA about a current employer
(access.visible_employments; the page shows only the person's name). The concerns list and
acknowledging: DPSS staff and council officers in scope. Rules live in portal.services.casework.
"""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from portal.access import CASE_STAFF, CASE_VIEWERS, PA, capacity_caption, recipient_or_404, requires, visible_employments
from portal.extensions import db
from portal.models import Employment, Recipient, Role
from portal.models.casework import SafeguardingConcern
from portal.services import casework, notifications
from portal.services.casework import CaseworkError
from portal.web.casework.forms import AcknowledgeForm, ConcernForm, NoteForm
from portal.web.helpers import audit

bp = Blueprint("casework", __name__)


def _show_problems(form, error: CaseworkError, default: str) -> None:
    for field_name, message in error.problems:
        field = form._fields.get(field_name) or form._fields[default]
        field.errors = [*field.errors, message]


# The record page's summary cards (templates/recipient/overview.html) ----------------------------------


def casework_summary(recipient: Recipient) -> dict | None:
    """Headlines for the record page: for DPSS staff and council officers only (None for anyone else).
    The page has already loaded the person through recipient_or_404."""
    if not any(rule.allows(current_user) for rule in CASE_STAFF):
        return None
    user = current_user._get_current_object()
    return {
        "notes": casework.notes_for(user, recipient, limit=3),
        "note_count": casework.count_notes(user, recipient),
        "open_concerns": casework.count_open_concerns(recipient.person_id),
    }


bp.add_app_template_global(casework_summary, "casework_summary")


# Case notes -------------------------------------------------------------------------------------------


def _notes_page(recipient: Recipient, form: NoteForm):
    return render_template(
        "casework/notes.html", recipient=recipient, caption=capacity_caption(current_user, recipient), form=form,
        notes=casework.notes_for(current_user, recipient), length=casework.NOTE_LENGTH,
    )


@bp.get("/people/<int:person_id>/notes")
@requires(*CASE_STAFF)
def notes(person_id: int):
    recipient = recipient_or_404(person_id)
    return _notes_page(recipient, NoteForm())


@bp.post("/people/<int:person_id>/notes")
@requires(*CASE_STAFF)
def add_note(person_id: int):
    recipient = recipient_or_404(person_id)
    form = NoteForm()
    if form.validate_on_submit():
        try:
            note = casework.add_note(current_user._get_current_object(), recipient, form.body.data)
        except CaseworkError as error:
            db.session.rollback()
            _show_problems(form, error, "body")
        else:
            audit("case_note.added", record_type="case_note", record_id=note.id, acting_for_id=recipient.person_id)
            db.session.commit()
            flash("Your note has been added.", "success")
            return redirect(url_for(".notes", person_id=recipient.person_id))
    return _notes_page(recipient, form)


# Reporting a concern -----------------------------------------------------------------------------------


def _reportable_or_404(person_id: int) -> Recipient:
    """The person, if the current user may report a concern about them: a PA only about a current employer
    (found through their current employments, else 404); anyone else through the recipient scope."""
    if current_user.role == Role.PA:
        employer_id = db.session.scalar(
            visible_employments(current_user).where(Employment.employer_id == person_id)
            .with_only_columns(Employment.employer_id).limit(1)
        )
        recipient = db.session.get(Recipient, employer_id) if employer_id is not None else None
        if recipient is None:
            abort(404)
        return recipient
    return recipient_or_404(person_id)


def _caption(recipient: Recipient) -> str:
    if current_user.role == Role.PA:
        return f"You work for {recipient.full_name}"
    return capacity_caption(current_user, recipient)


@bp.route("/people/<int:person_id>/concern", methods=["GET", "POST"])
@requires(*CASE_VIEWERS, PA)
def report_concern(person_id: int):
    recipient = _reportable_or_404(person_id)
    form = ConcernForm()
    if form.validate_on_submit():
        try:
            concern = casework.report_concern(current_user._get_current_object(), recipient, form.body.data)
        except CaseworkError as error:
            db.session.rollback()
            _show_problems(form, error, "body")
        else:
            audit("safeguarding_concern.reported", record_type="safeguarding_concern", record_id=concern.id,
                  acting_for_id=recipient.person_id)
            db.session.commit()
            # At once: the staff's notification emails, then the council's safeguarding contact.
            notifications.deliver_pending(current_app.config)
            casework.email_safeguarding_contact(current_app.config, concern)
            return redirect(url_for(".concern_sent", person_id=recipient.person_id, concern_id=concern.id))
    return render_template("casework/report_concern.html", recipient=recipient, caption=_caption(recipient), form=form,
                           back=_back(recipient))


def _back(recipient: Recipient) -> tuple[str, str]:
    if current_user.role == Role.PA:
        return url_for("home.index"), "Back to home"
    return url_for("recipient.overview", person_id=recipient.person_id), f"Back to {recipient.full_name}'s record"


@bp.get("/people/<int:person_id>/concern/<int:concern_id>/sent")
@requires(*CASE_VIEWERS, PA)
def concern_sent(person_id: int, concern_id: int):
    """What happens next, for the person who reported the concern (and no one else)."""
    recipient = _reportable_or_404(person_id)
    concern = casework.concern_of(recipient, concern_id)
    if concern is None or concern.raised_by_id != current_user.id:
        abort(404)
    entry = recipient.caseload_entry
    return render_template(
        "casework/concern_sent.html", recipient=recipient, caption=_caption(recipient), concern=concern,
        provider=entry.provider.name if entry else "", council=recipient.council.name, back=_back(recipient),
    )


# The concerns list and acknowledging ---------------------------------------------------------------------


def _concerns_page(recipient: Recipient, failed: AcknowledgeForm | None = None):
    concerns = casework.concerns_for(recipient)
    forms = {c.id: (failed if failed and failed.concern_id == c.id else AcknowledgeForm(c.id, formdata=None))
             for c in concerns if c.acknowledged_at is None}
    extra = {"form": failed} if failed is not None else {}  # base.html shows a failed form's errors
    return render_template(
        "casework/concerns.html", recipient=recipient, caption=capacity_caption(current_user, recipient),
        concerns=concerns, forms=forms, open_count=len(forms), **extra,
    )


@bp.get("/people/<int:person_id>/concerns")
@requires(*CASE_STAFF)
def concerns(person_id: int):
    recipient = recipient_or_404(person_id)
    return _concerns_page(recipient)


@bp.post("/people/<int:person_id>/concerns/<int:concern_id>/acknowledge")
@requires(*CASE_STAFF)
def acknowledge(person_id: int, concern_id: int):
    recipient = recipient_or_404(person_id)
    concern = casework.concern_of(recipient, concern_id)
    if concern is None:
        abort(404)
    form = AcknowledgeForm(concern.id)
    if concern.acknowledged_at is not None:
        flash(_already(concern), "info")
        return redirect(url_for(".concerns", person_id=recipient.person_id))
    if form.validate_on_submit():
        try:
            done = casework.acknowledge(current_user._get_current_object(), concern, form.note.data)
        except CaseworkError as error:
            db.session.rollback()
            _show_problems(form, error, "note")
        else:
            if done:
                audit("safeguarding_concern.acknowledged", record_type="safeguarding_concern", record_id=concern.id,
                      acting_for_id=recipient.person_id)
                db.session.commit()
                flash("You have acknowledged the concern.", "success")
            else:  # someone else acknowledged it a moment before
                db.session.rollback()
                flash(_already(db.session.get(SafeguardingConcern, concern_id)), "info")
            return redirect(url_for(".concerns", person_id=recipient.person_id))
    return _concerns_page(recipient, form)


def _already(concern: SafeguardingConcern) -> str:
    who = concern.acknowledged_by.display_name if concern.acknowledged_by else "someone"
    return f"This concern had already been acknowledged by {who}."

