"""The PA register's rules, through the real services and database (SQLite here, PostgreSQL in CI).

Hidden means gone everywhere at once; ranking puts a fully matching verified PA first and says why;
filters narrow and free text is only ever words; only the DPSS that was asked verifies, in its own
name; checks expire and remind once; contact details only after the PA accepts, with limits against
spam; deleting a profile leaves nothing behind; the PA sees counts of views, never names.
"""

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from PIL import Image
from werkzeug.exceptions import NotFound

from portal.access import listed_profile_or_404
from portal.extensions import db
from portal.models import Notification, Organisation, Person, Recipient, Role, User
from portal.models.register import (
    CheckKind,
    ContactBlock,
    ContactMessage,
    ContactRequest,
    ContactStatus,
    DBSLevel,
    Gender,
    PAProfile,
    ProfileActivity,
    ProfileCheck,
    ProfileDistrict,
    ProfileView,
    RegisterConcern,
    Vacancy,
    VacancyInterest,
    VerificationRequest,
)
from portal.services import pa_contacts, register, reminders
from portal.services.clock import london_today, utcnow
from portal.services.evidence import check_and_clean
from portal.services.register import CheckInput, CheckState, ProfileInput, RegisterError
from portal.services.register_counts import council_counts
from portal.services.register_options import EXPERIENCE, LANGUAGES, SUPPORT, check_kind_bit, mask_of, slots_mask
from portal.services.register_search import SearchFilters, best_pas_for_vacancy, search
from portal.services.vacancies import listed_interests
from portal.storage import Storage

TUE_THU_MORNINGS = slots_mask(["tue-morning", "thu-morning"])


# Look-ups and factories --------------------------------------------------------------------------


def _user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def _org(name: str) -> Organisation:
    return db.session.scalar(sa.select(Organisation).where(Organisation.name == name))


def _person(given: str, family: str) -> Person:
    return db.session.scalar(sa.select(Person).where(Person.given_name == given, Person.family_name == family))


def _profile_of(given: str, family: str) -> PAProfile:
    return db.session.scalar(sa.select(PAProfile).where(PAProfile.person_id == _person(given, family).id))


def _jay() -> PAProfile:
    return _profile_of("Jay", "Singh")


def _recipient(given: str, family: str) -> Recipient:
    return db.session.get(Recipient, _person(given, family).id)


def _graces_vacancy() -> Vacancy:
    return db.session.scalar(sa.select(Vacancy).where(Vacancy.title == "Morning support for my mother in NF4"))


def _check(profile: PAProfile, kind: CheckKind) -> ProfileCheck:
    return db.session.scalar(sa.select(ProfileCheck).where(ProfileCheck.profile_id == profile.id, ProfileCheck.kind == kind))


def _ids(matches) -> list[int]:
    return [match.profile.id for match in matches]


def _found(filters: SearchFilters) -> set[int]:
    matches, total = search(filters, page_size=100)
    assert total == len(matches)
    return set(_ids(matches))


def _new_pa(given: str, *, districts=("QQ1",), slots=(), support=(), experience=(), languages=("en",),
            gender=Gender.WOMAN, rate=1400, drives=False, about="", listed=True) -> PAProfile:
    """A PA without an account, with a profile saved through the service (and listed, by default)."""
    person = Person(given_name=given, family_name="Tester")
    db.session.add(person)
    db.session.flush()
    profile = register.save_profile(person, ProfileInput(
        districts=list(districts), drives=drives, availability=slots_mask(slots), support_offered=mask_of(SUPPORT, support),
        experience=mask_of(EXPERIENCE, experience), languages=mask_of(LANGUAGES, languages), gender=gender,
        hours_wanted=20, rate_pence=rate, about=about))
    if listed:
        register.set_listed(profile, True)
    db.session.commit()
    return profile


def _verified(profile: PAProfile, kind: CheckKind, staff_email: str = "kim@brightpath.example", expires_on=None) -> ProfileCheck:
    """Add a check, ask the staff member's organisation to verify it, and have them verify it."""
    today = london_today()
    check = register.add_check(profile, CheckInput(
        kind=kind, dbs_level=DBSLevel.ENHANCED if kind == CheckKind.DBS else None,
        issued_on=today - timedelta(days=30), expires_on=expires_on))
    staff = _user(staff_email)
    request = register.request_verification(check, staff.organisation_id)
    db.session.commit()
    assert register.answer_verification(request, staff, True)
    db.session.commit()
    return check


