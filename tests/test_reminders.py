"""`flask --app portal send-reminders`: timesheet deadlines, late timesheets, insurance and employer duties.

Each reminder reaches each person once (the notification key), so a second run sends nothing.
"""

from datetime import date, timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import EmployerInsurance, Employment, Notification, Person, Timesheet, TimesheetStatus, User
from portal.services import mail, reminders, timesheets
from portal.services.clock import london_today
from tests.helpers import person_id


def _employment(app, employer: tuple[str, str], pa: tuple[str, str]) -> Employment:
    with app.app_context():
        employment = db.session.scalar(sa.select(Employment).where(
            Employment.employer_id == person_id(app, *employer), Employment.pa_id == person_id(app, *pa)))
        db.session.expunge(employment)
        return employment


def _period(app, employment: Employment, day: date):
    with app.app_context():
        return timesheets.period_for(db.session.merge(employment, load=False), day)


def _notes(app, key_prefix: str) -> dict[str, list[Notification]]:
    """Email address -> notifications whose key starts with the prefix."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(User.email, Notification).join(User, User.id == Notification.user_id)
            .where(Notification.key.startswith(key_prefix))).all()
        found: dict[str, list[Notification]] = {}
        for email, note in rows:
            db.session.expunge(note)
            found.setdefault(email, []).append(note)
        return found


def _run(app, today: date) -> reminders.Report:
    with app.app_context():
        return reminders.run(today, app.config)


def test_the_day_before_the_deadline_the_pa_is_reminded_and_a_second_run_sends_nothing(money_app):
    sophie = _employment(money_app, ("Amina", "Patel"), ("Sophie", "Clarke"))
    period = _period(money_app, sophie, london_today())  # this fortnight's timesheet is not submitted yet
    day_before = period.submit_by - timedelta(days=1)
    first = _run(money_app, day_before)
    assert first.deadline >= 1 and first.emailed >= first.sent
    key = f"reminder:deadline:{sophie.id}:{period.start.isoformat()}:day-before"
    sent = _notes(money_app, key)
    assert set(sent) == {"sophie.pa@example.org"}
    message = sent["sophie.pa@example.org"][0].message
    submit_by = f"{period.submit_by:%A} {period.submit_by.day} {period.submit_by:%B}"
    pay_date = f"{period.pay_date:%A} {period.pay_date.day} {period.pay_date:%B}"
    assert message.startswith("Submit your timesheet for Amina Patel (")
    assert f"by {submit_by} (tomorrow) to be paid on {pay_date}." in message
    assert any(m["To"] == "sophie.pa@example.org" and "Submit your timesheet" in m.get_content() for m in mail.OUTBOX)

    second = _run(money_app, day_before)
    assert second.sent == 0 and second.emailed == 0
    assert len(_notes(money_app, key)["sophie.pa@example.org"]) == 1


def test_on_the_deadline_a_second_reminder_and_for_a_pa_without_an_account_the_employer_hears(money_app):
    joan = _employment(money_app, ("Amina", "Patel"), ("Joan", "Price"))
    period = _period(money_app, joan, london_today())
    _run(money_app, period.submit_by)
    sent = _notes(money_app, f"reminder:deadline:{joan.id}:{period.start.isoformat()}:today")
    assert set(sent) == {"amina@example.org"}  # Joan has no account: the employer who approves is told
    assert sent["amina@example.org"][0].message.startswith("Submit Joan Price's timesheet for Amina Patel (")
    assert "(today)" in sent["amina@example.org"][0].message


def test_under_a_managed_account_the_caseworker_is_reminded(money_app):
    leon = _employment(money_app, ("Tom", "Hughes"), ("Leon", "Baptiste"))
    period = _period(money_app, leon, london_today())
    _run(money_app, period.submit_by - timedelta(days=1))
    sent = _notes(money_app, f"reminder:deadline:{leon.id}:{period.start.isoformat()}:day-before")
    assert set(sent) == {"kim@brightpath.example"}  # Kim approves Leon's timesheets for Tom
    assert "Leon Baptiste's timesheet for Tom Hughes" in sent["kim@brightpath.example"][0].message


def test_after_the_deadline_the_employer_and_caseworker_hear_it_is_late(money_app):
    sophie = _employment(money_app, ("Amina", "Patel"), ("Sophie", "Clarke"))
    period = _period(money_app, sophie, london_today())
    report = _run(money_app, period.submit_by + timedelta(days=1))
    assert report.late >= 2
    sent = _notes(money_app, f"reminder:late:{sophie.id}:{period.start.isoformat()}")
    assert set(sent) == {"amina@example.org", "kim@brightpath.example"}
    message = sent["amina@example.org"][0].message
    assert message.startswith("Sophie Clarke's timesheet for Amina Patel (") and "is late: it was due by" in message
    assert sent["kim@brightpath.example"][0].link.startswith("/payroll/timesheets?on=")
    assert _run(money_app, period.submit_by + timedelta(days=2)).late == 0


def test_a_submitted_timesheet_gets_no_reminder(money_app):
    with money_app.app_context():
        leon_week = db.session.scalar(sa.select(Timesheet).where(Timesheet.status == TimesheetStatus.SUBMITTED))
        employment_id, start = leon_week.employment_id, leon_week.period_start
        period = timesheets.period_of(leon_week)
    for day in (period.submit_by - timedelta(days=1), period.submit_by, period.submit_by + timedelta(days=1)):
        _run(money_app, day)
    assert _notes(money_app, f"reminder:deadline:{employment_id}:{start.isoformat()}") == {}
    assert _notes(money_app, f"reminder:late:{employment_id}:{start.isoformat()}") == {}


def test_insurance_ending_within_30_days_reaches_the_employer_and_caseworker(money_app):
    tom = person_id(money_app, "Tom", "Hughes")
    with money_app.app_context():
        expires = db.session.scalar(sa.select(EmployerInsurance.expires_on).where(EmployerInsurance.employer_id == tom))
    report = _run(money_app, london_today())
    assert report.insurance >= 2
    sent = _notes(money_app, f"reminder:insurance:ending:{tom}:")
    assert set(sent) == {"tom@example.org", "kim@brightpath.example"}
    assert f"ends on {expires.day} {expires:%B %Y}, in " in sent["tom@example.org"][0].message
    assert _notes(money_app, f"reminder:insurance:ending:{person_id(money_app, 'Amina', 'Patel')}:") == {}  # till March
    assert _run(money_app, london_today()).insurance == 0


def test_expired_or_missing_insurance(money_app):
    amina, grace = person_id(money_app, "Amina", "Patel"), person_id(money_app, "Grace", "Okafor")
    with money_app.app_context():
        expires = db.session.scalar(sa.select(EmployerInsurance.expires_on).where(EmployerInsurance.employer_id == amina))
        # Grace employs a PA (David manages for her) and has no policy at all.
        jay = person_id(money_app, "Jay", "Singh")
        db.session.add(Employment(pa_id=jay, employer_id=grace, start_date=london_today() - timedelta(days=30), day_rate_pence=1300,
                                  contract_issued_on=london_today(), right_to_work_seen_on=london_today(),
                                  pension_assessed_on=london_today()))
        db.session.commit()
    _run(money_app, london_today())
    none = _notes(money_app, f"reminder:insurance:none:{grace}")
    assert set(none) == {"grace@example.org", "david@example.org", "omar@harbour.example"}
    assert none["david@example.org"][0].message.startswith("No employer's liability insurance is recorded for Grace Okafor")
    _run(money_app, expires + timedelta(days=1))
    expired = _notes(money_app, f"reminder:insurance:expired:{amina}:")
    assert set(expired) == {"amina@example.org", "kim@brightpath.example"}
    assert f"expired on {expires.day} {expires:%B %Y}" in expired["amina@example.org"][0].message


def test_duties_not_done_14_days_after_starting(money_app):
    leon = _employment(money_app, ("Tom", "Hughes"), ("Leon", "Baptiste"))
    sophie = _employment(money_app, ("Amina", "Patel"), ("Sophie", "Clarke"))
    _run(money_app, london_today())
    sent = _notes(money_app, f"reminder:duty:right-to-work:{leon.id}")
    assert set(sent) == {"tom@example.org", "kim@brightpath.example"}
    assert sent["tom@example.org"][0].message.startswith("Check Leon Baptiste's right to work in the UK")
    assert _notes(money_app, f"reminder:duty:contract:{leon.id}") == {}
    assert _notes(money_app, "reminder:duty:") .keys() == {"tom@example.org", "kim@brightpath.example"}
    assert not any(n.key.endswith(f":{sophie.id}") for notes in _notes(money_app, "reminder:duty:").values() for n in notes)
    # A new PA: nothing for the first 14 days, then each duty once.
    with money_app.app_context():
        pa = Person(given_name="Nia", family_name="Roberts")
        db.session.add(pa)
        db.session.flush()
        new = Employment(pa_id=pa.id, employer_id=person_id(money_app, "Amina", "Patel"), start_date=london_today(), day_rate_pence=1300)
        db.session.add(new)
        db.session.commit()
        new_id = new.id
    _run(money_app, london_today() + timedelta(days=13))
    assert _notes(money_app, f"reminder:duty:contract:{new_id}") == {}
    report = _run(money_app, london_today() + timedelta(days=14))
    assert set(_notes(money_app, f"reminder:duty:contract:{new_id}")) == {"amina@example.org", "kim@brightpath.example"}
    assert set(_notes(money_app, f"reminder:duty:pension:{new_id}")) == {"amina@example.org", "kim@brightpath.example"}
    assert report.duties >= 6
    assert _run(money_app, london_today() + timedelta(days=14)).duties == 0


def test_reminders_only_go_to_people_connected_to_the_employer(money_app):
    _run(money_app, london_today())
    with money_app.app_context():
        keys_by_user = dict(db.session.execute(
            sa.select(User.email, sa.func.count()).join(Notification, Notification.user_id == User.id)
            .where(Notification.key.startswith("reminder:")).group_by(User.email)).all())
    assert not set(keys_by_user) & {"omar@harbour.example", "rachel@northfield.example", "admin@example.org",
                                    "lee@brightpath.example", "jay.pa@example.org", "ellen@example.org"}


def test_the_command_prints_counts_and_is_safe_to_run_again(money_app):
    runner = money_app.test_cli_runner()
    sophie = _employment(money_app, ("Amina", "Patel"), ("Sophie", "Clarke"))
    period = _period(money_app, sophie, london_today())
    day = (period.submit_by - timedelta(days=1)).isoformat()
    first = runner.invoke(args=["send-reminders", "--today", day])
    assert first.exit_code == 0, first.output
    assert "Timesheet deadline reminders: " in first.output and "Emails sent: " in first.output
    assert "Timesheet deadline reminders: 0" not in first.output
    second = runner.invoke(args=["send-reminders", "--today", day])
    assert second.exit_code == 0
    for line in ("Timesheet deadline reminders: 0", "Late timesheet notices: 0", "Insurance reminders: 0",
                 "Employer duty reminders: 0", "Emails sent: 0"):
        assert line in second.output
