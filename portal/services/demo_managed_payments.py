"""The personas' managed-account payments (Brightpath holds Tom's and Sam's money).

- Sam: an invoice from Travel Training Northfield for £150.00, recorded by Kim with the invoice attached;
  under Brightpath's £1,000 limit, so it was paid when she recorded it.
- Tom: an invoice from Northfield Day Centre for £1,040.00, recorded by Kim with the invoice attached;
  over the limit, so it waits for a second person (Lee has it in his notifications, work queue and the
  approvals page) and is money owed on Tom's account until then.

Call load_managed_payments(ids) after demo.load_money (ids as returned by demo.load_personas). Running it
again changes nothing (each payment has a fixed request key).
"""

from datetime import date, timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Category, ManagedPayment, ManagedPaymentKind, Notification, User
from portal.services import evidence
from portal.services import managed_payments as service
from portal.services.clock import london_today

KIM = "kim@brightpath.example"
PAYMENTS = [
    # person, request key, payee, invoice number, category, what, pence, due in days, paid days ago
    ("sam", "demo-sam-travel-invoice", "Travel Training Northfield", "TTN-2291", Category.TRAVEL,
     "Travel training sessions in November", 15_000, 14, 2),
    ("tom", "demo-tom-day-centre-invoice", "Northfield Day Centre", "NDC-10482", Category.DAY_CARE,
     "Day centre sessions, October and November", 104_000, 10, 0),
]


def invoice_pdf(payee: str, number: str, day: date, pence: int) -> bytes:
    """A one-page PDF invoice for the demo (made with pikepdf, so it passes the upload checks)."""
    import io

    import pikepdf

    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(300, 180))
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica))
    page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))

    def text(value: str) -> str:
        return value.replace("\\", "").replace("(", "").replace(")", "")

    lines = [f"Invoice {text(number)}", text(payee), f"{day:%d %B %Y}", f"Amount due GBP {pence // 100}.{pence % 100:02d}"]
    content = "BT /F1 12 Tf 20 150 Td 16 TL " + " ".join(f"({line}) Tj T*" for line in lines) + " ET"
    page.Contents = pdf.make_stream(content.encode("latin-1", "replace"))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def load_managed_payments(ids: dict[str, int], today: date | None = None) -> int:
    """Record the demo's payments (through the service, as Kim would). Returns how many were recorded."""
    today = today or london_today()
    kim = db.session.scalar(sa.select(User).where(User.email == KIM))
    recorded = 0
    for person, key, payee, number, category, what, pence, due_in, days_ago in PAYMENTS:
        if db.session.scalar(sa.select(ManagedPayment.id).where(ManagedPayment.request_key == key)):
            continue
        account = service.managed_account(ids[person])
        if account is None:
            continue
        day = today - timedelta(days=days_ago)
        cleaned = evidence.check_and_clean(invoice_pdf(payee, number, day, pence), f"{number}.pdf")
        payment = service.record(account, kim, service.NewPayment(
            kind=ManagedPaymentKind.INVOICE, amount_pence=pence, pay_on=day, request_key=key, payee=payee,
            description=what, category=category, invoice_number=number, invoice_due_on=today + timedelta(days=due_in),
        ), cleaned)
        recorded += 1
        # Unread in the portal, but not to be emailed: demo addresses get no mail, and tests count what is sent.
        db.session.execute(sa.update(Notification).where(Notification.key.like(f"managed-payment:{payment.id}:%"))
                           .values(emailed=True))
        db.session.commit()
    return recorded
