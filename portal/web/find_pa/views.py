"""Searching the PA register and contacting a PA (recipients, representatives, DPSS staff, council officers).

Who a search is for: a recipient searches for themselves; a representative for one of the people they
act for (a select, the first they manage by default); DPSS staff and council officers for the person in
the `for` query parameter (set by links from a person's record), loaded through recipient_or_404. The
district defaults to that person's own; a council officer with no person searches their council's
districts; DPSS staff with no person, every listed profile.

Only listed profiles are ever found (access.listed_profiles, under the search service and
listed_profile_or_404), so a hidden profile is gone from every page here at once. Contacting a PA is
for those who may manage the person (RECRUITERS, then recipient_or_404 with MANAGE): council officers
read but do not recruit (403), a view-level representative cannot (404 for that person).
"""

import math
from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from portal.access import (
    RECRUITERS,
    REGISTER_SEARCHERS,
    active_links_for,
    listed_profile_or_404,
    recipient_or_404,
    requires,
    visible_recipients,
)
from portal.extensions import db
from portal.models import District, Recipient, RepresentativeLevel, Role
from portal.models.register import ContactRequest, ContactStatus, PAProfile, ProfileCheck, Vacancy, VacancyStatus
from portal.services import pa_contacts, postcodes, register, register_search
from portal.services.clock import london_today
from portal.services.register import CheckState, RegisterError
from portal.services.register_options import CHECK_LABELS, check_kind_bit, slot_keys
from portal.storage import Storage
from portal.web.find_pa.forms import ContactForm, SearchForm
from portal.web.helpers import audit, is_htmx, render_page_or_block
from portal.web.register_shared import CHECK_STATE_TAGS as CHECK_TAGS, WEEK, is_recruiter, may_recruit, page_numbers, profile_labels, show_problems

bp = Blueprint("find_pa", __name__)

MANAGE = RepresentativeLevel.MANAGE
PHOTO_TYPES = {"jpg": "image/jpeg", "png": "image/png"}


# Whom the search is for ------------------------------------------------------------------------


