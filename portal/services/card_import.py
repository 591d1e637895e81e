"""Importing prepaid card statements.

Streams the file (bounded memory, batches of rows), is idempotent on the provider's transaction id,
matches card accounts to DP accounts and reports what it did. A row that cannot be read is rejected
with its line number and the reason; it never stops the rest.

A row confirms instead of posting when the portal already knows the money: a recorded payment or
reclaim, or an open expected item (same account and direction, same amount, date within 5 days).
"""

import csv
import functools
import gc
import io
import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import (
    AccountBalance,
    Budget,
    CardImport,
    CardImportRejection,
    Category,
    CategoryRule,
    DPAccount,
    EntryKind,
    EntrySource,
    EntryState,
    ExcessBalanceReview,
    ExpectedItem,
    ExpectedStatus,
    Flag,
    LedgerEntry,
    Organisation,
    Payee,
    Recipient,
    SupportLine,
    SupportPlan,
    UnmatchedCardRow,
)
from portal.services import cycles, excess
from portal.services.amounts import to_hundredths
from portal.services.clock import london_today, utcnow
from portal.services.ledger import SUMMARISED_KINDS, add_to_rows, move_attention, move_spend, needs_evidence, spend_key
from portal.services.local_settings import council_settings

logger = logging.getLogger(__name__)
MATCH_WINDOW = timedelta(days=5)
# Rows are built with members' _value_ (the attribute .value reads): .value is a descriptor costing about
# 2 µs a read in Python 3.11, and hashing a member for a look-up runs Python code too.
CARD_IMPORT = EntrySource.CARD_IMPORT.value
# A batch is one transaction. Each one also moves the cached balances, attention counts and spend
# summaries of the accounts it touches, so fewer, bigger batches do less of that (5,000 rows took a
# fifth longer); a crash loses at most one batch's work until the rerun.
BATCH_ROWS = 20_000
# Databases whose batches are written in a thread while the next is read (see BatchWriter).
THREADED_WRITES = {"postgresql"}
# A file of junk must not fill memory with reasons: keep the first ones, count the rest.
REJECTIONS_KEPT = 10_000


@dataclass(frozen=True)
class Layout:
    """How a provider lays out its export. Field names map to the file's column headers."""

    name: str
    columns: dict[str, str]
    date_format: str = "%d/%m/%Y"
    delimiter: str = ","
    # "debit_credit": separate unsigned Debit and Credit columns; "signed": one amount, negative out.
    amounts: str = "debit_credit"

    REQUIRED = ("transaction_id", "card_account", "date", "merchant")

    def required_headers(self) -> list[str]:
        needed = list(self.REQUIRED) + (["debit", "credit"] if self.amounts == "debit_credit" else ["amount"])
        return [self.columns[name] for name in needed]


STANDARD = Layout(
    name="standard",
    columns={
        "transaction_id": "Transaction ID", "card_account": "Card Account", "date": "Date", "merchant": "Merchant",
        "mcc": "Merchant Category Code", "description": "Description", "debit": "Debit", "credit": "Credit",
    },
)
# A second provider's layout: one signed amount column, ISO dates, semicolons, no byte-order mark.
SIGNED_ISO = Layout(
    name="signed-iso",
    columns={
        "transaction_id": "TxnRef", "card_account": "AccountRef", "date": "PostingDate", "merchant": "Payee",
        "mcc": "MCC", "description": "Narrative", "amount": "Amount",
    },
    date_format="%Y-%m-%d",
    delimiter=";",
    amounts="signed",
)
LAYOUTS = {layout.name: layout for layout in (STANDARD, SIGNED_ISO)}


