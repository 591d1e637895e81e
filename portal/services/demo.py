"""The demo organisations and personas of shared/personas.md, exactly, and a scale generator.

Demo data only: never created by migrations or a production start.
"""

import random
from datetime import date, timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    CaseloadEntry,
    District,
    Employment,
    Organisation,
    OrganisationKind,
    Person,
    Recipient,
    RepresentativeKind,
    RepresentativeLevel,
    RepresentativeLink,
    Role,
    SupportReason,
    User,
)
from portal.services import content
from portal.services.passwords import hash_password

DEMO_PASSWORD = "demo-password-1"
DEMO_TOTP_SECRET = "NORTHFIELDDEMOAUTHENTICATOR23456"
# Dates the demo is anchored on: links and employments start well before today.
SINCE = date(2024, 4, 1)


def _age_to_birth_date(age: int, day: int = 15, month: int = 3) -> date:
    today = date.today()
    born = date(today.year - age, month, day)
    return born if born <= today else date(today.year - age - 1, month, day)


def is_loaded() -> bool:
    return db.session.scalar(sa.select(User.id).where(User.email == "admin@example.org")) is not None


def load_personas(time_cost: int = 3, memory_cost: int = 65536) -> dict[str, int]:
    """Create the demo organisations and personas. Returns person/user ids by short name."""
    password_hash = hash_password(DEMO_PASSWORD, time_cost, memory_cost)

    def org(name, kind, phone, email):
        o = Organisation(name=name, kind=kind, phone=phone, email=email)
        db.session.add(o)
        return o

    northfield = org("Northfield City Council", OrganisationKind.COUNCIL, "0300 123 4000", "directpayments@northfield.example")
    eastmoor = org("Eastmoor County Council", OrganisationKind.COUNCIL, "0300 456 7000", "directpayments@eastmoor.example")
    brightpath = org("Brightpath Support", OrganisationKind.DPSS, "0114 496 0100", "help@brightpath.example")
    harbour = org("Harbour DPSS", OrganisationKind.DPSS, "0114 496 0200", "help@harbour.example")
    db.session.flush()
    for n in range(1, 10):
        db.session.add(District(code=f"NF{n}", council_id=northfield.id))
    for n in range(1, 6):
        db.session.add(District(code=f"EM{n}", council_id=eastmoor.id))

    def person(given, family, email=""):
        p = Person(given_name=given, family_name=family, email=email)
        db.session.add(p)
        db.session.flush()
        return p

    def user(email, name, role, person=None, organisation=None, payroll=False, totp=False):
        u = User(
            email=email,
            display_name=name,
            role=role,
            person_id=person.id if person else None,
            organisation_id=organisation.id if organisation else None,
            payroll_permission=payroll,
            password_hash=password_hash,
            totp_secret=DEMO_TOTP_SECRET if totp else None,
        )
        db.session.add(u)
        db.session.flush()
        return u

    def recipient(p, age, postcode, reason, council):
        r = Recipient(
            person_id=p.id,
            date_of_birth=_age_to_birth_date(age),
            postcode=postcode,
            district_code=postcode.split()[0],
            support_reason=reason,
            council_id=council.id,
        )
        db.session.add(r)
        return r

    amina = person("Amina", "Patel", "amina@example.org")
    grace = person("Grace", "Okafor", "grace@example.org")
    david = person("David", "Okafor", "david@example.org")
    sam = person("Sam", "Okafor")
    tom = person("Tom", "Hughes", "tom@example.org")
    ellen = person("Ellen", "Marsh", "ellen@example.org")
    sophie = person("Sophie", "Clarke", "sophie.pa@example.org")
    jay = person("Jay", "Singh", "jay.pa@example.org")
    joan = person("Joan", "Price")
    leon = person("Leon", "Baptiste")

    recipient(amina, 34, "NF2 4AB", SupportReason.PHYSICAL_DISABILITY, northfield)
    recipient(grace, 81, "NF4 7QD", SupportReason.OLDER_PEOPLE, northfield)
    recipient(sam, 19, "NF4 7QD", SupportReason.LEARNING_DISABILITY, northfield)
    recipient(tom, 45, "NF6 2LP", SupportReason.LEARNING_DISABILITY, northfield)
    recipient(ellen, 58, "EM3 9HT", SupportReason.MENTAL_HEALTH, eastmoor)
    db.session.flush()

    kim = user("kim@brightpath.example", "Kim Bell", Role.DPSS_CASEWORKER, organisation=brightpath, payroll=True, totp=True)
    user("lee@brightpath.example", "Lee Adams", Role.DPSS_MANAGER, organisation=brightpath, totp=True)
    omar = user("omar@harbour.example", "Omar Farah", Role.DPSS_CASEWORKER, organisation=harbour, payroll=True, totp=True)
    user("rachel@northfield.example", "Rachel Moss", Role.COUNCIL_OFFICER, organisation=northfield, totp=True)
    user("admin@example.org", "Site Admin", Role.ADMINISTRATOR, totp=True)
    user("amina@example.org", "Amina Patel", Role.RECIPIENT, person=amina)
    user("grace@example.org", "Grace Okafor", Role.RECIPIENT, person=grace)
    user("david@example.org", "David Okafor", Role.REPRESENTATIVE, person=david)
    user("tom@example.org", "Tom Hughes", Role.RECIPIENT, person=tom)
    user("ellen@example.org", "Ellen Marsh", Role.RECIPIENT, person=ellen)
    user("sophie.pa@example.org", "Sophie Clarke", Role.PA, person=sophie)
    user("jay.pa@example.org", "Jay Singh", Role.PA, person=jay)

    def caseload(r, provider, worker, **services):
        db.session.add(CaseloadEntry(recipient_id=r.id, provider_id=provider.id, caseworker_id=worker.id, start_date=SINCE, **services))

    caseload(amina, brightpath, kim, payroll=True)
    caseload(tom, brightpath, kim, managed_account=True)
    caseload(sam, brightpath, kim, managed_account=True)
    caseload(grace, harbour, omar, payroll=True)
    caseload(ellen, harbour, omar, payroll=True)

    db.session.add(
        RepresentativeLink(
            representative_id=david.id, recipient_id=grace.id, kind=RepresentativeKind.AUTHORISED_PERSON,
            level=RepresentativeLevel.MANAGE, start_date=SINCE, council_agreed_on=SINCE,
        )
    )
    db.session.add(
        RepresentativeLink(
            representative_id=david.id, recipient_id=sam.id, kind=RepresentativeKind.FAMILY_HELPER,
            level=RepresentativeLevel.VIEW, start_date=SINCE, council_agreed_on=SINCE,
        )
    )
    for pa, employer in ((sophie, amina), (joan, amina), (leon, tom)):
        db.session.add(Employment(pa_id=pa.id, employer_id=employer.id, start_date=SINCE))
    db.session.commit()
    content.ensure_default_pages()
    return {
        "amina": amina.id, "grace": grace.id, "david": david.id, "sam": sam.id, "tom": tom.id,
        "ellen": ellen.id, "sophie": sophie.id, "jay": jay.id, "joan": joan.id, "leon": leon.id,
    }