def _for_id() -> int | None:
    raw = request.args.get("for", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        abort(404)
    return int(raw)


def _chosen_recipient(level: RepresentativeLevel = RepresentativeLevel.VIEW) -> Recipient | None:
    """The person this page is for: `for` (within the user's scope at this level, else 404), or the default."""
    person_id = _for_id()
    if person_id is not None:
        return recipient_or_404(person_id, level)
    user = current_user
    if user.role == Role.RECIPIENT:
        return db.session.scalar(visible_recipients(user, level))
    if user.role == Role.REPRESENTATIVE:
        links = active_links_for(user)
        managed = [link for link in links if link.level == MANAGE]
        if managed:
            return managed[0].recipient
        if level != MANAGE and links:
            return links[0].recipient
    return None


def _default_districts(recipient: Recipient | None) -> list[str]:
    if recipient is not None:
        return [recipient.district_code]
    if current_user.role == Role.COUNCIL_OFFICER:
        return list(db.session.scalars(
            sa.select(District.code).where(District.council_id == current_user.organisation_id).order_by(District.code)))
    return []


def _representative_choices() -> list[tuple[int, str, bool]]:
    """(person id, name, manages) for each person a representative acts for."""
    if current_user.role != Role.REPRESENTATIVE:
        return []
    return [(link.recipient_id, link.recipient.full_name, link.level == MANAGE) for link in active_links_for(current_user)]


def _for_args(recipient: Recipient | None) -> dict:
    """The `for` parameter to carry to the next page (none for a recipient searching for themselves)."""
    if recipient is None or current_user.role == Role.RECIPIENT:
        return {}
    return {"for": recipient.person_id}


# Search ----------------------------------------------------------------------------------------


def _verified_tags(profiles: list[PAProfile], today: date) -> dict[int, list[tuple[str, str]]]:
    """('DBS verified', 'by Brightpath Support, March 2026') for each kind of check the page's profiles have
    current and verified (references once, when both are): one query for the page."""
    tags: dict[int, list[tuple[str, str]]] = {p.id: [] for p in profiles}
    kinds = {p.id: p.verified_kinds for p in profiles}
    if not profiles:
        return tags
    checks = db.session.scalars(
        sa.select(ProfileCheck).where(ProfileCheck.profile_id.in_(list(tags)), ProfileCheck.verified_by_id.is_not(None),
                                      sa.or_(ProfileCheck.expires_on.is_(None), ProfileCheck.expires_on >= today))
        .options(selectinload(ProfileCheck.verified_by)).order_by(ProfileCheck.profile_id, ProfileCheck.id)
    ).all()
    for check in checks:
        kind = check.kind.value
        label = {"dbs": "DBS", "reference": "References"}.get(kind, CHECK_LABELS[kind])
        said = tags[check.profile_id]
        if not kinds[check.profile_id] & check_kind_bit(kind) or any(short == f"{label} verified" for short, _ in said):
            continue
        said.append((f"{label} verified", f"by {check.verified_by.name}, {check.verified_on:%B %Y}"))
    return tags


def _args_without_page() -> dict[str, list[str]]:
    return {key: request.args.getlist(key) for key in request.args if key != "page"}


@bp.get("/find-a-pa")
@requires(*REGISTER_SEARCHERS)
def search():
    recipient = _chosen_recipient()
    form = SearchForm(formdata=request.args)
    districts_given = form.districts.name in request.args
    defaults = _default_districts(recipient)
    page = max(1, min(request.args.get("page", 1, type=int) or 1, register_search.MAX_PAGE))
    matches: list[register_search.Match] = []
    total = 0
    valid = form.validate()
    filters = None
    if valid:
        filters = form.filters(None if districts_given else defaults)
        matches, total = register_search.search(filters, page)
    if not districts_given:
        form.districts.data = " ".join(defaults)
    pages = min(math.ceil(total / register_search.PAGE_SIZE), register_search.MAX_PAGE)
    return render_page_or_block(
        "find_pa/search.html", "results", form=form, valid=valid, filters=filters, recipient=recipient,
        matches=matches, total=total, page=page, pages=pages, page_numbers=page_numbers(page, pages),
        page_args=_args_without_page(), for_args=_for_args(recipient), choices=_representative_choices(),
        may_recruit=may_recruit(recipient), tags=_verified_tags([m.profile for m in matches], london_today()),
        active_words=register_search.active_words, week=WEEK, nearby=postcodes.have_centroids(),
        partial=is_htmx(),
        districts_defaulted=not districts_given and bool(defaults),
    )


# A profile -------------------------------------------------------------------------------------


def _checks(profile: PAProfile, today: date) -> list[dict]:
    rows = []
    for check in profile.checks:
        state = register.check_state(check, today)
        if state == CheckState.EXPIRED:
            words = f"Expired on {check.expires_on.day} {check.expires_on:%B %Y}"
        else:
            if state in (CheckState.VERIFIED, CheckState.EXPIRING):
                words = f"Verified by {check.verified_by.name} on {check.verified_on.day} {check.verified_on:%B %Y}"
            elif state == CheckState.WAITING:
                words = "Not verified yet: a support service has been asked to check it"
            else:
                words = "Not verified: the PA says they hold this, but no support service has checked it"
            if check.expires_on:
                words += f". Expires on {check.expires_on.day} {check.expires_on:%B %Y}"
        detail = check.detail if check.kind.value != "reference" else ""  # a referee's name stays with the PA
        rows.append({"label": register.check_label(check), "state": state, "words": words, "detail": detail,
                     "update_service": check.update_service, "tag": CHECK_TAGS[state]})
    return rows


@bp.get("/find-a-pa/<int:profile_id>")
@requires(*REGISTER_SEARCHERS)
def profile(profile_id: int):
    found = listed_profile_or_404(profile_id)
    recipient = _chosen_recipient()
    if not register.record_view(found, current_user._get_current_object()):
        db.session.rollback()
        return render_template("find_pa/too_many.html", limit=register.PROFILE_VIEWS_PER_DAY), 429
    db.session.commit()
    today = london_today()
    return render_template(
        "find_pa/profile.html", profile=found, recipient=recipient, for_args=_for_args(recipient),
        may_recruit=may_recruit(recipient), recruiter=is_recruiter(),
        week=WEEK, available=slot_keys(found.availability), **profile_labels(found), checks=_checks(found, today),
        active=register_search.active_words(found.last_active_at),
    )


@bp.get("/find-a-pa/<int:profile_id>/photo")
@requires(*REGISTER_SEARCHERS)
def photo(profile_id: int):
    found = listed_profile_or_404(profile_id)
    if not found.photo_name:
        abort(404)
    try:
        handle = Storage.from_config().open(found.photo_name)
    except FileNotFoundError:
        current_app.logger.error("profile %s has a photo name but no stored file", found.id)
        abort(404)
    extension = found.photo_name.rsplit(".", 1)[-1]
    response = send_file(handle, mimetype=PHOTO_TYPES.get(extension, "application/octet-stream"), max_age=0,
                         etag=False, conditional=False)
    response.headers["Cache-Control"] = "private, no-cache"  # signed-in pages are made no-store after this anyway
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


# Contact ---------------------------------------------------------------------------------------


def _open_vacancies(recipient: Recipient) -> list[Vacancy]:
    return list(db.session.scalars(
        sa.select(Vacancy).where(Vacancy.recipient_id == recipient.person_id, Vacancy.status == VacancyStatus.OPEN,
                                 Vacancy.closing_date >= london_today()).order_by(Vacancy.created_at.desc(), Vacancy.id.desc())))


def _waiting_request(found: PAProfile, recipient: Recipient) -> ContactRequest | None:
    return db.session.scalar(sa.select(ContactRequest).where(
        ContactRequest.profile_id == found.id, ContactRequest.recipient_id == recipient.person_id,
        ContactRequest.status == ContactStatus.PENDING))


@bp.route("/find-a-pa/<int:profile_id>/contact", methods=["GET", "POST"])
@requires(*RECRUITERS)
def contact(profile_id: int):
    found = listed_profile_or_404(profile_id)
    recipient = _chosen_recipient(MANAGE)
    if recipient is None:
        # A representative who only views, DPSS staff who came without a person, a recipient with no record.
        viewable = [name for _, name, manages in _representative_choices() if not manages]
        return render_template("find_pa/cannot_contact.html", profile=found, viewable=viewable)
    choices = _representative_choices()
    managed = [(person_id, name) for person_id, name, manages in choices if manages]
    vacancies = _open_vacancies(recipient)
    form = ContactForm()
    form.vacancy.choices = [("", "No, not about a vacancy")] + [(str(v.id), v.title) for v in vacancies]
    if request.method == "GET" and request.args.get("vacancy") in {str(v.id) for v in vacancies}:
        form.vacancy.data = request.args["vacancy"]
    if form.validate_on_submit():
        vacancy = next((v for v in vacancies if str(v.id) == form.vacancy.data), None)
        waiting = _waiting_request(found, recipient)
        try:
            sent = pa_contacts.send_request(found, recipient, current_user._get_current_object(), form.message.data or "", vacancy)
        except RegisterError as error:
            db.session.rollback()
            show_problems(form, error.problems, "message")
        else:
            if waiting is not None and sent.id == waiting.id:
                flash(f"You have already asked {found.person.given_name} to get in touch about {recipient.person.given_name}. "
                      "They have not answered yet.", "info")
            else:
                audit("register.contact_sent", record_type="contact_request", record_id=sent.id, acting_for_id=recipient.person_id)
                db.session.commit()
                flash(f"Your request has been sent to {found.display_name.rstrip('.')}. You will see their phone number "
                      "and email address if they accept.", "success")
            return redirect(url_for("pa_contacts.detail", contact_id=sent.id))
    return render_template(
        "find_pa/contact.html", profile=found, recipient=recipient, form=form, managed=managed,
        for_args=_for_args(recipient), is_self=current_user.role == Role.RECIPIENT,
    )