def layout_from_mapping(path: Path) -> Layout:
    """A layout from a JSON column mapping: {"name", "columns", "date_format", "delimiter", "amounts"}."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return Layout(
        name=data.get("name", Path(path).stem), columns=data["columns"], date_format=data.get("date_format", "%d/%m/%Y"),
        delimiter=data.get("delimiter", ","), amounts=data.get("amounts", "debit_credit"),
    )


@dataclass
class Report:
    filename: str
    rows_read: int = 0
    posted: int = 0
    confirmed: int = 0
    duplicates: int = 0
    unknown_accounts: int = 0
    # The first REJECTIONS_KEPT rejected rows with their reasons; rejected_count counts them all.
    rejected: list[tuple[int, str]] = field(default_factory=list)
    rejected_count: int = 0
    flagged: int = 0
    file_error: str | None = None
    import_id: int | None = None

    def lines(self) -> list[str]:
        if self.file_error:
            return [f"The file could not be imported: {self.file_error}"]
        out = [
            f"Rows read: {self.rows_read}",
            f"Posted: {self.posted}",
            f"Confirmed (already known to the portal): {self.confirmed}",
            f"Duplicates skipped: {self.duplicates}",
            f"Unknown card accounts (kept for review): {self.unknown_accounts}",
            f"Flagged for an explanation: {self.flagged}",
            f"Rejected: {self.rejected_count}",
        ]
        out += [f"  line {line}: {reason}" for line, reason in self.rejected]
        if self.rejected_count > len(self.rejected):
            out.append(f"  and {self.rejected_count - len(self.rejected):,} more rejected rows")
        return out


@dataclass
class Row:
    line: int
    external_id: str
    card_reference: str
    entry_date: date
    amount_pence: int
    merchant: str
    mcc: str
    description: str


# Bytes that were not UTF-8 come through as lone surrogates (errors="surrogateescape").
NOT_UTF8 = re.compile("[\udc80-\udcff]")


def parse_pence(text: str) -> int:
    """'1,680.00' or '-23.5' to integer pence, without floats."""
    text = text.strip()
    negative = text.startswith("-")
    pence = to_hundredths(text.removeprefix("-"))
    if pence is None or pence >= 10**11:
        raise ValueError(f"“{text}” is not an amount of money")
    return -pence if negative else pence


def parse_date(text: str, date_format: str) -> date:
    """A date in the layout's format; the two common formats without strptime (a million rows add up)."""
    if date_format == "%d/%m/%Y":
        day, month, year = text.split("/")
        if len(year) != 4:
            raise ValueError(text)
        return date(int(year), int(month), int(day))
    if date_format == "%Y-%m-%d" and len(text) == 10:
        return date.fromisoformat(text)
    return datetime.strptime(text, date_format).date()


class FileProblem(Exception):
    pass


def read_rows(stream: io.BufferedIOBase, layout: Layout) -> Iterator[Row | tuple[int, str]]:
    """Rows from a binary stream, one at a time: a Row, or (line number, reason) for a bad one."""
    # surrogateescape keeps going past bytes that are not UTF-8, so one bad row is rejected, not the file;
    # newline="" leaves line breaks to csv (which knows quoted fields may hold them).
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text, delimiter=layout.delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise FileProblem("the file is empty") from None
    except csv.Error as error:
        raise FileProblem(f"the first line is not a header row ({error})") from None
    header = [h.strip() for h in header]
    missing = [h for h in layout.required_headers() if h not in header]
    if missing:
        raise FileProblem(f"these columns are missing: {', '.join(missing)}")
    index = {name: header.index(col) for name, col in layout.columns.items() if col in header}
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield (reader.line_num, f"the row could not be read ({error})")
            continue
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if NOT_UTF8.search("".join(values)):
            yield (line, "the row has characters that are not valid UTF-8 text")
            continue
        try:
            yield _row(values, index, layout, line)
        except (ValueError, IndexError) as error:
            yield (line, str(error))


def _row(values: list[str], index: dict[str, int], layout: Layout, line: int) -> Row:
    def get(name: str) -> str:
        i = index.get(name)
        if i is None:
            return ""
        if i >= len(values):
            raise ValueError(f"the row has {len(values)} columns, fewer than the header")
        return values[i].strip()

    external_id = get("transaction_id")
    if not external_id:
        raise ValueError("the transaction ID is missing")
    card = get("card_account")
    if not card:
        raise ValueError("the card account is missing")
    raw_date = get("date")
    try:
        entry_date = parse_date(raw_date, layout.date_format)
    except ValueError:
        raise ValueError(f"the date “{raw_date}” is not a real date in the expected format") from None
    if layout.amounts == "signed":
        amount = parse_pence(get("amount"))
    else:
        debit, credit = get("debit"), get("credit")
        if debit and credit:
            raise ValueError("the row has both a debit and a credit")
        if not debit and not credit:
            raise ValueError("the row has neither a debit nor a credit")
        amount = -parse_pence(debit) if debit else parse_pence(credit)
        if (debit and amount > 0) or (credit and amount < 0):
            raise ValueError("debits and credits must be positive amounts")
    if amount == 0:
        raise ValueError("the amount is zero")
    return Row(line, external_id[:60], card[:40], entry_date, amount, get("merchant")[:200], get("mcc")[:4], get("description")[:200])