def _verify_jays_check(kind: CheckKind) -> ProfileCheck:
    jay = _jay()
    check = _check(jay, kind)
    omar = _user("omar@harbour.example")
    request = register.request_verification(check, omar.organisation_id)
    db.session.commit()
    assert register.answer_verification(request, omar, True)
    db.session.commit()
    return check


# Hidden means gone, everywhere, at once -----------------------------------------------------------


def test_a_hidden_profile_is_gone_from_every_list_the_moment_it_is_hidden(app):
    with app.app_context():
        jay = _jay()
        vacancy = _graces_vacancy()
        northfield = _org("Northfield City Council")
        near_grace = SearchFilters(districts=["NF4"])
        jays_words = SearchFilters(text="grandfather dementia")
        assert jay.id in _found(near_grace) and jay.id in _found(jays_words)
        assert jay.id in _ids(best_pas_for_vacancy(vacancy))
        assert [interest.profile_id for interest in listed_interests(vacancy)] == [jay.id]
        before = council_counts(northfield)
        assert listed_profile_or_404(jay.id).id == jay.id

        register.set_listed(jay, False)  # no commit yet: the same transaction already sees it gone
        assert jay.id not in _found(near_grace)
        db.session.commit()

        assert jay.id not in _found(near_grace)
        assert jay.id not in _found(jays_words)
        assert jay.id not in _found(SearchFilters())
        assert jay.id not in _ids(best_pas_for_vacancy(vacancy))
        assert listed_interests(vacancy) == []
        after = council_counts(northfield)
        assert after.listed_total == before.listed_total - 1
        for code in ("NF3", "NF4", "NF5"):
            assert after.by_district[code] == before.by_district[code] - 1
        assert after.by_district["NF1"] == before.by_district["NF1"]
        with pytest.raises(NotFound):
            listed_profile_or_404(jay.id)
        with pytest.raises(RegisterError):
            pa_contacts.send_request(jay, _recipient("Grace", "Okafor"), _user("david@example.org"), "Hello")

        register.set_listed(jay, True)
        db.session.commit()
        assert jay.id in _found(near_grace)
        assert council_counts(northfield).listed_total == before.listed_total


# Ranking and reasons ---------------------------------------------------------------------------


def test_jay_is_found_for_graces_needs_with_the_reasons_in_words(app):
    with app.app_context():
        jay = _jay()
        filters = SearchFilters(districts=["NF3", "NF4"], slots=TUE_THU_MORNINGS, experience=mask_of(EXPERIENCE, ["dementia"]))
        match = next(m for m in search(filters, page_size=100)[0] if m.profile.id == jay.id)
        assert match.full
        assert match.reasons == ["Covers NF3 and NF4", "Available Tuesday and Thursday mornings", "Experience: dementia"]

        _verify_jays_check(CheckKind.DBS)  # Harbour verifies the DBS check Jay asked it to
        match = next(m for m in search(filters, page_size=100)[0] if m.profile.id == jay.id)
        assert match.reasons[-1] == "DBS verified"
        only_nf3 = next(m for m in search(SearchFilters(districts=["NF3"]), page_size=100)[0] if m.profile.id == jay.id)
        assert only_nf3.reasons[0] == "Covers NF3"


def test_a_fully_matching_verified_pa_ranks_first_then_verification_and_recency_order_full_matches(app):
    with app.app_context():
        needs = dict(slots=("tue-morning", "thu-morning"), support=("personal_care", "cooking"), experience=("dementia",))
        best = _new_pa("Best", **needs)
        partial = _new_pa("Partial", slots=("tue-morning",), support=("personal_care",), experience=("dementia",))
        unverified = _new_pa("Unverified", **needs)
        inactive = _new_pa("Inactive", **needs)
        _verified(best, CheckKind.DBS)
        _verified(partial, CheckKind.DBS)
        _verified(partial, CheckKind.SAFEGUARDING)  # more checks than anyone, but it covers less
        _verified(inactive, CheckKind.DBS)
        now = utcnow()
        best.last_active_at = now - timedelta(days=1)
        partial.last_active_at = now
        unverified.last_active_at = now
        inactive.last_active_at = now - timedelta(days=60)
        db.session.commit()

        filters = SearchFilters(districts=["QQ1"], slots=TUE_THU_MORNINGS, support=mask_of(SUPPORT, ["personal_care", "cooking"]),
                                experience=mask_of(EXPERIENCE, ["dementia"]))
        matches, total = search(filters)
        assert total == 4
        assert _ids(matches) == [best.id, inactive.id, unverified.id, partial.id]
        assert [m.full for m in matches] == [True, True, True, False]
        assert matches[0].reasons == ["Covers QQ1", "Available Tuesday and Thursday mornings", "Offers personal care and cooking",
                                      "Experience: dementia", "DBS verified"]
        assert matches[-1].reasons == ["Covers QQ1", "Available Tuesday mornings (not all the times you asked for)",
                                       "Offers personal care", "Experience: dementia", "DBS and safeguarding verified"]
        # A PA offering none of a ticked need is not a match at all.
        assert _found(SearchFilters(districts=["QQ1"], support=mask_of(SUPPORT, ["overnight"]))) == set()


