"""Demo data for the PA register: Sophie and Jay as in shared/personas.md, David's vacancy for Grace
with Jay's interest in it, a few dozen other listed PAs around Northfield and Eastmoor, and at scale
tens of thousands of profiles (generate_profiles) written in batches.
"""

import random
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import District, Organisation, Person, User
from portal.models.register import (
    CheckKind,
    ContactRequest,
    DBSLevel,
    Gender,
    PAProfile,
    ProfileActivity,
    ProfileCheck,
    ProfileDistrict,
    Vacancy,
    VacancyInterest,
    VerificationRequest,
)
from portal.services.clock import london_today, utcnow
from portal.services.demo import bulk_insert
from portal.services.register import refresh_verified_kinds
from portal.services.register_options import (
    CHECK_ORDER,
    DAYS,
    EXPERIENCE,
    LANGUAGES,
    PARTS,
    SUPPORT,
    mask_of,
    slot_bit,
    slots_mask,
)

PHONES = {
    "david": "07700 900461", "amina": "07700 900112", "jay": "07700 900827", "sophie": "07700 900354",
}

ABOUTS = [
    "I have cared for my grandmother for years and now work as a PA. Patient, cheerful and reliable.",
    "Former care home worker. I enjoy cooking, gardening and getting out into the community.",
    "I support people to stay independent at home: personal care, meals and trips out.",
    "Experienced with dementia and end of life care. Calm, gentle and good with families.",
    "Student nurse looking for evening and weekend work. Happy to help with medication.",
    "I drive and love helping people get to work, college, clubs and appointments.",
    "Bilingual PA, patient and kind, with moving and handling and first aid training.",
    "Ten years supporting autistic adults and people with learning disabilities.",
]


def _org(name: str) -> Organisation:
    return db.session.scalar(sa.select(Organisation).where(Organisation.name == name))


def _support(*keys: str) -> int:
    return mask_of(SUPPORT, keys)


def _experience(*keys: str) -> int:
    return mask_of(EXPERIENCE, keys)


