"""The demo organisations and personas of shared/personas.md, exactly, and a scale generator.

Demo data only: never created by migrations or a production start.
"""

import enum
import random
from datetime import date, timedelta
from operator import itemgetter

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
from portal.services.clock import london_today
from portal.services.passwords import hash_password

DEMO_PASSWORD = "demo-password-1"
DEMO_TOTP_SECRET = "NORTHFIELDDEMOAUTHENTICATOR23456"
# Dates the demo is anchored on: links and employments start well before today.
SINCE = date(2024, 4, 1)


def _age_to_birth_date(age: int, day: int = 15, month: int = 3) -> date:
    today = london_today()
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
    ids = {
        "amina": amina.id, "grace": grace.id, "david": david.id, "sam": sam.id, "tom": tom.id,
        "ellen": ellen.id, "sophie": sophie.id, "jay": jay.id, "joan": joan.id, "leon": leon.id,
    }
    from portal.services.demo_register import load_register

    load_register(ids)
    from portal.services.demo_casework import load_casework

    load_casework(ids)
    return ids


GIVEN = ["Alex", "Bernard", "Chloe", "Deepa", "Edward", "Fatima", "George", "Hannah", "Imran", "Julia",
         "Kofi", "Lily", "Mohammed", "Nora", "Owen", "Priya", "Quentin", "Rosa", "Stefan", "Tariq"]
FAMILY = ["Adeyemi", "Brown", "Chen", "Davies", "Evans", "Fisher", "Green", "Hall", "Iqbal", "Jones",
          "Khan", "Lewis", "Morris", "Novak", "O'Brien", "Parker", "Quinn", "Roberts", "Smith", "Taylor"]

# Scale data: providers of 2,000 to 5,000 cases (issue 6), the first (Brightpath) with 5,000 at 20,000
# recipients; a caseworker holds about 300.
CASES_PER_PROVIDER = (2000, 5000)
CASES_PER_CASEWORKER = 300
FIRST_PROVIDER_SHARE = 4  # the first provider takes a quarter of all cases, up to the most a provider has
PROVIDER_NAMES = ["Riverside Direct Payments Support", "Meadowgate Independent Living", "Northgate Support Services",
                  "Kingsway Personal Budgets", "Oakfield Care Support", "Westbrook Direct Payments", "Millbrook Support CIC",
                  "Ashdown Independent Living Trust"]
STAFF_GIVEN = ["Aaliyah", "Ben", "Caitlin", "Darren", "Ewa", "Femi", "Gemma", "Harjit", "Ines", "Joel", "Kerry", "Liam",
               "Maryam", "Niall", "Olivia", "Pawel", "Ruth", "Sanjay", "Tess", "Victor"]
STAFF_FAMILY = ["Ahmed", "Bennett", "Collins", "Doyle", "Edwards", "Fox", "Gill", "Hart", "Jordan", "Kaur", "Lowe",
                "Mills", "Nolan", "Okoye", "Pearce", "Rahman", "Shaw", "Turner", "Walsh", "Yates"]