def test_without_any_filter_every_listed_profile_is_counted_and_pages_hold_twenty(app):
    with app.app_context():
        listed = db.session.scalar(sa.select(sa.func.count()).select_from(PAProfile).where(PAProfile.listed.is_(True)))
        first, total = search(SearchFilters())
        second, _ = search(SearchFilters(), page=2)
        assert total == listed and len(first) == 20
        assert not set(_ids(first)) & set(_ids(second))


# Hard filters and free text --------------------------------------------------------------------


def test_hard_filters_narrow_the_results(app):
    with app.app_context():
        ana = _new_pa("Ana", districts=("QQ2",), gender=Gender.WOMAN, languages=("en", "pl"), rate=1300, drives=True)
        ben = _new_pa("Ben", districts=("QQ2", "QQ3"), gender=Gender.MAN, languages=("en",), rate=1500)
        cat = _new_pa("Cat", districts=("QQ3",), gender=Gender.WOMAN, languages=("en", "ur"), rate=1450, drives=True)
        _new_pa("Hidden", districts=("QQ2", "QQ3"), listed=False)
        _verified(ana, CheckKind.DBS)
        _verified(cat, CheckKind.DBS)
        _verified(cat, CheckKind.FIRST_AID, staff_email="omar@harbour.example")
        both = ["QQ2", "QQ3"]
        dbs, first_aid = check_kind_bit("dbs"), check_kind_bit("first_aid")

        assert _found(SearchFilters(districts=["QQ2"])) == {ana.id, ben.id}
        assert _found(SearchFilters(districts=["QQ3"])) == {ben.id, cat.id}
        assert _found(SearchFilters(districts=both)) == {ana.id, ben.id, cat.id}
        assert _found(SearchFilters(districts=both, gender=Gender.WOMAN)) == {ana.id, cat.id}
        assert _found(SearchFilters(districts=both, gender=Gender.MAN)) == {ben.id}
        assert _found(SearchFilters(districts=both, language=mask_of(LANGUAGES, ["pl"]))) == {ana.id}
        assert _found(SearchFilters(districts=both, max_rate_pence=1450)) == {ana.id, cat.id}  # up to, inclusive
        assert _found(SearchFilters(districts=both, max_rate_pence=1299)) == set()
        assert _found(SearchFilters(districts=both, verified=dbs)) == {ana.id, cat.id}
        assert _found(SearchFilters(districts=both, verified=dbs | first_aid)) == {cat.id}  # every ticked check
        assert _found(SearchFilters(districts=both, drives=True)) == {ana.id, cat.id}
        assert _found(SearchFilters(districts=both, drives=True, gender=Gender.WOMAN, max_rate_pence=1400)) == {ana.id}
        match = search(SearchFilters(districts=both, language=mask_of(LANGUAGES, ["ur"]), drives=True))[0][0]
        assert "Speaks Urdu" in match.reasons and "Drives" in match.reasons
        assert "DBS and first aid verified" in match.reasons


def test_free_text_matches_every_word_with_stemming(app):
    with app.app_context():
        cook = _new_pa("Cook", districts=("QQ4",), about="I love to cook Caribbean food and I garden at weekends.")
        gardener = _new_pa("Gardener", districts=("QQ4",), about="Gardening and walks in the park.")
        near = _new_pa("Near", districts=("QQ4",), about="I live near the station and cooked in a care home.")

        def found(text: str) -> set[int]:
            return _found(SearchFilters(districts=["QQ4"], text=text))

        assert found("cooking") == {cook.id, near.id}  # cooking, cook and cooked share a stem
        assert found("Cooks") == {cook.id, near.id}
        assert found("gardening") == {cook.id, gardener.id}
        assert found("cooking gardening") == {cook.id}  # every word must match
        assert found("caribbean") == {cook.id}
        assert found("piano") == set()
        assert found("the and of") == {cook.id, gardener.id, near.id}  # only common words: no filter at all
        assert found("") == {cook.id, gardener.id, near.id}