@dataclass
class AccountInfo:
    account_id: int
    council_id: int
    council_name: str
    plan_categories: frozenset[str] | None  # None: no plan, so nothing is "outside the plan"
    evidence_threshold_pence: int


class Categoriser:
    def __init__(self):
        self.rules = db.session.scalars(sa.select(CategoryRule).order_by(CategoryRule.position, CategoryRule.id)).all()
        self._seen: dict[tuple[str, str], tuple[Category | None, tuple[str, ...]]] = {}

    @staticmethod
    @functools.cache
    def _word_pattern(text: str) -> re.Pattern:
        # Whole words only: "BET" is BET365, not BETTER or DIABETES; "ATM" is not TREATMENT.
        return re.compile(rf"(?<![A-Z]){re.escape(text.upper())}(?![A-Z])")

    def classify(self, merchant: str, mcc: str) -> tuple[Category | None, list[str]]:
        """The category and flags for a merchant and MCC (the same merchants recur: remembered per import)."""
        key = (merchant, mcc)
        if key not in self._seen:
            if len(self._seen) > 50_000:
                self._seen.clear()
            self._seen[key] = self._classify(merchant, mcc)
        category, flags = self._seen[key]
        return category, list(flags)

    def _classify(self, merchant: str, mcc: str) -> tuple[Category | None, tuple[str, ...]]:
        merchant_upper = merchant.upper()
        category, flags = None, []
        for rule in self.rules:
            text_ok = not rule.merchant_contains or bool(self._word_pattern(rule.merchant_contains).search(merchant_upper))
            mcc_ok = not rule.mcc or rule.mcc == mcc
            if text_ok and mcc_ok and (rule.merchant_contains or rule.mcc):
                if category is None and rule.category is not None:
                    category = rule.category
                if rule.flag and rule.flag not in flags:
                    flags.append(rule.flag)
        return category, tuple(flags)


def _kind(row: Row, council_name: str) -> EntryKind:
    from_council = council_name and row.merchant.upper().startswith(council_name.upper())
    text = f"{row.merchant} {row.description}".upper()
    if row.amount_pence > 0:
        if from_council:
            return EntryKind.COUNCIL_PAYMENT
        if "CONTRIBUTION" in text:
            return EntryKind.CONTRIBUTION
        return EntryKind.REFUND
    if from_council and "RECLAIM" in text:
        return EntryKind.RECLAIM
    return EntryKind.SPEND


def _account_infos(card_refs: set[str]) -> dict[str, AccountInfo]:
    """What the import needs to know of each card account, in three queries for the whole batch."""
    if not card_refs:
        return {}
    rows = db.session.execute(
        sa.select(DPAccount.card_reference, DPAccount.id, Recipient.council_id, Organisation.name, Recipient.person_id)
        .join(Recipient, Recipient.person_id == DPAccount.recipient_id)
        .join(Organisation, Organisation.id == Recipient.council_id)
        .where(DPAccount.card_reference.in_(card_refs))
    ).all()
    today = london_today()
    people = {person_id for *_, person_id in rows}
    # The plan in force for each person: the latest from a date not after today.
    plans: dict[int, tuple[date, int]] = {}
    for plan_id, person_id, effective_from in db.session.execute(
        sa.select(SupportPlan.id, SupportPlan.recipient_id, SupportPlan.effective_from)
        .where(SupportPlan.recipient_id.in_(people), SupportPlan.effective_from <= today)
    ):
        if person_id not in plans or plans[person_id][0] < effective_from:
            plans[person_id] = (effective_from, plan_id)
    categories: dict[int, set[str]] = defaultdict(set)
    plan_ids = [plan_id for _, plan_id in plans.values()]
    if plan_ids:
        for plan_id, category in db.session.execute(
            sa.select(SupportLine.plan_id, SupportLine.category).where(SupportLine.plan_id.in_(plan_ids))
        ):
            categories[plan_id].add(category.value)
    thresholds: dict[int, int] = {}
    infos = {}
    for card_ref, account_id, council_id, council_name, person_id in rows:
        if council_id not in thresholds:
            thresholds[council_id] = council_settings(council_id, today).evidence_threshold_pence
        plan = plans.get(person_id)
        infos[card_ref] = AccountInfo(
            account_id, council_id, council_name, frozenset(categories[plan[1]]) if plan else None, thresholds[council_id]
        )
    return infos


