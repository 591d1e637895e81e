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


def generate(count: int, seed: int = 2026, batch: int = 5000, money: bool = False) -> int:
    """Add `count` generated recipients spread over the councils and providers (deterministic).

    With money=True each also gets an account, a budget, a plan and a year of ledger history, and
    about 60% employ PAs, with a year of timesheets (demo_employing_scale.generate_employing).
    """
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
            # The first provider (Brightpath) takes a quarter of the cases: 5,000 in 20,000, the size the
            # payroll page's benchmark target names; the others share the rest.
            provider = providers[0] if len(providers) == 1 or rng.random() < 0.25 else providers[1 + rng.randrange(len(providers) - 1)]
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
    if money and made:
        generate_money(start_id, start_id + made - 1, seed=seed)
        from portal.services.demo_employing_scale import generate_employing

        generate_employing(start_id, start_id + made - 1, seed=seed)
    return made


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


def load_money(ids: dict[str, int], today: date | None = None) -> None:
    """Budgets, plans, a year of payments and spending for the demo personas (see personas.md)."""
    from portal.models import Category, CouncilSettings, ExpectedItem, ExpectedKind, ExpectedStatus, PaymentMethod
    from portal.models import BudgetKind, Delivery, EntryKind, EntrySource
    from portal.services import budgets, cycles, ledger, payments
    from portal.services.clock import london_today

    today = today or london_today()
    councils = {o.name: o for o in db.session.scalars(sa.select(Organisation))}
    northfield, eastmoor = councils["Northfield City Council"], councils["Eastmoor County Council"]
    brightpath = councils["Brightpath Support"]
    anchor = date(2025, 1, 6)
    for council in (northfield, eastmoor):
        db.session.add(CouncilSettings(council_id=council.id, effective_from=date(2024, 4, 1), cycle_anchor=anchor))
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


# Scale money: a year of 4-weekly payments and about 40 card transactions per cycle per recipient --------
SCALE_SPEND = [
    ("S SMITH", "PA wages", 24000, ""), ("HOMECARE PLUS LTD", "homecare", 9000, "8050"), ("CITY TAXIS", "travel", 1500, "4121"),
    ("TESCO STORES", "domestic", 1200, "5411"), ("LEISURE CENTRE", "social activities", 800, "7997"),
    ("DAY CENTRE", "day care", 3000, ""), ("PAYROLL BUREAU", "payroll and support fees", 900, "8999"),
]


def generate_money(first_person_id: int, last_person_id: int, *, seed: int = 2026, cycles_back: int = 13,
                   transactions_per_cycle: int = 40, batch_people: int = 250, today: date | None = None) -> int:
    """Accounts, budgets and a year of ledger history for generated recipients, by bulk insert.

    Ids are assigned here (not by the database) so entries and their states go in as two plain
    executemany inserts per batch; the balance cache is filled from the sums at the end.
    """
    from portal.models import (
        AccountBalance, Budget, BudgetVersion, DPAccount, EntryState, LedgerEntry, SupportLine, SupportPlan,
    )
    from portal.services import cycles
    from portal.services.clock import london_today

    rng = random.Random(seed + 1)
    today = today or london_today()
    anchor = date(2025, 1, 6)
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
            db.session.execute(sa.insert(model.__table__), rows)
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
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        for table in ("dp_accounts", "budgets", "budget_versions", "support_plans", "support_lines", "ledger_entries"):
            db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        db.session.commit()
    return rows_made


def ledger_refresh_spend(first_account_id: int) -> None:
    from portal.services.ledger import refresh_spend

    refresh_spend(first_account_id)


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