def load_register(ids: dict[str, int], today: date | None = None) -> None:
    """The personas' register: Sophie verified by Brightpath, Jay unverified and wanting more hours."""
    today = today or london_today()
    for key, phone in PHONES.items():
        db.session.get(Person, ids[key]).phone = phone
    brightpath, harbour = _org("Brightpath Support"), _org("Harbour DPSS")
    kim = db.session.scalar(sa.select(User).where(User.email == "kim@brightpath.example"))
    now = utcnow()

    sophie = PAProfile(
        person_id=ids["sophie"], listed=True, drives=False,
        availability=slots_mask([f"{d}-{p}" for d in ("mon", "wed", "fri") for p in ("morning", "afternoon")]),
        support_offered=_support("personal_care", "medication", "domestic", "cooking", "shopping"),
        experience=_experience("physical_disability", "older_people"),
        languages=mask_of(LANGUAGES, ["en"]), gender=Gender.WOMAN, hours_wanted=20, rate_pence=1450,
        about="I have worked as a PA for six years. I am organised, calm and good at helping people stay independent.",
        last_active_at=now - timedelta(days=2),
    )
    sophie.districts = [ProfileDistrict(district_code=c) for c in ("NF1", "NF2")]
    db.session.add(sophie)
    db.session.flush()
    verified_on = date(2026, 3, 3)
    for kind, level, issued, expires in (
        (CheckKind.DBS, DBSLevel.ENHANCED_BARRED, date(2026, 2, 20), None),
        (CheckKind.SAFEGUARDING, None, date(2025, 11, 10), date(2028, 11, 10)),
    ):
        check = ProfileCheck(profile_id=sophie.id, kind=kind, dbs_level=level, update_service=kind == CheckKind.DBS,
                             issued_on=issued, expires_on=expires, verified_by_id=brightpath.id,
                             verified_by_user_id=kim.id, verified_on=verified_on)
        db.session.add(check)
        db.session.flush()
        db.session.add(VerificationRequest(check_id=check.id, provider_id=brightpath.id, answered_at=now, verified=True))

    jay = PAProfile(
        person_id=ids["jay"], listed=True, drives=True,
        availability=slots_mask([f"{d}-{p}" for d in ("tue", "thu") for p in ("early", "morning")]
                                + ["sat-afternoon", "sun-afternoon", "wed-evening"]),
        support_offered=_support("personal_care", "cooking", "shopping", "social", "driving"),
        experience=_experience("older_people", "dementia"),
        languages=mask_of(LANGUAGES, ["en", "pa", "hi"]), gender=Gender.MAN, hours_wanted=30, rate_pence=1300,
        about="I looked after my grandfather, who had dementia, for three years. I am patient, I drive, and I would "
              "like more hours supporting older people around NF3 to NF5.",
        last_active_at=now - timedelta(hours=5),
    )
    jay.districts = [ProfileDistrict(district_code=c) for c in ("NF3", "NF4", "NF5")]
    db.session.add(jay)
    db.session.flush()
    jay_dbs = ProfileCheck(profile_id=jay.id, kind=CheckKind.DBS, dbs_level=DBSLevel.ENHANCED, issued_on=date(2025, 9, 1))
    jay_first_aid = ProfileCheck(profile_id=jay.id, kind=CheckKind.FIRST_AID, detail="Emergency first aid at work",
                                 issued_on=date(2024, 1, 15), expires_on=today + timedelta(days=21))
    db.session.add_all([jay_dbs, jay_first_aid])
    db.session.flush()
    db.session.add(VerificationRequest(check_id=jay_dbs.id, provider_id=harbour.id))

    david = db.session.scalar(sa.select(User).where(User.email == "david@example.org"))
    vacancy = Vacancy(
        recipient_id=ids["grace"], posted_by_id=david.id, title="Morning support for my mother in NF4",
        district_code="NF4", hours_per_week=8, availability=slot_bit(1, "morning") | slot_bit(3, "morning"),
        times_note="Tuesday and Thursday, 9am to 1pm", support_needed=_support("personal_care", "cooking"),
        experience_wanted=_experience("dementia", "older_people"), languages=0, gender_preference=None,
        driver_needed=False, rate_pence=1400, start_date=today + timedelta(days=28), closing_date=today + timedelta(days=14),
        description="My mother Grace is 81 and has dementia. She needs help getting up, washing and dressing, and a "
                    "cooked lunch. She loves music and talking about her garden.",
        created_at=now - timedelta(days=6),
    )
    db.session.add(vacancy)
    db.session.flush()
    db.session.add(VacancyInterest(vacancy_id=vacancy.id, profile_id=jay.id, created_at=now - timedelta(days=1),
                                   message="I live nearby and have supported my grandfather with dementia. Tuesday and Thursday mornings suit me."))
    db.session.flush()
    # Kim, recruiting for Sam on Brightpath's behalf, has asked Jay to get in touch: still waiting.
    db.session.add(ContactRequest(profile_id=jay.id, recipient_id=ids["sam"], requested_by_id=kim.id, created_at=now - timedelta(hours=20),
                                  message="Sam is 19 and looking for someone to go swimming and to college with him. Could you help?"))
    # What Jay sees as counts (never names): views over the last fortnight and Kim's request.
    for days_ago, views, contacts in ((1, 3, 1), (4, 2, 0), (9, 4, 0), (13, 1, 0)):
        db.session.add(ProfileActivity(profile_id=jay.id, day=today - timedelta(days=days_ago), views=views, contacts=contacts))
    db.session.flush()
    generate_profiles(40, seed=5, districts=[f"NF{n}" for n in range(1, 10)] + [f"EM{n}" for n in range(1, 6)],
                      verifiers=[brightpath.id, harbour.id], today=today)
    # A PA who has hidden her profile: it must appear nowhere but on her own pages.
    hidden_person = Person(given_name="Mia", family_name="Walsh", email="", phone="")
    db.session.add(hidden_person)
    db.session.flush()
    hidden = PAProfile(person_id=hidden_person.id, listed=False, availability=slots_mask(["tue-morning", "thu-morning"]),
                       support_offered=_support("personal_care"), experience=_experience("dementia"),
                       languages=mask_of(LANGUAGES, ["en"]), gender=Gender.WOMAN, hours_wanted=10, rate_pence=1300,
                       about="Hidden while I am away.")
    hidden.districts = [ProfileDistrict(district_code="NF4")]
    db.session.add(hidden)
    for profile in (sophie, jay):
        refresh_verified_kinds(profile, today)
    db.session.commit()


GIVEN = ["Aisha", "Ben", "Carys", "Dev", "Ella", "Femi", "Gosia", "Hamza", "Iris", "Jonah", "Kiran", "Lena", "Marek",
         "Nia", "Olu", "Pooja", "Rhys", "Sana", "Tomasz", "Una", "Vikram", "Wendy", "Yusuf", "Zara"]