GIVEN = ["Alex", "Bernard", "Chloe", "Deepa", "Edward", "Fatima", "George", "Hannah", "Imran", "Julia",
         "Kofi", "Lily", "Mohammed", "Nora", "Owen", "Priya", "Quentin", "Rosa", "Stefan", "Tariq"]
FAMILY = ["Adeyemi", "Brown", "Chen", "Davies", "Evans", "Fisher", "Green", "Hall", "Iqbal", "Jones",
          "Khan", "Lewis", "Morris", "Novak", "O'Brien", "Parker", "Quinn", "Roberts", "Smith", "Taylor"]


def generate(count: int, seed: int = 2026, batch: int = 5000) -> int:
    """Add `count` generated recipients spread over the councils and providers (deterministic)."""
    rng = random.Random(seed)
    councils = db.session.scalars(sa.select(Organisation).where(Organisation.kind == OrganisationKind.COUNCIL).order_by(Organisation.id)).all()
    providers = db.session.scalars(sa.select(Organisation).where(Organisation.kind == OrganisationKind.DPSS).order_by(Organisation.id)).all()
    workers = db.session.scalars(sa.select(User).where(User.role == Role.DPSS_CASEWORKER).order_by(User.id)).all()
    if not councils or not providers:
        raise RuntimeError("Load the demo personas before generating scale data")
    districts = {c.id: [d.code for d in c.districts] for c in councils}
    workers_by_provider = {p.id: [w.id for w in workers if w.organisation_id == p.id] for p in providers}
    reasons = list(SupportReason)
    start_id = (db.session.scalar(sa.select(sa.func.max(Person.id))) or 0) + 1
    made = 0
    while made < count:
        size = min(batch, count - made)
        people, recipients, entries = [], [], []
        for i in range(size):
            pid = start_id + made + i
            council = councils[(made + i) % len(councils)]
            provider = providers[rng.randrange(len(providers))]
            district = rng.choice(districts[council.id])
            people.append({"id": pid, "given_name": rng.choice(GIVEN), "family_name": rng.choice(FAMILY), "email": "", "phone": ""})
            recipients.append({
                "person_id": pid, "date_of_birth": date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 65)),
                "postcode": f"{district} {rng.randrange(1, 10)}{rng.choice('ABDEFGHJ')}{rng.choice('LNPQRSTU')}",
                "district_code": district, "support_reason": rng.choice(reasons).value, "council_id": council.id,
            })
            pool = workers_by_provider.get(provider.id) or [None]
            entries.append({
                "recipient_id": pid, "provider_id": provider.id, "caseworker_id": rng.choice(pool),
                "managed_account": rng.random() < 0.3, "payroll": rng.random() < 0.5,
                "recruitment_support": rng.random() < 0.2, "setup_support": rng.random() < 0.1, "start_date": SINCE,
            })
        db.session.execute(sa.insert(Person), people)
        db.session.execute(sa.insert(Recipient), recipients)
        db.session.execute(sa.insert(CaseloadEntry), entries)
        db.session.commit()
        made += size
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT setval(pg_get_serial_sequence('people', 'id'), (SELECT max(id) FROM people))"))
        db.session.commit()
    return made