def import_file(path: Path, layout: Layout = STANDARD, *, user_id: int | None = None, display_name: str | None = None) -> Report:
    report = Report(filename=display_name or Path(path).name)
    record = CardImport(filename=report.filename[:200], layout=layout.name, created_by_id=user_id)
    db.session.add(record)
    db.session.commit()
    report.import_id = record.id
    categoriser = Categoriser()
    accounts: dict[str, AccountInfo | None] = {}
    # Council payments posted by this import: their excess checks run once the whole file is in,
    # so a late row further down (a reclaim, say) is in the balance "just before" each payment.
    council_credits: list[tuple[AccountInfo, Row]] = []
    # The cycle collector is paused while the rows stream through and run once after each batch instead:
    # each batch's thousands of surviving rows otherwise set off collections of the whole heap again and
    # again (a fifth of the import's time). Cycles are still freed, batch by batch.
    collecting = gc.isenabled()
    gc.disable()
    writer = BatchWriter(threaded=db.session.get_bind().dialect.name in THREADED_WRITES)
    try:
        with open(path, "rb") as stream:
            batch: list[Row] = []
            for item in read_rows(stream, layout):
                report.rows_read += 1
                if isinstance(item, tuple):
                    report.rejected_count += 1
                    if len(report.rejected) < REJECTIONS_KEPT:
                        report.rejected.append(item)
                    continue
                batch.append(item)
                if len(batch) >= BATCH_ROWS:
                    council_credits += _import_batch(batch, accounts, categoriser, record.id, report, writer)
                    batch = []
                    gc.collect(1)
            if batch:
                council_credits += _import_batch(batch, accounts, categoriser, record.id, report, writer)
        writer.finish()
        by_account: dict[int, tuple[AccountInfo, list[Row]]] = {}
        for info, row in council_credits:
            by_account.setdefault(info.account_id, (info, []))[1].append(row)
        settings_cache: dict = {}
        groups = list(by_account.values())
        for start in range(0, len(groups), 500):
            _check_excess(groups[start:start + 500], settings_cache)
        db.session.commit()
    except FileProblem as problem:
        writer.finish()  # the batches before the problem stay, as they would without the thread
        db.session.rollback()
        report.file_error = str(problem)
    finally:
        writer.close()
        if collecting:
            gc.enable()
    if report.rejected:
        db.session.execute(sa.insert(CardImportRejection), [
            {"import_id": record.id, "line_number": line, "reason": reason[:300]} for line, reason in report.rejected
        ])
    record = db.session.get(CardImport, record.id)
    record.rows_read, record.posted, record.confirmed = report.rows_read, report.posted, report.confirmed
    record.duplicates, record.unknown_accounts = report.duplicates, report.unknown_accounts
    record.rejected, record.flagged, record.finished_at = report.rejected_count, report.flagged, utcnow()
    db.session.commit()
    return report


