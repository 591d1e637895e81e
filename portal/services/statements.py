"""Statements for a date range: the figures, a CSV of the transactions, and a PDF (WeasyPrint).

One statement covers all of a recipient's direct payment accounts (usually one). The period's
entries come from one query (with their state and payee); the opening balance from one more; the
closing balance is worked out (opening + in - out) and checked against the sum of entries.
All money is integer pence; it becomes text only in templates and in the CSV.

The PDF is made by WeasyPrint with `restricted_fetcher`, which serves only files under the
repository's static/ folder (and small data: URLs): a statement never fetches anything from the
network or from elsewhere on the disk, whatever its HTML says.
"""

import csv
import io
import mimetypes
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.config import ROOT
from portal.extensions import db
from portal.models import (
    Budget,
    Category,
    DPAccount,
    EntryKind,
    EntryState,
    ExcessBalanceReview,
    LedgerEntry,
    Payee,
    PaymentMethod,
    Recipient,
    SupportLine,
    SupportPlan,
)
from portal.services import excess, ledger
from portal.services.budgets import version_on
from portal.services.clock import london_today
from portal.services.local_settings import council_settings

MAX_YEARS = 2
NOT_ASSIGNED = "Not assigned to a line"
NOT_SPENDING = "Other money out (not spending)"
NOT_CATEGORISED = "Not categorised"

# Money in, by the kind of entry (a positive spend or reclaim is a correction of one).
IN_LABELS = {
    EntryKind.COUNCIL_PAYMENT: "Payments from the council",
    EntryKind.CONTRIBUTION: "Contributions paid in",
    EntryKind.REFUND: "Refunds",
    EntryKind.SPEND: "Spending corrected or refunded",
    EntryKind.RECLAIM: "Reclaims corrected",
    EntryKind.ADJUSTMENT: "Adjustments",
}
# Money out that is not spending on support, by kind, where it has no category of its own.
OUT_KIND_LABELS = {
    EntryKind.COUNCIL_PAYMENT: "Council payments corrected",
    EntryKind.CONTRIBUTION: "Contributions corrected",
    EntryKind.REFUND: "Refunds corrected",
    EntryKind.RECLAIM: "Money reclaimed by the council",
    EntryKind.ADJUSTMENT: "Adjustments",
}
METHOD_LABELS = {
    PaymentMethod.PREPAID_CARD: "Prepaid card",
    PaymentMethod.BANK_ACCOUNT: "Bank account",
    PaymentMethod.MANAGED_ACCOUNT: "Managed account",
}


class StatementError(RuntimeError):
    """The figures do not add up (a bug or a broken ledger): never show such a statement."""


@dataclass(frozen=True)
class Row:
    label: str
    pence: int


@dataclass(frozen=True)
class StatementEntry:
    id: int
    account_id: int
    entry_date: date
    kind: EntryKind
    payee: str
    description: str
    category: str
    support_line: str
    money_in_pence: int | None
    money_out_pence: int | None
    evidence_count: int
    needs_evidence: bool
    flags: tuple[str, ...]
    explanation: str
    needs_explanation: bool

    @property
    def receipt(self) -> str:
        """Receipt attached: Yes, No (one is needed), Not needed (spend that carries its own papers)."""
        if self.evidence_count:
            return "Yes"
        if self.needs_evidence:
            return "No"
        return "Not needed" if self.money_out_pence else ""


@dataclass(frozen=True)
class AccountSummary:
    id: int
    label: str
    opening_pence: int
    closing_pence: int


@dataclass(frozen=True)
class ExcessLine:
    """The excess-balance position today for one account (None where it has no current budget)."""

    account_label: str
    position: excess.Position | None
    excess_weeks: int
    gross_weekly_pence: int
    review: ExcessBalanceReview | None


@dataclass
class Statement:
    person_name: str
    council_name: str
    start: date
    end: date
    made_on: date
    accounts: list[AccountSummary]
    opening_pence: int
    money_in_pence: int
    money_out_pence: int
    closing_pence: int
    money_in: list[Row]
    out_by_category: list[Row]
    out_by_line: list[Row]
    entries: list[StatementEntry]
    excess: list[ExcessLine] = field(default_factory=list)

    @property
    def without_evidence(self) -> list[StatementEntry]:
        return [e for e in self.entries if e.needs_evidence]

    @property
    def needing_explanation(self) -> list[StatementEntry]:
        return [e for e in self.entries if e.needs_explanation]

    @property
    def filename_stem(self) -> str:
        """For downloads: dates only, never a person's name."""
        return f"statement-{self.start.isoformat()}-to-{self.end.isoformat()}"


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def too_long(start: date, end: date) -> bool:
    """Whether [start, end] is longer than MAX_YEARS (1 Jan 2025 to 31 Dec 2026 is exactly 2 years)."""
    return end >= add_years(start, MAX_YEARS)


