"""Scale data for employing PAs: PAs, employments and a year of timesheets for generated recipients.

Called by demo.generate(money=True) after the money, for the same range of person ids. Like the
money generator it is deterministic (a seeded random.Random), assigns ids itself and bulk-inserts
with core executemany in batches, committing per batch; nothing goes through the ORM row by row.

What it makes (see domain.md, Scale, and issue 4, Demo and scale data):

- about 60% of generated recipients employ PAs (nearly all payroll-service cases, a quarter of the
  others), 1 to 4 PAs each, about 1.9 on average;
- each PA is a new person; about 10% of PAs work for 2 to 5 employers, in the same council, each in
  their own part of the day, with the odd shift moved so that it overlaps another employer's; the
  first such PA always has 5 employers and a portal account (for the benchmarks);
- employments with hourly rates from £12.71 to £16.00, and pay periods weekly 30%, fortnightly 40%,
  4-weekly 20%, monthly 10%;
- a year of timesheets up to today, about 3 shifts a week: older periods approved and paid; the last
  period or two (pay date no more than 3 days ago) mostly approved and not yet paid (each with its
  'approved timesheet' expected item on the ongoing budget's account, as approval makes), some
  waiting for approval, sent back or not submitted; the current period mostly not submitted;
- a few employments on paper timesheets (totals keyed in, the newest waiting to be keyed in) and a
  few corrections (revision 2 replacing an approved timesheet).
"""

import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    Budget,
    BudgetKind,
    CaseloadEntry,
    DPAccount,
    Employment,
    ExpectedItem,
    HolidayMethod,
    PayPeriod,
    PayrollCalendar,
    PensionStatus,
    Person,
    Recipient,
    Relationship,
    Role,
    Shift,
    Timesheet,
    User,
)
from portal.services import pay_periods
from portal.services.clock import LONDON, london_today, utcnow
from portal.services.cycles import round_half_up_div
from portal.services.demo import bulk_insert

GIVEN = ["Aisha", "Ben", "Carla", "Dan", "Esther", "Farid", "Gemma", "Hassan", "Isla", "Jamal", "Kayleigh", "Luke",
         "Maria", "Nathan", "Olu", "Paula", "Rhys", "Sana", "Tyler", "Uma", "Vikram", "Wendy", "Yusuf", "Zoe"]
FAMILY = ["Ali", "Baker", "Carter", "Dawson", "Ellis", "Francis", "Gray", "Hussain", "Ibrahim", "Jackson", "Kelly",
          "Lloyd", "Mason", "Nowak", "Owusu", "Patel", "Reid", "Shah", "Thomas", "Walker", "Wright", "Young"]

PAY_PERIODS = [(PayPeriod.WEEKLY, 0.30), (PayPeriod.FORTNIGHTLY, 0.40), (PayPeriod.FOUR_WEEKLY, 0.20), (PayPeriod.MONTHLY, 0.10)]
PAS_PER_EMPLOYER = [(1, 0.40), (2, 0.35), (3, 0.20), (4, 0.05)]  # 1.9 on average
EMPLOYERS_OF_SHARED_PA = [(2, 0.45), (3, 0.30), (4, 0.15), (5, 0.10)]
MIN_RATE, MAX_RATE = 1271, 1600  # pence an hour: the National Living Wage from April 2026 to £16
# A PA with several employers works each in its own part of the day (start, hours).
SLOTS = [(time(7, 0), 3), (time(10, 30), 3), (time(14, 0), 3), (time(17, 30), 3), (time(20, 30), 2)]
SHARED_PA_EMAIL = "generated.pa5@example.org"
BATCH_SHIFTS = 20_000


def _pick(rng: random.Random, weighted):
    x = rng.random()
    for value, weight in weighted:
        x -= weight
        if x < 0:
            return value
    return weighted[-1][0]