def provider_sizes(count: int, existing: list[int], bounds: tuple[int, int] = CASES_PER_PROVIDER) -> list[int]:
    """How many of `count` generated cases each provider takes, given the cases the existing providers hold
    (in order; the first is Brightpath). One entry per existing provider, then one per provider to create.

    The first takes a quarter of all the cases (at least `low`, at most `high`); the rest are shared by as
    few providers as keep them near the middle of `low`..`high`, sized from about 20% above the average to
    20% below it (never outside the bounds), the existing ones first and largest. Totals (existing cases
    included) are within the bounds for every provider from 2 x `low` cases in all (4,000 by default); at
    20,000 generated: 5,000, 3,601, 3,301, 3,001, 2,701 and 2,401. With fewer, the first provider takes a
    quarter and the second the rest. Deterministic: the same arguments, the same sizes.
    """
    low, high = bounds
    if count <= 0:
        return [0] * len(existing)
    if not existing:
        raise ValueError("At least one provider is needed")
    total = count + sum(existing)
    quarter = round(total / FIRST_PROVIDER_SHARE)
    if total >= 2 * low:  # enough for the first and at least one more within the bounds
        quarter = max(low, quarter)
    first = min(total, max(existing[0], min(high, quarter)))
    rest = total - first
    others = max(0, len(existing) - 1)
    if rest <= 0:
        providers = max(others, 0)
    elif rest <= high:
        providers = max(others, 1)
    else:
        providers = -(-rest // ((low + high) // 2))
        providers = max(providers, -(-rest // high))
        providers = min(providers, rest // low)
        providers = max(providers, others, 1)
    totals = [first]
    if providers:
        base, spare = divmod(rest, providers)
        spread = max(0, min(round(base * 0.2), high - base - 1, base - low - 1))
        steps = [round(spread * (providers - 1 - 2 * i) / (providers - 1)) if providers > 1 else 0 for i in range(providers)]
        sizes = [base + step for step in steps]
        for i in range(spare):  # the smallest take the odd cases over
            sizes[providers - 1 - i] += 1
        totals += sizes
    wanted = [max(0, t - e) for t, e in zip(totals, existing + [0] * (len(totals) - len(existing)), strict=True)]
    wanted[-1 if len(wanted) > 1 else 0] += count - sum(wanted)  # an existing provider already over its share
    return wanted


def _scale_providers(sizes: list[int], existing: list[Organisation], per_caseworker: int) -> dict[int, list[int]]:
    """Create the providers beyond the existing ones (named plausibly, each with a manager) and enough
    caseworkers for about `per_caseworker` cases each (the demo's own staff count: a handful of cases
    needs no one new). Staff sign in with the demo password and authenticator. Returns the caseworker ids
    of each provider, in order."""
    providers = list(existing)
    password = db.session.scalar(sa.select(User.password_hash).where(User.role == Role.DPSS_CASEWORKER).order_by(User.id).limit(1))
    names = {o.name for o in db.session.scalars(sa.select(Organisation))}
    candidates = [n for n in PROVIDER_NAMES if n not in names]
    number = len(existing)
    while len(providers) < len(sizes):
        number += 1
        name = candidates.pop(0) if candidates else f"Provider {number:02d} Support"
        while name in names:
            number += 1
            name = f"Provider {number:02d} Support"
        names.add(name)
        domain = "".join(ch for ch in name.split()[0].lower() if ch.isalnum()) + ".example"
        if db.session.scalar(sa.select(Organisation.id).where(Organisation.email.like(f"%@{domain}"))):
            domain = domain.replace(".example", f"{number:02d}.example")
        provider = Organisation(name=name, kind=OrganisationKind.DPSS, phone=f"0114 496 {300 + number:04d}", email=f"help@{domain}")
        db.session.add(provider)
        db.session.flush()
        providers.append(provider)
    staff = db.session.execute(sa.select(User.organisation_id, User.id, User.role).where(
        User.organisation_id.in_([p.id for p in providers]), User.role.in_([Role.DPSS_CASEWORKER, Role.DPSS_MANAGER]),
        User.disabled_at.is_(None)).order_by(User.id)).all()
    workers: dict[int, list[int]] = {p.id: [] for p in providers}
    managers = {org for org, _, role in staff if role == Role.DPSS_MANAGER}
    for org, user_id, role in staff:
        if role == Role.DPSS_CASEWORKER:
            workers[org].append(user_id)
    taken = set(db.session.scalars(sa.select(User.email).where(User.email.like("%.example"))))
    for index, (provider, size) in enumerate(zip(providers, sizes, strict=True)):
        held = db.session.scalar(sa.select(sa.func.count()).select_from(CaseloadEntry).where(CaseloadEntry.provider_id == provider.id))
        needed = -(-(held + size) // per_caseworker)
        domain = provider.email.split("@", 1)[1] if "@" in provider.email else f"provider{index + 1:02d}.example"

        def add(role: Role, n: int) -> int:
            what = "manager" if role == Role.DPSS_MANAGER else "caseworker"
            email, again = f"{what}{n:02d}@{domain}", 0
            while email in taken:
                again += 1
                email = f"{what}{n:02d}-{again}@{domain}"
            taken.add(email)
            made = len(taken)  # a different name for each person made here
            given, family = STAFF_GIVEN[(made * 7) % len(STAFF_GIVEN)], STAFF_FAMILY[(made * 3 + made // 20) % len(STAFF_FAMILY)]
            user = User(email=email, display_name=f"{given} {family}", role=role, organisation_id=provider.id,
                        payroll_permission=role == Role.DPSS_CASEWORKER, password_hash=password, totp_secret=DEMO_TOTP_SECRET)
            db.session.add(user)
            db.session.flush()
            return user.id

        if index >= len(existing) and provider.id not in managers:  # a new provider: its manager
            add(Role.DPSS_MANAGER, 1)
        while size and len(workers[provider.id]) < needed:
            workers[provider.id].append(add(Role.DPSS_CASEWORKER, len(workers[provider.id]) + 1))
    db.session.commit()
    return {p.id: workers[p.id] for p in providers}


def bulk_insert(table: sa.Table, rows: list[dict]) -> None:
    """Insert `rows` (dicts with the same keys) into `table` in the session's transaction.

    On PostgreSQL by COPY ... FROM STDIN (psycopg's cursor.copy): the national dataset is some 70 million
    rows, and an executemany of INSERTs sends them one statement at a time (the money of 3,000 recipients,
    3.4 million rows, took 65 s that way and 16 s by COPY here). COPY skips SQLAlchemy, so the Python-side
    column defaults the rows leave out are filled here as an INSERT would fill them, and values go in as
    given (enum members as their values, timestamps already UTC-aware). As a superuser (the benchmark's
    and the tests' throwaway servers) the load also skips the foreign-key triggers until the transaction
    ends: commit straight after. Elsewhere (SQLite) a plain executemany insert, as before.
    """
    if not rows:
        return
    if db.engine.dialect.name != "postgresql":
        db.session.execute(sa.insert(table), rows)
        return
    columns = list(rows[0])
    defaults = {}
    for column in table.columns:
        if column.name in rows[0] or column.default is None:
            continue
        if column.default.is_scalar:
            value = column.default.arg
        elif column.default.is_callable:
            value = column.default.arg(None)  # SQLAlchemy wraps a plain callable to take the execution context
        else:
            continue  # a SQL expression or sequence: left to the database
        defaults[column.name] = value.value if isinstance(value, enum.Enum) else value
    pick = itemgetter(*columns)
    single = len(columns) == 1
    tail = tuple(defaults.values())
    names = ", ".join(f'"{name}"' for name in columns + list(defaults))
    raw = db.session.connection().connection.driver_connection
    if _may_skip_triggers():
        # The generator makes every key itself, consistently (tests/test_demo_scale.py checks that no row
        # points nowhere): checking each of millions of foreign keys row by row took over half the
        # database's time. Only INSERTs are affected; the transaction's end puts the triggers back.
        db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(((pick(row),) if single else pick(row)) + tail)


def _may_skip_triggers() -> bool:
    """Whether this PostgreSQL role may load without the foreign-key triggers (a superuser, as on the
    benchmark's and the tests' throwaway servers). Asked at every load: one round trip."""
    return bool(db.session.scalar(sa.text("SELECT current_setting('is_superuser') = 'on'")))


# Generated councils (the national dataset): named plainly, each with a few postcode districts of its own
# in made-up areas (Q is no real postcode area: QA1, QA2, ...; 20 councils an area) and the default
# settings the personas' councils have.
GENERATED_COUNCIL = "Generated council"
GENERATED_AREAS = "QA QB QC QD QE QF QG QH QJ QK QL QM QN QP QR QS QT QU QW QY QZ".split()
COUNCILS_PER_AREA = 20
SETTINGS_FROM = date(2024, 4, 1)  # the personas' councils' settings, from load_money
CYCLE_ANCHOR = date(2025, 1, 6)
# With generated councils, each of the personas' councils keeps the size it has at council scale (10,000
# generated recipients each at 20,000) while there are enough, so the pages of Rachel and her colleagues
# compare like for like between the scales: what grows is everything national (providers, the register,
# the administrator's pages). The rest is spread over the generated councils, from 40% below to 40% above
# the average, as councils differ.
PERSONA_COUNCIL_CASES = 10_000


def generated_council_districts(number: int) -> list[str]:
    """The postcode districts of generated council `number` (1, 2, ...): 3 or 4, e.g. QA1 to QA4 for 1."""
    index = number - 1
    if index >= len(GENERATED_AREAS) * COUNCILS_PER_AREA:
        raise ValueError(f"At most {len(GENERATED_AREAS) * COUNCILS_PER_AREA} generated councils")
    area, first = GENERATED_AREAS[index // COUNCILS_PER_AREA], (index % COUNCILS_PER_AREA) * 4 + 1
    return [f"{area}{first + n}" for n in range(3 + number % 2)]


def generate_councils(count: int) -> int:
    """Make sure there are `count` generated councils ("Generated council 001", ...), each with its
    districts (generated_council_districts) and the default council settings of the personas' councils
    (settings from 1 April 2024, cycles anchored on 6 January 2025, everything else as a new council gets).
    Councils already there are kept; returns how many were made."""
    from portal.models import CouncilSettings

    have = set(db.session.scalars(sa.select(Organisation.name).where(Organisation.name.like(f"{GENERATED_COUNCIL} %"))))
    made = 0
    for number in range(1, count + 1):
        name = f"{GENERATED_COUNCIL} {number:03d}"
        if name in have:
            continue
        council = Organisation(name=name, kind=OrganisationKind.COUNCIL, phone=f"0300 555 {number:04d}",
                               email=f"directpayments@council{number:03d}.example")
        db.session.add(council)
        db.session.flush()
        db.session.add_all([District(code=code, council_id=council.id) for code in generated_council_districts(number)])
        db.session.add(CouncilSettings(council_id=council.id, effective_from=SETTINGS_FROM, cycle_anchor=CYCLE_ANCHOR))
        made += 1
    db.session.commit()
    return made


def council_sizes(count: int, personas: int, generated: int) -> list[int]:
    """How many of `count` generated recipients each council takes: the personas' councils first, then
    the generated ones. Without generated councils, an equal share each (as before: alternately). With
    them, each of the personas' councils takes PERSONA_COUNCIL_CASES, or a quarter of `count` between
    them when that is less, and the generated councils share the rest from 40% below the average to 40%
    above it (the odd ones over going to the smallest)."""
    councils = personas + generated
    if councils == 0:
        raise ValueError("At least one council is needed")
    if not generated or not personas:
        base, spare = divmod(count, councils)
        return [base + (1 if i < spare else 0) for i in range(councils)]
    own = min(PERSONA_COUNCIL_CASES, count // 4 // personas)
    rest = count - own * personas
    base = rest // generated
    spread = round(base * 0.4)
    sizes = [base + (round(spread * (generated - 1 - 2 * i) / (generated - 1)) if generated > 1 else 0) for i in range(generated)]
    sizes[-1] += rest - sum(sizes)
    for i in range(generated - 1, -1, -1):  # never below nothing, whatever the rounding
        if sizes[i] < 0:
            sizes[i - 1] += sizes[i]
            sizes[i] = 0
    return [own] * personas + sizes


def provider_bounds_for(count: int, existing: list[int], providers: int) -> tuple[int, int]:
    """The case bounds (between CASES_PER_PROVIDER's) that give about `providers` providers in all for
    `count` generated cases: the national dataset's 30 providers of about 4,300 cases rather than the
    37 that 2,000 to 5,000 make of 130,000."""
    low, high = CASES_PER_PROVIDER
    best = (low, high)
    best_gap = abs(len(provider_sizes(count, existing, best)) - providers)
    for candidate in range(low + 50, high, 50):
        gap = abs(len(provider_sizes(count, existing, (candidate, high))) - providers)
        if gap < best_gap:
            best, best_gap = (candidate, high), gap
    return best


def generate(count: int, seed: int = 2026, batch: int = 5000, money: bool = False,
             provider_cases: tuple[int, int] = CASES_PER_PROVIDER, cases_per_caseworker: int = CASES_PER_CASEWORKER,
             transactions_per_cycle: int = 40, providers: int | None = None) -> int:
    """Add `count` generated recipients spread over the councils and providers (deterministic).

    Providers hold `provider_cases` (2,000 to 5,000) cases each: the first (Brightpath) a quarter, up
    to 5,000, and more DPSS providers are created as needed (provider_sizes); each has a manager and a
    caseworker per about `cases_per_caseworker` cases, so Kim and Omar hold a few hundred like their
    colleagues. With money=True each recipient also gets an account, a budget, a plan and a year of
    ledger history (`transactions_per_cycle` card spends every 4 weeks), and about 60% employ PAs, with a
    year of timesheets (demo_employing_scale.generate_employing). `providers`: about how many providers in
    all (provider_bounds_for narrows `provider_cases` to get there). Generated councils (generate_councils)
    share the people by council_sizes; without them the personas' councils take turns, as before.
    """
    rng = random.Random(seed)
    councils = db.session.scalars(sa.select(Organisation).where(Organisation.kind == OrganisationKind.COUNCIL).order_by(Organisation.id)).all()
    existing = db.session.scalars(sa.select(Organisation).where(Organisation.kind == OrganisationKind.DPSS).order_by(Organisation.id)).all()
    if not councils or not existing:
        raise RuntimeError("Load the demo personas before generating scale data")
    held = dict(db.session.execute(sa.select(CaseloadEntry.provider_id, sa.func.count()).group_by(CaseloadEntry.provider_id)).all())
    if providers:
        provider_cases = provider_bounds_for(count, [held.get(p.id, 0) for p in existing], providers)
    sizes = provider_sizes(count, [held.get(p.id, 0) for p in existing], provider_cases)
    workers_by_provider = _scale_providers(sizes, existing, cases_per_caseworker)
    # Who goes where: each provider's number of cases, shuffled across the people (and so the councils).
    assignment = [provider_id for provider_id, size in zip(workers_by_provider, sizes, strict=True) for _ in range(size)]
    rng.shuffle(assignment)
    districts = {c.id: [d.code for d in c.districts] for c in councils}
    reasons = list(SupportReason)
    own = [c for c in councils if not c.name.startswith(f"{GENERATED_COUNCIL} ")]
    made_councils = [c for c in councils if c.name.startswith(f"{GENERATED_COUNCIL} ")]
    if made_councils:  # shared by council_sizes, in an order of their own (the main sequence stays as it was)
        order = own + made_councils
        council_of = [c for c, n in zip(order, council_sizes(count, len(own), len(made_councils)), strict=True) for _ in range(n)]
        random.Random(seed + 3).shuffle(council_of)
    else:
        council_of = None
    start_id = (db.session.scalar(sa.select(sa.func.max(Person.id))) or 0) + 1
    made = 0
    while made < count:
        size = min(batch, count - made)
        people, recipients, entries = [], [], []
        for i in range(size):
            pid = start_id + made + i
            council = council_of[made + i] if council_of else councils[(made + i) % len(councils)]
            provider_id = assignment[made + i]
            district = rng.choice(districts[council.id])
            people.append({"id": pid, "given_name": rng.choice(GIVEN), "family_name": rng.choice(FAMILY), "email": "", "phone": ""})
            recipients.append({
                "person_id": pid, "date_of_birth": date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 65)),
                "postcode": f"{district} {rng.randrange(1, 10)}{rng.choice('ABDEFGHJ')}{rng.choice('LNPQRSTU')}",
                "district_code": district, "support_reason": rng.choice(reasons).value, "council_id": council.id,
            })
            pool = workers_by_provider.get(provider_id) or [None]
            entries.append({
                "recipient_id": pid, "provider_id": provider_id, "caseworker_id": rng.choice(pool),
                "managed_account": rng.random() < 0.3, "payroll": rng.random() < 0.5,
                "recruitment_support": rng.random() < 0.2, "setup_support": rng.random() < 0.1, "start_date": SINCE,
            })
        bulk_insert(Person.__table__, people)
        bulk_insert(Recipient.__table__, recipients)
        bulk_insert(CaseloadEntry.__table__, entries)
        db.session.commit()
        made += size
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT setval(pg_get_serial_sequence('people', 'id'), (SELECT max(id) FROM people))"))
        db.session.commit()
    if money and made:
        generate_money(start_id, start_id + made - 1, seed=seed, transactions_per_cycle=transactions_per_cycle)
        from portal.services.demo_employing_scale import generate_employing

        generate_employing(start_id, start_id + made - 1, seed=seed)
    if made:
        analyze_bulk_tables()
        generate_setups(start_id, start_id + made - 1)
    return made


BULK_TABLES = ("people", "recipients", "caseload_entries", "dp_accounts", "budgets", "budget_versions", "support_plans",
               "support_lines", "ledger_entries", "entry_states", "account_balances", "spend_summaries", "employments",
               "timesheets", "shifts", "expected_items")


def analyze_bulk_tables() -> None:
    """PostgreSQL: planner statistics for the tables just loaded in bulk, before the set-ups read them.

    Straight after a bulk load the tables have none and the planner guesses (a correlated update of the
    set-ups then took 11 minutes at 3,000 recipients, against under a second with statistics); a slow
    load used to be rescued by autovacuum happening to run in the middle of it."""
    if db.engine.dialect.name == "postgresql":
        db.session.commit()
        db.session.execute(sa.text(f"ANALYZE {', '.join(BULK_TABLES)}"))
        db.session.commit()


def generate_setups(first_person_id: int, last_person_id: int) -> None:
    """Set-up steps for generated cases: 10 to 109 days from the council's decision to the first
    payment (varied by person), the agreement and the account in between. Cases with no payment yet
    keep the day they joined the caseload as the decision."""
    from portal.models.case_lifecycle import CaseSetup
    from portal.services.case_lifecycle import backfill_setups

    backfill_setups()
    rows = db.session.execute(
        sa.select(CaseSetup.recipient_id, CaseSetup.first_payment_on)
        .where(CaseSetup.recipient_id.between(first_person_id, last_person_id), CaseSetup.first_payment_on.is_not(None))
    ).all()
    changes = []
    for person_id, first in rows:
        span = (person_id * 37) % 100 + 10
        decided = first - timedelta(days=span)
        changes.append({"recipient_id": person_id, "decided_on": decided, "agreement_signed_on": decided + timedelta(days=span // 3),
                        "account_opened_on": decided + timedelta(days=2 * span // 3)})
    if changes:
        db.session.execute(sa.update(CaseSetup), changes)  # bulk update by primary key
    db.session.commit()


# Money for the personas ---------------------------------------------------------------------------
# Each person's history is built cycle by cycle, in date order, the way it would have happened: the
# payment run for a cycle, then that cycle's contribution and spending. So the excess check before
# each payment sees the balance it would have seen.

# Spending per 4-week cycle: (day in cycle, payee, category, description, pence, MCC, source)
AMINA_CYCLE = [
    (2, "S CLARKE", "PA wages", "PA wages (fortnight)", 56000, "", "payroll"),
    (5, "BRIGHTPATH SUPPORT PAYROLL", "payroll and support fees", "Payroll service fee", 2899, "8999", "card"),
    (7, "J PRICE", "PA wages", "PA wages (4 weeks)", 40000, "", "payroll"),
    (9, "CITY TAXIS NORTHFIELD", "travel", "Taxi to appointment", 4200, "4121", "card"),
    (12, "NORTHFIELD LEISURE CENTRE", "social activities", "Gym membership", 2999, "7997", "card"),
    (16, "S CLARKE", "PA wages", "PA wages (fortnight)", 56000, "", "payroll"),
    (18, "HMRC PAYE", "PA wages", "Employer PAYE and NI", 9600, "9311", "payroll"),
    (22, "TESCO STORES 2231", "domestic", "Shopping (domestic)", 2375, "5411", "card"),
]
GRACE_CYCLE = [
    (5, "HOMECARE PLUS LTD", "homecare", "Homecare invoice", 52000, "8050", "card"),
    (12, "HARBOUR DPSS PAYROLL", "PA wages", "PA wages via payroll", 30000, "", "payroll"),
]
TOM_CYCLE = [
    (4, "L BAPTISTE", "PA wages", "PA wages paid by Brightpath", 92000, "", "managed"),
    (10, "NORTHFIELD DAY CENTRE", "day care", "Day centre sessions", 20000, "", "managed"),
]
SAM_CYCLE = [
    (6, "NORTHFIELD DAY CENTRE", "day care", "Day centre sessions", 80000, "", "managed"),
    (15, "TRAVEL TRAINING NORTHFIELD", "travel", "Travel training", 15000, "", "managed"),
]
ELLEN_CYCLE = [
    (3, "EASTMOOR SUPPORT WORKERS LTD", "PA wages", "Support worker invoice", 80000, "", "card"),
    (8, "EASTMOOR WELLBEING CIC", "social activities", "Wellbeing group", 24000, "", "card"),
]


def load_money(ids: dict[str, int], today: date | None = None, payroll: bool = True) -> None:
    """Budgets, plans, a year of payments and spending for the demo personas (see personas.md)."""
    from portal.models import Category, CouncilSettings, ExpectedItem, ExpectedKind, ExpectedStatus, PaymentMethod
    from portal.models import BudgetKind, Delivery, EntryKind, EntrySource
    from portal.services import budgets, cycles, ledger, payments

    today = today or london_today()
    councils = {o.name: o for o in db.session.scalars(sa.select(Organisation))}
    northfield, eastmoor = councils["Northfield City Council"], councils["Eastmoor County Council"]
    brightpath = councils["Brightpath Support"]
    anchor = CYCLE_ANCHOR
    for council in (northfield, eastmoor):
        db.session.add(CouncilSettings(council_id=council.id, effective_from=SETTINGS_FROM, cycle_anchor=anchor))
    db.session.flush()
    current = cycles.cycle_start_on_or_before(anchor, today)

    def setup(person, cycles_back, weekly, contribution, method, card=None, managed_by=None, lines=(), reason=""):
        start = current - timedelta(days=28 * cycles_back)
        account = budgets.open_account(ids[person], method, start - timedelta(days=14), card_reference=card,
                                       managed_by_id=managed_by.id if managed_by else None)
        budgets.create_budget(
            recipient_id=ids[person], account=account, kind=BudgetKind.ONGOING, delivery=Delivery.DIRECT_PAYMENT,
            start_date=start, agreed_on=start - timedelta(days=21), first_payment_date=start,
            amounts=budgets.Amounts(weekly, contribution, True),
        )
        budgets.create_plan(ids[person], start, reason, [budgets.Line(Category(c), d, a, h) for c, d, a, h in lines])
        return account, start

    plans = {
        "amina": ("Live independently at home and keep working part time", [
            ("PA wages", "Personal assistants (Sophie and Joan)", 161600, 30), ("payroll and support fees", "Payroll service", 3000, None),
            ("travel", "Taxis to appointments", 4500, None), ("social activities", "Gym and swimming", 3000, None),
            ("domestic", "Help with shopping", 2500, None), ("insurance", "Employer's liability insurance", 1300, None),
        ]),
        "grace": ("Stay safely at home with help every morning and evening", [
            ("homecare", "Homecare visits", 52000, 10), ("PA wages", "Evening personal assistant", 40000, 8),
            ("respite", "Short breaks for David", 20000, None),
        ]),
        "tom": ("Take part in the community and keep up his gardening", [
            ("PA wages", "Personal assistant (Leon)", 92000, 20), ("day care", "Day centre", 20000, None),
            ("social activities", "Gardening club", 4000, None),
        ]),
        "sam": ("Learn to travel on his own and go to college", [("day care", "Day centre", 80000, None), ("travel", "Travel training", 20000, None)]),
        "ellen": ("Keep well and stay connected", [("social activities", "Wellbeing group", 24000, None), ("PA wages", "Support worker", 80000, 10)]),
    }
    people = [
        ("amina", 13, 44800, 2800, PaymentMethod.PREPAID_CARD, "NF-CARD-000101", None, AMINA_CYCLE),
        ("grace", 6, 35600, 0, PaymentMethod.PREPAID_CARD, "NF-CARD-000102", None, GRACE_CYCLE),
        ("tom", 13, 30000, 0, PaymentMethod.MANAGED_ACCOUNT, None, brightpath, TOM_CYCLE),
        ("sam", 8, 25000, 0, PaymentMethod.MANAGED_ACCOUNT, None, brightpath, SAM_CYCLE),
        ("ellen", 10, 28000, 0, PaymentMethod.BANK_ACCOUNT, None, None, ELLEN_CYCLE),
    ]
    sources = {"card": EntrySource.CARD_IMPORT, "payroll": EntrySource.PAYROLL, "managed": EntrySource.MANAGED_PAYMENT}
    accounts = {}
    for name, back, weekly, contribution, method, card, managed, spend in people:
        outcomes, lines = plans[name]
        accounts[name] = (setup(name, back, weekly, contribution, method, card, managed, lines, outcomes), spend)
    db.session.commit()

    serial = 0
    for c in range(13, -1, -1):
        cycle_start = current - timedelta(days=28 * c)
        payments.run(cycle_start)
        for name, ((account, start), spend) in accounts.items():
            if cycle_start < start:
                continue
            if name == "amina":
                item = db.session.scalar(sa.select(ExpectedItem).where(
                    ExpectedItem.account_id == account.id, ExpectedItem.kind == ExpectedKind.CONTRIBUTION_DUE,
                    ExpectedItem.due_date == cycle_start))
                paid_on = cycle_start + timedelta(days=2)
                if item is not None and paid_on <= today:
                    serial += 1
                    entry = ledger.post(account_id=account.id, kind=EntryKind.CONTRIBUTION, amount_pence=item.amount_pence,
                                        entry_date=paid_on, source=EntrySource.CARD_IMPORT, payee="CONTRIBUTION A PATEL",
                                        description="Client contribution", external_id=f"DEMO-{serial:06d}")
                    item.status, item.settled_by_id = ExpectedStatus.SETTLED, entry.id
            for day, payee, category, description, pence, _mcc, source in spend:
                when = cycle_start + timedelta(days=day)
                if when > today:
                    continue
                serial += 1
                ledger.post(
                    account_id=account.id, kind=EntryKind.SPEND, amount_pence=-pence, entry_date=when, source=sources[source],
                    payee=payee, description=description, category=Category(category),
                    external_id=f"DEMO-{serial:06d}" if source == "card" else None,
                )
        db.session.commit()

    # Amina: a cash withdrawal the card rules flagged, waiting for her explanation.
    ledger.post(account_id=accounts["amina"][0][0].id, kind=EntryKind.SPEND, amount_pence=-5000,
                entry_date=today - timedelta(days=6), source=EntrySource.CARD_IMPORT, payee="ATM CASH WITHDRAWAL NORTHFIELD HIGH ST",
                description="Cash withdrawal", category=Category.OTHER, flags=["cash withdrawal"], external_id="DEMO-CASH-000001")
    # Tom: one spend recorded by hand that is still missing its receipt.
    tom_account = accounts["tom"][0][0]
    ledger.post(account_id=tom_account.id, kind=EntryKind.SPEND, amount_pence=-3850, entry_date=today - timedelta(days=3),
                source=EntrySource.MANUAL, payee="GREENFINGERS GARDEN CENTRE", description="Gardening club supplies",
                category=Category.SOCIAL_ACTIVITIES)
    db.session.commit()
    # Receipts for the older spending; the newest few are still to add.
    attach_demo_receipts({"amina": 2, "grace": 1, "ellen": 1}, ids)
    from portal.services.demo_employing import load_employing

    load_employing(ids, today)
    from portal.services.demo_managed_payments import load_managed_payments

    load_managed_payments(ids, today)
    if payroll:  # Brightpath's first pay run (built by Kim, approved by Lee)
        from portal.services.demo_payroll import load_payroll

        load_payroll(ids, today)
    from portal.services.demo_audits import load_audits

    load_audits(ids)


# Scale money: a year of 4-weekly payments and about 40 card transactions per cycle per recipient --------
SCALE_SPEND = [
    ("S SMITH", "PA wages", 24000, ""), ("HOMECARE PLUS LTD", "homecare", 9000, "8050"), ("CITY TAXIS", "travel", 1500, "4121"),
    ("TESCO STORES", "domestic", 1200, "5411"), ("LEISURE CENTRE", "social activities", 800, "7997"),
    ("DAY CENTRE", "day care", 3000, ""), ("PAYROLL BUREAU", "payroll and support fees", 900, "8999"),
]


def generate_money(first_person_id: int, last_person_id: int, *, seed: int = 2026, cycles_back: int = 13,
                   transactions_per_cycle: int = 40, batch_people: int = 250, today: date | None = None) -> int:
    """Accounts, budgets and a year of ledger history for generated recipients, by bulk insert.

    Ids are assigned here (not by the database) so entries and their states go in as two bulk loads per
    batch (bulk_insert: COPY on PostgreSQL); the balance cache is filled from the sums at the end.
    `transactions_per_cycle`: card spends every 4 weeks besides the council's payment (14 cycles of
    1 + 40 rows at council scale; 1 + 10 at national scale, about 20 million rows for 130,000 people).
    """
    from portal.models import (
        AccountBalance, Budget, BudgetVersion, DPAccount, EntryState, LedgerEntry, SupportLine, SupportPlan,
    )
    from portal.services import cycles

    rng = random.Random(seed + 1)
    today = today or london_today()
    anchor = CYCLE_ANCHOR  # every council's, generated ones too
    current = cycles.cycle_start_on_or_before(anchor, today)
    start = current - timedelta(days=28 * cycles_back)
    next_id = {table: (db.session.scalar(sa.select(sa.func.max(model.id))) or 0) + 1
               for table, model in (("accounts", DPAccount), ("budgets", Budget), ("versions", BudgetVersion),
                                    ("plans", SupportPlan), ("lines", SupportLine), ("entries", LedgerEntry))}
    payee_ids = {}
    for name, *_ in SCALE_SPEND + [("COUNCIL", "", 0, "")]:
        payee_ids[name] = ledger_payee_id(name)
    db.session.commit()
    now = utcnow_for_rows()
    person_ids = list(range(first_person_id, last_person_id + 1))
    rows_made = 0
    for offset in range(0, len(person_ids), batch_people):
        chunk = person_ids[offset:offset + batch_people]
        accounts, budgets_, versions, plans, lines, entries, states = [], [], [], [], [], [], []
        for pid in chunk:
            account_id, budget_id = next_id["accounts"], next_id["budgets"]
            next_id["accounts"] += 1
            next_id["budgets"] += 1
            weekly = rng.randrange(200, 700) * 100
            accounts.append({"id": account_id, "recipient_id": pid, "method": "prepaid card", "card_reference": f"GEN-{pid:08d}",
                             "managed_by_id": None, "opened_on": start - timedelta(days=14)})
            budgets_.append({"id": budget_id, "recipient_id": pid, "account_id": account_id, "kind": "ongoing",
                             "delivery": "direct payment", "start_date": start, "end_date": None, "agreed_on": start - timedelta(days=30),
                             "first_payment_date": start, "created_at": now, "created_by_id": None})
            versions.append({"id": next_id["versions"], "budget_id": budget_id, "effective_from": start, "gross_weekly_pence": weekly,
                             "contribution_weekly_pence": 0, "council_pays_net": True, "personal_budget_weekly_pence": weekly,
                             "reason": "Budget agreed", "created_at": now, "created_by_id": None})
            next_id["versions"] += 1
            plan_id = next_id["plans"]
            next_id["plans"] += 1
            plans.append({"id": plan_id, "recipient_id": pid, "effective_from": start, "outcomes": "Generated plan",
                          "cash_allowed_reason": "", "created_at": now, "created_by_id": None})
            for position, (_, category, _, _) in enumerate(SCALE_SPEND):
                lines.append({"id": next_id["lines"], "plan_id": plan_id, "position": position, "category": category,
                              "description": category.capitalize(), "amount_per_4_weeks_pence": weekly * 4 // len(SCALE_SPEND),
                              "hours_per_week": None})
                next_id["lines"] += 1
            for c in range(cycles_back, -1, -1):
                cycle_start = current - timedelta(days=28 * c)
                entry_id = next_id["entries"]
                next_id["entries"] += 1
                entries.append({"id": entry_id, "account_id": account_id, "kind": "council payment", "amount_pence": weekly * 4,
                                "entry_date": cycle_start, "payee_id": payee_ids["COUNCIL"], "description": "Direct payment, 4-weekly",
                                "source": "payment run", "external_id": None,
                                "payment_key": f"budget:{budget_id}:cycle:{cycle_start.isoformat()}:payment",
                                "reverses_id": None, "created_at": now, "created_by_id": None})
                states.append({"entry_id": entry_id, "account_id": account_id, "category": None, "flags": "", "explanation": "",
                               "needs_evidence": False, "needs_explanation": False, "evidence_count": 0})
                # Spend most of each payment (85-100%), so balances stay near the excess line, as in life.
                share = weekly * 4 * rng.randrange(85, 101) // 100 // transactions_per_cycle
                for n in range(transactions_per_cycle):
                    day = cycle_start + timedelta(days=rng.randrange(28))
                    if day > today:
                        continue
                    payee, category, _, _ = SCALE_SPEND[n % len(SCALE_SPEND)]
                    amount = max(100, share * rng.randrange(50, 151) // 100)
                    entry_id = next_id["entries"]
                    next_id["entries"] += 1
                    entries.append({"id": entry_id, "account_id": account_id, "kind": "spend", "amount_pence": -amount,
                                    "entry_date": day, "payee_id": payee_ids[payee], "description": category.capitalize(),
                                    "source": "card import", "external_id": f"GEN{entry_id:010d}", "payment_key": None,
                                    "reverses_id": None, "created_at": now, "created_by_id": None})
                    states.append({"entry_id": entry_id, "account_id": account_id, "category": category, "flags": "",
                                   "explanation": "", "needs_evidence": rng.random() < 0.05, "needs_explanation": False,
                                   "evidence_count": 0})
        for model, rows in ((DPAccount, accounts), (Budget, budgets_), (BudgetVersion, versions), (SupportPlan, plans),
                            (SupportLine, lines), (LedgerEntry, entries), (EntryState, states)):
            bulk_insert(model.__table__, rows)
        db.session.commit()
        rows_made += len(entries)
    db.session.execute(sa.delete(AccountBalance).where(AccountBalance.account_id >= (next_id["accounts"] - len(person_ids))))
    db.session.execute(sa.insert(AccountBalance.__table__).from_select(
        ["account_id", "balance_pence", "entry_count"],
        sa.select(LedgerEntry.account_id, sa.func.sum(LedgerEntry.amount_pence), sa.func.count())
        .where(LedgerEntry.account_id >= (next_id["accounts"] - len(person_ids)))
        .group_by(LedgerEntry.account_id),
    ))
    ledger_refresh_spend(next_id["accounts"] - len(person_ids))
    ledger_refresh_attention(next_id["accounts"] - len(person_ids))
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        for table in ("dp_accounts", "budgets", "budget_versions", "support_plans", "support_lines", "ledger_entries"):
            db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        db.session.commit()
    return rows_made


def ledger_refresh_spend(first_account_id: int) -> None:
    from portal.services.ledger import refresh_spend

    refresh_spend(first_account_id)


def ledger_refresh_attention(first_account_id: int) -> None:
    from portal.services.ledger import refresh_attention

    refresh_attention(first_account_id)


def ledger_payee_id(name: str) -> int:
    from portal.services.ledger import payee_id

    return payee_id(name)


def utcnow_for_rows():
    from portal.services.clock import utcnow

    return utcnow()


def receipt_pdf(payee: str, day: date, pence: int) -> bytes:
    """A one-page PDF receipt for the demo (made with pikepdf, so it passes the upload checks)."""
    import pikepdf

    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(300, 160))
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica))
    page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))

    def text(value: str) -> str:
        return value.replace("\\", "").replace("(", "").replace(")", "")

    lines = ["Receipt", text(payee), f"{day:%d %B %Y}", f"GBP {pence // 100}.{pence % 100:02d}"]
    content = "BT /F1 12 Tf 20 130 Td 16 TL " + " ".join(f"({line}) Tj T*" for line in lines) + " ET"
    page.Contents = pdf.make_stream(content.encode("latin-1", "replace"))
    from io import BytesIO

    out = BytesIO()
    pdf.save(out)
    return out.getvalue()


def attach_demo_receipts(leave_missing: dict[str, int], ids: dict[str, int]) -> int:
    """Receipts for the personas' card spending, leaving the newest few without one (things to do)."""
    from portal.models import DPAccount, EntryState, LedgerEntry, Payee
    from portal.services import evidence

    attached = 0
    for name, missing in leave_missing.items():
        rows = db.session.execute(
            sa.select(LedgerEntry, Payee.name)
            .join(EntryState, EntryState.entry_id == LedgerEntry.id)
            .join(DPAccount, DPAccount.id == LedgerEntry.account_id)
            .outerjoin(Payee, Payee.id == LedgerEntry.payee_id)
            .where(DPAccount.recipient_id == ids[name], EntryState.needs_evidence.is_(True))
            .order_by(LedgerEntry.entry_date.desc(), LedgerEntry.id.desc())
        ).all()
        for entry, payee in rows[missing:]:
            data = receipt_pdf(payee or "Shop", entry.entry_date, -entry.amount_pence)
            evidence.attach(entry, evidence.check_and_clean(data, f"receipt-{entry.entry_date.isoformat()}.pdf"), None)
            attached += 1
    return attached
