"""Vacancies: posted for a recipient, browsed by PAs; and the council's register counts.

The recipient's side sits under /people/<id>/vacancies: anyone who may see the record reads it; the
person, a manage-level representative or their DPSS staff post, change and close vacancies (council officers
oversee but do not recruit: 403; a view-level representative gets 404 from recipient_or_404 with
MANAGE). A vacancy is only found through its own recipient, so another person's vacancy id is 404.

PAs browse open vacancies (vacancy_or_404 gives them open ones only) and see the person's first name
and district, never the surname or the address. Council officers see their own council's counts.
"""

import math
import re
from datetime import date

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from werkzeug.routing import BuildError

from portal.access import (
    CASE_VIEWERS,
    COUNCIL_OFFICER,
    PA,
    RECRUITERS,
    capacity_caption,
    own_profile,
    recipient_or_404,
    requires,
    vacancy_or_404,
)
from portal.extensions import db
from portal.models import Recipient, RepresentativeLevel
from portal.models.register import Gender, Vacancy, VacancyStatus
from portal.services import amounts, register_counts, vacancies
from portal.services.clock import london_today
from portal.services.register import RegisterError, parse_districts
from portal.services.register_options import (
    EXPERIENCE,
    LANGUAGES,
    SUPPORT,
    describe_slots,
    join_words,
    keys_of,
    labels_of,
    mask_of,
    slot_keys,
    slots_mask,
)
from portal.services.register_search import MAX_PAGE, PAGE_SIZE, best_pas_for_vacancy, vacancies_for_pa
from portal.web import format_date, format_pounds
from portal.web.helpers import audit, is_htmx, render_page_or_block
from portal.web.register_shared import WEEK, may_recruit, page_numbers, show_problems
from portal.web.vacancies.forms import CloseForm, InterestForm, VacancyForm

bp = Blueprint("vacancies", __name__)

MANAGE = RepresentativeLevel.MANAGE
BEST_MATCHES = 10
GENDER_WORDS = {Gender.WOMAN: "A woman", Gender.MAN: "A man"}
# (label, tag colour) for each state a vacancy can be in.
STATE_TAGS = {
    "open": ("Open", "govuk-tag--green"),
    "closing_date_passed": ("Closing date passed", "govuk-tag--yellow"),
    "filled": ("Filled", "govuk-tag--blue"),
    "withdrawn": ("Withdrawn", "govuk-tag--grey"),
}


# Small helpers ---------------------------------------------------------------------------------


def state_of(vacancy: Vacancy, today: date) -> str:
    if vacancy.status == VacancyStatus.OPEN:
        return "open" if vacancy.closing_date >= today else "closing_date_passed"
    return vacancy.status.value


def _listed(labels: list[str]) -> str:
    """'Personal care and cooking': the first label as it is, the rest in lower case."""
    return join_words(labels[:1] + [label.lower() for label in labels[1:]])


def words(vacancy: Vacancy) -> dict[str, str]:
    """A vacancy's masks and choices in words, as both sides' pages show them."""
    times = describe_slots(vacancy.availability)
    return {
        "times": times[:1].upper() + times[1:] if times else "",
        "support": _listed(labels_of(SUPPORT, vacancy.support_needed)),
        "experience": _listed(labels_of(EXPERIENCE, vacancy.experience_wanted)),
        "languages": join_words(labels_of(LANGUAGES, vacancy.languages)),
        "gender": GENDER_WORDS.get(vacancy.gender_preference, "No preference"),
        "driver": "Yes" if vacancy.driver_needed else "No",
    }


def detail_rows(vacancy: Vacancy) -> list[dict]:
    """The vacancy's details as GOV.UK summary list rows (both sides see the same words)."""
    said = words(vacancy)
    times = Markup("<br>").join([part for part in (said["times"], vacancy.times_note) if part])
    rows = [
        ("Area", vacancy.district_code), ("Hours a week", str(vacancy.hours_per_week)), ("Times", times),
        ("Support needed", said["support"]), ("Experience wanted", said["experience"] or "None in particular"),
        ("Languages", said["languages"] or "None in particular"), ("Gender of the PA", said["gender"]),
        ("Needs to drive", said["driver"]), ("Hourly rate", format_pounds(vacancy.rate_pence)),
        ("Start date", format_date(vacancy.start_date)), ("Closing date", format_date(vacancy.closing_date)),
    ]
    return [{"key": {"text": key}, "value": {"html": value} if isinstance(value, Markup) else {"text": value}}
            for key, value in rows]