@pytest.mark.parametrize("text", [
    "NEAR", 'NEAR(cook garden)', '"cook', 'cook"', "cook*", "*", "cook OR piano", "cook AND piano", "NOT cook",
    "-cook", "cook -garden", "^cook", "about:cook", "cook:", "'", "''", "O'Brien's", "'; DROP TABLE pa_profiles; --",
    "cook) OR (1=1", "{about}: cook", "cook + garden", "c%o_o\\k", "<script>alert(1)</script>", "ÀÉÎ cook", "🙂",
])
def test_free_text_operators_and_quotes_are_plain_words_and_never_fail(app, text):
    with app.app_context():
        _new_pa("Cook", districts=("QQ5",), about="I love to cook and garden. I live near the river.")
        _new_pa("Other", districts=("QQ5",), about="Music, films and long walks.")
        matches, total = search(SearchFilters(districts=["QQ5"], text=text))  # never raises
        assert total == len(matches)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PAProfile)) > 40  # nothing was dropped


def test_free_text_operators_are_searched_as_the_words_they_are(app):
    with app.app_context():
        cook = _new_pa("Cook", districts=("QQ5",), about="I love to cook and garden. I live near the river.")
        other = _new_pa("Other", districts=("QQ5",), about="I cook.")

        def found(text: str) -> set[int]:
            return _found(SearchFilters(districts=["QQ5"], text=text))

        assert found("NEAR river") == {cook.id}  # NEAR is the word "near", which only Cook's text has
        assert found("cook OR piano") == set()  # not "either": both words, and nobody mentions a piano
        assert found("-cook") == {cook.id, other.id}  # not "without cook"
        assert found("cook*") == {cook.id, other.id}
        assert found('"garden') == {cook.id}
        assert found("about:garden") == {cook.id}  # not FTS5's column filter ("about" is a common word, dropped)
        assert found("river:garden") == {cook.id}
        assert _found(SearchFilters(districts=["QQ5"], text="'; DROP TABLE pa_profiles; --")) == set()


# Verification ----------------------------------------------------------------------------------


def test_only_staff_of_the_dpss_that_was_asked_can_verify_and_the_verifier_is_their_own_organisation(app):
    with app.app_context():
        jay = _jay()
        dbs = _check(jay, CheckKind.DBS)
        request = db.session.scalar(sa.select(VerificationRequest).where(VerificationRequest.check_id == dbs.id))
        harbour = _org("Harbour DPSS")
        assert request.provider_id == harbour.id and register.check_state(dbs) == CheckState.WAITING
        for email in ("kim@brightpath.example", "lee@brightpath.example", "rachel@northfield.example", "admin@example.org",
                      "jay.pa@example.org", "sophie.pa@example.org", "david@example.org"):
            with pytest.raises(PermissionError):
                register.answer_verification(request, _user(email), True)
        db.session.rollback()
        db.session.refresh(dbs)
        assert dbs.verified_by_id is None and register.verifiers(jay) == []

        omar = _user("omar@harbour.example")
        assert register.answer_verification(request, omar, True)
        db.session.commit()
        db.session.refresh(dbs)
        assert dbs.verified_by_id == harbour.id and dbs.verified_by_user_id == omar.id
        assert dbs.verified_on == london_today()
        assert register.verifiers(jay) == [("DBS check", "Harbour DPSS", london_today())]
        assert jay.verified_kinds & check_kind_bit("dbs")
        assert register.check_state(dbs) == CheckState.VERIFIED
        told = db.session.scalar(sa.select(Notification.message).join(User, User.id == Notification.user_id)
                                 .where(User.email == "jay.pa@example.org", Notification.key.like(f"register-check:{dbs.id}:answered:%")))
        assert told.startswith("Harbour DPSS verified your ")

        # A second answer (a colleague, or the same click twice) changes nothing.
        colleague = User(email="nadia@harbour.example", display_name="Nadia Harbour", role=Role.DPSS_MANAGER,
                         organisation_id=harbour.id, password_hash="x")
        db.session.add(colleague)
        db.session.commit()
        assert not register.answer_verification(request, colleague, False, "Could not read it")
        assert not register.answer_verification(request, omar, True)
        db.session.commit()
        db.session.refresh(dbs)
        db.session.refresh(request)
        assert request.verified is True and request.answer_note == ""
        assert dbs.verified_by_user_id == omar.id and dbs.verified_by_id == harbour.id