def _one_of(column, values: list[str]):
    """column IN (values), with the values as one parameter: on PostgreSQL = ANY(an array), on SQLite IN
    (json_each(a JSON list)). A batch's 20,000 ids would otherwise make a 20,000-parameter statement to
    build and send for every query, and SQLite keeps each such statement prepared (hundreds of MB)."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.any_(sa.literal(list(values), ARRAY(sa.String)))
    listed = sa.func.json_each(json.dumps(list(values))).table_valued("value")
    return column.in_(sa.select(listed.c.value))


def _known_ids(ids: list[str]) -> set[str]:
    known = set(db.session.scalars(sa.select(LedgerEntry.external_id).where(_one_of(LedgerEntry.external_id, ids))))
    known |= set(db.session.scalars(sa.select(EntryState.confirmed_external_id).where(_one_of(EntryState.confirmed_external_id, ids))))
    known |= set(db.session.scalars(sa.select(UnmatchedCardRow.external_id).where(_one_of(UnmatchedCardRow.external_id, ids))))
    return known


class NewEntry(NamedTuple):
    row: Row
    kind: EntryKind
    category: Category | None
    flags: list[str]
    info: AccountInfo
    expected_id: int | None  # the open expected item the row settles
    needs_evidence: bool


@dataclass
class BatchPlan:
    """What one batch writes, worked out from the rows and the database before any of it is written."""

    import_id: int
    entries: list[NewEntry] = field(default_factory=list)  # in file order
    unmatched: list[Row] = field(default_factory=list)  # rows for card accounts the portal does not know
    confirmations: list[tuple[int, str]] = field(default_factory=list)  # (recorded entry id, provider id)
    stored_ids: set[str] = field(default_factory=set)  # every provider id the batch stores
    taken: set[tuple[str, int]] = field(default_factory=set)  # match candidates it uses up
    # What the entries add to the cached balances and counts, by account, and to spend_summaries, by key.
    balances: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    entry_counts: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    attention: dict[int, tuple[int, int]] = field(default_factory=dict)
    spend: dict[tuple, tuple[int, int]] = field(default_factory=dict)

    def add(self, entry: NewEntry) -> None:
        self.entries.append(entry)
        row, account_id = entry.row, entry.info.account_id
        self.balances[account_id] += row.amount_pence
        self.entry_counts[account_id] += 1
        if entry.needs_evidence or entry.flags:
            receipts, explanations = self.attention.get(account_id, (0, 0))
            self.attention[account_id] = (receipts + entry.needs_evidence, explanations + bool(entry.flags))
        if entry.kind in SUMMARISED_KINDS:
            key = spend_key(account_id, row.entry_date, entry.kind, entry.category)
            pence, count = self.spend.get(key, (0, 0))
            self.spend[key] = (pence + row.amount_pence, count + 1)


def _import_batch(batch: list[Row], accounts, categoriser: Categoriser, import_id: int, report: Report, writer) -> list:
    """Decide what a batch writes, then hand it to the writer: it lands whole, in one transaction, or not at
    all (and a rerun finishes the job). Returns the batch's council payments, for the excess checks."""
    new_refs = {row.card_reference for row in batch} - accounts.keys()
    found = _account_infos(new_refs)
    for ref in new_refs:
        accounts[ref] = found.get(ref)
    # The batch the writer has in hand may not be in the database yet: what it stores and uses up counts
    # as done, so a row sent again in the next batch is a duplicate and a payment is confirmed once.
    in_flight = writer.in_flight
    known = _known_ids([row.external_id for row in batch])
    if in_flight is not None:
        known |= in_flight.stored_ids
    account_ids = {accounts[r.card_reference].account_id for r in batch if accounts.get(r.card_reference)}
    candidates = _match_candidates(account_ids, min(r.entry_date for r in batch), max(r.entry_date for r in batch),
                                   taken=in_flight.taken if in_flight is not None else ())
    plan = BatchPlan(import_id)
    seen = plan.stored_ids
    council_credits = []
    for row in batch:
        if row.external_id in known or row.external_id in seen:
            report.duplicates += 1
            # A rerun after a crash may find every row in already: check the excess line again for
            # council payments (the check opens a review at most once per cycle, so this is safe).
            info = accounts.get(row.card_reference)
            if info is not None and row.external_id in known and _kind(row, info.council_name) == EntryKind.COUNCIL_PAYMENT:
                council_credits.append((info, row))
            continue
        seen.add(row.external_id)
        info = accounts.get(row.card_reference)
        if info is None:
            plan.unmatched.append(row)
            report.unknown_accounts += 1
            continue
        match = _take_match(candidates, info.account_id, row)
        if match is not None:
            plan.taken.add(match)
        if match is not None and match[0] == "entry":
            plan.confirmations.append((match[1], row.external_id))
            report.confirmed += 1
            continue
        kind = _kind(row, info.council_name)
        category, flags = categoriser.classify(row.merchant, row.mcc)
        if kind == EntryKind.SPEND and info.plan_categories is not None and category and category.value not in info.plan_categories:
            flags.append(Flag.OUTSIDE_PLAN.value)
        if kind != EntryKind.SPEND:
            flags = []
        evidence = needs_evidence(kind, row.amount_pence, EntrySource.CARD_IMPORT, info.evidence_threshold_pence)
        plan.add(NewEntry(row, kind, category, flags, info, match[1] if match else None, evidence))
        if flags:
            report.flagged += 1
        if match is not None:
            report.confirmed += 1
        else:
            report.posted += 1
        if kind == EntryKind.COUNCIL_PAYMENT:
            council_credits.append((info, row))
    db.session.commit()  # ends this session's reads (nothing is written here)
    writer.write(plan)
    return council_credits


