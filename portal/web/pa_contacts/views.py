"""Contact requests between the recipient's side and a PA: answering, messages, blocking, concerns.

Every request is loaded through access.contact_or_404 (a PA: requests to their own profile; anyone
else: requests for recipients they may see), so anyone else's is not found. Before the PA accepts,
the PA sees only the asker's first name, the area and the message or vacancy, never the person's or
the asker's full name; after, each side sees the other's full name, phone and email (the asker's,
not the person's). Only the PA answers, blocks and reports; messages are for the PA and those who
may manage the person (council officers read only: 403; a view-level representative: 404).
"""

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from portal.access import (
    PA,
    RECRUITERS,
    REGISTER_SEARCHERS,
    contact_or_404,
    may_manage,
    recipient_or_404,
    requires,
    visible_contacts,
)
from portal.extensions import db
from portal.models import Organisation, Recipient, RepresentativeLevel, Role, User
from portal.models.register import ContactRequest, ContactStatus, PAProfile
from portal.services import pa_contacts
from portal.services.register import RegisterError
from portal.web.helpers import audit
from portal.web.pa_contacts.forms import AnswerForm, BlockForm, ConcernForm, MessageForm

bp = Blueprint("pa_contacts", __name__)

# Who reads contact requests: the PA, and the recipient's side (council officers read only).
CONTACT_READERS = (PA, *REGISTER_SEARCHERS)
# Who writes in a contact's thread: the PA, and those who may manage the person (not council officers).
CONTACT_WRITERS = (PA, *RECRUITERS)
PAGE_SIZE = 50
STATUS_TAGS = {
    ContactStatus.PENDING: ("Waiting", "govuk-tag--yellow"),
    ContactStatus.ACCEPTED: ("Accepted", "govuk-tag--green"),
    ContactStatus.DECLINED: ("Declined", "govuk-tag--grey"),
}
_STATUS_ORDER = sa.case((ContactRequest.status == ContactStatus.PENDING, 0),
                        (ContactRequest.status == ContactStatus.ACCEPTED, 1), else_=2)


def _is_pa() -> bool:
    return current_user.role == Role.PA


def _asker_label(contact: ContactRequest) -> str:
    """Who asked, as the PA may see it: the full name once accepted, the first name before."""
    details = pa_contacts.asker_details(contact)
    if details is None:
        return pa_contacts.asker_first_name(contact)
    return f"{details.name}, {details.organisation}" if details.organisation else details.name


@bp.get("/register/contacts")
@requires(*CONTACT_READERS)
def index():
    page = max(1, request.args.get("page", 1, type=int) or 1)
    query = (visible_contacts(current_user).order_by(_STATUS_ORDER, ContactRequest.created_at.desc(), ContactRequest.id.desc())
             .options(selectinload(ContactRequest.profile).selectinload(PAProfile.person), selectinload(ContactRequest.vacancy),
                      selectinload(ContactRequest.requested_by).selectinload(User.organisation),
                      selectinload(ContactRequest.recipient).selectinload(Recipient.person)))
    rows = db.session.scalars(query.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)).all()
    more = len(rows) > PAGE_SIZE
    contacts = rows[:PAGE_SIZE]
    return render_template(
        "pa_contacts/index.html", contacts=contacts, is_pa=_is_pa(), status_tags=STATUS_TAGS, page=page, more=more,
        asker_label=_asker_label, requester_label=_requester_label,
    )


# One contact -----------------------------------------------------------------------------------


def _author_label(contact: ContactRequest, message) -> str:
    """A message's author in words the reader may see (a PA never learns the person's full name)."""
    author = message.author
    if author.id == current_user.id:
        return "You"
    if author.person_id is not None and author.person_id == contact.profile.person_id:
        details = pa_contacts.pa_details(contact)
        return details.name if details else contact.profile.display_name
    if _is_pa():
        if author.id == contact.requested_by_id:
            return _asker_label(contact)
        first = author.display_name.split()[0] if author.display_name else "Someone"
        return f"{first} from {author.organisation.name}" if author.role.is_staff and author.organisation else first
    if author.role.is_staff and author.organisation:
        return f"{author.display_name}, {author.organisation.name}"
    return author.display_name


def _requester_label(contact: ContactRequest) -> str:
    """Who asked, for the recipient's side (who may see the person's record anyway)."""
    user = contact.requested_by
    if user.id == current_user.id:
        return "You"
    if user.role.is_staff and user.organisation:
        return f"{user.display_name}, {user.organisation.name}"
    return user.display_name


def _may_write(contact: ContactRequest) -> bool:
    if contact.status != ContactStatus.ACCEPTED:
        return False
    if _is_pa():
        return True
    return any(rule.allows(current_user) for rule in RECRUITERS) and may_manage(current_user, contact.recipient)


