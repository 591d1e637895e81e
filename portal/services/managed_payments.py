"""Managed accounts: the DPSS that holds a person's money records the payments out and the contributions in.

The rules:

- Only an account whose method is "managed account" and whose managed_by is a DPSS has these payments.
  Staff of that DPSS who can see the person (a caseworker their own cases, a manager every case of the
  organisation) record and approve; everyone else who may see the person reads.
- A payment is PA wages, an invoice, a payment from a pay run or another payment. Wages name the
  approved timesheets they pay (a timesheet not approved, already paid, paid by a pay run or held by
  another live payment is refused; the amount may not be more than the timesheets still owe: their
  open expected items, else their gross pay). An invoice carries its file (checked and cleaned by
  services.evidence, stored outside static/), its number and due date, and is money owed (an
  ExpectedItem of kind INVOICE) until it is paid.
- A payment from a pay run pays one of the open expected items an approved pay run put on the account
  (services.pay_runs: ``payrun:<run>:net:<payslip>``, ``payrun:<run>:hmrc:<employer>``,
  ``payrun:<run>:pension:<employer>``), in full: the amount, payee (the PA, HM Revenue and Customs, the
  workplace pension scheme) and category (PA wages, as the employer's PAYE and pension costs are) come
  from the item. One live payment holds an item at most (managed_payments.live_item_id is unique);
  paying settles it, cancelling frees it, and an item a reversal run cancelled is paid no more.
  A timesheet a pay run paid is never paid again as wages: the pay run's net pay is paid instead.
- Two people: a payment at or under the organisation's payment_approval_limit_pence is paid when it is
  recorded (one step). Above it (a penny over is enough), it is RECORDED and waits for a second member of
  staff of the same organisation, not the one who recorded it, to approve it; only then is it paid.
- Paying posts one SPEND entry (source "managed-account payment") with payment_key managed-payment:<id>,
  settles the invoice's, timesheets' or pay run's expected items and marks the timesheets paid. Exactly once: the
  approval moves the status from RECORDED only by an atomic claim on the version the page was drawn from
  (UPDATE ... WHERE id AND version AND status), and the key is unique in the database, so a double-click,
  two approvers at once or a retry never pays twice. Money never leaves an account that does not hold it.
- Contributions received are posted as CONTRIBUTION entries and settle an open contribution due of the
  same amount (the oldest first: arrears are paid off in order).
- A payment waiting for approval may be cancelled (with a reason): its money owed, timesheets and pay
  run item are freed.

record() and record_contribution() run in a transaction of their own and commit (record stores the
invoice file first, and removes it again if the rows do not land); approve() and cancel() add to the
session and flush, and the caller commits, or rolls back when they raise (the views run each in one
immediate_transaction).
"""

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import (
    AccountBalance,
    Category,
    ContributionMethod,
    DPAccount,
    EntryKind,
    EntrySource,
    ExpectedItem,
    ExpectedKind,
    ExpectedStatus,
    Flag,
    LedgerEntry,
    ManagedContribution,
    ManagedPayment,
    ManagedPaymentKind,
    ManagedPaymentStatus,
    ManagedPaymentTimesheet,
    Organisation,
    OrganisationKind,
    PaidTimesheet,
    PaymentMethod,
    PayRun,
    Payslip,
    Person,
    Recipient,
    Role,
    SupportLine,
    Timesheet,
    TimesheetStatus,
    User,
)
from portal.models.people import CaseloadEntry
from portal.services import ledger, notifications
from portal.services.clock import london_today, utcnow
from portal.sqlite import immediate_transaction
from portal.storage import Storage
from portal.services.refusals import Refused

DEFAULT_LIMIT_PENCE = 100_000  # £1,000, as the migration's server default
MAX_LIMIT_PENCE = 100_000 * 100  # £100,000: the most one payment may be in any case
MAX_PAYMENT_PENCE = 100_000 * 100
REASON_LENGTH = 500
RECENT = 5  # payments on the money page and the case page

STATUS_WORDS = {
    ManagedPaymentStatus.RECORDED: "Waiting for approval",
    ManagedPaymentStatus.APPROVED: "Approved",
    ManagedPaymentStatus.PAID: "Paid",
    ManagedPaymentStatus.CANCELLED: "Cancelled",
}
KIND_WORDS = {
    ManagedPaymentKind.WAGES: "PA wages",
    ManagedPaymentKind.INVOICE: "Invoice",
    ManagedPaymentKind.OTHER: "Other payment",
    ManagedPaymentKind.PAY_RUN: "From a pay run",
}
# The kinds in page addresses (/people/<id>/managed-account/new/<slug>).
KIND_SLUGS = {"wages": ManagedPaymentKind.WAGES, "invoice": ManagedPaymentKind.INVOICE, "other": ManagedPaymentKind.OTHER,
              "pay-run": ManagedPaymentKind.PAY_RUN}
# Who a pay run's item is paid to (the net pay: the PA). The employment records no pension scheme yet.
HMRC = "HM Revenue and Customs"
PENSION_SCHEME = "Workplace pension scheme"


class PaymentError(Refused):
    """A change to a managed-account payment refused."""


class StalePayment(PaymentError):
    def __init__(self):
        super().__init__("This payment changed since you opened it. Nothing was changed: check it below and try again.")


class AlreadyPaid(PaymentError):
    def __init__(self):
        super().__init__("This payment has already been approved and paid. It was paid once; nothing more was changed.")


class AlreadyRecorded(PaymentError):
    """The form was sent twice (a double-click, a resend): the first one was recorded, and is .record."""

    def __init__(self, record):
        self.record = record
        super().__init__("This was recorded once already; nothing more was recorded.")


class NotAllowed(PaymentError):
    def __init__(self, message: str = "Only staff of the support service that holds the account can do this."):
        super().__init__(message)


def pounds(pence: int | None) -> str:
    pence = int(pence or 0)
    sign = "-" if pence < 0 else ""
    whole, pennies = divmod(abs(pence), 100)
    return f"{sign}£{whole:,}.{pennies:02d}"


def _long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def span(first: date, last: date) -> str:
    """A pay period in words: "3 to 16 November 2026", "27 October to 9 November 2026"."""
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day} to {_long_date(last)}"
    if first.year == last.year:
        return f"{first.day} {first:%B} to {_long_date(last)}"
    return f"{_long_date(first)} to {_long_date(last)}"


# The rules, pure ---------------------------------------------------------------------------------------


def needs_second_person(amount_pence: int, limit_pence: int) -> bool:
    """Above the limit needs a second member of staff; at it (or under) one is enough."""
    return amount_pence > limit_pence