def _link(endpoint: str, **values) -> str | None:
    """A link to another blueprint's page, or None while that page does not exist (or takes other values)."""
    if endpoint not in current_app.view_functions:
        return None
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def _vacancy_of(recipient: Recipient, vacancy_id: int) -> Vacancy:
    """One of this recipient's vacancies, or 404 (never someone else's, whatever the id)."""
    vacancy = db.session.scalar(sa.select(Vacancy).where(Vacancy.id == vacancy_id,
                                                         Vacancy.recipient_id == recipient.person_id))
    if vacancy is None:
        abort(404)
    return vacancy


def form_data(vacancy: Vacancy) -> dict:
    """A vacancy as the form's answers, to change it: masks as ticked boxes, pence as pounds ("14.00")."""
    return {
        "title": vacancy.title,
        "district_code": vacancy.district_code,
        "hours_per_week": str(vacancy.hours_per_week),
        "slots": slot_keys(vacancy.availability),
        "times_note": vacancy.times_note,
        "support": keys_of(SUPPORT, vacancy.support_needed),
        "experience": keys_of(EXPERIENCE, vacancy.experience_wanted),
        "languages": keys_of(LANGUAGES, vacancy.languages),
        "gender_preference": vacancy.gender_preference.value if vacancy.gender_preference else "",
        "driver_needed": "yes" if vacancy.driver_needed else "no",
        "rate": amounts.pence_as_text(vacancy.rate_pence),
        "start_date": vacancy.start_date,
        "closing_date": vacancy.closing_date,
        "description": vacancy.description,
    }


def _page(template: str, recipient: Recipient, **context):
    return render_template(template, recipient=recipient, caption=capacity_caption(current_user, recipient),
                           state_tags=STATE_TAGS, **context)


# The recipient's side ------------------------------------------------------------------------------


@bp.get("/people/<int:person_id>/vacancies")
@requires(*CASE_VIEWERS)
def index(person_id: int):
    recipient = recipient_or_404(person_id)
    today = london_today()
    rows = vacancies.recipient_vacancies(recipient)
    return _page("vacancies/index.html", recipient, rows=rows, today=today, state_of=state_of,
                 interested=vacancies.interest_counts([v.id for v in rows]), can_manage=may_recruit(recipient))


@bp.route("/people/<int:person_id>/vacancies/new", methods=["GET", "POST"])
@requires(*RECRUITERS)
def new(person_id: int):
    recipient = recipient_or_404(person_id, MANAGE)
    form = VacancyForm(data={"district_code": recipient.district_code} if request.method == "GET" else None)
    if request.method == "POST":
        answers_read = form.validate()
        data = form.vacancy_input()
        if not answers_read:
            # Say everything at once: what the form could not read, and what else the rules refuse.
            show_problems(form, vacancies.check_vacancy(data), "title", skip_answered=True)
        else:
            try:
                vacancy = vacancies.post_vacancy(recipient, current_user._get_current_object(), data)
            except RegisterError as error:
                db.session.rollback()
                show_problems(form, error.problems, "title")
            else:
                audit("vacancy.posted", record_type="vacancy", record_id=vacancy.id, acting_for_id=recipient.person_id)
                db.session.commit()
                flash(f"The vacancy ‘{vacancy.title}’ has been posted. PAs who cover {vacancy.district_code} can "
                      f"now see it and express interest.", "success")
                return redirect(url_for(".show", person_id=person_id, vacancy_id=vacancy.id))
    return _page("vacancies/new.html", recipient, form=form, chosen_slots=set(form.slots.data or []), week=WEEK)


