"""The personas' casework: a few case notes (Omar on Grace, Kim on Amina) and one open safeguarding
concern about Tom, raised by Kim (so Lee and Rachel have it in their notifications and queues).

Call load_casework(ids) after the personas exist (ids as returned by demo.load_personas)."""

from datetime import timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Notification, Recipient, User
from portal.models.case_lifecycle import CaseSetup
from portal.models.casework import CaseNote
from portal.services import casework
from portal.services.clock import utcnow

NOTES = {
    ("omar@harbour.example", "grace"): [
        (21, "Phoned David (Grace's son and authorised person). Grace's new morning routine is settling in. "
             "David says Grace's sister now visits three mornings a week, so fewer PA hours have been used."),
        (6, "Grace's balance is above four weeks of payments. Talked it through with David: the extra family support "
            "looks likely to continue. I will open the excess-balance review and look at a reclaim with him."),
    ],
    ("kim@brightpath.example", "amina"): [
        (30, "Annual check-in with Amina at home. Both PAs are working well; payroll is up to date. "
             "Amina asked about paying for a gym membership from her budget: told her to check it against her support plan."),
        (3, "Amina phoned: Joan will be away for two weeks in the summer. Sophie can cover some shifts; "
            "Amina will use the agency for the rest and keep the invoices."),
    ],
}
TOM_CONCERN = (
    "During today's call Tom said that a neighbour has been \"looking after\" his bank card and has taken him to the "
    "cash machine twice this month. Tom sounded worried and said he did not want to get anyone into trouble. "
    "There were two cash withdrawals of £100 on his account that are not in his support plan."
)


def load_casework(ids: dict[str, int]) -> None:
    from portal.services.case_lifecycle import backfill_setups

    backfill_setups()  # the personas' set-up rows; the payment run fills in their accounts and first payments
    # Their agreements were signed a fortnight after the council's decision.
    for setup in db.session.scalars(sa.select(CaseSetup)):
        setup.agreement_signed_on = setup.decided_on + timedelta(days=14)
    users = {u.email: u for u in db.session.scalars(sa.select(User).where(User.email.in_(
        ["omar@harbour.example", "kim@brightpath.example"])))}
    now = utcnow()
    for (email, person), notes in NOTES.items():
        author = users[email]
        for days_ago, body in notes:
            db.session.add(CaseNote(recipient_id=ids[person], author_id=author.id, organisation_id=author.organisation_id,
                                    body=body, created_at=now - timedelta(days=days_ago, hours=2)))
    # Through the service, so the people responsible for Tom are told (as a real report would).
    concern = casework.report_concern(users["kim@brightpath.example"], db.session.get(Recipient, ids["tom"]), TOM_CONCERN)
    # Unread in the portal, but not to be emailed: demo addresses get no mail, and tests count what is sent.
    db.session.execute(sa.update(Notification).where(Notification.key == f"safeguarding-concern:{concern.id}").values(emailed=True))
    db.session.commit()