def payment_key(payment_id: int) -> str:
    return f"managed-payment:{payment_id}"


def contribution_key(contribution_id: int) -> str:
    return f"managed-contribution:{contribution_id}"


@dataclass
class NewPayment:
    """What the staff member typed (amounts in pence, already parsed)."""

    kind: ManagedPaymentKind
    amount_pence: int | None
    pay_on: date | None
    request_key: str
    payee: str = ""
    description: str = ""
    category: Category | None = None
    invoice_number: str = ""
    invoice_due_on: date | None = None
    timesheet_ids: tuple[int, ...] = ()
    expected_item_id: int | None = None  # a payment from a pay run: the item it pays (its amount if none is given)


@dataclass(frozen=True)
class Payable:
    """An approved timesheet that wages can pay, and what it still owes."""

    timesheet: Timesheet
    owed_pence: int

    @property
    def pa_name(self) -> str:
        return self.timesheet.employment.pa.full_name

    @property
    def words(self) -> str:
        ts = self.timesheet
        return (f"{self.pa_name}, {ts.period_start.day} {ts.period_start:%B} to {_long_date(ts.period_end)}"
                f"{' (correction)' if ts.corrects_id else ''}: {pounds(self.owed_pence)}")


@dataclass(frozen=True)
class PayRunItem:
    """An item an approved pay run put on the account (money to leave it), as a payment pays it."""

    item: ExpectedItem
    what: str  # "Net pay to Sophie Clarke", "PAYE tax and National Insurance to HMRC"
    run_dates: str  # "3 to 16 November 2026"
    payee: str

    @property
    def owed_pence(self) -> int:
        return -self.item.amount_pence

    @property
    def words(self) -> str:
        return f"{self.what}, pay run {self.run_dates}"

    @property
    def summary(self) -> str:
        """What the payment's lists say: "Net pay to Sophie Clarke (pay run 3 to 16 November 2026)"."""
        return f"{self.what} (pay run {self.run_dates})"


def amount_problems(amount_pence: int | None) -> list[tuple[str, str]]:
    if amount_pence is None:
        return [("amount", "Enter the amount, like 120.00")]
    if amount_pence <= 0:
        return [("amount", "The amount must be more than £0")]
    if amount_pence > MAX_PAYMENT_PENCE:
        return [("amount", f"The amount must be {pounds(MAX_PAYMENT_PENCE)} or less")]
    return []


def date_problems(day: date | None, account: DPAccount, today: date, *, name: str, noun: str) -> list[tuple[str, str]]:
    """noun: "the date of the payment" (said as "Enter the date ...", "The date ... must be ...")."""
    subject = noun[:1].upper() + noun[1:]
    if day is None:
        return [(name, f"Enter {noun}")]
    if day > today:
        return [(name, f"{subject} must be today or in the past")]
    if day < account.opened_on:
        return [(name, f"{subject} must be on or after {_long_date(account.opened_on)}, when the account opened")]
    return []


def payment_problems(new: NewPayment, account: DPAccount, today: date, *, has_invoice: bool,
                     payables: list[Payable] | None = None, refused: dict[int, str] | None = None,
                     pay_run: PayRunItem | None = None, pay_run_refused: str | None = None) -> list[tuple[str, str]]:
    """Everything wrong with a payment before it is recorded (the balance is checked when it is paid).

    payables: the chosen timesheets that may be paid, with what each owes; refused: the chosen ones that
    may not, by id, with why (both from timesheet_choices). pay_run: the chosen pay run item if it may be
    paid, else pay_run_refused says why not (both from pay_run_choices)."""
    problems: list[tuple[str, str]] = []
    if new.kind == ManagedPaymentKind.PAY_RUN:
        if new.expected_item_id is None:
            problems.append(("item", "Select the payment from the pay run"))
        elif pay_run is None:
            problems.append(("item", pay_run_refused or "Select a payment from one of this person's pay runs"))
        elif new.amount_pence is not None and new.amount_pence != pay_run.owed_pence:
            problems.append(("amount", f"A payment from a pay run is paid in full: the amount must be {pounds(pay_run.owed_pence)}, "
                                       f"not {pounds(new.amount_pence)}"))
        problems += date_problems(new.pay_on, account, today, name="pay_on", noun="the date of the payment")
        return problems
    if new.kind == ManagedPaymentKind.WAGES:
        payables, refused = payables or [], refused or {}
        if not new.timesheet_ids:
            problems.append(("timesheets", "Select the approved timesheets these wages pay"))
        for why in refused.values():
            problems.append(("timesheets", why))
        if len({p.timesheet.pa_id for p in payables}) > 1:
            problems.append(("timesheets", "Select timesheets for one PA: pay each PA separately"))
        problems += amount_problems(new.amount_pence)
        owed = sum(p.owed_pence for p in payables)
        if payables and not refused and new.amount_pence and new.amount_pence > owed:
            problems.append(("amount", f"Wages must be no more than the approved timesheets' pay, {pounds(owed)}"))
    else:
        payee = (new.payee or "").strip()
        if not payee:
            problems.append(("payee", "Enter who is paid"))
        elif len(payee) > 200:
            problems.append(("payee", "Who is paid must be 200 characters or fewer"))
        problems += amount_problems(new.amount_pence)
        if new.category is None:
            problems.append(("category", "Select what the payment is for"))
    if new.kind == ManagedPaymentKind.INVOICE:
        number = (new.invoice_number or "").strip()
        if not number:
            problems.append(("invoice_number", "Enter the invoice number"))
        elif len(number) > 60:
            problems.append(("invoice_number", "The invoice number must be 60 characters or fewer"))
        if new.invoice_due_on is None:
            problems.append(("invoice_due_on", "Enter the date the invoice is due"))
        if not has_invoice:
            problems.append(("invoice", "Select the invoice"))
    if new.kind == ManagedPaymentKind.OTHER and not (new.description or "").strip():
        problems.append(("description", "Say what the payment is for"))
    if len((new.description or "").strip()) > 200:
        problems.append(("description", "What the payment is for must be 200 characters or fewer"))
    problems += date_problems(new.pay_on, account, today, name="pay_on", noun="the date of the payment")
    return problems


# Who may do what --------------------------------------------------------------------------------------