def _render_show(recipient: Recipient, vacancy: Vacancy, close_form: CloseForm | None = None):
    today = london_today()
    can_manage = may_recruit(recipient)
    state = state_of(vacancy, today)
    for_args = {"for": recipient.person_id}  # whom the find-a-PA pages act for
    interests = []
    for interest in vacancies.listed_interests(vacancy):
        interests.append({
            "interest": interest, "name": interest.profile.display_name,
            "profile_url": _link("find_pa.profile", profile_id=interest.profile_id, **for_args),
            "contact_url": _link("find_pa.contact", profile_id=interest.profile_id, vacancy=vacancy.id, **for_args)
            if can_manage and state == "open" else None,
        })
    matches = []
    if vacancy.status == VacancyStatus.OPEN:
        for match in best_pas_for_vacancy(vacancy, limit=BEST_MATCHES):
            matches.append({
                "match": match, "name": match.profile.display_name, "reasons": " · ".join(match.reasons),
                "profile_url": _link("find_pa.profile", profile_id=match.profile.id, **for_args),
                "contact_url": _link("find_pa.contact", profile_id=match.profile.id, vacancy=vacancy.id, **for_args)
                if can_manage and state == "open" else None,
            })
    return _page("vacancies/show.html", recipient, vacancy=vacancy, rows=detail_rows(vacancy), state=state,
                 interests=interests, matches=matches, can_manage=can_manage, form=close_form or CloseForm(formdata=None))


@bp.get("/people/<int:person_id>/vacancies/<int:vacancy_id>")
@requires(*CASE_VIEWERS)
def show(person_id: int, vacancy_id: int):
    recipient = recipient_or_404(person_id)
    return _render_show(recipient, _vacancy_of(recipient, vacancy_id))


@bp.route("/people/<int:person_id>/vacancies/<int:vacancy_id>/edit", methods=["GET", "POST"])
@requires(*RECRUITERS)
def edit(person_id: int, vacancy_id: int):
    recipient = recipient_or_404(person_id, MANAGE)
    vacancy = _vacancy_of(recipient, vacancy_id)
    if vacancy.status != VacancyStatus.OPEN:
        flash(f"This vacancy is marked as {vacancy.status.value}, so it can no longer be changed. "
              f"Post a new vacancy if {recipient.person.given_name} needs a PA again.", "info")
        return redirect(url_for(".show", person_id=person_id, vacancy_id=vacancy.id))
    form = VacancyForm(data=form_data(vacancy) if request.method == "GET" else None)
    form.submit.label.text = "Save changes"
    if request.method == "POST":
        answers_read = form.validate()
        data = form.vacancy_input()
        if not answers_read:
            show_problems(form, vacancies.check_vacancy(data), "title", skip_answered=True)
        else:
            try:
                vacancies.update_vacancy(vacancy, data)
            except RegisterError as error:
                db.session.rollback()
                show_problems(form, error.problems, "title")
            else:
                audit("vacancy.changed", record_type="vacancy", record_id=vacancy.id, acting_for_id=recipient.person_id)
                db.session.commit()
                flash(f"The vacancy ‘{vacancy.title}’ has been changed.", "success")
                return redirect(url_for(".show", person_id=person_id, vacancy_id=vacancy.id))
    here = url_for(".show", person_id=person_id, vacancy_id=vacancy.id)
    return _page("vacancies/new.html", recipient, form=form, chosen_slots=set(form.slots.data or []), week=WEEK,
                 vacancy=vacancy, heading="Change the vacancy", back_href=here, back_text="Back to the vacancy",
                 action=url_for(".edit", person_id=person_id, vacancy_id=vacancy.id))


@bp.post("/people/<int:person_id>/vacancies/<int:vacancy_id>/close")
@requires(*RECRUITERS)
def close(person_id: int, vacancy_id: int):
    recipient = recipient_or_404(person_id, MANAGE)
    vacancy = _vacancy_of(recipient, vacancy_id)
    form = CloseForm()
    if not form.validate():
        return _render_show(recipient, vacancy, form)
    outcome = VacancyStatus(form.outcome.data)
    if not vacancies.close_vacancy(vacancy, outcome):
        db.session.rollback()
        flash(f"This vacancy was already closed: it is marked as {vacancy.status.value}.", "info")
        return redirect(url_for(".show", person_id=person_id, vacancy_id=vacancy.id))
    audit("vacancy.closed", record_type="vacancy", record_id=vacancy.id, acting_for_id=recipient.person_id,
          outcome=outcome.value)
    db.session.commit()
    if outcome == VacancyStatus.FILLED:
        flash(f"‘{vacancy.title}’ is marked as filled. PAs no longer see it.", "success")
    else:
        flash(f"‘{vacancy.title}’ has been withdrawn. PAs no longer see it.", "success")
    return redirect(url_for(".show", person_id=person_id, vacancy_id=vacancy.id))


# The PA's side ---------------------------------------------------------------------------------------