class BatchWriter:
    """Writes planned batches, in order, each in its own transaction.

    On PostgreSQL a batch is written in a thread, on a connection of its own, while the next one is read and
    sorted: the server's work on a batch (an index entry and foreign-key checks for every row of two tables)
    is half the import, and this way it overlaps the Python work instead of following it (1,000,000 rows:
    53.5 s written in turn, 45 to 48 s with the thread). One batch at most is in hand; the next waits for it to land, and what the one in
    hand stores or uses up counts as done when the next is read (see _import_batch). On SQLite the write
    happens at once, in the caller's session: a request there may hold the one write lock, which a second
    connection would wait for."""

    def __init__(self, threaded: bool):
        self.in_flight: BatchPlan | None = None
        self.payees: dict[str, int] = {}  # payee ids by name, for the whole import (only the writer uses it)
        self._pending: Future | None = None
        self._app = current_app._get_current_object()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="card-import") if threaded else None

    def write(self, plan: BatchPlan) -> None:
        self.finish()
        if self._executor is None:
            _write_batch(plan, self.payees)
            return
        self.in_flight = plan
        self._pending = self._executor.submit(self._write_in_own_session, plan)

    def _write_in_own_session(self, plan: BatchPlan) -> None:
        with self._app.app_context():
            try:
                _write_batch(plan, self.payees)
            finally:
                db.session.remove()

    def finish(self) -> None:
        """Wait until the batch in hand has landed; its error, if it failed, is raised here."""
        pending, self._pending = self._pending, None
        try:
            if pending is not None:
                pending.result()
        finally:
            self.in_flight = None

    def close(self) -> None:
        """Let the batch in hand land (or fail) and stop the thread. Called on the way out of an error too,
        so the batch's own error is logged rather than raised over the first one."""
        try:
            self.finish()
        except Exception:
            logger.exception("a card import batch failed while the import was stopping")
        finally:
            if self._executor is not None:
                self._executor.shutdown()


def _write_batch(plan: BatchPlan, payees: dict[str, int]) -> None:
    """Write one planned batch and commit it. `payees` remembers payee ids from batch to batch."""
    if plan.unmatched:
        db.session.execute(sa.insert(UnmatchedCardRow), [
            {"import_id": plan.import_id, "external_id": row.external_id, "card_reference": row.card_reference,
             "entry_date": row.entry_date, "amount_pence": row.amount_pence, "merchant": row.merchant, "mcc": row.mcc,
             "description": row.description}
            for row in plan.unmatched
        ])
    for entry_id, external_id in plan.confirmations:
        db.session.execute(sa.update(EntryState).where(EntryState.entry_id == entry_id).values(confirmed_external_id=external_id))
    if plan.entries:
        payee_ids = _payee_ids({entry.row.merchant for entry in plan.entries}, payees)
        # Core inserts (not the ORM's bulk path): the rows are plain dictionaries already.
        connection = db.session.connection()
        entries_table = LedgerEntry.__table__
        created_at = utcnow()
        _bulk_insert(connection, entries_table, [
            {
                "account_id": info.account_id, "kind": kind._value_, "amount_pence": row.amount_pence, "entry_date": row.entry_date,
                "payee_id": payee_ids.get(row.merchant), "description": row.description, "source": CARD_IMPORT,
                "external_id": row.external_id, "created_at": created_at,
            }
            for row, kind, category, flags, info, *_ in plan.entries
        ])
        # The new ids, by their unique provider transaction ids: one query (RETURNING in order is row
        # by row on SQLite).
        id_of = dict(connection.execute(
            sa.select(entries_table.c.external_id, entries_table.c.id)
            .where(_one_of(entries_table.c.external_id, [entry.row.external_id for entry in plan.entries]))
        ).all())
        ids = [id_of[entry.row.external_id] for entry in plan.entries]
        _bulk_insert(connection, EntryState.__table__, [
            {
                "entry_id": entry_id, "account_id": info.account_id, "category": category._value_ if category else None,
                "flags": ",".join(sorted(flags)), "explanation": "", "needs_explanation": bool(flags), "evidence_count": 0,
                "needs_evidence": evidence, "confirmed_external_id": None, "support_line_id": None,
            }
            for entry_id, (row, kind, category, flags, info, _, evidence) in zip(ids, plan.entries, strict=True)
        ])
        for entry_id, entry in zip(ids, plan.entries, strict=True):
            if entry.expected_id is not None:
                db.session.execute(
                    sa.update(ExpectedItem).where(ExpectedItem.id == entry.expected_id)
                    .values(status=ExpectedStatus.SETTLED, settled_by_id=entry_id)
                )
        move_attention(plan.attention)
        _move_balances(plan.balances, plan.entry_counts)
        move_spend(plan.spend)
    db.session.commit()