def _label(value: str) -> str:
    return value[:1].upper() + value[1:]


def account_label(account: DPAccount) -> str:
    label = METHOD_LABELS.get(account.method, _label(str(account.method)))
    if account.card_reference:
        return f"{label} ending {account.card_reference[-4:]}"
    return label


class _Lines:
    """Which support line a spend counts against: its own, else the only line of its category in
    the plan in force on the day (two lines of one category: not assigned)."""

    def __init__(self, recipient_id: int, end: date):
        plans = list(
            db.session.scalars(
                sa.select(SupportPlan)
                .where(SupportPlan.recipient_id == recipient_id)
                .options(selectinload(SupportPlan.lines))
                .order_by(SupportPlan.effective_from)
            )
        )
        self.by_id: dict[int, SupportLine] = {line.id: line for plan in plans for line in plan.lines}
        # Rows appear in plan order (oldest plan first, then line position).
        self.rank: dict[str, int] = {}
        for plan in plans:
            for line in plan.lines:
                self.rank.setdefault(line.description, len(self.rank))
        self.plans = [p for p in plans if p.effective_from <= end]
        self._by_category: dict[tuple[int, Category], list[SupportLine]] = {}
        for plan in self.plans:
            for line in plan.lines:
                self._by_category.setdefault((plan.id, line.category), []).append(line)

    def plan_on(self, day: date) -> SupportPlan | None:
        found = None
        for plan in self.plans:
            if plan.effective_from <= day:
                found = plan
        return found

    def label(self, day: date, category: Category | None, support_line_id: int | None) -> str:
        if support_line_id is not None:
            line = self.by_id.get(support_line_id)
            return line.description if line else NOT_ASSIGNED
        plan = self.plan_on(day)
        if plan is None or category is None:
            return NOT_ASSIGNED
        matches = self._by_category.get((plan.id, category), [])
        return matches[0].description if len(matches) == 1 else NOT_ASSIGNED


def _current_budget(account_id: int, today: date) -> Budget | None:
    return db.session.scalar(
        sa.select(Budget)
        .where(
            Budget.account_id == account_id,
            Budget.start_date <= today,
            sa.or_(Budget.end_date.is_(None), Budget.end_date >= today),
        )
        .options(selectinload(Budget.versions))
        .order_by(Budget.start_date.desc(), Budget.id.desc())
        .limit(1)
    )