FAMILY = ["Ali", "Baker", "Cole", "Dhillon", "Ellis", "Ford", "Gill", "Hughes", "Ivanova", "Jackson", "Kaur", "Lowe",
          "Mensah", "Nowak", "Owens", "Patel", "Reid", "Shah", "Turner", "Usman", "Walsh", "Young"]


def generate_profiles(count: int, *, seed: int = 2026, districts: list[str] | None = None,
                      verifiers: list[int] | None = None, today: date | None = None, batch: int = 5000) -> int:
    """Add `count` listed profiles (people without accounts), in batches of plain inserts. Deterministic."""
    rng = random.Random(seed)
    today = today or london_today()
    if districts is None:
        districts = list(db.session.scalars(sa.select(District.code).order_by(District.code)))
    if verifiers is None:
        verifiers = list(db.session.scalars(sa.select(Organisation.id).where(Organisation.kind == "dpss")))
    now = datetime.now(UTC)
    made = 0
    slots = [(day, key) for day in range(len(DAYS)) for key, _, _ in PARTS]
    while made < count:
        size = min(batch, count - made)
        people = [{"given_name": rng.choice(GIVEN), "family_name": rng.choice(FAMILY), "email": "", "phone": ""} for _ in range(size)]
        first_person = _insert_returning_first(Person.__table__, people)
        profiles = []
        for n in range(size):
            chosen_slots = rng.sample(slots, rng.randint(3, 16))
            availability = 0
            for day, key in chosen_slots:
                availability |= slot_bit(day, key)
            profiles.append({
                "person_id": first_person + n, "listed": rng.random() < 0.97, "drives": rng.random() < 0.55,
                "availability": availability,
                "support_offered": _random_mask(rng, len(SUPPORT), 2, 6),
                "experience": _random_mask(rng, len(EXPERIENCE), 1, 4),
                "languages": 1 | (_random_mask(rng, len(LANGUAGES), 0, 1) if rng.random() < 0.3 else 0),
                "gender": rng.choices(list(Gender), weights=[70, 25, 2, 3])[0].value,
                "hours_wanted": rng.choice([0, 8, 12, 16, 20, 25, 30, 37]), "rate_pence": rng.randrange(1220, 1800, 5),
                "about": rng.choice(ABOUTS), "verified_kinds": 0,
                "created_at": now - timedelta(days=rng.randint(1, 700)),
                "updated_at": now - timedelta(days=rng.randint(0, 300)),
                "last_active_at": now - timedelta(hours=rng.randint(1, 24 * 200)),
            })
        first_profile = _next_id(PAProfile.__table__)
        district_rows, check_rows = [], []
        for n, row in enumerate(profiles):
            profile_id = first_profile + n
            for code in rng.sample(districts, min(len(districts), rng.choice([1, 1, 2, 2, 3, 4]))):
                district_rows.append({"profile_id": profile_id, "district_code": code})
            for index, kind in enumerate(CHECK_ORDER):
                if kind == "reference" or rng.random() > 0.5:
                    continue
                verified = bool(verifiers) and rng.random() < 0.6
                if verified:
                    row["verified_kinds"] |= 1 << index
                check_rows.append({
                    "profile_id": profile_id, "kind": kind, "dbs_level": DBSLevel.ENHANCED.value if kind == "dbs" else None,
                    "update_service": kind == "dbs" and rng.random() < 0.5, "detail": "",
                    "issued_on": today - timedelta(days=rng.randint(30, 900)), "expires_on": None,
                    "document_name": None, "document_display_name": "", "document_type": "",
                    "verified_by_id": rng.choice(verifiers) if verified else None,
                    "verified_on": today - timedelta(days=rng.randint(1, 300)) if verified else None,
                    "created_at": now,
                })
        _insert_returning_first(PAProfile.__table__, profiles)
        bulk_insert(ProfileDistrict.__table__, district_rows)
        bulk_insert(ProfileCheck.__table__, check_rows)
        db.session.commit()
        made += size
    return made


def _random_mask(rng: random.Random, width: int, low: int, high: int) -> int:
    mask = 0
    for bit in rng.sample(range(width), rng.randint(low, high)):
        mask |= 1 << bit
    return mask


def _next_id(table) -> int:
    return (db.session.scalar(sa.select(sa.func.max(table.c.id))) or 0) + 1


def _insert_returning_first(table, rows: list[dict]) -> int:
    """Insert rows with ids given here (one writer: the generator) and return the first id."""
    first = _next_id(table)
    for offset, row in enumerate(rows):
        row["id"] = first + offset
    bulk_insert(table, rows)
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), :last)"),
                           {"last": first + len(rows) - 1})
    return first