def _detail(contact: ContactRequest, *, answer_form: AnswerForm | None = None, message_form: MessageForm | None = None):
    is_pa = _is_pa()
    recipient = None if is_pa else recipient_or_404(contact.recipient_id)  # staff views of a record are audited there
    answer_form = answer_form or AnswerForm(formdata=None)
    message_form = message_form or MessageForm(formdata=None)
    shown = message_form if message_form.errors else answer_form
    messages = pa_contacts.thread(contact)
    return render_template(
        "pa_contacts/detail.html", contact=contact, is_pa=is_pa, recipient=recipient, status_tags=STATUS_TAGS,
        asker=pa_contacts.asker_first_name(contact) if is_pa else "",
        details=(pa_contacts.asker_details(contact) if is_pa else pa_contacts.pa_details(contact)),
        messages=[(message, _author_label(contact, message)) for message in messages],
        may_write=_may_write(contact), blocked=is_pa and pa_contacts.is_blocked(contact),
        answer_form=answer_form, message_form=message_form, form=shown,
        requester="" if is_pa else _requester_label(contact),
    )


@bp.get("/register/contacts/<int:contact_id>")
@requires(*CONTACT_READERS)
def detail(contact_id: int):
    return _detail(contact_or_404(contact_id))


@bp.post("/register/contacts/<int:contact_id>/answer")
@requires(PA)
def answer(contact_id: int):
    contact = contact_or_404(contact_id)
    form = AnswerForm()
    if not form.validate_on_submit():
        return _detail(contact, answer_form=form)
    accept = form.answer.data == "accept"
    if not pa_contacts.answer(contact, current_user._get_current_object(), accept):
        db.session.rollback()
        flash(f"You have already answered this request: you {contact.status.value} it.", "info")
        return redirect(url_for(".detail", contact_id=contact.id))
    audit(f"register.contact_{contact.status.value}", record_type="contact_request", record_id=contact.id)
    db.session.commit()
    if accept:
        details = pa_contacts.asker_details(contact)
        flash(f"You accepted. You can now see {details.name}'s phone number and email address, and they can see yours.", "success")
    else:
        flash(f"You declined. {pa_contacts.asker_first_name(contact)} has been told you are not able to take on this work.", "success")
    return redirect(url_for(".detail", contact_id=contact.id))


@bp.post("/register/contacts/<int:contact_id>/messages")
@requires(*CONTACT_WRITERS)
def message(contact_id: int):
    contact = contact_or_404(contact_id)
    if not _is_pa():
        recipient_or_404(contact.recipient_id, RepresentativeLevel.MANAGE)  # a view-level representative: 404
    form = MessageForm()
    if form.validate_on_submit():
        try:
            written = pa_contacts.post_message(contact, current_user._get_current_object(), form.body.data or "")
        except RegisterError as error:
            db.session.rollback()
            form.body.errors = [*form.body.errors, *(text for _, text in error.problems)]
        else:
            audit("register.contact_message", record_type="contact_message", record_id=written.id,
                  acting_for_id=None if _is_pa() else contact.recipient_id)
            db.session.commit()
            flash("Your message has been sent.", "success")
            return redirect(url_for(".detail", contact_id=contact.id, _anchor="thread"))
    return _detail(contact, message_form=form)


@bp.route("/register/contacts/<int:contact_id>/block", methods=["GET", "POST"])
@requires(PA)
def block(contact_id: int):
    contact = contact_or_404(contact_id)
    asker = _asker_label(contact)
    if pa_contacts.is_blocked(contact):
        flash(f"You have already blocked {asker}.", "info")
        return redirect(url_for(".detail", contact_id=contact.id))
    form = BlockForm()
    form.confirm.label.text = f"Do you want to block {asker}?"
    if form.validate_on_submit():
        if form.confirm.data != "yes":
            return redirect(url_for(".detail", contact_id=contact.id))
        pa_contacts.block(contact, current_user._get_current_object())
        audit("register.contact_blocked", record_type="contact_request", record_id=contact.id)
        db.session.commit()
        flash(f"You have blocked {asker}. They cannot send you any more contact requests.", "success")
        return redirect(url_for(".index"))
    return render_template("pa_contacts/block.html", contact=contact, asker=asker, form=form)


@bp.route("/register/contacts/<int:contact_id>/concern", methods=["GET", "POST"])
@requires(PA)
def concern(contact_id: int):
    contact = contact_or_404(contact_id)
    asker = _asker_label(contact)
    form = ConcernForm()
    if form.validate_on_submit():
        try:
            reported = pa_contacts.report_concern(contact, current_user._get_current_object(), form.body.data or "")
        except RegisterError as error:
            db.session.rollback()
            form.body.errors = [*form.body.errors, *(text for _, text in error.problems)]
        else:
            organisation = db.session.get(Organisation, reported.organisation_id)
            audit("register.concern_reported", record_type="register_concern", record_id=reported.id)
            db.session.commit()
            flash(f"Your concern has been sent to {organisation.name}. They will look into it.", "success")
            return redirect(url_for(".detail", contact_id=contact.id))
    return render_template("pa_contacts/concern.html", contact=contact, asker=asker, form=form)