def test_each_organisation_verifies_in_its_own_name_and_only_a_dpss_can_be_asked(app):
    with app.app_context():
        jay = _jay()
        first_aid = _check(jay, CheckKind.FIRST_AID)
        with pytest.raises(RegisterError):
            register.request_verification(first_aid, _org("Northfield City Council").id)
        with pytest.raises(RegisterError):
            register.request_verification(first_aid, 999999)
        brightpath = _org("Brightpath Support")
        asked = register.request_verification(first_aid, brightpath.id)
        again = register.request_verification(first_aid, brightpath.id)
        assert again.id == asked.id  # asking twice is the same request
        db.session.commit()
        assert register.answer_verification(asked, _user("lee@brightpath.example"), True)
        db.session.commit()
        db.session.refresh(first_aid)
        assert first_aid.verified_by_id == brightpath.id
        assert [org for _, org, _ in register.verifiers(jay)] == ["Brightpath Support"]


def test_a_check_that_could_not_be_verified_is_not_counted(app):
    with app.app_context():
        jay = _jay()
        dbs = _check(jay, CheckKind.DBS)
        request = dbs.requests[0]
        assert register.answer_verification(request, _user("omar@harbour.example"), False, "The certificate number did not match")
        db.session.commit()
        db.session.refresh(dbs)
        assert dbs.verified_by_id is None and jay.verified_kinds == 0
        assert register.check_state(dbs) == CheckState.NOT_VERIFIED


# Expiry ----------------------------------------------------------------------------------------


def test_check_state_counts_down_to_expiry(app):
    with app.app_context():
        first_aid = _verify_jays_check(CheckKind.FIRST_AID)
        expires = first_aid.expires_on
        assert expires == london_today() + timedelta(days=21)
        assert register.check_state(first_aid, expires - timedelta(days=31)) == CheckState.VERIFIED
        assert register.check_state(first_aid, expires - timedelta(days=30)) == CheckState.EXPIRING
        assert register.check_state(first_aid) == CheckState.EXPIRING
        assert register.check_state(first_aid, expires) == CheckState.EXPIRING  # still valid on its last day
        assert register.check_state(first_aid, expires + timedelta(days=1)) == CheckState.EXPIRED
        unverified = register.add_check(_jay(), CheckInput(kind=CheckKind.MEDICATION, issued_on=london_today() - timedelta(days=400),
                                                           expires_on=london_today() - timedelta(days=1)))
        assert register.check_state(unverified) == CheckState.EXPIRED


def test_a_lapsed_check_stops_counting_as_verified_and_reminders_go_once_per_expiry_date(app):
    with app.app_context():
        first_aid = _verify_jays_check(CheckKind.FIRST_AID)
        jay = _jay()
        expires = first_aid.expires_on
        verified_first_aid = SearchFilters(districts=["NF3"], verified=check_kind_bit("first_aid"))
        assert jay.id in _found(verified_first_aid)

        today = london_today()
        refreshed, reminded = register.lapse_and_remind(today)
        db.session.commit()
        assert reminded == 1  # Jay's first aid, the only check in the demo expiring within 30 days
        assert register.lapse_and_remind(today)[1] == 0  # a second run the same day
        assert register.lapse_and_remind(today + timedelta(days=3))[1] == 0  # and on later days
        db.session.commit()
        notes = db.session.scalars(sa.select(Notification).where(Notification.key.like(f"register-check:{first_aid.id}:expires:%"))).all()
        assert len(notes) == 1 and notes[0].user_id == _user("jay.pa@example.org").id
        assert notes[0].message.startswith(f"Your first aid expires on {expires.day} {expires:%B %Y}.")

        refreshed, _ = register.lapse_and_remind(expires + timedelta(days=1))
        db.session.commit()
        db.session.refresh(jay)
        assert refreshed == 1
        assert not jay.verified_kinds & check_kind_bit("first_aid")
        assert jay.id not in _found(verified_first_aid)
        assert jay.id in _found(SearchFilters(districts=["NF3"]))  # still listed, just not verified for it
        assert [label for label, _, _ in register.verifiers(jay, expires + timedelta(days=1))] == []

        # Renewed with a new expiry date: a new reminder when that one comes near.
        first_aid.expires_on = expires + timedelta(days=365)
        db.session.commit()
        assert register.lapse_and_remind(first_aid.expires_on - timedelta(days=10))[1] == 1