def managed_account(recipient_id: int) -> DPAccount | None:
    """The person's managed account held by a DPSS (the newest, if there were ever two), or None."""
    return db.session.scalar(
        sa.select(DPAccount).join(Organisation, Organisation.id == DPAccount.managed_by_id)
        .where(DPAccount.recipient_id == recipient_id, DPAccount.method == PaymentMethod.MANAGED_ACCOUNT,
               Organisation.kind == OrganisationKind.DPSS)
        .order_by(DPAccount.opened_on.desc(), DPAccount.id.desc()).limit(1)
    )


def _sees(user: User, recipient_id: int) -> bool:
    from portal.access import visible_recipients

    return db.session.scalar(
        visible_recipients(user).where(Recipient.person_id == recipient_id).with_only_columns(Recipient.person_id)
    ) is not None


def may_record(user: User, account: DPAccount) -> bool:
    """Staff of the DPSS that holds the account, who can see the person."""
    if not (user and user.is_authenticated and user.role.is_dpss and account.managed_by_id):
        return False
    return user.organisation_id == account.managed_by_id and _sees(user, account.recipient_id)


def may_approve(user: User, payment: ManagedPayment) -> bool:
    """A second member of the same staff: never the one who recorded it."""
    return (payment.status == ManagedPaymentStatus.RECORDED and user.is_authenticated
            and user.id != payment.recorded_by_id and may_record(user, payment.account))


def may_cancel(user: User, payment: ManagedPayment) -> bool:
    return payment.status == ManagedPaymentStatus.RECORDED and may_record(user, payment.account)


def may_set_limit(user: User, organisation: Organisation) -> bool:
    if not (user and user.is_authenticated) or organisation.kind != OrganisationKind.DPSS:
        return False
    return user.role == Role.ADMINISTRATOR or (user.role == Role.DPSS_MANAGER and user.organisation_id == organisation.id)


# Timesheets for wages -----------------------------------------------------------------------------------


def _held(timesheet_ids) -> set[int]:
    """Timesheets a live payment (recorded, approved or paid) already pays."""
    if not timesheet_ids:
        return set()
    return set(db.session.scalars(sa.select(ManagedPaymentTimesheet.live_timesheet_id)
                                  .where(ManagedPaymentTimesheet.live_timesheet_id.in_(list(timesheet_ids)))))


def _timesheet_items(timesheet_ids) -> dict[int, ExpectedItem]:
    if not timesheet_ids:
        return {}
    keys = {f"timesheet:{tid}": tid for tid in timesheet_ids}
    return {keys[item.key]: item for item in db.session.scalars(sa.select(ExpectedItem).where(ExpectedItem.key.in_(list(keys))))}


def owed_by(ts: Timesheet, item: ExpectedItem | None) -> int | None:
    """What an approved timesheet still owes: its open expected item (for a correction of one already paid,
    only the difference), else its gross pay; None when nothing is owed (paid, settled or lowered)."""
    if ts.paid_on is not None:
        return None
    if item is not None:
        if item.status != ExpectedStatus.OPEN or item.amount_pence >= 0:
            return None
        return -item.amount_pence
    return ts.gross_pence or None


def paid_by_pay_runs(timesheet_ids) -> dict[int, str]:
    """The timesheets an approved pay run paid (a PaidTimesheet row), with the run's period in words."""
    if not timesheet_ids:
        return {}
    rows = db.session.execute(
        sa.select(PaidTimesheet.timesheet_id, PayRun.period_start, PayRun.period_end)
        .join(Payslip, Payslip.id == PaidTimesheet.payslip_id).join(PayRun, PayRun.id == Payslip.run_id)
        .where(PaidTimesheet.timesheet_id.in_(list(timesheet_ids)))).all()
    return {tid: span(first, last) for tid, first, last in rows}


def timesheet_refusal(ts: Timesheet, recipient_id: int, held: bool, owed: int | None, pay_run: str | None = None) -> str | None:
    """Why wages cannot pay this timesheet, or None. pay_run: the period of the pay run that paid it."""
    when = f"{ts.period_start.day} {ts.period_start:%B} to {_long_date(ts.period_end)}"
    if ts.employer_id != recipient_id:
        return "Select timesheets of this person's PAs"
    if ts.status != TimesheetStatus.APPROVED:
        return f"The timesheet for {when} is {ts.status.value}: only an approved timesheet can be paid"
    if pay_run:
        # Its gross pay as wages as well as the pay run's net pay would pay the PA twice.
        return f"The timesheet for {when} was paid by the pay run for {pay_run}: pay the net pay from the pay run instead"
    if held or owed is None:
        return f"The timesheet for {when} has already been paid"
    return None


def timesheet_choices(recipient_id: int, chosen: tuple[int, ...] = ()) -> tuple[list[Payable], list[Payable], dict[int, str]]:
    """(every timesheet wages can pay now, the chosen ones that can be paid, the chosen ones refused: id -> why)."""
    candidates = list(db.session.scalars(
        sa.select(Timesheet).where(Timesheet.employer_id == recipient_id, Timesheet.status == TimesheetStatus.APPROVED,
                                   Timesheet.paid_on.is_(None), Timesheet.id.not_in(sa.select(PaidTimesheet.timesheet_id)))
        .order_by(Timesheet.period_start, Timesheet.id)))
    chosen_rows = {ts.id: ts for ts in db.session.scalars(sa.select(Timesheet).where(Timesheet.id.in_(list(chosen))))} if chosen else {}
    ids = {ts.id for ts in candidates} | set(chosen_rows)
    held, items, by_runs = _held(ids), _timesheet_items(ids), paid_by_pay_runs(set(chosen_rows))
    payable: list[Payable] = []
    for ts in candidates:
        owed = owed_by(ts, items.get(ts.id))
        if ts.id not in held and owed:
            payable.append(Payable(ts, owed))
    good: list[Payable] = []
    refused: dict[int, str] = {}
    for tid in chosen:
        ts = chosen_rows.get(tid)
        if ts is None:
            refused[tid] = "Select timesheets of this person's PAs"
            continue
        owed = owed_by(ts, items.get(tid))
        why = timesheet_refusal(ts, recipient_id, tid in held, owed, by_runs.get(tid))
        if why:
            refused[tid] = why
        else:
            good.append(Payable(ts, owed))
    return payable, good, refused


# A pay run's items ---------------------------------------------------------------------------------