class _Instants:
    """London wall-clock times as UTC instants, computed once per (date, time) through zoneinfo."""

    def __init__(self):
        self._cache: dict[tuple[date, time], datetime] = {}

    def __call__(self, day: date, clock: time) -> datetime:
        key = (day, clock)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = datetime.combine(day, clock, tzinfo=LONDON).astimezone(UTC)
        return found


def _pattern(rng: random.Random, slot: int | None, has_night: bool, has_sleep_in: bool) -> list[tuple]:
    """A weekly pattern: (weekday, start, hours, ends_next_day, break minutes, kind) for about 3 days."""
    count = _pick(rng, [(2, 0.25), (3, 0.5), (4, 0.25)])
    days = sorted(rng.sample(range(7), count))
    out = []
    for weekday in days:
        if slot is not None:
            start, hours = SLOTS[slot]
            out.append((weekday, start, hours * 60, False, 0, "day"))
            continue
        roll = rng.random()
        if roll < 0.08 and (has_night or has_sleep_in):
            out.append((weekday, time(22, 0), 9 * 60, True, 0, "sleep-in" if has_sleep_in and rng.random() < 0.5 else "night"))
        elif roll < 0.25:
            out.append((weekday, time(rng.choice((17, 18)), rng.choice((0, 30))), rng.choice((180, 210, 240)), False, 0, "day"))
        else:
            hours = rng.choice((180, 240, 300, 360, 420, 480))
            out.append((weekday, time(rng.randrange(7, 12), rng.choice((0, 30))), hours, False, 30 if hours > 360 else 0, "day"))
    return out