@bp.get("/vacancies")
@requires(PA)
def browse():
    profile = own_profile(current_user)
    district_text = request.args.get("districts")
    district_error = None
    chosen_districts: list[str] = []
    if district_text is None:
        district_text = " ".join(profile.district_codes) if profile else ""
    try:
        chosen_districts = parse_districts(district_text)
    except RegisterError as error:
        district_error = error.problems[0][1]
    chosen_slots = [key for key in request.args.getlist("slots") if slots_mask([key])]
    chosen_support = [key for key in request.args.getlist("support") if mask_of(SUPPORT, [key])]
    page = max(1, min(request.args.get("page", 1, type=int) or 1, MAX_PAGE))
    rows, total = vacancies_for_pa(profile, districts=chosen_districts, slots=slots_mask(chosen_slots),
                                   support=mask_of(SUPPORT, chosen_support), page=page)
    pages = min(MAX_PAGE, max(1, math.ceil(total / PAGE_SIZE)))
    args = {"districts": district_text, "slots": chosen_slots, "support": chosen_support}
    return render_page_or_block(
        "vacancies/browse.html", "results", profile=profile, rows=rows, total=total, page=page, pages=pages,
        page_items=page_numbers(page, pages), args=args, district_text=district_text, district_error=district_error,
        chosen_districts=chosen_districts or (profile.district_codes if profile else []),
        chosen_slots=set(chosen_slots), chosen_support=set(chosen_support), support_options=SUPPORT,
        first_name_and_area=vacancies.first_name_and_area, words=words, partial=is_htmx(),
        interests=vacancies.interests_of(profile, [row.vacancy.id for row in rows]),
        profile_url=_link("register.profile"), page_size=PAGE_SIZE, week=WEEK,
    )


def _render_detail(vacancy: Vacancy, form: InterestForm, status: int = 200):
    profile = own_profile(current_user)
    return render_template(
        "vacancies/detail.html", vacancy=vacancy, rows=detail_rows(vacancy), profile=profile, form=form,
        interest=vacancies.interest_of(vacancy, profile), who=vacancies.first_name_and_area(vacancy),
        profile_url=_link("register.profile"),
    ), status


@bp.get("/vacancies/<int:vacancy_id>")
@requires(PA)
def detail(vacancy_id: int):
    return _render_detail(vacancy_or_404(vacancy_id), InterestForm(formdata=None))


@bp.post("/vacancies/<int:vacancy_id>/interest")
@requires(PA)
def interest(vacancy_id: int):
    vacancy = vacancy_or_404(vacancy_id)
    profile = own_profile(current_user)
    form = InterestForm()
    if profile is None:
        flash("Create your profile first: the person sees it when you express interest.", "info")
        return redirect(url_for(".detail", vacancy_id=vacancy.id))
    earlier = vacancies.interest_of(vacancy, profile)
    if earlier is not None:
        flash(f"You already expressed interest in this vacancy on {earlier.created_at.day} "
              f"{earlier.created_at:%B %Y}.", "info")
        return redirect(url_for(".detail", vacancy_id=vacancy.id))
    if not form.validate():
        return _render_detail(vacancy, form)
    try:
        vacancies.express_interest(vacancy, profile, form.message.data or "")
    except RegisterError as error:
        db.session.rollback()
        show_problems(form, error.problems, "message")
        return _render_detail(vacancy, form)
    db.session.commit()
    flash(f"Your interest has been sent. {vacancy.recipient.person.given_name}’s side can see your profile "
          f"and your message, and will contact you through the portal if they would like to talk.", "success")
    return redirect(url_for(".detail", vacancy_id=vacancy.id))


# The council's counts --------------------------------------------------------------------------------


@bp.get("/register/council")
@requires(COUNCIL_OFFICER)
def council_counts():
    council = current_user.organisation
    if council is None:
        abort(404)
    return render_template("vacancies/council_counts.html", counts=register_counts.council_counts(council))


@bp.get("/register/council.csv")
@requires(COUNCIL_OFFICER)
def council_csv():
    council = current_user.organisation
    if council is None:
        abort(404)
    counts = register_counts.council_counts(council)
    audit("register.counts_exported", record_type="organisation", record_id=council.id)
    db.session.commit()
    slug = re.sub(r"[^a-z0-9]+", "-", council.name.lower()).strip("-") or "council"
    response = Response(register_counts.counts_csv(counts).encode("utf-8"), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="pa-register-{slug}-{london_today().isoformat()}.csv"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
