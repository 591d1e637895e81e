"""The personas' care reviews and audits, dated from each one's first payment, so the queues show real work.

- Amina (Kim): her six-month review done; an early audit of her first months as an employer, signed off with
  an action (a pension opt-out letter to put on file). Nothing due soon.
- Tom (Kim): his six-month review done; no audit yet, so his first audit is overdue (Kim's "Audits due").
- Sam (Kim): no review since his first payment: overdue (Kim's "Reviews due").
- Grace (Omar): her first review falls due within the month (Omar's "Reviews due").
- Ellen (Omar): Eastmoor audits every 6 months; Omar has started her first audit and answered part of the
  checklist (Omar's "Audits due", with the audit in progress).

Call load_audits(ids) after the personas' money (demo.load_money), e.g. at its end. It does nothing if any
review or audit exists already, so calling it twice is harmless.
"""

from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import CouncilSettings, Organisation, Recipient, User
from portal.models.audits import Audit, AuditOutcome, CareReview, ChecklistAnswer
from portal.services import audits
from portal.services.clock import london_today

REVIEWS = {
    "amina": (-12, "kim@brightpath.example",
              "Six-month review at home with Amina. Her support plan still meets her needs; both PAs are working well. "
              "She would like to use her budget for a gym membership: agreed, as it is in her plan's outcomes."),
    "tom": (-9, "kim@brightpath.example",
            "Six-month review with Tom and his sister. Tom enjoys the gardening club and the day centre. "
            "Leon's hours stay the same. Next review in a year, or sooner if Tom's needs change."),
    "ellen": (-9, "omar@harbour.example",
              "First review by phone with Ellen. The wellbeing group is helping; she would like more support-worker "
              "hours in the winter months. Passed to Eastmoor's social worker to consider."),
}


def _moment(day) -> datetime:
    return datetime.combine(day, time(11, 0), tzinfo=UTC)


def load_audits(ids: dict[str, int], today=None) -> None:
    if db.session.scalar(sa.select(sa.func.count()).select_from(Audit)) or db.session.scalar(
            sa.select(sa.func.count()).select_from(CareReview)):
        return
    today = today or london_today()
    users = {u.email: u for u in db.session.scalars(sa.select(User).where(User.email.in_(
        ["kim@brightpath.example", "omar@harbour.example"])))}
    first = {name: audits.first_payment_on(ids[name]) for name in ("amina", "tom", "sam", "grace", "ellen")}

    # Care reviews, each a few days before its due date (six months after the first payment).
    for name, (days_early, email, outcome) in REVIEWS.items():
        if first[name] is None:
            continue
        day = audits.add_months(first[name], audits.FIRST_REVIEW_MONTHS) + timedelta(days=days_early)
        if day > today:
            continue
        user = users[email]
        db.session.add(CareReview(recipient_id=ids[name], reviewed_on=day, outcome=outcome, provider_id=user.organisation_id,
                                  recorded_by_id=user.id, recorded_at=_moment(day)))
    db.session.flush()

    # Eastmoor audits every 6 months.
    eastmoor = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Eastmoor County Council"))
    if eastmoor is not None:
        db.session.execute(sa.update(CouncilSettings).where(CouncilSettings.council_id == eastmoor).values(audit_months=6))

    # Amina: an audit of her first months, signed off with actions.
    if first["amina"] is not None:
        kim = users["kim@brightpath.example"]
        amina = db.session.get(Recipient, ids["amina"])
        end = audits.add_months(first["amina"], 6) - timedelta(days=1)
        signed_on = end + timedelta(days=24)
        if signed_on <= today:
            audit = audits.start_audit(amina, kim, first["amina"], end, today)
            audits.save_checklist(audit, kim, {
                "insurance_valid": ChecklistAnswer.YES, "payslips_match": ChecklistAnswer.YES,
                "hmrc_paid": ChecklistAnswer.YES, "pension_paid": ChecklistAnswer.YES,
            }, {
                "insurance_note": "Carewise policy seen, renewed on time.",
                "payslips_note": "Checked Sophie's and Joan's payslips against the card's payroll payments.",
                "hmrc_note": "Brightpath payroll paid HMRC each month.",
                "pension_note": "Sophie is enrolled and paid. Joan has opted out, but her opt-out letter is not on file.",
            })
            audits.sign_off(amina, audit, kim, AuditOutcome.ACTIONS_NEEDED,
                            "Amina to send a copy of Joan Price's pension opt-out letter for the payroll file within 4 weeks. "
                            "Kim to check it has arrived at the next call.", audit.version, today)
            db.session.execute(sa.update(Audit).where(Audit.id == audit.id).values(
                signed_off_on=signed_on, signed_off_at=_moment(signed_on), started_at=_moment(signed_on - timedelta(days=3)),
                updated_at=_moment(signed_on)))

    # Ellen: Omar's first audit, in progress.
    if first["ellen"] is not None:
        omar = users["omar@harbour.example"]
        ellen = db.session.get(Recipient, ids["ellen"])
        end = audits.add_months(first["ellen"], 6) - timedelta(days=1)
        if end < today:
            audit = audits.start_audit(ellen, omar, first["ellen"], end, today)
            audits.save_checklist(audit, omar, {
                "insurance_valid": ChecklistAnswer.YES,
            }, {
                "insurance_note": "Employer's liability certificate seen, valid for the whole period.",
            })
    audits.refresh_due_dates(today=today)  # reviews and audits made directly above
    db.session.commit()