def generate_employing(first_person_id: int, last_person_id: int, *, seed: int = 2026, today: date | None = None,
                       batch_shifts: int = BATCH_SHIFTS) -> dict[str, int]:
    """PAs, employments, a year of timesheets and their shifts for the recipients in this id range.

    Returns the counts of rows made (pas, employments, timesheets, shifts, expected_items, paper,
    corrections) and the id of the PA with 5 employers (shared_pa_id).
    """
    rng = random.Random(seed + 2)
    today = today or london_today()
    now = utcnow()
    year_ago = today - timedelta(days=365)
    instant = _Instants()

    cases = db.session.execute(
        sa.select(CaseloadEntry.recipient_id, CaseloadEntry.provider_id, CaseloadEntry.caseworker_id,
                  CaseloadEntry.managed_account, CaseloadEntry.payroll, Recipient.council_id, Recipient.district_code)
        .join(Recipient, Recipient.person_id == CaseloadEntry.recipient_id)
        .where(CaseloadEntry.recipient_id.between(first_person_id, last_person_id))
        .order_by(CaseloadEntry.recipient_id)
    ).all()
    if not cases:
        return {"pas": 0, "employments": 0, "timesheets": 0, "shifts": 0, "expected_items": 0, "paper": 0,
                "corrections": 0, "shared_pa_id": 0}
    case_of = {c.recipient_id: c for c in cases}
    accounts = dict(db.session.execute(
        sa.select(Budget.recipient_id, sa.func.max(Budget.account_id))
        .where(Budget.recipient_id.between(first_person_id, last_person_id), Budget.kind == BudgetKind.ONGOING)
        .group_by(Budget.recipient_id)
    ).all())
    if not accounts:  # no budgets (money not generated): the first account, if any
        accounts = dict(db.session.execute(
            sa.select(DPAccount.recipient_id, sa.func.min(DPAccount.id))
            .where(DPAccount.recipient_id.between(first_person_id, last_person_id)).group_by(DPAccount.recipient_id)
        ).all())
    calendars = db.session.scalars(sa.select(PayrollCalendar)).all()
    default_calendar = next((c for c in calendars if c.provider_id is None), None) or calendars[0]
    calendar_of = {c.provider_id: c for c in calendars if c.provider_id is not None}

    periods_cache: dict[tuple[int, PayPeriod], list] = {}

    def periods(cal: PayrollCalendar, pay_period: PayPeriod) -> list:
        key = (cal.id, pay_period)
        if key not in periods_cache:
            found, period = [], pay_periods.period_containing(pay_period, cal, year_ago)
            while period.start <= today:
                found.append(period)
                period = pay_periods.next_period(pay_period, cal, period)
            periods_cache[key] = found
        return periods_cache[key]

    accrual_cache: dict[date, int] = {}

    def accrual(on: date) -> int:
        if on not in accrual_cache:
            from portal.services.timesheets import rate_value

            accrual_cache[on] = rate_value("holiday.accrual", on) or 1207
        return accrual_cache[on]

    # 1. Who employs how many PAs (payroll-service cases nearly always employ PAs).
    slots = []  # (employer_id, sort key): one per employment to fill
    for c in cases:
        if rng.random() < (0.95 if c.payroll else 0.25):
            for _ in range(_pick(rng, PAS_PER_EMPLOYER)):
                slots.append((c.recipient_id, (c.council_id, c.district_code, rng.random())))
    # Neighbouring slots share a council and usually a district: a PA with several employers works locally.
    slots.sort(key=lambda s: s[1])
    employers_left = [s[0] for s in slots]

    # 2. PAs: about 10% work for 2-5 employers; the first of them for 5.
    next_id = {name: (db.session.scalar(sa.select(sa.func.max(model.id))) or 0) + 1
               for name, model in (("people", Person), ("users", User), ("employments", Employment),
                                   ("timesheets", Timesheet), ("shifts", Shift), ("expected", ExpectedItem))}
    pa_rows, jobs = [], []  # jobs: (pa_id, employer_id, slot index or None)
    shared_pa_id = 0
    position = 0
    while position < len(employers_left):
        pa_id = next_id["people"]
        next_id["people"] += 1
        wanted = 1
        if rng.random() < 0.10 or (not shared_pa_id and position > 0):
            wanted = 5 if not shared_pa_id else _pick(rng, EMPLOYERS_OF_SHARED_PA)
        taken: list[int] = []
        look = position
        while len(taken) < wanted and look < len(employers_left):
            employer = employers_left[look]
            if employer not in taken:
                # Take this slot: swap it to the front of what is left.
                employers_left[position + len(taken)], employers_left[look] = employers_left[look], employers_left[position + len(taken)]
                taken.append(employer)
            look += 1
        position += len(taken)
        if wanted == 5 and len(taken) == 5 and not shared_pa_id:
            shared_pa_id = pa_id
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        email = SHARED_PA_EMAIL if pa_id == shared_pa_id else ""
        pa_rows.append({"id": pa_id, "given_name": given, "family_name": family, "email": email, "phone": ""})
        for n, employer in enumerate(taken):
            jobs.append((pa_id, employer, n if len(taken) > 1 else None))

    bulk_insert(Person.__table__, pa_rows)
    if shared_pa_id and db.session.scalar(sa.select(User.id).where(User.email == SHARED_PA_EMAIL)) is None:
        # A portal account for the PA with 5 employers (the demo password, copied from a persona's account).
        password_hash = db.session.scalar(sa.select(User.password_hash).where(User.role == Role.PA, User.password_hash.is_not(None))
                                          .order_by(User.id).limit(1))
        if password_hash:
            shared = next(r for r in pa_rows if r["id"] == shared_pa_id)
            db.session.execute(sa.insert(User.__table__), [{
                "id": next_id["users"], "email": SHARED_PA_EMAIL, "display_name": f"{shared['given_name']} {shared['family_name']}",
                "role": Role.PA.value, "person_id": shared_pa_id, "organisation_id": None, "payroll_permission": False,
                "password_hash": password_hash, "totp_secret": None, "totp_last_step": 0, "disabled_at": None, "created_at": now,
            }])
            next_id["users"] += 1
    db.session.commit()

    counts = defaultdict(int)
    counts["pas"] = len(pa_rows)
    employments, timesheets_, shifts, expected = [], [], [], []

    def flush() -> None:
        for model, rows in ((Employment, employments), (Timesheet, timesheets_), (Shift, shifts), (ExpectedItem, expected)):
            if rows:
                bulk_insert(model.__table__, rows)
                rows.clear()
        db.session.commit()

    # 3. Employments and their timesheets.
    shared_job_ids = {i for i, job in enumerate(jobs) if job[0] == shared_pa_id}
    for index, (pa_id, employer_id, slot) in enumerate(jobs):
        case = case_of[employer_id]
        employment_id = next_id["employments"]
        next_id["employments"] += 1
        if rng.random() < 0.85 or index in shared_job_ids:
            start = date(2024, 4, 1) + timedelta(days=rng.randrange((year_ago - date(2024, 4, 1)).days))
        else:
            start = today - timedelta(days=rng.randrange(14, 330))
        end, end_reason = None, ""
        if slot is None and rng.random() < 0.04 and (today - start).days > 90:
            end = today - timedelta(days=rng.randrange(7, 180))
            end = max(end, start + timedelta(days=60))
            end_reason = rng.choice(("Resigned", "Moved away", "Needs changed"))
        day_rate = rng.randrange(MIN_RATE, MAX_RATE + 1)
        night_rate = min(MAX_RATE, day_rate + rng.randrange(50, 150)) if rng.random() < 0.5 else None
        weekend_rate = min(MAX_RATE, day_rate + rng.randrange(25, 200)) if rng.random() < 0.4 else None
        sleep_in = rng.randrange(8000, 10001, 50) if rng.random() < 0.2 else None
        pay_period = _pick(rng, PAY_PERIODS)
        holiday = HolidayMethod.ROLLED_UP if rng.random() < 0.2 else HolidayMethod.ACCRUED
        born = date(1958, 1, 1) + timedelta(days=rng.randrange(365 * 44))  # 21 to 67 in 2026
        paper = slot is None and rng.random() < 0.02
        pattern = _pattern(rng, slot, night_rate is not None, sleep_in is not None)
        weekly_minutes = sum(p[2] - p[4] for p in pattern)
        related = rng.random() < 0.05
        employments.append({
            "id": employment_id, "pa_id": pa_id, "employer_id": employer_id, "start_date": start, "end_date": end,
            "end_reason": end_reason, "job_title": "Personal assistant", "day_rate_pence": day_rate,
            "night_rate_pence": night_rate, "weekend_rate_pence": weekend_rate, "sleep_in_pence": sleep_in,
            "mileage_pence_per_mile": 45, "contracted_hours": (Decimal(weekly_minutes) / 60).quantize(Decimal("0.01")), "pay_period": pay_period.value,
            "pa_date_of_birth": born, "ni_number": f"QQ{rng.randrange(1_000_000):06d}{rng.choice('ABCD')}",
            "tax_code": "BR" if rng.random() < 0.1 else "1257L", "starter_declaration": None,
            "holiday_method": holiday.value,
            "pension_status": _pick(rng, [(PensionStatus.ENROLLED, 0.5), (PensionStatus.NOT_ELIGIBLE, 0.3),
                                          (PensionStatus.OPTED_OUT, 0.1), (PensionStatus.NOT_ASSESSED, 0.1)]).value,
            "relationship_to_employer": (Relationship.OTHER_RELATIVE if related else Relationship.NONE).value,
            "same_household": False, "council_agreed_on": None, "council_agreed_by": "", "working_time_opt_out": slot is not None,
            "contract_issued_on": start, "right_to_work_seen_on": start if rng.random() < 0.95 else None,
            "pension_assessed_on": start + timedelta(days=90) if start + timedelta(days=90) <= today else None,
            "created_at": now,
        })
        counts["employments"] += 1
        rates = {"day": day_rate, "night": night_rate or day_rate, "weekend": weekend_rate or day_rate}
        cal = calendar_of.get(case.provider_id, default_calendar)
        approver = case.caseworker_id if case.managed_account else None
        first_day = max(start, year_ago)
        last_day = min(end or today, today)
        for period in periods(cal, pay_period):
            if period.end < first_day or period.start > last_day:
                continue
            current = period.start <= today <= period.end
            recent = not current and period.pay_date >= today - timedelta(days=3)
            # The shifts worked in this period (before today, inside the employment).
            worked = []
            week = period.start - timedelta(days=period.start.weekday())
            while week <= period.end:
                for weekday, clock, length, next_day, break_minutes, kind in pattern:
                    day = week + timedelta(days=weekday)
                    if not (period.start <= day <= period.end and first_day <= day <= last_day and day < today):
                        continue
                    if rng.random() < 0.08:  # holiday, sickness, a swapped day
                        continue
                    if slot is not None and rng.random() < 0.03:
                        clock = time(clock.hour + rng.choice((-1, 1)), clock.minute)  # runs into another employer's
                    elif slot is None and kind == "day" and rng.random() < 0.1:
                        clock = time(clock.hour, 30 - clock.minute)
                    if kind in ("night", "sleep-in"):
                        rate_type = kind
                    else:
                        rate_type = "weekend" if day.weekday() >= 5 and weekend_rate else "day"
                    starts_at = instant(day, clock)
                    if next_day:
                        end_clock = (datetime.combine(day, clock) + timedelta(minutes=length)).time()
                        ends_at = instant(day + timedelta(days=1), end_clock)
                    else:
                        end_clock = (datetime.combine(day, clock) + timedelta(minutes=length)).time()
                        ends_at = instant(day, end_clock)
                    minutes = int((ends_at - starts_at).total_seconds() // 60) - break_minutes
                    worked.append((day, clock, end_clock, next_day, break_minutes, rate_type, starts_at, ends_at, minutes))
                week += timedelta(days=7)
            if not worked:
                continue

            by_kind = defaultdict(int)
            sleep_ins = 0
            for row in worked:
                if row[5] == "sleep-in":
                    sleep_ins += 1
                else:
                    by_kind[row[5]] += row[8]
            pay = sum(round_half_up_div(m * rates[k], 60) for k, m in by_kind.items() if m)
            if holiday == HolidayMethod.ROLLED_UP:
                pay += round_half_up_div(pay * accrual(period.end), 10000)
            gross = pay + sleep_ins * (sleep_in or 0)

            submitted_at = min(datetime.combine(min(period.end, today), time(19, 0), tzinfo=LONDON).astimezone(UTC), now)
            approved_at = min(submitted_at + timedelta(hours=rng.randrange(14, 60)), now)
            if current:
                status = "submitted" if rng.random() < 0.15 else "draft"
                if paper:
                    continue  # paper comes in after the period
            elif recent:
                roll = rng.random()
                status = "approved" if roll < 0.70 else "submitted" if roll < 0.87 else "sent back" if roll < 0.92 else "draft"
                if paper:
                    status = "awaiting" if roll < 0.5 else "approved"
            else:
                status = "approved"
            ts_id = next_id["timesheets"]
            next_id["timesheets"] += 1
            row = {
                "id": ts_id, "employment_id": employment_id, "pa_id": pa_id, "employer_id": employer_id,
                "period_start": period.start, "period_end": period.end, "revision": 1, "corrects_id": None,
                "status": {"draft": "not submitted", "submitted": "waiting for approval", "sent back": "sent back",
                           "approved": "approved", "awaiting": "paper, waiting to be keyed in"}[status],
                "source": "paper" if paper else "online", "version": 1 if status == "draft" else 3,
                "keyed_day_minutes": 0, "keyed_night_minutes": 0, "keyed_weekend_minutes": 0, "keyed_sleep_ins": 0,
                "keyed_by_id": None, "submitted_at": None, "submitted_by_id": None, "approved_at": None, "approved_by_id": None,
                "sent_back_at": None, "sent_back_by_id": None, "sent_back_reason": "", "gross_pence": None, "paid_on": None,
                "created_at": datetime.combine(period.start, time(9, 0), tzinfo=UTC), "created_by_id": None,
            }
            if status != "draft":
                row["submitted_at"] = submitted_at
            if status == "sent back":
                row["sent_back_at"], row["sent_back_by_id"] = approved_at, approver
                row["sent_back_reason"] = "Please check the times on the last shift."
            if status == "approved":
                row["approved_at"], row["approved_by_id"], row["gross_pence"] = approved_at, approver, gross
                if not recent:
                    row["paid_on"] = min(period.pay_date, today)
            if paper:
                counts["paper"] += 1
                if status == "approved":
                    row["keyed_day_minutes"], row["keyed_night_minutes"] = by_kind["day"], by_kind["night"]
                    row["keyed_weekend_minutes"], row["keyed_sleep_ins"] = by_kind["weekend"], sleep_ins
                    row["keyed_by_id"] = case.caseworker_id
                timesheets_.append(row)
                counts["timesheets"] += 1
            else:
                timesheets_.append(row)
                counts["timesheets"] += 1
                shifts.extend(_shift_rows(next_id, ts_id, pa_id, worked))
                # Now and then an approved and paid timesheet was corrected: revision 2 replaces it.
                if status == "approved" and not recent and rng.random() < 0.005:
                    row["status"] = "replaced by a correction"
                    fixed = worked[:-1] if len(worked) > 1 else worked
                    fixed_minutes = defaultdict(int)
                    for shift in fixed:
                        if shift[5] != "sleep-in":
                            fixed_minutes[shift[5]] += shift[8]
                    fixed_pay = sum(round_half_up_div(m * rates[k], 60) for k, m in fixed_minutes.items() if m)
                    if holiday == HolidayMethod.ROLLED_UP:
                        fixed_pay += round_half_up_div(fixed_pay * accrual(period.end), 10000)
                    fixed_pay += sum(1 for s in fixed if s[5] == "sleep-in") * (sleep_in or 0)
                    correction_id = next_id["timesheets"]
                    next_id["timesheets"] += 1
                    timesheets_.append({**row, "id": correction_id, "revision": 2, "corrects_id": ts_id, "status": "approved",
                                        "gross_pence": fixed_pay, "approved_at": min(approved_at + timedelta(days=5), now),
                                        "created_at": min(approved_at + timedelta(days=4), now)})
                    shifts.extend(_shift_rows(next_id, correction_id, pa_id, fixed))
                    counts["timesheets"] += 1
                    counts["corrections"] += 1
            if status == "approved" and recent and gross > 0 and employer_id in accounts:
                expected.append({
                    "id": next_id["expected"], "account_id": accounts[employer_id], "kind": "approved timesheet",
                    "amount_pence": -gross, "due_date": period.pay_date, "status": "open", "key": f"timesheet:{ts_id}",
                    "settled_by_id": None, "created_at": approved_at,
                    "description": f"PA timesheet {period.start:%-d %b} to {period.end:%-d %b %Y}",
                })
                next_id["expected"] += 1
                counts["expected_items"] += 1
        if len(shifts) >= batch_shifts:
            counts["shifts"] += len(shifts)
            flush()
    counts["shifts"] += len(shifts)
    flush()

    if db.engine.dialect.name == "postgresql":
        for table in ("people", "users", "employments", "timesheets", "shifts", "expected_items"):
            db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        db.session.commit()
    counts["shared_pa_id"] = shared_pa_id
    return dict(counts)


def _shift_rows(next_id: dict, timesheet_id: int, pa_id: int, worked: list[tuple]) -> list[dict]:
    rows = []
    for day, clock, end_clock, next_day, break_minutes, rate_type, starts_at, ends_at, minutes in worked:
        rows.append({"id": next_id["shifts"], "timesheet_id": timesheet_id, "pa_id": pa_id, "work_date": day,
                     "start_time": clock, "end_time": end_clock, "ends_next_day": next_day, "break_minutes": break_minutes,
                     "rate_type": rate_type, "notes": "", "starts_at": starts_at, "ends_at": ends_at, "minutes": minutes})
        next_id["shifts"] += 1
    return rows