def _pay_run_items(items: list[ExpectedItem]) -> dict[int, PayRunItem]:
    """The pay run items in words, by item id (four small queries however many). An item whose key does
    not name a pay run this portal knows is left out."""
    parsed: dict[int, tuple[int, str, int]] = {}
    for item in items:
        parts = item.key.split(":")
        if len(parts) == 4 and parts[0] == "payrun" and parts[1].isdigit() and parts[3].isdigit() \
                and parts[2] in ("net", "hmrc", "pension"):
            parsed[item.id] = (int(parts[1]), parts[2], int(parts[3]))
    if not parsed:
        return {}
    runs = {run.id: run for run in db.session.scalars(sa.select(PayRun).where(PayRun.id.in_({r for r, _, _ in parsed.values()})))}
    slips = {ref for _, what, ref in parsed.values() if what == "net"}
    pa_of = dict(db.session.execute(sa.select(Payslip.id, Payslip.pa_id).where(Payslip.id.in_(slips))).all()) if slips else {}
    names = {pid: f"{given} {family}" for pid, given, family in db.session.execute(
        sa.select(Person.id, Person.given_name, Person.family_name).where(Person.id.in_(set(pa_of.values()))))} if pa_of else {}
    out: dict[int, PayRunItem] = {}
    for item in items:
        if item.id not in parsed:
            continue
        run_id, what, ref = parsed[item.id]
        run = runs.get(run_id)
        if run is None:
            continue
        dates = span(run.period_start, run.period_end)
        if what == "net":
            name = names.get(pa_of.get(ref))
            if not name:
                continue
            out[item.id] = PayRunItem(item, f"Net pay to {name}", dates, name)
        elif what == "hmrc":
            out[item.id] = PayRunItem(item, "PAYE tax and National Insurance to HMRC", dates, HMRC)
        else:
            out[item.id] = PayRunItem(item, "Workplace pension contributions", dates, PENSION_SCHEME)
    return out


def _live_items() -> sa.Select:
    return sa.select(ManagedPayment.live_item_id).where(ManagedPayment.live_item_id.is_not(None))


def pay_run_refusal(item: ExpectedItem | None, account_id: int) -> str:
    """Why a payment cannot pay this item (one pay_run_choices did not offer)."""
    if item is None or item.account_id != account_id or item.kind != ExpectedKind.PAY_RUN or item.amount_pence >= 0:
        return "Select a payment from one of this person's pay runs"
    if item.status == ExpectedStatus.SETTLED:
        return "This payment from the pay run has already been paid"
    if item.status == ExpectedStatus.CANCELLED:
        return "This payment is no longer owed: the pay run was reversed"
    if db.session.scalar(sa.select(ManagedPayment.id).where(ManagedPayment.live_item_id == item.id)) is not None:
        return "This payment from the pay run has already been recorded and is waiting for a second person to approve it"
    return "Select a payment from one of this person's pay runs"


def pay_run_choices(account_id: int, chosen: int | None = None) -> tuple[list[PayRunItem], PayRunItem | None, str | None]:
    """(every pay run item a payment can pay now, soonest due first; the chosen one if it can be paid;
    else why not). Open, money out, and not held by a live payment."""
    items = list(db.session.scalars(
        sa.select(ExpectedItem).where(
            ExpectedItem.account_id == account_id, ExpectedItem.kind == ExpectedKind.PAY_RUN,
            ExpectedItem.status == ExpectedStatus.OPEN, ExpectedItem.amount_pence < 0, ExpectedItem.id.not_in(_live_items()))
        .order_by(ExpectedItem.due_date, ExpectedItem.id)))
    words = _pay_run_items(items)
    offered = [words[item.id] for item in items if item.id in words]
    if chosen is None:
        return offered, None, None
    found = next((p for p in offered if p.item.id == chosen), None)
    if found is not None:
        return offered, found, None
    return offered, None, pay_run_refusal(db.session.get(ExpectedItem, chosen), account_id)


def pay_run_item_of(payment: ManagedPayment) -> PayRunItem | None:
    """The pay run item a payment from a pay run pays (whatever its state now), in words."""
    if payment.expected_item_id is None:
        return None
    item = db.session.get(ExpectedItem, payment.expected_item_id)
    return _pay_run_items([item]).get(item.id) if item is not None else None


def pay_run_words(items: list[ExpectedItem]) -> dict[int, str]:
    """Pay run items in words, by id (for the money owed list); other items are not in it."""
    return {item_id: found.words for item_id, found in _pay_run_items([i for i in items if i.kind == ExpectedKind.PAY_RUN]).items()}


# Recording ------------------------------------------------------------------------------------------


def _support_line(recipient_id: int, category: Category, on: date) -> tuple[int | None, list[str]]:
    """The plan line for the category (one line: that one), or the outside-the-plan flag (no line)."""
    from portal.services import budgets

    plan = budgets.current_plan(recipient_id, on)
    if plan is None:
        return None, []
    lines = db.session.scalars(sa.select(SupportLine.id).where(SupportLine.plan_id == plan.id, SupportLine.category == category)).all()
    if len(lines) == 1:
        return lines[0], []
    return None, ([] if lines else [Flag.OUTSIDE_PLAN.value])


def _balance_problem(account_id: int, amount_pence: int) -> str | None:
    """Whether the account cannot pay this. The balance row is locked until the transaction ends (PostgreSQL;
    SQLite's write lock does the same), so two payments approved at once cannot both spend the same money."""
    balance = db.session.scalar(
        sa.select(AccountBalance.balance_pence).where(AccountBalance.account_id == account_id).with_for_update()) or 0
    if amount_pence > balance:
        return (f"The account holds {pounds(balance)}, less than this payment of {pounds(amount_pence)}. "
                "Nothing was paid: wait for the next payment into the account.")
    return None


def _existing(model, request_key: str):
    return db.session.scalar(sa.select(model).where(model.request_key == request_key))


def record(account: DPAccount, user: User, new: NewPayment, invoice=None, *, storage: Storage | None = None,
           before_commit: Callable[[ManagedPayment], object] | None = None) -> ManagedPayment:
    """Record a payment (and pay it at once if it is at or under the limit), and commit.

    invoice: the cleaned file (services.evidence.Cleaned) for an invoice. Raises PaymentError with the
    problems, AlreadyRecorded if this form was recorded before, NotAllowed for anyone but the DPSS's staff.
    """
    if not may_record(user, account):
        raise NotAllowed("Only staff of the support service that holds the account record its payments.")
    if not new.request_key or len(new.request_key) > 40:
        raise PaymentError("The form has expired. Nothing was recorded: open it again.")
    stored: list[str] = []
    storage = storage or (Storage.from_config() if invoice is not None else None)
    try:
        with immediate_transaction():
            payment = _record(account, user, new, invoice, storage, stored, before_commit)
    except IntegrityError:
        # Sent twice at once (PostgreSQL lets both through to the unique request key): the first one stands.
        db.session.rollback()
        for name in stored:
            storage.delete(name)
        existing = _existing(ManagedPayment, new.request_key)
        if existing is None:
            raise
        raise AlreadyRecorded(existing) from None
    except BaseException:
        for name in stored:
            storage.delete(name)
        raise
    db.session.refresh(payment)
    return payment