def test_send_reminders_twice_reminds_jay_of_his_first_aid_once(app):
    with app.app_context():
        first = reminders.run(london_today(), app.config)
        second = reminders.run(london_today(), app.config)
        assert first.register_checks == 1 and second.register_checks == 0
        assert "Register check reminders: 1" in first.lines() and "Register check reminders: 0" in second.lines()
        jay_user = _user("jay.pa@example.org")
        notes = db.session.scalars(sa.select(Notification).where(Notification.user_id == jay_user.id,
                                                                 Notification.key.like("register-check:%:expires:%"))).all()
        assert len(notes) == 1 and notes[0].message.startswith("Your first aid expires on ")
        assert notes[0].emailed


def test_send_reminders_forgets_old_profile_views(app):
    with app.app_context():
        jay, david = _jay(), _user("david@example.org")
        before = register.activity(jay).views
        assert register.record_view(jay, david)
        old = ProfileView(user_id=david.id, profile_id=jay.id, at=utcnow() - timedelta(days=3))
        db.session.add(old)
        db.session.commit()
        reminders.run(london_today(), app.config)
        views = db.session.scalars(sa.select(ProfileView).where(ProfileView.user_id == david.id)).all()
        assert len(views) == 1 and views[0].at > utcnow() - timedelta(days=1)
        assert register.activity(jay).views == before + 1  # the PA's counts are kept


# Contact ---------------------------------------------------------------------------------------


def test_contact_details_are_shared_only_after_the_pa_accepts(app):
    with app.app_context():
        jay, grace, david = _jay(), _recipient("Grace", "Okafor"), _user("david@example.org")
        jay_user = _user("jay.pa@example.org")
        contact = pa_contacts.send_request(jay, grace, david, "Could you help my mother on Tuesday mornings?")
        db.session.commit()
        assert pa_contacts.asker_first_name(contact) == "David"
        assert pa_contacts.pa_details(contact) is None and pa_contacts.asker_details(contact) is None
        with pytest.raises(RegisterError):
            pa_contacts.post_message(contact, david, "Hello?")
        with pytest.raises(PermissionError):
            pa_contacts.answer(contact, _user("sophie.pa@example.org"), True)  # only Jay answers

        assert pa_contacts.answer(contact, jay_user, True)
        db.session.commit()
        assert not pa_contacts.answer(contact, jay_user, False)  # a second click changes nothing
        pa = pa_contacts.pa_details(contact)
        asker = pa_contacts.asker_details(contact)
        assert (pa.name, pa.phone, pa.email) == ("Jay Singh", "07700 900827", "jay.pa@example.org")
        assert (asker.name, asker.phone, asker.email) == ("David Okafor", "07700 900461", "david@example.org")  # David's, not Grace's
        message = pa_contacts.post_message(contact, jay_user, "Happy to meet Grace on Tuesday.")
        db.session.commit()
        assert [m.id for m in pa_contacts.thread(contact)] == [message.id]

        kims = db.session.scalar(sa.select(ContactRequest).where(ContactRequest.requested_by_id == _user("kim@brightpath.example").id))
        assert pa_contacts.asker_first_name(kims) == "Kim from Brightpath Support"
        assert pa_contacts.pa_details(kims) is None  # Kim's request is still waiting
        assert pa_contacts.answer(kims, jay_user, False)
        assert pa_contacts.pa_details(kims) is None and pa_contacts.asker_details(kims) is None  # declined: never


def _others(count: int, exclude: set[int] = frozenset()) -> list[PAProfile]:
    return list(db.session.scalars(sa.select(PAProfile).where(PAProfile.listed.is_(True), PAProfile.id.not_in(exclude))
                                   .order_by(PAProfile.id).limit(count)))


