"""What the register's pages share (Find a PA, the PA's own profile, vacancies): the week's availability
grid for templates/register/_slots.html, a profile's choices in words, page numbers, who may recruit
for a person, and putting the services' problems beside the answers they are about."""

from dataclasses import dataclass

from flask_login import current_user
from flask_wtf import FlaskForm

from portal.access import RECRUITERS, may_manage
from portal.models import Recipient
from portal.models.register import PAProfile
from portal.services.register import CheckState
from portal.services.register_options import DAYS, EXPERIENCE, LANGUAGES, PART_HINTS, PARTS, SUPPORT, labels_of, slot_key


@dataclass(frozen=True)
class Slot:
    """One cell of the week: its form value ('tue-morning') and what a screen reader says ('Tuesday morning')."""

    key: str
    words: str


@dataclass(frozen=True)
class Week:
    """The days, the parts of the day as (key, label, hint), and the slots as slots[day][part]."""

    days: tuple[str, ...]
    parts: tuple[tuple[str, str, str], ...]
    slots: tuple[tuple[Slot, ...], ...]


WEEK = Week(
    days=DAYS,
    parts=tuple((key, label, PART_HINTS[key]) for key, label, _ in PARTS),
    slots=tuple(tuple(Slot(slot_key(day, key), f"{day_name} {label.lower()}") for key, label, _ in PARTS)
                for day, day_name in enumerate(DAYS)),
)


def profile_labels(profile: PAProfile) -> dict[str, list[str]]:
    """The support, experience and languages a profile offers, as their labels."""
    return {"support": labels_of(SUPPORT, profile.support_offered), "experience": labels_of(EXPERIENCE, profile.experience),
            "languages": labels_of(LANGUAGES, profile.languages)}


def page_numbers(page: int, pages: int) -> list[int | None]:
    """Page numbers to link to: the first, the last and those around this one, with None for a gap: 1 … 4 5 6 … 12."""
    wanted = sorted({1, pages, page - 1, page, page + 1} & set(range(1, pages + 1)))
    out: list[int | None] = []
    for number in wanted:
        if out and number - out[-1] > 1:
            out.append(None)
        out.append(number)
    return out


def is_recruiter() -> bool:
    """Whether the signed-in user's role recruits PAs (council officers oversee but do not)."""
    return any(rule.allows(current_user) for rule in RECRUITERS)


def may_recruit(recipient: Recipient | None) -> bool:
    """Contacting PAs and posting or closing vacancies: recruiters who may manage this person (not
    council officers, not view-level representatives)."""
    return recipient is not None and is_recruiter() and may_manage(current_user, recipient)


def add_error(form: FlaskForm, field_name: str, message: str, default: str | None = None) -> None:
    """Show a message beside its field (or the default field), once; the error summary lists it too."""
    show_problems(form, [(field_name, message)], default)


def show_problems(form: FlaskForm, problems: list[tuple[str, str]], default: str | None = None,
                  skip_answered: bool = False) -> None:
    """Each (field name, message) beside the answer it is about, or beside the default field, once. With
    skip_answered, answers the form already found a problem with keep only their own message (the
    service would say the same thing again)."""
    for field_name, message in problems:
        field = form._fields.get(field_name) or form._fields.get(default or "")
        if field is None or (skip_answered and field.errors):
            continue
        if message not in field.errors:
            field.errors = [*field.errors, message]
    form._errors = None  # form.errors is cached: read it again from the fields


# (tag text, tag colour) for each state of a PA's check, the same on the PA's pages and in search.
CHECK_STATE_TAGS = {
    CheckState.VERIFIED: ("Verified", "govuk-tag--green"),
    CheckState.EXPIRING: ("Expiring soon", "govuk-tag--yellow"),
    CheckState.EXPIRED: ("Expired", "govuk-tag--red"),
    CheckState.WAITING: ("Waiting", "govuk-tag--blue"),
    CheckState.NOT_VERIFIED: ("Not verified", "govuk-tag--grey"),
}