def _record(account: DPAccount, user: User, new: NewPayment, invoice, storage: Storage | None, stored: list[str],
            before_commit) -> ManagedPayment:
    account_id, recipient_id = account.id, account.recipient_id
    existing = _existing(ManagedPayment, new.request_key)
    if existing is not None:
        raise AlreadyRecorded(existing)
    today = london_today()
    payables: list[Payable] = []
    refused: dict[int, str] = {}
    pay_run: PayRunItem | None = None
    pay_run_refused: str | None = None
    if new.kind == ManagedPaymentKind.WAGES:
        _, payables, refused = timesheet_choices(recipient_id, tuple(new.timesheet_ids))
    if new.kind == ManagedPaymentKind.PAY_RUN and new.expected_item_id is not None:
        _, pay_run, pay_run_refused = pay_run_choices(account_id, new.expected_item_id)
    problems = payment_problems(new, account, today, has_invoice=invoice is not None, payables=payables, refused=refused,
                                pay_run=pay_run, pay_run_refused=pay_run_refused)
    if pay_run is not None and not problems:
        new = replace(new, amount_pence=pay_run.owed_pence)  # paid in full: the pay run's figure
    organisation = db.session.get(Organisation, account.managed_by_id)
    limit = organisation.payment_approval_limit_pence
    two = not problems and needs_second_person(new.amount_pence, limit)
    if not problems and not two:
        short = _balance_problem(account_id, new.amount_pence)
        if short:
            problems.append(("amount", short))
    if problems:
        raise PaymentError(problems)
    description = (new.description or "").strip()
    if new.kind == ManagedPaymentKind.WAGES:
        payee, category = payables[0].pa_name, Category.PA_WAGES
    elif pay_run is not None:
        # The employer's costs of a PA (net pay, PAYE tax and NI, pension) are PA wages, as the card's are.
        payee, category, description = pay_run.payee, Category.PA_WAGES, pay_run.summary
    else:
        payee, category = " ".join(new.payee.split()), new.category
    payment = ManagedPayment(
        account_id=account_id, organisation_id=organisation.id, kind=new.kind, status=ManagedPaymentStatus.RECORDED,
        payee=payee[:200], amount_pence=new.amount_pence, pay_on=new.pay_on, description=description[:200],
        category=category, approval_limit_pence=limit, needs_approval=two, request_key=new.request_key,
        recorded_by_id=user.id, recorded_at=utcnow(), expected_item_id=pay_run.item.id if pay_run is not None else None,
    )
    if invoice is not None and new.kind == ManagedPaymentKind.INVOICE:
        name = storage.save(invoice.data, invoice.extension)
        stored.append(name)
        payment.invoice_number = new.invoice_number.strip()
        payment.invoice_due_on = new.invoice_due_on
        payment.invoice_storage_name = name
        payment.invoice_sha256 = invoice.sha256
        payment.invoice_content_type = invoice.content_type
        payment.invoice_size_bytes = len(invoice.data)
        payment.invoice_display_name = invoice.display_name
    db.session.add(payment)
    db.session.flush()
    for payable in payables:
        try:
            with db.session.begin_nested():
                db.session.add(ManagedPaymentTimesheet(
                    payment_id=payment.id, timesheet_id=payable.timesheet.id, owed_pence=payable.owed_pence,
                    live_timesheet_id=payable.timesheet.id))
                db.session.flush()
        except IntegrityError:  # another payment took it meanwhile
            raise PaymentError([("timesheets", timesheet_refusal(payable.timesheet, recipient_id, True, None))]) from None
    if pay_run is not None:
        try:
            with db.session.begin_nested():
                payment.live_item_id = pay_run.item.id
                db.session.flush()
        except IntegrityError:  # another member of staff recorded a payment of it meanwhile (PostgreSQL)
            raise PaymentError([("item", "This payment from the pay run has just been recorded by someone else. "
                                         "Nothing more was recorded.")]) from None
    if new.kind == ManagedPaymentKind.INVOICE:
        db.session.add(ExpectedItem(
            account_id=account_id, kind=ExpectedKind.INVOICE, amount_pence=-payment.amount_pence,
            due_date=payment.invoice_due_on, key=payment_key(payment.id),
            description=f"Invoice {payment.invoice_number} from {payee}"[:200]))
        db.session.flush()
    if two:
        _ask_for_approval(payment, user)
    else:
        _pay(payment, user, payment.pay_on)
    if before_commit is not None:
        before_commit(payment)
    db.session.flush()
    return payment


def _linked(payment_id: int) -> list[int]:
    """The timesheets a wages payment pays (read afresh: the payment may be a copy from another session)."""
    return list(db.session.scalars(sa.select(ManagedPaymentTimesheet.timesheet_id)
                                   .where(ManagedPaymentTimesheet.payment_id == payment_id).order_by(ManagedPaymentTimesheet.id)))


def _description(payment: ManagedPayment) -> str:
    if payment.kind == ManagedPaymentKind.WAGES:
        sheets = db.session.scalars(sa.select(Timesheet).where(Timesheet.id.in_(_linked(payment.id))).order_by(Timesheet.period_start)).all()
        if sheets:
            first, last = sheets[0], sheets[-1]
            words = f"PA wages for {first.period_start:%-d %b} to {last.period_end:%-d %b %Y}"
        else:
            words = "PA wages"
    elif payment.kind == ManagedPaymentKind.INVOICE:
        words = f"Invoice {payment.invoice_number}"
    elif payment.kind == ManagedPaymentKind.PAY_RUN:  # what it pays: "Net pay to Leon Baptiste, pay run 3 to 9 November 2026"
        pays = pay_run_item_of(payment)
        return (f"{pays.words if pays else payment.description or 'From a pay run'} (paid by the support service)")[:200]
    else:
        words = "Payment"
    if payment.description:
        words += f": {payment.description}"
    return (words + " (paid by the support service)")[:200]


def _entry_with_key(key: str) -> LedgerEntry | None:
    return db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.payment_key == key))