def _bulk_insert(connection, table: sa.Table, rows: list[dict]) -> None:
    """Insert plain rows (every row with the same keys): PostgreSQL's COPY where we have it, else one
    executemany on the driver's cursor. Either way SQLAlchemy's per-row parameter handling (a third of
    the import's time on SQLite) is skipped; each column's own bind processing (dates, the UTC
    timestamps) is still applied, so the stored values are those an INSERT through SQLAlchemy stores."""
    if not rows:
        return
    columns = list(rows[0])
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
        return
    processors = [table.c[c].type._cached_bind_processor(connection.dialect) for c in columns]
    plain = [(c, p) for c, p in zip(columns, processors, strict=True)]
    connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [tuple(row[c] if p is None or row[c] is None else p(row[c]) for c, p in plain) for row in rows],
    )


def _payee_ids(names: set[str], known: dict[str, int]) -> dict[str, int]:
    """The payee id of each merchant name, making the payees not yet known; `known` remembers them for the
    rest of the import (payees are never deleted)."""
    wanted = [name for name in names if name and name not in known]
    if wanted:
        known.update(db.session.execute(sa.select(Payee.name, Payee.id).where(Payee.name.in_(wanted))).all())
        for name in wanted:
            if name not in known:
                payee = Payee(name=name)
                db.session.add(payee)
                db.session.flush()
                known[name] = payee.id
    return {name: known[name] for name in names if name}


def _move_balances(moves: dict[int, int], counts: dict[int, int]) -> None:
    """Move the cached balances and entry counts of every account a batch touched: one upsert, in account order."""
    add_to_rows(AccountBalance.__table__, ["account_id"], ["balance_pence", "entry_count"], [
        {"account_id": account_id, "balance_pence": moves[account_id], "entry_count": counts[account_id]}
        for account_id in sorted(moves)
    ])


def _match_candidates(account_ids: set[int], first: date, last: date, taken=()) -> dict[int, list]:
    """Recorded entries not yet confirmed by a statement, and open expected items, near these dates
    (less those in `taken`, already used up by a batch not yet written)."""
    by_account: dict[int, list] = defaultdict(list)
    if not account_ids:
        return by_account
    low, high = first - MATCH_WINDOW, last + MATCH_WINDOW
    entries = db.session.execute(
        sa.select(LedgerEntry.id, LedgerEntry.account_id, LedgerEntry.amount_pence, LedgerEntry.entry_date)
        .join(EntryState, EntryState.entry_id == LedgerEntry.id)
        .where(
            LedgerEntry.account_id.in_(account_ids), LedgerEntry.external_id.is_(None),
            EntryState.confirmed_external_id.is_(None), LedgerEntry.source != EntrySource.CARD_IMPORT,
            LedgerEntry.entry_date.between(low, high),
        )
        .order_by(LedgerEntry.entry_date, LedgerEntry.id)
    ).all()
    for entry_id, account_id, amount, day in entries:
        if ("entry", entry_id) not in taken:
            by_account[account_id].append(["entry", entry_id, amount, day])
    items = db.session.execute(
        sa.select(ExpectedItem.id, ExpectedItem.account_id, ExpectedItem.amount_pence, ExpectedItem.due_date)
        .where(ExpectedItem.account_id.in_(account_ids), ExpectedItem.status == ExpectedStatus.OPEN,
               ExpectedItem.due_date.between(low, high))
        .order_by(ExpectedItem.due_date, ExpectedItem.id)
    ).all()
    for item_id, account_id, amount, day in items:
        if ("expected", item_id) not in taken:
            by_account[account_id].append(["expected", item_id, amount, day])
    return by_account


def _take_match(candidates, account_id: int, row: Row):
    """The closest-dated candidate with the same amount and direction within 5 days, used up once."""
    best = None
    for candidate in candidates.get(account_id, []):
        kind, ident, amount, day = candidate
        if amount == row.amount_pence and abs((day - row.entry_date).days) <= MATCH_WINDOW.days:
            if best is None or abs((day - row.entry_date).days) < abs((best[3] - row.entry_date).days):
                best = candidate
    if best is not None:
        candidates[account_id].remove(best)
        return best[0], best[1]
    return None