def test_twenty_requests_a_day_per_recipient_and_a_limit_per_user(app):
    with app.app_context():
        grace, david = _recipient("Grace", "Okafor"), _user("david@example.org")
        profiles = _others(22)
        for profile in profiles[:20]:
            pa_contacts.send_request(profile, grace, david, "")
        db.session.commit()
        with pytest.raises(RegisterError) as refused:
            pa_contacts.send_request(profiles[20], grace, david, "")
        assert refused.value.problems == [("message", pa_contacts.LIMIT_MESSAGE.format(limit=20))]
        # A request already waiting is returned, not refused and not repeated.
        again = pa_contacts.send_request(profiles[0], grace, david, "")
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ContactRequest)
                                 .where(ContactRequest.recipient_id == grace.person_id)) == 20
        assert again.profile_id == profiles[0].id
        # A day later the limit has passed.
        db.session.execute(sa.update(ContactRequest).where(ContactRequest.recipient_id == grace.person_id)
                           .values(created_at=utcnow() - timedelta(hours=25)))
        assert pa_contacts.send_request(profiles[20], grace, david, "").id

        # Kim recruits for several people, but not without limit: 40 a day (she sent one to Jay for Sam already).
        kim = _user("kim@brightpath.example")
        amina, tom, sam = _recipient("Amina", "Patel"), _recipient("Tom", "Hughes"), _recipient("Sam", "Okafor")
        for profile in profiles[:20]:
            pa_contacts.send_request(profile, amina, kim, "")
        for profile in profiles[:19]:
            pa_contacts.send_request(profile, tom, kim, "")
        db.session.commit()
        with pytest.raises(RegisterError) as refused:
            pa_contacts.send_request(profiles[21], sam, kim, "")
        assert refused.value.problems == [("message", pa_contacts.LIMIT_MESSAGE.format(limit=40))]


def test_a_blocked_sender_is_refused_and_others_are_not(app):
    with app.app_context():
        jay, jay_user, kim = _jay(), _user("jay.pa@example.org"), _user("kim@brightpath.example")
        kims = db.session.scalar(sa.select(ContactRequest).where(ContactRequest.requested_by_id == kim.id))
        pa_contacts.block(kims, jay_user)
        db.session.commit()
        assert kims.status == ContactStatus.DECLINED and pa_contacts.is_blocked(kims)
        for someone in ("Tom", "Hughes"), ("Sam", "Okafor"):
            with pytest.raises(RegisterError) as refused:
                pa_contacts.send_request(jay, _recipient(*someone), kim, "Hello again")
            assert refused.value.problems == [("message", pa_contacts.BLOCKED_MESSAGE)]
        assert pa_contacts.send_request(jay, _recipient("Grace", "Okafor"), _user("david@example.org"), "").status == ContactStatus.PENDING
        with pytest.raises(PermissionError):
            pa_contacts.block(kims, _user("sophie.pa@example.org"))


def test_a_waiting_request_is_reused_and_after_a_decline_a_new_one_may_be_sent(app):
    with app.app_context():
        jay, grace, david, jay_user = _jay(), _recipient("Grace", "Okafor"), _user("david@example.org"), _user("jay.pa@example.org")
        contacts_before = register.activity(jay).contacts
        first = pa_contacts.send_request(jay, grace, david, "First")
        second = pa_contacts.send_request(jay, grace, david, "Second")
        db.session.commit()
        assert second.id == first.id and first.message == "First"
        assert register.activity(jay).contacts == contacts_before + 1
        assert pa_contacts.answer(first, jay_user, False)
        db.session.commit()
        third = pa_contacts.send_request(jay, grace, david, "Third")
        db.session.commit()
        assert third.id != first.id and third.status == ContactStatus.PENDING
        assert register.activity(jay).contacts == contacts_before + 2


def test_a_contact_request_with_contact_details_in_it_is_refused(app):
    with app.app_context():
        with pytest.raises(RegisterError) as refused:
            pa_contacts.send_request(_jay(), _recipient("Grace", "Okafor"), _user("david@example.org"), "Ring me on 07700 900461")
        assert [field for field, _ in refused.value.problems] == ["message"]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ContactRequest)
                                 .where(ContactRequest.recipient_id == _recipient("Grace", "Okafor").person_id)) == 0


# Deleting a profile ----------------------------------------------------------------------------


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 40), (200, 100, 50)).save(out, "PNG")
    return out.getvalue()