def build_statement(recipient: Recipient, start: date, end: date, today: date | None = None) -> Statement:
    """The statement of [start, end] (both days included) for all the recipient's accounts."""
    if end < start:
        raise ValueError("The end date must be the same as or after the start date")
    today = today or london_today()
    accounts = list(
        db.session.scalars(sa.select(DPAccount).where(DPAccount.recipient_id == recipient.person_id).order_by(DPAccount.id))
    )
    account_ids = [a.id for a in accounts]
    labels = {a.id: account_label(a) for a in accounts}

    opening_by_account: dict[int, int] = defaultdict(int)
    rows = []
    if account_ids:
        opening_by_account.update(
            (account_id, int(total))
            for account_id, total in db.session.execute(
                sa.select(LedgerEntry.account_id, sa.func.sum(LedgerEntry.amount_pence))
                .where(LedgerEntry.account_id.in_(account_ids), LedgerEntry.entry_date < start)
                .group_by(LedgerEntry.account_id)
            )
        )
        rows = db.session.execute(
            sa.select(
                LedgerEntry.id,
                LedgerEntry.account_id,
                LedgerEntry.entry_date,
                LedgerEntry.kind,
                LedgerEntry.amount_pence,
                LedgerEntry.description,
                Payee.name,
                EntryState.category,
                EntryState.support_line_id,
                EntryState.flags,
                EntryState.explanation,
                EntryState.needs_evidence,
                EntryState.needs_explanation,
                EntryState.evidence_count,
            )
            .outerjoin(EntryState, EntryState.entry_id == LedgerEntry.id)
            .outerjoin(Payee, Payee.id == LedgerEntry.payee_id)
            .where(
                LedgerEntry.account_id.in_(account_ids),
                LedgerEntry.entry_date >= start,
                LedgerEntry.entry_date <= end,
            )
            .order_by(LedgerEntry.entry_date, LedgerEntry.id)
        ).all()

    lines = _Lines(recipient.person_id, end)
    money_in: dict[EntryKind, int] = defaultdict(int)
    out_by_category: dict[str, int] = defaultdict(int)
    out_by_line: dict[str, int] = defaultdict(int)
    moved_by_account: dict[int, int] = defaultdict(int)
    entries: list[StatementEntry] = []
    for (entry_id, account_id, entry_date, kind, amount, description, payee, category, line_id, flags, explanation,
         needs_evidence, needs_explanation, evidence_count) in rows:
        moved_by_account[account_id] += amount
        category_label = _label(category.value) if category else ""
        line_label = ""
        if amount >= 0:
            money_in[kind] += amount
        else:
            if kind == EntryKind.SPEND:
                category_label = category_label or NOT_CATEGORISED
                line_label = lines.label(entry_date, category, line_id)
                out_by_line[line_label] += -amount
                out_by_category[category_label] += -amount
            else:
                out_by_line[NOT_SPENDING] += -amount
                out_by_category[category_label or OUT_KIND_LABELS.get(kind, _label(kind.value))] += -amount
        entries.append(
            StatementEntry(
                id=entry_id, account_id=account_id, entry_date=entry_date, kind=kind, payee=payee or "",
                description=description or "", category=category_label, support_line=line_label,
                money_in_pence=amount if amount >= 0 else None, money_out_pence=-amount if amount < 0 else None,
                evidence_count=evidence_count or 0, needs_evidence=bool(needs_evidence),
                flags=tuple(f for f in (flags or "").split(",") if f), explanation=explanation or "",
                needs_explanation=bool(needs_explanation),
            )
        )

    opening = sum(opening_by_account.values())
    total_in = sum(money_in.values())
    total_out = sum(out_by_category.values())
    closing = opening + total_in - total_out
    summaries = []
    for account in accounts:
        account_closing = opening_by_account[account.id] + moved_by_account[account.id]
        if account_closing != ledger.balance_from_entries(account.id, before=end + timedelta(days=1)):
            raise StatementError(f"Account {account.id}: the closing balance does not equal the sum of its entries")
        summaries.append(AccountSummary(account.id, labels[account.id], opening_by_account[account.id], account_closing))
    if closing != sum(s.closing_pence for s in summaries):
        raise StatementError("The closing balance does not equal opening + money in - money out")

    category_order = {_label(c.value): n for n, c in enumerate(Category)}
    return Statement(
        person_name=recipient.full_name,
        council_name=recipient.council.name,
        start=start,
        end=end,
        made_on=today,
        accounts=summaries,
        opening_pence=opening,
        money_in_pence=total_in,
        money_out_pence=total_out,
        closing_pence=closing,
        money_in=[Row(IN_LABELS.get(k, _label(k.value)), money_in[k]) for k in EntryKind if money_in.get(k)],
        out_by_category=[
            Row(label, pence)
            for label, pence in sorted(out_by_category.items(), key=lambda item: (category_order.get(item[0], 99), item[0]))
        ],
        out_by_line=[
            Row(label, pence)
            for label, pence in sorted(
                out_by_line.items(),
                key=lambda item: (lines.rank.get(item[0], 10_000 + (item[0] == NOT_SPENDING)), item[0]),
            )
        ],
        entries=entries,
        excess=_excess_today(recipient, accounts, labels, today),
    )


def _excess_today(recipient: Recipient, accounts: list[DPAccount], labels: dict[int, str], today: date) -> list[ExcessLine]:
    if not accounts:
        return []
    settings = council_settings(recipient.council_id, today)
    found = []
    for account in accounts:
        budget = _current_budget(account.id, today)
        version = version_on(budget, today) if budget else None
        position = excess.position(account.id, version.gross_weekly_pence, settings) if version else None
        found.append(
            ExcessLine(
                account_label=labels[account.id],
                position=position,
                excess_weeks=settings.excess_weeks,
                gross_weekly_pence=version.gross_weekly_pence if version else 0,
                review=excess.open_review(account.id),
            )
        )
    return found


# CSV ------------------------------------------------------------------------------------------