def _pay(payment: ManagedPayment, user: User, on: date) -> LedgerEntry:
    """Post the payment's one entry (the one already under its key, or a new one), settle what it pays, and
    mark it PAID."""
    key = payment_key(payment.id)
    entry = _entry_with_key(key)
    if entry is None:
        line, flags = _support_line(payment.account.recipient_id, payment.category, on)
        try:
            with db.session.begin_nested():
                entry = ledger.post(
                    account_id=payment.account_id, kind=EntryKind.SPEND, amount_pence=-payment.amount_pence, entry_date=on,
                    source=EntrySource.MANAGED_PAYMENT, payee=payment.payee, description=_description(payment),
                    payment_key=key, category=payment.category, support_line_id=line, flags=flags, user_id=user.id,
                )
        except IntegrityError:  # posted under this key by another transaction meanwhile
            entry = _entry_with_key(key)
            if entry is None:
                raise
    # Money owed that this pays: the invoice, the timesheets' approved pay, or the pay run's item.
    linked = _linked(payment.id)
    keys = [key] + [f"timesheet:{timesheet_id}" for timesheet_id in linked]
    item_id = db.session.scalar(sa.select(ManagedPayment.expected_item_id).where(ManagedPayment.id == payment.id))
    owed = ExpectedItem.key.in_(keys) if item_id is None else sa.or_(ExpectedItem.key.in_(keys), ExpectedItem.id == item_id)
    db.session.execute(
        sa.update(ExpectedItem).where(owed, ExpectedItem.status == ExpectedStatus.OPEN)
        .values(status=ExpectedStatus.SETTLED, settled_by_id=entry.id).execution_options(synchronize_session=False))
    if linked:
        db.session.execute(
            sa.update(Timesheet).where(Timesheet.id.in_(linked),
                                       Timesheet.paid_on.is_(None))
            .values(paid_on=entry.entry_date, version=Timesheet.version + 1).execution_options(synchronize_session=False))
    db.session.execute(
        sa.update(ManagedPayment).where(ManagedPayment.id == payment.id,
                                        ManagedPayment.status.in_([ManagedPaymentStatus.RECORDED, ManagedPaymentStatus.APPROVED]))
        .values(status=ManagedPaymentStatus.PAID, entry_id=entry.id, paid_on=entry.entry_date,
                version=ManagedPayment.version + 1)
        .execution_options(synchronize_session=False))
    db.session.flush()
    return entry


def payment_path(payment: ManagedPayment) -> str:
    return f"/people/{payment.account.recipient_id}/managed-account/{payment.id}"


def approvers_for(payment: ManagedPayment, recorder: User) -> list[User]:
    """Who can approve it: the organisation's managers and the person's caseworker, never the recorder."""
    caseworker = db.session.scalar(sa.select(CaseloadEntry.caseworker_id).where(
        CaseloadEntry.recipient_id == payment.account.recipient_id, CaseloadEntry.provider_id == payment.organisation_id))
    users = db.session.scalars(sa.select(User).where(
        User.organisation_id == payment.organisation_id, User.disabled_at.is_(None), User.id != recorder.id,
        sa.or_(User.role == Role.DPSS_MANAGER, sa.and_(User.role == Role.DPSS_CASEWORKER, User.id == caseworker)))).all()
    return list(users)


def _name_of(payment: ManagedPayment) -> str:
    recipient = db.session.get(Recipient, payment.account.recipient_id)
    return recipient.full_name if recipient else "the person"


def _ask_for_approval(payment: ManagedPayment, recorder: User) -> None:
    notifications.notify(
        approvers_for(payment, recorder), f"managed-payment:{payment.id}:waiting",
        f"{recorder.display_name} recorded a payment of {pounds(payment.amount_pence)} to {payment.payee} from "
        f"{_name_of(payment)}'s managed account. It is over the limit of {pounds(payment.approval_limit_pence)}, "
        "so a second person must approve it before it is paid.",
        payment_path(payment),
    )


# Approving and cancelling ------------------------------------------------------------------------------