def test_deleting_a_profile_removes_everything_hanging_off_it_and_its_files(app):
    with app.app_context():
        jay, jay_user, david = _jay(), _user("jay.pa@example.org"), _user("david@example.org")
        storage = Storage.from_config()
        document = check_and_clean(_png(), "certificate.png")
        check = register.add_check(jay, CheckInput(kind=CheckKind.RIGHT_TO_WORK, issued_on=london_today()), document, storage)
        register.request_verification(check, _org("Brightpath Support").id)
        jay.photo_name = storage.save(_png(), "png")  # stored as set_photo would, without the photo checker
        db.session.commit()
        files = [jay.photo_name, check.document_name]
        assert all((storage.folder / name).exists() for name in files)
        register.record_view(jay, david)
        contact = pa_contacts.send_request(jay, _recipient("Grace", "Okafor"), david, "Hello")
        pa_contacts.answer(contact, jay_user, True)
        pa_contacts.post_message(contact, jay_user, "Hello David")
        concern = pa_contacts.report_concern(contact, jay_user, "He asked for my bank details")
        kims = db.session.scalar(sa.select(ContactRequest).where(ContactRequest.requested_by_id == _user("kim@brightpath.example").id))
        pa_contacts.block(kims, jay_user)
        db.session.commit()
        profile_id, person_id = jay.id, jay.person_id
        contact_ids = [contact.id, kims.id]
        check_ids = [c.id for c in jay.checks]
        concern_id = concern.id

        def count(model, *where) -> int:
            return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))

        assert count(ContactMessage, ContactMessage.contact_id.in_(contact_ids)) == 1
        register.delete_profile(jay, storage)

        assert db.session.get(PAProfile, profile_id) is None
        for model in (ProfileCheck, ProfileDistrict, ProfileActivity, ProfileView, VacancyInterest, ContactRequest, ContactBlock):
            assert count(model, model.profile_id == profile_id) == 0, model.__name__
        assert count(VerificationRequest, VerificationRequest.check_id.in_(check_ids)) == 0
        assert count(ContactMessage, ContactMessage.contact_id.in_(contact_ids)) == 0
        assert not any((storage.folder / name).exists() for name in files)
        assert count(PAProfile, PAProfile.person_id == person_id) == 0
        # What stays: Jay's account (he may list again) and the concern for the DPSS, no longer tied to the contact.
        assert _user("jay.pa@example.org").person_id == person_id
        kept = db.session.get(RegisterConcern, concern_id)
        assert kept is not None and kept.contact_id is None
        assert _graces_vacancy().interests == []
        if db.engine.dialect.name == "sqlite":  # the free-text index forgot the profile too
            rows = db.session.execute(sa.text("SELECT rowid FROM pa_profile_text WHERE pa_profile_text MATCH 'grandfather'")).all()
            assert profile_id not in [row[0] for row in rows]


# Views: a rate limit against scraping, and counts for the PA, never names -------------------------


def test_profile_views_are_counted_for_the_pa_and_limited_per_user(app):
    with app.app_context():
        jay, sophie, david = _jay(), _profile_of("Sophie", "Clarke"), _user("david@example.org")
        kim, jay_user = _user("kim@brightpath.example"), _user("jay.pa@example.org")
        # Only today's counts here (the demo's earlier days would collide with the move to 31 days ago below).
        db.session.execute(sa.delete(ProfileActivity).where(ProfileActivity.profile_id == jay.id))
        before = register.activity(jay)
        assert register.record_view(jay, jay_user)  # the PA looking at their own profile is not a view
        assert register.activity(jay) == before

        for _ in range(register.PROFILE_VIEWS_PER_DAY - 1):
            assert register.record_view(jay, david)
        assert register.record_view(sophie, david)  # the 200th profile opened today
        assert not register.record_view(jay, david)  # the 201st is refused
        assert not register.record_view(sophie, david)
        assert register.record_view(jay, kim)  # another person is not held back by David
        db.session.commit()

        activity = register.activity(jay)
        assert (activity.views, activity.contacts, activity.days) == (before.views + 200, before.contacts, 30)
        assert set(vars(activity)) == {"views", "contacts", "days"}  # numbers only: who looked is not said

        db.session.execute(sa.update(ProfileView).where(ProfileView.user_id == david.id)
                           .values(at=utcnow() - timedelta(hours=25)))
        assert register.record_view(jay, david)  # a day later David may look again

        # Activity is counted by day and the PA sees the last 30 days.
        db.session.execute(sa.update(ProfileActivity).where(ProfileActivity.profile_id == jay.id)
                           .values(day=london_today() - timedelta(days=31)))
        assert register.activity(jay).views == 0
        assert register.activity(jay, days=60).views == before.views + 201