CSV_HEADER = [
    "Date", "Payee", "Description", "Category", "Support line", "Money in", "Money out", "Receipt attached", "Flag",
    "Explanation",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def decimal_pounds(pence: int | None) -> str:
    """12.50 for 1250: plain, for spreadsheets (no £, no thousands separator)."""
    if pence is None:
        return ""
    sign = "-" if pence < 0 else ""
    pounds, pennies = divmod(abs(pence), 100)
    return f"{sign}{pounds}.{pennies:02d}"


def safe_cell(value: str) -> str:
    """Neutralise spreadsheet formula injection: a cell that could start a formula gets a leading '."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def statement_csv(statement: Statement) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for e in statement.entries:
        writer.writerow(
            safe_cell(value)
            for value in (
                e.entry_date.isoformat(), e.payee, e.description, e.category, e.support_line,
                decimal_pounds(e.money_in_pence), decimal_pounds(e.money_out_pence), e.receipt,
                "; ".join(e.flags), e.explanation,
            )
        )
    return out.getvalue()


# PDF ------------------------------------------------------------------------------------------

STATIC_DIR = (ROOT / "static").resolve()
# The base of relative URLs in a statement's HTML: a reserved name (RFC 2606) that never resolves,
# so "/static/statements/statement.css" becomes a URL only restricted_fetcher answers.
BASE_URL = "https://statement.invalid/"
MAX_DATA_URL = 64 * 1024


def _static_file(path: str) -> Path:
    """The file under static/ for a URL path like /static/statements/statement.css, or ValueError."""
    relative = unquote(path).removeprefix("/static/")
    if not path.startswith("/static/") or not relative:
        raise ValueError(f"Not a static file: {path}")
    candidate = (STATIC_DIR / relative).resolve()
    if not candidate.is_relative_to(STATIC_DIR) or not candidate.is_file():
        raise ValueError(f"Not a static file: {path}")
    return candidate


def _fetch_static(url: str):
    """What restricted_fetcher answers for a URL: (file URL, bytes, content type), or ValueError."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    parts = urlsplit(url)
    if scheme == "https" and parts.netloc == urlsplit(BASE_URL).netloc:
        path = _static_file(parts.path)
    elif scheme == "file" and parts.netloc in ("", "localhost"):
        path = Path(unquote(parts.path)).resolve()
        if not path.is_relative_to(STATIC_DIR) or not path.is_file():
            raise ValueError(f"Refused (outside static/): {url[:100]}")
    else:
        raise ValueError(f"Refused (not one of the portal's static files): {url[:100]}")
    return path.as_uri(), path.read_bytes(), mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _make_fetcher():
    # WeasyPrint takes half a second to import: only the first statement PDF pays for it.
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        """A WeasyPrint URL fetcher that serves the portal's own static files and nothing else.

        Allowed: https://statement.invalid/static/... (what relative /static/ URLs in the HTML
        become), file:// URLs of files inside static/, and data: URLs up to 64 KB. Anything else
        raises ValueError, which WeasyPrint logs and skips: the document still renders, without it.
        """

        def __init__(self):
            super().__init__(allowed_protocols=("https", "file", "data"), allow_redirects=False)

        def fetch(self, url, headers=None):
            if url[:5].lower() == "data:":
                if len(url) > MAX_DATA_URL:
                    raise ValueError("Refused: data: URL too big")
                return super().fetch(url, headers)  # decoded in memory (urllib's DataHandler)
            file_url, body, content_type = _fetch_static(url)
            return URLFetcherResponse(file_url, body, headers={"Content-Type": content_type})

    return StaticOnlyFetcher()


_fetcher = None


def __getattr__(name: str):
    """restricted_fetcher, made on first use (PEP 562)."""
    global _fetcher
    if name == "restricted_fetcher":
        if _fetcher is None:
            _fetcher = _make_fetcher()
        return _fetcher
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def statement_pdf(statement: Statement, html: str) -> bytes:
    """The statement's HTML (templates/statements/pdf.html) as PDF bytes, with the council as author."""
    return html_pdf(html, author=statement.council_name, created=statement.made_on)


_FONTS = threading.local()


def _font_config():
    """One font configuration per thread: WeasyPrint makes a new one per render otherwise, and the
    font libraries never give that memory back (rendering a run's payslips grew by ~0.25 MB a PDF)."""
    if getattr(_FONTS, "config", None) is None:
        from weasyprint.text.fonts import FontConfiguration

        _FONTS.config = FontConfiguration()
    return _FONTS.config


def html_pdf(html: str, *, author: str, created: date) -> bytes:
    """Any of the portal's printable pages as PDF bytes, fetching only the portal's own static files."""
    import weasyprint

    fetcher = __getattr__("restricted_fetcher")
    document = weasyprint.HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).render(font_config=_font_config())
    document.metadata.authors = [author]
    document.metadata.created = created.isoformat()
    return document.write_pdf()