def _claim(payment: ManagedPayment, version: int, **values) -> bool:
    """Move the payment on from RECORDED only if it is still at this version (atomic: one of two wins)."""
    result = db.session.execute(
        sa.update(ManagedPayment)
        .where(ManagedPayment.id == payment.id, ManagedPayment.version == version,
               ManagedPayment.status == ManagedPaymentStatus.RECORDED)
        .values(version=ManagedPayment.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _refused_claim(payment: ManagedPayment):
    status = db.session.scalar(sa.select(ManagedPayment.status).where(ManagedPayment.id == payment.id))
    if payment in db.session:
        db.session.refresh(payment)
    if status in (ManagedPaymentStatus.APPROVED, ManagedPaymentStatus.PAID):
        raise AlreadyPaid()
    raise StalePayment()


def _timesheets_changed(payment: ManagedPayment) -> str | None:
    """A timesheet corrected or paid another way since the wages were recorded."""
    ids = _linked(payment.id)
    if not ids:
        return None
    items, by_runs = _timesheet_items(ids), paid_by_pay_runs(ids)
    for ts in db.session.scalars(sa.select(Timesheet).where(Timesheet.id.in_(ids))):
        if ts.id in by_runs:
            return (f"The timesheet for {ts.period_start.day} {ts.period_start:%B} to {_long_date(ts.period_end)} was paid by "
                    f"the pay run for {by_runs[ts.id]} since these wages were recorded. Nothing was paid: cancel this payment "
                    "and pay the net pay from the pay run instead.")
        if ts.status != TimesheetStatus.APPROVED or owed_by(ts, items.get(ts.id)) is None:
            return (f"The timesheet for {ts.period_start.day} {ts.period_start:%B} to {_long_date(ts.period_end)} has changed "
                    "since these wages were recorded. Nothing was paid: cancel this payment and record it again.")
    return None


def pay_run_item_gone(payment: ManagedPayment) -> str | None:
    """Why a payment from a pay run can no longer be paid (its item reversed, or paid another way), or None."""
    item_id = db.session.scalar(sa.select(ManagedPayment.expected_item_id).where(ManagedPayment.id == payment.id))
    if item_id is None:
        return None
    status = db.session.scalar(sa.select(ExpectedItem.status).where(ExpectedItem.id == item_id))
    if status == ExpectedStatus.OPEN:
        return None
    if status == ExpectedStatus.CANCELLED:
        return ("The pay run was reversed since this payment was recorded, so this is no longer owed. "
                "Nothing was paid: cancel this payment.")
    return "This has been paid another way since this payment was recorded. Nothing was paid: cancel this payment."


def approve(payment: ManagedPayment, user: User, version: int) -> LedgerEntry:
    """The second person approves: the payment is claimed (RECORDED to APPROVED) and paid, once."""
    if payment.status in (ManagedPaymentStatus.APPROVED, ManagedPaymentStatus.PAID):
        raise AlreadyPaid()
    if not may_record(user, payment.account):
        raise NotAllowed("Only staff of the support service that holds the account approve its payments.")
    if user.id == payment.recorded_by_id:
        raise NotAllowed("You recorded this payment, so another member of staff must approve it.")
    if payment.status == ManagedPaymentStatus.CANCELLED:
        raise PaymentError("This payment was cancelled. Nothing was paid.")
    if version != payment.version:
        raise StalePayment()
    # Claimed first (one of two approvers gets past this), then checked: a refusal below rolls the claim back.
    if not _claim(payment, version, status=ManagedPaymentStatus.APPROVED, approved_by_id=user.id, approved_at=utcnow()):
        _refused_claim(payment)
    changed = _timesheets_changed(payment) or pay_run_item_gone(payment)
    if changed:
        raise PaymentError(changed)
    if _entry_with_key(payment_key(payment.id)) is None:  # a retry of a payment already posted needs no money
        short = _balance_problem(payment.account_id, payment.amount_pence)
        if short:
            raise PaymentError(short)
    entry = _pay(payment, user, london_today())
    db.session.refresh(payment)
    _tell_the_recorder(payment, user, approved=True)
    return entry


def cancel(payment: ManagedPayment, user: User, version: int, reason: str) -> ManagedPayment:
    """Cancel a payment still waiting for approval: its money owed is cancelled and its timesheets and pay run
    item freed (the pay run's item stays owed: another payment may pay it)."""
    if not may_record(user, payment.account):
        raise NotAllowed("Only staff of the support service that holds the account cancel its payments.")
    reason = (reason or "").strip()
    if not reason:
        raise PaymentError([("reason", "Say why the payment is cancelled")])
    if len(reason) > REASON_LENGTH:
        raise PaymentError([("reason", f"Why it is cancelled must be {REASON_LENGTH} characters or fewer")])
    if payment.status in (ManagedPaymentStatus.APPROVED, ManagedPaymentStatus.PAID):
        raise PaymentError("This payment has been paid, so it cannot be cancelled. Nothing was changed.")
    if payment.status == ManagedPaymentStatus.CANCELLED:
        raise PaymentError("This payment was cancelled already. Nothing more was changed.")
    if version != payment.version:
        raise StalePayment()
    if not _claim(payment, version, status=ManagedPaymentStatus.CANCELLED, cancelled_by_id=user.id,
                  cancelled_at=utcnow(), cancel_reason=reason, live_item_id=None):  # its pay run item is freed
        _refused_claim(payment)
    db.session.execute(
        sa.update(ExpectedItem).where(ExpectedItem.key == payment_key(payment.id), ExpectedItem.status == ExpectedStatus.OPEN)
        .values(status=ExpectedStatus.CANCELLED).execution_options(synchronize_session=False))
    db.session.execute(
        sa.update(ManagedPaymentTimesheet).where(ManagedPaymentTimesheet.payment_id == payment.id)
        .values(live_timesheet_id=None).execution_options(synchronize_session=False))
    db.session.flush()
    db.session.refresh(payment)
    _tell_the_recorder(payment, user, approved=False)
    return payment


def _tell_the_recorder(payment: ManagedPayment, user: User, *, approved: bool) -> None:
    recorder = db.session.get(User, payment.recorded_by_id)
    if recorder is None or recorder.id == user.id:
        return
    what = f"the payment of {pounds(payment.amount_pence)} to {payment.payee} from {_name_of(payment)}'s managed account"
    words = (f"{user.display_name} approved {what}. It has been paid." if approved
             else f"{user.display_name} cancelled {what}: {payment.cancel_reason[:120]}")
    notifications.notify([recorder], f"managed-payment:{payment.id}:{'approved' if approved else 'cancelled'}", words,
                         payment_path(payment))


# Contributions received ---------------------------------------------------------------------------------


@dataclass
class NewContribution:
    amount_pence: int | None
    received_on: date | None
    method: ContributionMethod | None
    request_key: str
    note: str = ""


def contribution_problems(new: NewContribution, account: DPAccount, today: date) -> list[tuple[str, str]]:
    problems = list(amount_problems(new.amount_pence))
    problems += date_problems(new.received_on, account, today, name="received_on", noun="the date it was received")
    if new.method is None:
        problems.append(("method", "Select how it was paid"))
    if len((new.note or "").strip()) > 200:
        problems.append(("note", "The note must be 200 characters or fewer"))
    return problems


def matching_contribution_due(account_id: int, amount_pence: int) -> ExpectedItem | None:
    """The open contribution due of this amount that a payment received settles: the oldest first."""
    return db.session.scalar(
        sa.select(ExpectedItem).where(
            ExpectedItem.account_id == account_id, ExpectedItem.kind == ExpectedKind.CONTRIBUTION_DUE,
            ExpectedItem.status == ExpectedStatus.OPEN, ExpectedItem.amount_pence == amount_pence)
        .order_by(ExpectedItem.due_date, ExpectedItem.id).limit(1))


def record_contribution(account: DPAccount, user: User, new: NewContribution, *,
                        before_commit: Callable[[ManagedContribution], object] | None = None) -> ManagedContribution:
    """Record a contribution received into the account, post it, settle the contribution due it pays; commit."""
    if not may_record(user, account):
        raise NotAllowed("Only staff of the support service that holds the account record what it receives.")
    if not new.request_key or len(new.request_key) > 40:
        raise PaymentError("The form has expired. Nothing was recorded: open it again.")
    with immediate_transaction():
        existing = _existing(ManagedContribution, new.request_key)
        if existing is not None:
            raise AlreadyRecorded(existing)
        problems = contribution_problems(new, account, london_today())
        if problems:
            raise PaymentError(problems)
        received = ManagedContribution(
            account_id=account.id, organisation_id=account.managed_by_id, amount_pence=new.amount_pence,
            received_on=new.received_on, method=new.method, note=(new.note or "").strip(), request_key=new.request_key,
            recorded_by_id=user.id, recorded_at=utcnow())
        db.session.add(received)
        db.session.flush()
        recipient = db.session.get(Recipient, account.recipient_id)
        entry = ledger.post(
            account_id=account.id, kind=EntryKind.CONTRIBUTION, amount_pence=new.amount_pence, entry_date=new.received_on,
            source=EntrySource.MANAGED_PAYMENT, payee=recipient.full_name if recipient else None,
            description=f"Contribution received by {new.method.value}" + (f": {received.note}" if received.note else ""),
            payment_key=contribution_key(received.id), user_id=user.id)
        received.entry_id = entry.id
        item = matching_contribution_due(account.id, new.amount_pence)
        if item is not None:
            item.status, item.settled_by_id = ExpectedStatus.SETTLED, entry.id
            received.settled_item_id = item.id
        if before_commit is not None:
            before_commit(received)
        db.session.flush()
    db.session.refresh(received)
    return received


# The organisation's limit -------------------------------------------------------------------------------


def set_limit(organisation: Organisation, user: User, limit_pence: int | None) -> None:
    """A DPSS manager (their own organisation) or the administrator sets the limit. Caller commits."""
    if not may_set_limit(user, organisation):
        raise NotAllowed("Only a manager of the support service, or the administrator, sets its approval limit.")
    if limit_pence is None:
        raise PaymentError([("limit", "Enter the limit, like 1,000.00")])
    if limit_pence < 0 or limit_pence > MAX_LIMIT_PENCE:
        raise PaymentError([("limit", f"The limit must be between £0.00 and {pounds(MAX_LIMIT_PENCE)}")])
    organisation.payment_approval_limit_pence = limit_pence


# Reading -------------------------------------------------------------------------------------------------


def payments_of(account_id: int, limit: int | None = None) -> list[ManagedPayment]:
    query = (sa.select(ManagedPayment).where(ManagedPayment.account_id == account_id)
             .order_by(ManagedPayment.recorded_at.desc(), ManagedPayment.id.desc()))
    if limit:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def payment_of(recipient_id: int, payment_id: int) -> ManagedPayment | None:
    """One of this person's managed-account payments, or None (never someone else's, whatever the id)."""
    return db.session.scalar(
        sa.select(ManagedPayment).join(DPAccount, DPAccount.id == ManagedPayment.account_id)
        .where(ManagedPayment.id == payment_id, DPAccount.recipient_id == recipient_id))


def contributions_of(account_id: int, limit: int | None = None) -> list[ManagedContribution]:
    query = (sa.select(ManagedContribution).where(ManagedContribution.account_id == account_id)
             .order_by(ManagedContribution.received_on.desc(), ManagedContribution.id.desc()))
    if limit:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def money_owed(account_id: int) -> list[ExpectedItem]:
    """What is owed out of the account and not yet paid (invoices, approved timesheets...), soonest due first."""
    return list(db.session.scalars(
        sa.select(ExpectedItem).where(ExpectedItem.account_id == account_id, ExpectedItem.status == ExpectedStatus.OPEN,
                                      ExpectedItem.amount_pence < 0)
        .order_by(ExpectedItem.due_date, ExpectedItem.id)))


def timesheets_paid_by(payment: ManagedPayment) -> list[tuple[Timesheet, int]]:
    links = dict(db.session.execute(sa.select(ManagedPaymentTimesheet.timesheet_id, ManagedPaymentTimesheet.owed_pence)
                                    .where(ManagedPaymentTimesheet.payment_id == payment.id)).all())
    if not links:
        return []
    sheets = db.session.scalars(sa.select(Timesheet).where(Timesheet.id.in_(list(links))).order_by(Timesheet.period_start))
    return [(ts, links[ts.id]) for ts in sheets]


def names(user_ids) -> dict[int, str]:
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    return {uid: name for uid, name in db.session.execute(sa.select(User.id, User.display_name).where(User.id.in_(ids)))}


@dataclass
class Waiting:
    payment: ManagedPayment
    person_id: int
    person_name: str
    recorded_by: str


def waiting_for_approval(user: User) -> list[Waiting]:
    """The user's organisation's payments waiting for a second person, for the people this user can see."""
    from portal.access import visible_recipients
    from portal.models import Person

    if not (user.is_authenticated and user.role.is_dpss and user.organisation_id):
        return []
    seen = visible_recipients(user).with_only_columns(Recipient.person_id)
    rows = db.session.execute(
        sa.select(ManagedPayment, Person.id, Person.given_name, Person.family_name)
        .join(DPAccount, DPAccount.id == ManagedPayment.account_id).join(Person, Person.id == DPAccount.recipient_id)
        .where(ManagedPayment.organisation_id == user.organisation_id, ManagedPayment.status == ManagedPaymentStatus.RECORDED,
               DPAccount.recipient_id.in_(seen))
        .order_by(ManagedPayment.recorded_at, ManagedPayment.id)).all()
    who = names(payment.recorded_by_id for payment, *_ in rows)
    return [Waiting(payment, pid, f"{given} {family}", who.get(payment.recorded_by_id, "")) for payment, pid, given, family in rows]


@dataclass
class CaseSummary:
    """What the case page shows of a managed account."""

    account: DPAccount
    limit_pence: int
    organisation_name: str
    awaiting: list[ManagedPayment] = field(default_factory=list)  # waiting for a second person, oldest first
    recent: list[ManagedPayment] = field(default_factory=list)  # paid, newest first (up to RECENT)
    unpaid_invoices: list[ManagedPayment] = field(default_factory=list)  # invoices not yet paid, soonest due first
    owed_pence: int = 0  # every open item owed out of the account (invoices, approved timesheets)
    balance_pence: int = 0


def case_summary(recipient_id: int) -> CaseSummary | None:
    """The managed account's payments for the case page, or None when the person has no managed account.
    The caller has loaded the person through a scope. Three small queries."""
    account = managed_account(recipient_id)
    if account is None:
        return None
    organisation = db.session.get(Organisation, account.managed_by_id)
    waiting = list(db.session.scalars(
        sa.select(ManagedPayment).where(ManagedPayment.account_id == account.id,
                                        ManagedPayment.status == ManagedPaymentStatus.RECORDED)
        .order_by(ManagedPayment.recorded_at, ManagedPayment.id)))
    recent = list(db.session.scalars(
        sa.select(ManagedPayment).where(ManagedPayment.account_id == account.id, ManagedPayment.status == ManagedPaymentStatus.PAID)
        .order_by(ManagedPayment.paid_on.desc(), ManagedPayment.id.desc()).limit(RECENT)))
    invoices = sorted((p for p in waiting if p.kind == ManagedPaymentKind.INVOICE),
                      key=lambda p: (p.invoice_due_on or p.pay_on, p.id))
    return CaseSummary(
        account=account, limit_pence=organisation.payment_approval_limit_pence, organisation_name=organisation.name,
        awaiting=waiting, recent=recent, unpaid_invoices=invoices, owed_pence=ledger.money_owed(account.id),
        balance_pence=ledger.balance(account.id),
    )