def _check_excess(groups: list[tuple[AccountInfo, list[Row]]], settings_cache: dict) -> None:
    """Excess checks before each council payment found, for many accounts in a handful of queries."""
    import bisect

    account_ids = [info.account_id for info, _ in groups]
    budgets: dict[int, list[Budget]] = defaultdict(list)
    for budget in db.session.scalars(
        sa.select(Budget).where(Budget.account_id.in_(account_ids))
        .options(selectinload(Budget.versions)).order_by(Budget.start_date, Budget.id)
    ):
        budgets[budget.account_id].append(budget)
    reviewed: dict[int, set[date]] = defaultdict(set)
    for account_id, cycle_start in db.session.execute(
        sa.select(ExcessBalanceReview.account_id, ExcessBalanceReview.cycle_start).where(ExcessBalanceReview.account_id.in_(account_ids))
    ):
        reviewed[account_id].add(cycle_start)
    owed = dict(db.session.execute(
        sa.select(ExpectedItem.account_id, -sa.func.sum(ExpectedItem.amount_pence))
        .where(ExpectedItem.account_id.in_(account_ids), ExpectedItem.status == ExpectedStatus.OPEN, ExpectedItem.amount_pence < 0)
        .group_by(ExpectedItem.account_id)
    ).all())
    latest = max(row.entry_date for _, rows in groups for row in rows)
    daily: dict[int, tuple[list[date], list[int]]] = defaultdict(lambda: ([], []))
    for account_id, day, amount in db.session.execute(
        sa.select(LedgerEntry.account_id, LedgerEntry.entry_date, sa.func.sum(LedgerEntry.amount_pence))
        .where(LedgerEntry.account_id.in_(account_ids), LedgerEntry.entry_date < latest)
        .group_by(LedgerEntry.account_id, LedgerEntry.entry_date)
        .order_by(LedgerEntry.account_id, LedgerEntry.entry_date)
    ):
        days, running = daily[account_id]
        days.append(day)
        running.append((running[-1] if running else 0) + int(amount))
    for info, rows in groups:
        account_budgets = budgets.get(info.account_id)
        if not account_budgets:
            continue
        days, running = daily[info.account_id]
        for row in sorted(rows, key=lambda r: r.entry_date):
            budget = next((b for b in account_budgets if b.start_date <= row.entry_date), None)
            version = None
            for candidate in budget.versions if budget else ():
                if candidate.effective_from <= row.entry_date:
                    version = candidate
            if version is None:
                continue
            key = (info.council_id, row.entry_date)
            if key not in settings_cache:
                settings_cache[key] = council_settings(info.council_id, row.entry_date)
            settings = settings_cache[key]
            cycle_start = cycles.cycle_start_on_or_before(settings.cycle_anchor, row.entry_date)
            if cycle_start in reviewed[info.account_id]:
                continue
            i = bisect.bisect_left(days, row.entry_date)  # the balance just before the payment's day
            position = excess.Position(
                balance_pence=running[i - 1] if i else 0, owed_pence=int(owed.get(info.account_id, 0)),
                contingency_pence=settings.contingency_pence, threshold_pence=settings.excess_weeks * version.gross_weekly_pence,
            )
            if excess.open_if_over(position, account_id=info.account_id, budget_id=budget.id, cycle_start=cycle_start):
                reviewed[info.account_id].add(cycle_start)


def resolve_unmatched(row: UnmatchedCardRow, account: DPAccount, *, user_id: int) -> LedgerEntry:
    """Attach a row kept for review to the right account: it is posted there, once."""
    from portal.services import ledger

    if row.resolved_entry_id is not None:
        raise ValueError("This row has already been attached to an account")
    council = db.session.get(Organisation, account.recipient.council_id)
    parsed = Row(0, row.external_id, row.card_reference, row.entry_date, row.amount_pence, row.merchant, row.mcc, row.description)
    kind = _kind(parsed, council.name)
    category, flags = Categoriser().classify(row.merchant, row.mcc)
    entry = ledger.post(
        account_id=account.id, kind=kind, amount_pence=row.amount_pence, entry_date=row.entry_date,
        source=EntrySource.CARD_IMPORT, payee=row.merchant, description=row.description, external_id=row.external_id,
        category=category, flags=flags if kind == EntryKind.SPEND else (), user_id=user_id,
    )
    row.resolved_entry_id, row.resolved_at, row.resolved_by_id = entry.id, utcnow(), user_id
    return entry
