"""Card statement import: the sample file's outcome, per-row results, layouts, malformed files,
rows kept for review, the CLI, and idempotence (a second import, a crash half-way).

The budgets the sample assumes (shared/samples/README.md) are set up by the `portal` fixture:
Northfield's cycles from 1 June 2026, Amina Patel on card NF-CARD-000101 at £448 a week with a £28
contribution (council pays net), Grace Okafor on NF-CARD-000102 at £356 a week.

Written to run on SQLite and on PostgreSQL (DATABASE_URL): every query orders explicitly and
compares values, never row ids.
"""

import csv
import io
import json
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal import create_app
from portal.extensions import db
from portal.models import (
    AccountBalance,
    BudgetKind,
    CardImport,
    CardImportRejection,
    Category,
    CouncilSettings,
    Delivery,
    DPAccount,
    EntryKind,
    EntrySource,
    EntryState,
    ExcessBalanceReview,
    ExpectedItem,
    ExpectedKind,
    ExpectedStatus,
    Flag,
    LedgerEntry,
    Organisation,
    Payee,
    PaymentMethod,
    UnmatchedCardRow,
)
from portal.services import budgets, card_import, ledger, payments
from tests.helpers import person_id, user_by_email

# The sample, verbatim (UTF-8 with a byte-order mark, CRLF line endings). Kept here so the tests do
# not depend on a folder outside the repository; test_the_embedded_sample_is_the_shared_one checks
# it against shared/samples/ wherever that folder is present.
SAMPLE_PATHS = [
    Path(__file__).resolve().parents[2] / "shared" / "samples" / "card-statement-sample.csv",
    Path("/work/shared/samples/card-statement-sample.csv"),
]
SAMPLE_TEXT = """\
Transaction ID,Card Account,Date,Time,Merchant,Merchant Category Code,Description,Debit,Credit,Balance
T880001,NF-CARD-000101,01/06/2026,06:00,NORTHFIELD CITY COUNCIL,,Direct payment 4-weekly,,1680.00,1680.00
T880002,NF-CARD-000102,01/06/2026,06:00,NORTHFIELD CITY COUNCIL,,Direct payment 4-weekly,,1424.00,1424.00
T880003,NF-CARD-000101,03/06/2026,09:12,CONTRIBUTION A PATEL,,Client contribution,,112.00,1792.00
T880004,NF-CARD-000101,05/06/2026,10:05,S CLARKE,,PA wages (fortnight),560.00,,1232.00
T880005,NF-CARD-000101,06/06/2026,11:24,BRIGHTPATH SUPPORT PAYROLL,8999,Payroll service fee,28.99,,1203.01
T880006,NF-CARD-000101,10/06/2026,15:40,CITY TAXIS NORTHFIELD,4121,Taxi to appointment,42.00,,1161.01
T880007,NF-CARD-000101,13/06/2026,12:30,NORTHFIELD LEISURE CENTRE,7997,Gym membership,29.99,,1131.02
T880008,NF-CARD-000101,19/06/2026,10:05,S CLARKE,,PA wages (fortnight),560.00,,571.02
T880009,NF-CARD-000101,21/06/2026,09:00,HMRC PAYE,9311,Employer PAYE and NI,96.00,,475.02
T880010,NF-CARD-000101,23/06/2026,17:15,TESCO STORES 2231,5411,Shopping (domestic),23.75,,451.27
T880011,NF-CARD-000102,06/06/2026,14:00,HOMECARE PLUS LTD,8050,Homecare invoice,520.00,,904.00
T880012,NF-CARD-000101,15/06/2026,13:00,ALLIANZ EMPLOYERS LIABILITY,6300,Employer's liability insurance (annual),155.00,,296.27
T880013,NF-CARD-000101,29/06/2026,06:00,NORTHFIELD CITY COUNCIL,,Direct payment 4-weekly,,1680.00,1976.27
T880014,NF-CARD-000102,29/06/2026,06:00,NORTHFIELD CITY COUNCIL,,Direct payment 4-weekly,,1424.00,2328.00
T880015,NF-CARD-000101,01/07/2026,09:12,CONTRIBUTION A PATEL,,Client contribution,,112.00,2088.27
T880016,NF-CARD-000101,03/07/2026,10:05,S CLARKE,,PA wages (fortnight),560.00,,1528.27
T880017,NF-CARD-000101,04/07/2026,11:24,BRIGHTPATH SUPPORT PAYROLL,8999,Payroll service fee,28.99,,1499.28
T880018,NF-CARD-000101,08/07/2026,15:40,CITY TAXIS NORTHFIELD,4121,Taxi to appointment,42.00,,1457.28
T880019,NF-CARD-000101,11/07/2026,12:30,NORTHFIELD LEISURE CENTRE,7997,Gym membership,29.99,,1427.29
T880020,NF-CARD-000101,17/07/2026,10:05,S CLARKE,,PA wages (fortnight),560.00,,867.29
T880021,NF-CARD-000101,19/07/2026,09:00,HMRC PAYE,9311,Employer PAYE and NI,96.00,,771.29
T880022,NF-CARD-000101,21/07/2026,17:15,TESCO STORES 2231,5411,Shopping (domestic),23.75,,747.54
T880023,NF-CARD-000102,04/07/2026,14:00,HOMECARE PLUS LTD,8050,Homecare invoice,520.00,,1808.00
T880024,NF-CARD-000101,11/07/2026,16:40,ATM CASH WITHDRAWAL NORTHFIELD HIGH ST,6011,Cash withdrawal,100.00,,647.54
T880025,NF-CARD-000101,12/07/2026,22:15,BETFAIR*EXCHANGE,7995,Online betting,20.00,,627.54
T880026,NF-CARD-000101,14/07/2026,10:05,TESCO STORES 2231,5411,Refund,,8.99,636.53
T880028,NF-CARD-999999,16/07/2026,12:00,UNKNOWN MERCHANT,5999,Card not on file,10.00,,-10.00
T880029,NF-CARD-000101,27/07/2026,06:00,NORTHFIELD CITY COUNCIL,,Direct payment 4-weekly,,1680.00,1996.53
T880030,NF-CARD-000102,27/07/2026,06:00,NORTHFIELD CITY COUNCIL,,Direct payment 4-weekly,,1424.00,3232.00
T880031,NF-CARD-000101,29/07/2026,09:12,CONTRIBUTION A PATEL,,Client contribution,,112.00,2108.53
T880032,NF-CARD-000101,31/07/2026,10:05,S CLARKE,,PA wages (fortnight),560.00,,1548.53
T880033,NF-CARD-000101,01/08/2026,11:24,BRIGHTPATH SUPPORT PAYROLL,8999,Payroll service fee,28.99,,1519.54
T880034,NF-CARD-000101,05/08/2026,15:40,CITY TAXIS NORTHFIELD,4121,Taxi to appointment,42.00,,1477.54
T880035,NF-CARD-000101,08/08/2026,12:30,NORTHFIELD LEISURE CENTRE,7997,Gym membership,29.99,,1447.55
T880036,NF-CARD-000101,14/08/2026,10:05,S CLARKE,,PA wages (fortnight),560.00,,887.55
T880037,NF-CARD-000101,16/08/2026,09:00,HMRC PAYE,9311,Employer PAYE and NI,96.00,,791.55
T880038,NF-CARD-000101,18/08/2026,17:15,TESCO STORES 2231,5411,Shopping (domestic),23.75,,767.80
T880039,NF-CARD-000102,01/08/2026,14:00,HOMECARE PLUS LTD,8050,Homecare invoice,520.00,,2712.00
T880040,NF-CARD-000101,24/08/2026,06:00,NORTHFIELD CITY COUNCIL,,Direct payment 4-weekly,,1680.00,2447.80
T880041,NF-CARD-000102,24/08/2026,06:00,NORTHFIELD CITY COUNCIL,,Direct payment 4-weekly,,1424.00,4136.00
T880042,NF-CARD-000101,26/08/2026,09:12,CONTRIBUTION A PATEL,,Client contribution,,112.00,2559.80
T880043,NF-CARD-000101,28/08/2026,10:05,S CLARKE,,PA wages (fortnight),560.00,,1999.80
T880044,NF-CARD-000101,29/08/2026,11:24,BRIGHTPATH SUPPORT PAYROLL,8999,Payroll service fee,28.99,,1970.81
T880045,NF-CARD-000101,02/09/2026,15:40,CITY TAXIS NORTHFIELD,4121,Taxi to appointment,42.00,,1928.81
T880046,NF-CARD-000101,05/09/2026,12:30,NORTHFIELD LEISURE CENTRE,7997,Gym membership,29.99,,1898.82
T880047,NF-CARD-000101,11/09/2026,10:05,S CLARKE,,PA wages (fortnight),560.00,,1338.82
T880048,NF-CARD-000101,13/09/2026,09:00,HMRC PAYE,9311,Employer PAYE and NI,96.00,,1242.82
T880049,NF-CARD-000101,15/09/2026,17:15,TESCO STORES 2231,5411,Shopping (domestic),23.75,,1219.07
T880050,NF-CARD-000102,29/08/2026,14:00,HOMECARE PLUS LTD,8050,Homecare invoice,520.00,,3616.00
T880027,NF-CARD-000101,15/07/2026,11:30,"O'NEILL, SMITH & CO ""CARE"" LTD",8050,"Respite care, 2 nights",320.00,,316.53
T880051,NF-CARD-000102,20/08/2026,08:00,NORTHFIELD CITY COUNCIL,,Reclaim of excess balance,1500.00,,2116.00
T880010,NF-CARD-000101,23/06/2026,17:15,TESCO STORES 2231,5411,Shopping (domestic),23.75,,451.27
"""
SAMPLE_BYTES = b"\xef\xbb\xbf" + SAMPLE_TEXT.replace("\n", "\r\n").encode("utf-8")

AMINA_CARD, GRACE_CARD, UNKNOWN_CARD = "NF-CARD-000101", "NF-CARD-000102", "NF-CARD-999999"
# README: money that moved, per account (pence).
EXPECTED_MONEY = {
    AMINA_CARD: {"credits": 717699, "debits": 595792, "net": 121907},
    GRACE_CARD: {"credits": 569600, "debits": 358000, "net": 211600},
}
# Distinct rows per known account in the sample (51 distinct, one of them for the unknown card).
EXPECTED_ENTRIES = {AMINA_CARD: 41, GRACE_CARD: 9}
COUNCIL_CREDITS = {
    AMINA_CARD: ["T880001", "T880013", "T880029", "T880040"],
    GRACE_CARD: ["T880002", "T880014", "T880030", "T880041"],
}
CONTRIBUTIONS = ["T880003", "T880015", "T880031", "T880042"]
STANDARD_HEADER = "Transaction ID,Card Account,Date,Time,Merchant,Merchant Category Code,Description,Debit,Credit,Balance"
SIGNED_HEADER = ["TxnRef", "AccountRef", "PostingDate", "Payee", "MCC", "Narrative", "Amount"]


# Fixtures ------------------------------------------------------------------------------------


@dataclass
class Portal:
    """An app whose database holds the demo personas and the two budgets the sample assumes."""

    app: object
    amina: int
    grace: int
    amina_account: int
    grace_account: int
    council_id: int

    def account_for(self, card: str) -> int:
        return {AMINA_CARD: self.amina_account, GRACE_CARD: self.grace_account}[card]


def _set_up_sample_budgets(app) -> Portal:
    amina, grace = person_id(app, "Amina", "Patel"), person_id(app, "Grace", "Okafor")
    with app.app_context():
        northfield = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Northfield City Council"))
        db.session.add(CouncilSettings(council_id=northfield, effective_from=date(2026, 1, 1), cycle_anchor=date(2026, 6, 1)))
        a = budgets.open_account(amina, PaymentMethod.PREPAID_CARD, date(2026, 5, 1), card_reference=AMINA_CARD)
        g = budgets.open_account(grace, PaymentMethod.PREPAID_CARD, date(2026, 5, 1), card_reference=GRACE_CARD)
        for person, account, amounts in (
            (amina, a, budgets.Amounts(44800, 2800, True)),
            (grace, g, budgets.Amounts(35600, 0, True)),
        ):
            budgets.create_budget(
                recipient_id=person, account=account, kind=BudgetKind.ONGOING, delivery=Delivery.DIRECT_PAYMENT,
                start_date=date(2026, 6, 1), agreed_on=date(2026, 5, 1), first_payment_date=date(2026, 6, 1),
                amounts=amounts,
            )
        db.session.commit()
        return Portal(app, amina, grace, a.id, g.id, northfield)


@pytest.fixture
def portal(app) -> Portal:
    return _set_up_sample_budgets(app)


@pytest.fixture
def make_portal(databases):
    """More portals in one test (to compare two ways of reaching the same state)."""
    made = []

    def make() -> Portal:
        url = databases.create("demo")
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SERVER_NAME": "localhost"})
        made.append((app, url))
        return _set_up_sample_budgets(app)

    yield make
    for app, url in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        databases.drop(url)


@pytest.fixture
def sample(tmp_path) -> Path:
    path = tmp_path / "card-statement-sample.csv"
    path.write_bytes(SAMPLE_BYTES)
    return path


# Helpers -------------------------------------------------------------------------------------


def run_import(portal: Portal, path: Path, layout=card_import.STANDARD) -> card_import.Report:
    with portal.app.app_context():
        return card_import.import_file(path, layout)


def record_payments_and_reclaim_first(portal: Portal) -> payments.RunReport:
    """Order (b): the council's payment runs to 24 August and Grace's £1,500 reclaim, before the file."""
    with portal.app.app_context():
        run = payments.run(date(2026, 8, 24))
        ledger.post(
            account_id=portal.grace_account, kind=EntryKind.RECLAIM, amount_pence=-150000, entry_date=date(2026, 8, 20),
            source=EntrySource.MANUAL, payee="Northfield City Council", description="Reclaim of excess balance",
        )
        db.session.commit()
        return run


def money(account_id: int) -> dict[str, int]:
    amounts = db.session.scalars(sa.select(LedgerEntry.amount_pence).where(LedgerEntry.account_id == account_id)).all()
    credits = sum(a for a in amounts if a > 0)
    debits = -sum(a for a in amounts if a < 0)
    return {"credits": credits, "debits": debits, "net": credits - debits}


def entry_count(account_id: int) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry).where(LedgerEntry.account_id == account_id))


def assert_balance_cache_holds(*account_ids: int) -> None:
    for account_id in account_ids:
        assert ledger.balance(account_id) == ledger.balance_from_entries(account_id), f"account {account_id}"
        cached_count = db.session.scalar(sa.select(AccountBalance.entry_count).where(AccountBalance.account_id == account_id))
        assert cached_count == entry_count(account_id), f"account {account_id}: cached entry count"


def entry(external_id: str) -> LedgerEntry:
    found = db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.external_id == external_id)).all()
    assert len(found) == 1, f"{external_id}: {len(found)} entries"
    return found[0]


def snapshot(*, with_reviews: bool = False) -> dict:
    """Everything an import can change, without row ids (so two databases can be compared)."""
    confirmed_by = sa.orm.aliased(EntryState)
    entries = db.session.execute(
        sa.select(
            DPAccount.card_reference, LedgerEntry.kind, LedgerEntry.amount_pence, LedgerEntry.entry_date, LedgerEntry.source,
            LedgerEntry.external_id, LedgerEntry.payment_key, Payee.name, LedgerEntry.description, confirmed_by.category,
            confirmed_by.flags, confirmed_by.needs_evidence, confirmed_by.needs_explanation, confirmed_by.confirmed_external_id,
        )
        .join(DPAccount, DPAccount.id == LedgerEntry.account_id)
        .join(confirmed_by, confirmed_by.entry_id == LedgerEntry.id)
        .outerjoin(Payee, Payee.id == LedgerEntry.payee_id)
    ).all()
    settled_by = sa.orm.aliased(LedgerEntry)
    expected = db.session.execute(
        sa.select(ExpectedItem.key, ExpectedItem.kind, ExpectedItem.amount_pence, ExpectedItem.due_date, ExpectedItem.status,
                  settled_by.external_id)
        .outerjoin(settled_by, settled_by.id == ExpectedItem.settled_by_id)
    ).all()
    balances = db.session.execute(
        sa.select(DPAccount.card_reference, AccountBalance.balance_pence, AccountBalance.entry_count)
        .join(DPAccount, DPAccount.id == AccountBalance.account_id)
        .where(DPAccount.card_reference.is_not(None))
    ).all()
    resolved = sa.orm.aliased(LedgerEntry)
    unmatched = db.session.execute(
        sa.select(UnmatchedCardRow.external_id, UnmatchedCardRow.card_reference, UnmatchedCardRow.entry_date,
                  UnmatchedCardRow.amount_pence, UnmatchedCardRow.merchant, resolved.external_id)
        .outerjoin(resolved, resolved.id == UnmatchedCardRow.resolved_entry_id)
    ).all()
    state = {
        "entries": sorted(map(tuple, entries), key=repr),
        "expected": sorted(map(tuple, expected), key=repr),
        "balances": sorted(map(tuple, balances), key=repr),
        "unmatched": sorted(map(tuple, unmatched), key=repr),
    }
    if with_reviews:
        reviews = db.session.execute(
            sa.select(DPAccount.card_reference, ExcessBalanceReview.cycle_start, ExcessBalanceReview.balance_pence,
                      ExcessBalanceReview.excess_pence)
            .join(DPAccount, DPAccount.id == ExcessBalanceReview.account_id)
        ).all()
        state["reviews"] = sorted(map(tuple, reviews), key=repr)
    return state


def sample_rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(SAMPLE_TEXT)))


def write_standard(path: Path, lines: list[str | bytes], *, bom: bool = True, header: str = STANDARD_HEADER) -> Path:
    """A standard-layout file from raw lines (str encoded as UTF-8, bytes written as they are)."""
    body = [header.encode("utf-8")] + [line if isinstance(line, bytes) else line.encode("utf-8") for line in lines]
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + b"\r\n".join(body) + b"\r\n")
    return path


def good(ref: str, amount: str = "10.00", *, card: str = AMINA_CARD, day: str = "02/06/2026", credit: bool = False) -> str:
    debit, credit_ = ("", amount) if credit else (amount, "")
    return f"{ref},{card},{day},10:00,TESCO STORES 2231,5411,Shopping,{debit},{credit_},"


# The sample's outcome --------------------------------------------------------------------------


def test_the_embedded_sample_is_the_shared_one():
    present = [p for p in SAMPLE_PATHS if p.is_file()]
    if not present:
        pytest.skip("shared/samples/ is not next to this checkout")
    assert present[0].read_bytes() == SAMPLE_BYTES


def test_the_expected_figures_follow_from_the_file_itself():
    """The README's figures, worked out from the CSV with plain Python (so the constants are not guesses)."""
    seen, totals = set(), {}
    for row in sample_rows():
        if row["Transaction ID"] in seen:
            continue
        seen.add(row["Transaction ID"])
        t = totals.setdefault(row["Card Account"], {"credits": 0, "debits": 0, "rows": 0})
        t["rows"] += 1
        if row["Credit"]:
            t["credits"] += round(float(row["Credit"]) * 100)
        if row["Debit"]:
            t["debits"] += round(float(row["Debit"]) * 100)
    assert len(sample_rows()) == 52 and len(seen) == 51
    for card, want in EXPECTED_MONEY.items():
        assert (totals[card]["credits"], totals[card]["debits"]) == (want["credits"], want["debits"])
        assert totals[card]["rows"] == EXPECTED_ENTRIES[card]
    assert totals[UNKNOWN_CARD]["rows"] == 1


@pytest.mark.parametrize("order", ["import alone", "payments and reclaim recorded first"])
def test_the_sample_gives_the_readme_outcome(portal, sample, order):
    if order != "import alone":
        run = record_payments_and_reclaim_first(portal)
        assert (run.payments_posted, run.contributions_expected) == (8, 4)
        with portal.app.app_context():
            assert entry_count(portal.amina_account) == 4 and entry_count(portal.grace_account) == 5

    report = run_import(portal, sample)

    assert report.file_error is None
    assert report.rows_read == 52
    assert report.duplicates == 1
    assert report.unknown_accounts == 1
    assert report.rejected == []
    assert report.flagged == 2
    # 51 distinct rows: one kept for review, the other 50 posted or matched to what the portal knew.
    assert report.posted + report.confirmed == 50
    if order == "import alone":
        assert (report.posted, report.confirmed) == (50, 0)
    else:
        # 8 council payments and the reclaim confirmed, 4 expected contributions settled.
        assert (report.posted, report.confirmed) == (37, 13)

    with portal.app.app_context():
        for card, want in EXPECTED_MONEY.items():
            account = portal.account_for(card)
            assert money(account) == want, card
            # The council's credits and the reclaim confirm what was recorded: no extra entries.
            assert entry_count(account) == EXPECTED_ENTRIES[card], card
        assert_balance_cache_holds(portal.amina_account, portal.grace_account)

        # Nothing blocked, nothing dropped: the unknown card's row is kept for review, unresolved.
        unmatched = db.session.scalars(sa.select(UnmatchedCardRow)).all()
        assert [(u.external_id, u.card_reference, u.amount_pence, u.entry_date, u.resolved_entry_id) for u in unmatched] == [
            ("T880028", UNKNOWN_CARD, -1000, date(2026, 7, 16), None)
        ]
        assert db.session.scalar(sa.select(LedgerEntry.id).where(LedgerEntry.external_id == "T880028")) is None

        # Which entries carry which flag.
        flagged = db.session.execute(
            sa.select(LedgerEntry.external_id, EntryState.flags, EntryState.needs_explanation)
            .join(EntryState, EntryState.entry_id == LedgerEntry.id)
            .where(EntryState.flags != "")
            .order_by(LedgerEntry.external_id)
        ).all()
        assert [tuple(f) for f in flagged] == [("T880024", Flag.CASH.value, True), ("T880025", Flag.GAMBLING.value, True)]
        assert entry("T880024").state.flag_list == [Flag.CASH.value]

        # The duplicate row was posted once.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry).where(LedgerEntry.external_id == "T880010")) == 1

        # What the import recorded about itself agrees with the report.
        record = db.session.get(CardImport, report.import_id)
        assert (record.rows_read, record.posted, record.confirmed, record.duplicates, record.unknown_accounts,
                record.rejected, record.flagged) == (52, report.posted, report.confirmed, 1, 1, 0, 2)
        assert record.finished_at is not None and record.rejections == []

        council_payments = db.session.execute(
            sa.select(LedgerEntry.account_id, LedgerEntry.source, LedgerEntry.external_id, EntryState.confirmed_external_id)
            .join(EntryState, EntryState.entry_id == LedgerEntry.id)
            .where(LedgerEntry.kind == EntryKind.COUNCIL_PAYMENT)
            .order_by(LedgerEntry.entry_date, LedgerEntry.account_id)
        ).all()
        reclaims = db.session.execute(
            sa.select(LedgerEntry.account_id, LedgerEntry.amount_pence, LedgerEntry.entry_date, LedgerEntry.source,
                      LedgerEntry.external_id, EntryState.confirmed_external_id)
            .join(EntryState, EntryState.entry_id == LedgerEntry.id)
            .where(LedgerEntry.kind == EntryKind.RECLAIM)
        ).all()
        contributions = db.session.execute(
            sa.select(ExpectedItem.kind, ExpectedItem.amount_pence, ExpectedItem.status, LedgerEntry.external_id)
            .outerjoin(LedgerEntry, LedgerEntry.id == ExpectedItem.settled_by_id)
            .order_by(ExpectedItem.due_date)
        ).all()
        if order == "import alone":
            assert {p.source for p in council_payments} == {EntrySource.CARD_IMPORT}
            assert sorted(p.external_id for p in council_payments) == sorted(ref for refs in COUNCIL_CREDITS.values() for ref in refs)
            assert [tuple(r) for r in reclaims] == [
                (portal.grace_account, -150000, date(2026, 8, 20), EntrySource.CARD_IMPORT, "T880051", None)
            ]
            assert contributions == []
        else:
            # Each recorded payment carries the statement row that confirmed it, and has no copy.
            assert {p.source for p in council_payments} == {EntrySource.PAYMENT_RUN}
            assert {p.external_id for p in council_payments} == {None}
            confirmed = {}
            for p in council_payments:
                confirmed.setdefault(p.account_id, []).append(p.confirmed_external_id)
            assert confirmed == {portal.account_for(card): ids for card, ids in COUNCIL_CREDITS.items()}
            assert [tuple(r) for r in reclaims] == [
                (portal.grace_account, -150000, date(2026, 8, 20), EntrySource.MANUAL, None, "T880051")
            ]
            # The contributions the run expected are settled by the statement's contribution rows.
            assert [tuple(c) for c in contributions] == [
                (ExpectedKind.CONTRIBUTION_DUE, 11200, ExpectedStatus.SETTLED, ref) for ref in CONTRIBUTIONS
            ]
            assert ledger.money_owed(portal.amina_account) == 0


@pytest.mark.parametrize("order", ["import alone", "payments and reclaim recorded first"])
def test_importing_the_same_file_again_changes_nothing(portal, sample, order):
    if order != "import alone":
        record_payments_and_reclaim_first(portal)
    first = run_import(portal, sample)
    with portal.app.app_context():
        before = snapshot(with_reviews=True)

    again = run_import(portal, sample)

    # Everything in the file has been seen: each of the 52 rows (the unknown card's row included,
    # it is already kept for review) is counted a duplicate, and nothing else happens.
    assert again.file_error is None and again.import_id != first.import_id
    assert (again.rows_read, again.duplicates) == (52, 52)
    assert (again.posted, again.confirmed, again.unknown_accounts, again.flagged, again.rejected) == (0, 0, 0, 0, [])
    with portal.app.app_context():
        assert snapshot(with_reviews=True) == before
        for card, want in EXPECTED_MONEY.items():
            assert money(portal.account_for(card)) == want
        assert_balance_cache_holds(portal.amina_account, portal.grace_account)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CardImport)) == 2


def test_payments_recorded_first_end_in_the_same_ledger_as_import_alone_apart_from_provenance(make_portal, sample):
    """Same kinds, amounts and dates per account either way; only where the entries came from differs."""
    alone, runs_first = make_portal(), make_portal()
    run_import(alone, sample)
    record_payments_and_reclaim_first(runs_first)
    run_import(runs_first, sample)

    def movements(portal):
        with portal.app.app_context():
            return sorted(
                tuple(r) for r in db.session.execute(
                    sa.select(DPAccount.card_reference, LedgerEntry.kind, LedgerEntry.amount_pence, LedgerEntry.entry_date)
                    .join(DPAccount, DPAccount.id == LedgerEntry.account_id)
                ).all()
            )

    assert movements(alone) == movements(runs_first)


def test_a_payment_run_recorded_after_the_statement_does_not_pay_twice(portal, sample):
    run_import(portal, sample)
    with portal.app.app_context():
        payments.run(date(2026, 8, 24))
        for card, want in EXPECTED_MONEY.items():
            assert money(portal.account_for(card)) == want, card
            assert entry_count(portal.account_for(card)) == EXPECTED_ENTRIES[card], card
        assert ledger.money_owed(portal.amina_account) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ExpectedItem)
                                 .where(ExpectedItem.status == ExpectedStatus.OPEN)) == 0


# Each row's outcome -------------------------------------------------------------------------------


def test_each_row_gets_the_right_kind_category_date_and_evidence_need(portal, sample):
    run_import(portal, sample)
    with portal.app.app_context():
        def check(ref, *, card, kind, amount, day, category=None, evidence=None, payee=None, description=None):
            e = entry(ref)
            assert e.account_id == portal.account_for(card), ref
            assert (e.kind, e.amount_pence, e.entry_date, e.source) == (kind, amount, day, EntrySource.CARD_IMPORT), ref
            assert e.state.category == category, ref
            expected_evidence = kind == EntryKind.SPEND if evidence is None else evidence
            assert e.state.needs_evidence is expected_evidence, ref
            if payee is not None:
                assert e.payee.name == payee, ref
            if description is not None:
                assert e.description == description, ref
            return e

        check("T880001", card=AMINA_CARD, kind=EntryKind.COUNCIL_PAYMENT, amount=168000, day=date(2026, 6, 1),
              payee="NORTHFIELD CITY COUNCIL")
        check("T880002", card=GRACE_CARD, kind=EntryKind.COUNCIL_PAYMENT, amount=142400, day=date(2026, 6, 1))
        check("T880003", card=AMINA_CARD, kind=EntryKind.CONTRIBUTION, amount=11200, day=date(2026, 6, 3))
        check("T880004", card=AMINA_CARD, kind=EntryKind.SPEND, amount=-56000, day=date(2026, 6, 5), payee="S CLARKE")
        check("T880005", card=AMINA_CARD, kind=EntryKind.SPEND, amount=-2899, day=date(2026, 6, 6),
              category=Category.PAYROLL_AND_SUPPORT_FEES)
        check("T880006", card=AMINA_CARD, kind=EntryKind.SPEND, amount=-4200, day=date(2026, 6, 10), category=Category.TRAVEL,
              description="Taxi to appointment")
        check("T880007", card=AMINA_CARD, kind=EntryKind.SPEND, amount=-2999, day=date(2026, 6, 13),
              category=Category.SOCIAL_ACTIVITIES)
        check("T880009", card=AMINA_CARD, kind=EntryKind.SPEND, amount=-9600, day=date(2026, 6, 21), category=Category.PA_WAGES)
        check("T880010", card=AMINA_CARD, kind=EntryKind.SPEND, amount=-2375, day=date(2026, 6, 23), category=Category.DOMESTIC)
        check("T880011", card=GRACE_CARD, kind=EntryKind.SPEND, amount=-52000, day=date(2026, 6, 6), category=Category.HOMECARE)
        check("T880012", card=AMINA_CARD, kind=EntryKind.SPEND, amount=-15500, day=date(2026, 6, 15), category=Category.INSURANCE,
              description="Employer's liability insurance (annual)")
        check("T880024", card=AMINA_CARD, kind=EntryKind.SPEND, amount=-10000, day=date(2026, 7, 11), category=Category.OTHER)
        check("T880025", card=AMINA_CARD, kind=EntryKind.SPEND, amount=-2000, day=date(2026, 7, 12), category=Category.OTHER)
        # A refund is money in, not spend: positive, no receipt needed, no flag; it keeps the
        # merchant's category, so it offsets that category's spend.
        refund = check("T880026", card=AMINA_CARD, kind=EntryKind.REFUND, amount=899, day=date(2026, 7, 14), evidence=False,
                       payee="TESCO STORES 2231", category=Category.DOMESTIC)
        assert refund.state.flags == ""
        # The comma and the doubled quotes in the merchant are CSV quoting, parsed exactly; the row came
        # late and out of order, and is posted with its own date.
        check("T880027", card=AMINA_CARD, kind=EntryKind.SPEND, amount=-32000, day=date(2026, 7, 15),
              category=Category.HOMECARE, payee="O'NEILL, SMITH & CO \"CARE\" LTD", description="Respite care, 2 nights")
        # The council's reclaim, also late: money out, but not spend, so no receipt and no flag.
        reclaim = check("T880051", card=GRACE_CARD, kind=EntryKind.RECLAIM, amount=-150000, day=date(2026, 8, 20), evidence=False,
                        payee="NORTHFIELD CITY COUNCIL", description="Reclaim of excess balance")
        assert reclaim.state.flags == "" and not reclaim.state.needs_explanation

        # Every card spend needs a receipt (the council's threshold is £0); nothing else does.
        states = db.session.execute(
            sa.select(LedgerEntry.kind, EntryState.needs_evidence).join(EntryState, EntryState.entry_id == LedgerEntry.id)
        ).all()
        assert all(needs is (kind == EntryKind.SPEND) for kind, needs in states)
        assert sum(1 for kind, _ in states if kind == EntryKind.SPEND) == 50 - 8 - 4 - 1 - 1  # 36 spends
        kinds = db.session.execute(
            sa.select(LedgerEntry.kind, sa.func.count()).group_by(LedgerEntry.kind).order_by(LedgerEntry.kind)
        ).all()
        assert dict(kinds) == {EntryKind.COUNCIL_PAYMENT: 8, EntryKind.CONTRIBUTION: 4, EntryKind.REFUND: 1,
                               EntryKind.RECLAIM: 1, EntryKind.SPEND: 36}


def test_windows_and_unix_line_endings_and_a_missing_bom_give_the_same_result(make_portal, tmp_path):
    variants = {
        "crlf-bom": SAMPLE_BYTES,
        "lf-bom": b"\xef\xbb\xbf" + SAMPLE_TEXT.encode("utf-8"),
        "lf-no-bom": SAMPLE_TEXT.encode("utf-8"),
    }
    results = []
    for name, data in variants.items():
        path = tmp_path / f"{name}.csv"
        path.write_bytes(data)
        portal = make_portal()
        report = run_import(portal, path)
        with portal.app.app_context():
            results.append(((report.rows_read, report.posted, report.duplicates, report.unknown_accounts, report.rejected),
                            snapshot()))
    assert results[0][0] == (52, 50, 1, 1, [])
    assert all(r == results[0] for r in results)


def test_a_control_character_inside_a_field_does_not_split_the_row(portal, tmp_path):
    """csv wants a text stream that splits lines only at CR/LF. A stray U+0085 (NEL: a Windows-1252
    ellipsis read as Latin-1), form feed or U+2028 in a merchant's name must stay inside its field,
    and the line numbers of later rows must still be physical lines."""
    path = write_standard(tmp_path / "nel.csv", [
        "T1,NF-CARD-000101,02/06/2026,10:00,CAFE\u0085 NORTHFIELD,5812,Lunch\u2028out,4.50,,",
        "T2,NF-CARD-000101,02/06/2026,10:00,PRINT\x0cSHOP,5999,Copies,1.00,,",
        "T3,NF-CARD-000101,31/02/2026,10:00,TESCO,5411,Bad date,1.00,,",
    ])
    report = run_import(portal, path)
    assert report.rejected and [line for line, _ in report.rejected] == [4]
    assert (report.rows_read, report.posted) == (3, 2)
    with portal.app.app_context():
        assert entry("T1").payee.name == "CAFE\u0085 NORTHFIELD"


def test_spend_outside_the_support_plan_is_flagged(portal, tmp_path):
    with portal.app.app_context():
        budgets.create_plan(portal.amina, date(2026, 5, 1), "Stay at home with support", [
            budgets.Line(Category.PA_WAGES, "Sophie, 20 hours a week", 179200),
            budgets.Line(Category.DOMESTIC, "Shopping help", 10000),
        ])
        db.session.commit()
    path = write_standard(tmp_path / "plan.csv", [
        "P1,NF-CARD-000101,10/06/2026,15:40,CITY TAXIS NORTHFIELD,4121,Taxi,42.00,,",
        "P2,NF-CARD-000101,10/06/2026,15:40,TESCO STORES 2231,5411,Shopping,4.00,,",
        "P3,NF-CARD-000101,10/06/2026,15:40,S CLARKE,,PA wages,560.00,,",
        "P4,NF-CARD-000101,10/06/2026,15:40,CITY TAXIS NORTHFIELD,4121,Refund,,42.00,",
    ])
    report = run_import(portal, path)
    assert report.flagged == 1
    with portal.app.app_context():
        assert entry("P1").state.flag_list == [Flag.OUTSIDE_PLAN.value] and entry("P1").state.needs_explanation
        # In the plan, not categorised (nothing to judge), and money in: no flag.
        assert [entry(ref).state.flags for ref in ("P2", "P3", "P4")] == ["", "", ""]


def test_merchant_text_rules_match_words_not_fragments_of_words(portal, tmp_path):
    path = write_standard(tmp_path / "words.csv", [
        "W1,NF-CARD-000101,10/06/2026,10:00,BETTER LEISURE NORTHFIELD,7997,Swim,5.20,,",
        "W2,NF-CARD-000101,10/06/2026,10:00,DIABETES UK SHOP,5912,Test strips,12.00,,",
        "W3,NF-CARD-000101,10/06/2026,10:00,NORTHFIELD PHYSIO TREATMENT,,Physiotherapy,40.00,,",
        "W4,NF-CARD-000101,10/06/2026,10:00,BET365,,Bet,5.00,,",
        "W5,NF-CARD-000101,10/06/2026,10:00,ATM HIGH ST,,Cash,10.00,,",
    ])
    run_import(portal, path)
    with portal.app.app_context():
        assert [entry(ref).state.flags for ref in ("W1", "W2", "W3")] == ["", "", ""]
        assert (entry("W4").state.flags, entry("W5").state.flags) == (Flag.GAMBLING.value, Flag.CASH.value)


# A second layout and a column mapping --------------------------------------------------------------


def signed_iso_bytes(header: list[str] = SIGNED_HEADER, *, delimiter: str = ";", date_format: str = "%Y-%m-%d") -> bytes:
    """The sample's transactions as another provider would send them: one signed amount, no BOM."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    for row in sample_rows():
        day = datetime.strptime(row["Date"], "%d/%m/%Y").strftime(date_format)
        amount = row["Credit"] if row["Credit"] else "-" + row["Debit"]
        writer.writerow([row["Transaction ID"], row["Card Account"], day, row["Merchant"], row["Merchant Category Code"],
                         row["Description"], amount])
    return out.getvalue().encode("utf-8")


def test_the_signed_iso_layout_gives_the_same_outcome(make_portal, tmp_path):
    standard_path = tmp_path / "standard.csv"
    standard_path.write_bytes(SAMPLE_BYTES)
    signed_path = tmp_path / "signed.csv"
    data = signed_iso_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.splitlines()[0] == b"TxnRef;AccountRef;PostingDate;Payee;MCC;Narrative;Amount"
    assert b'"O\'NEILL, SMITH & CO ""CARE"" LTD"' in data and b";2026-07-15;" in data and b";-320.00" in data
    signed_path.write_bytes(data)

    standard, signed = make_portal(), make_portal()
    standard_report = run_import(standard, standard_path)
    signed_report = run_import(signed, signed_path, card_import.SIGNED_ISO)

    assert (signed_report.rows_read, signed_report.posted, signed_report.duplicates, signed_report.unknown_accounts,
            signed_report.flagged, signed_report.rejected) == (52, 50, 1, 1, 2, [])
    with signed.app.app_context():
        for card, want in EXPECTED_MONEY.items():
            assert money(signed.account_for(card)) == want
        assert_balance_cache_holds(signed.amina_account, signed.grace_account)
        assert entry("T880027").payee.name == "O'NEILL, SMITH & CO \"CARE\" LTD"
        signed_state = snapshot(with_reviews=True)
    with standard.app.app_context():
        assert snapshot(with_reviews=True) == signed_state
    assert standard_report.posted == signed_report.posted


def test_a_json_column_mapping_reads_a_third_layout(make_portal, tmp_path):
    headers = ["Reference", "Card number", "Booked on", "Counterparty", "Category code", "Memo", "Value (GBP)"]
    mapping = {
        "name": "tab-dotted",
        "columns": {
            "transaction_id": headers[0], "card_account": headers[1], "date": headers[2], "merchant": headers[3],
            "mcc": headers[4], "description": headers[5], "amount": headers[6],
        },
        "date_format": "%d.%m.%Y",
        "delimiter": "\t",
        "amounts": "signed",
    }
    mapping_path = tmp_path / "provider.json"
    mapping_path.write_text(json.dumps(mapping), encoding="utf-8")
    data_path = tmp_path / "provider.tsv"
    data_path.write_bytes(signed_iso_bytes(headers, delimiter="\t", date_format="%d.%m.%Y"))

    layout = card_import.layout_from_mapping(mapping_path)
    assert (layout.name, layout.delimiter, layout.amounts, layout.date_format) == ("tab-dotted", "\t", "signed", "%d.%m.%Y")
    portal = make_portal()
    report = run_import(portal, data_path, layout)
    assert (report.rows_read, report.posted, report.duplicates, report.unknown_accounts, report.flagged, report.rejected) == (
        52, 50, 1, 1, 2, [])
    with portal.app.app_context():
        for card, want in EXPECTED_MONEY.items():
            assert money(portal.account_for(card)) == want
        assert db.session.get(CardImport, report.import_id).layout == "tab-dotted"

    # The same mapping against a file that lacks one of its columns says which.
    wrong = tmp_path / "wrong.tsv"
    wrong.write_bytes(signed_iso_bytes(headers[:6] + ["Amount"], delimiter="\t", date_format="%d.%m.%Y"))
    report = run_import(portal, wrong, layout)
    assert report.file_error and "Value (GBP)" in report.file_error


def test_a_mapping_with_debit_and_credit_columns_and_the_default_date_format(portal, tmp_path):
    mapping_path = tmp_path / "dc.json"
    mapping_path.write_text(json.dumps({"columns": {
        "transaction_id": "Id", "card_account": "Card", "date": "When", "merchant": "Who", "debit": "Out", "credit": "In",
    }}), encoding="utf-8")
    layout = card_import.layout_from_mapping(mapping_path)
    assert (layout.name, layout.delimiter, layout.amounts) == ("dc", ",", "debit_credit")
    path = tmp_path / "dc.csv"
    path.write_text("Id,Card,When,Who,Out,In\nX1,NF-CARD-000101,02/06/2026,TESCO,12.50,\nX2,NF-CARD-000101,03/06/2026,TESCO,,2.50\n",
                    encoding="utf-8")
    report = run_import(portal, path, layout)
    assert (report.rows_read, report.posted, report.rejected) == (2, 2, [])
    with portal.app.app_context():
        assert (entry("X1").amount_pence, entry("X2").amount_pence) == (-1250, 250)
        assert entry("X1").description == "" and entry("X1").state.category is None


# Malformed files: a report, never an exception or a half-import ----------------------------------------


def assert_nothing_posted(portal: Portal) -> None:
    with portal.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(UnmatchedCardRow)) == 0
        assert ledger.balance(portal.amina_account) == 0


def test_a_row_that_is_not_utf8_is_rejected_with_its_line_and_the_rest_imported(portal, tmp_path):
    path = write_standard(tmp_path / "latin1.csv", [
        good("E1", "1.00"),
        b"E2,NF-CARD-000101,02/06/2026,10:00,CAF\xe9 ROUGE,5812,Lunch,4.50,,",
        good("E3", "3.00"),
    ])
    report = run_import(portal, path)
    assert report.file_error is None
    assert (report.rows_read, report.posted) == (3, 2)
    assert len(report.rejected) == 1
    line, reason = report.rejected[0]
    assert line == 3 and "UTF-8" in reason
    assert "  line 3: " + reason in report.lines()
    with portal.app.app_context():
        assert sorted(db.session.scalars(sa.select(LedgerEntry.external_id))) == ["E1", "E3"]
        saved = db.session.scalars(sa.select(CardImportRejection).where(CardImportRejection.import_id == report.import_id)).all()
        assert [(r.line_number, r.reason) for r in saved] == [(3, reason)]
        assert db.session.get(CardImport, report.import_id).rejected == 1
        assert_balance_cache_holds(portal.amina_account)


def test_a_whole_file_in_latin1_rejects_only_the_rows_with_accents(portal, tmp_path):
    path = tmp_path / "latin1-file.csv"
    text = STANDARD_HEADER + "\n" + good("L1") + "\n" + good("L2").replace("TESCO STORES 2231", "CAFÉ") + "\n"
    path.write_bytes(text.encode("latin-1"))
    report = run_import(portal, path)
    assert report.posted == 1 and [line for line, _ in report.rejected] == [3]


def test_missing_columns_are_named_and_nothing_is_posted(portal, tmp_path):
    header = "Transaction ID,Date,Time,Merchant,Merchant Category Code,Description,Credit,Balance"
    path = write_standard(tmp_path / "missing.csv", ["T1,02/06/2026,10:00,TESCO,5411,Shop,,"], header=header)
    report = run_import(portal, path)
    assert report.file_error is not None
    assert "Card Account" in report.file_error and "Debit" in report.file_error
    assert "Credit" not in report.file_error.split("missing")[-1]
    assert report.lines() == [f"The file could not be imported: {report.file_error}"]
    assert (report.rows_read, report.posted, report.rejected) == (0, 0, [])
    assert_nothing_posted(portal)


def test_the_wrong_layout_for_a_file_is_a_file_error_not_a_crash(portal, sample):
    report = run_import(portal, sample, card_import.SIGNED_ISO)
    assert report.file_error and "TxnRef" in report.file_error
    assert_nothing_posted(portal)


@pytest.mark.parametrize(
    ("content", "expect"),
    [(b"", "empty"), (b"\xef\xbb\xbf", "empty"), (b"\r\n", "missing")],
    ids=["zero bytes", "only a byte-order mark", "only a blank line"],
)
def test_an_empty_file_is_reported(portal, tmp_path, content, expect):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    report = run_import(portal, path)
    assert report.file_error and expect in report.file_error
    assert report.rows_read == 0
    assert_nothing_posted(portal)
    with portal.app.app_context():
        assert db.session.get(CardImport, report.import_id).finished_at is not None


def test_a_header_only_file_imports_nothing_without_error(portal, tmp_path):
    path = write_standard(tmp_path / "header.csv", [])
    report = run_import(portal, path)
    assert report.file_error is None
    assert (report.rows_read, report.posted, report.duplicates, report.unknown_accounts, report.rejected) == (0, 0, 0, 0, [])
    assert_nothing_posted(portal)


def test_bad_rows_are_rejected_with_their_physical_line_numbers(portal, tmp_path):
    lines = [
        good("G1", "1.00"),                                                         # line 2
        "B1,NF-CARD-000101,31/02/2026,10:00,TESCO,5411,Shop,1.00,,",                # 3: 31 February
        "B2,NF-CARD-000101,2026-13-01,10:00,TESCO,5411,Shop,1.00,,",                # 4: not DD/MM/YYYY (and month 13)
        "B3,NF-CARD-000101,02/06/2026,10:00,TESCO,5411,Shop,12.345,,",              # 5: three decimals
        "B4,NF-CARD-000101,02/06/2026,10:00,TESCO,5411,Shop,,abc,",                 # 6: not a number
        "B5,NF-CARD-000101,02/06/2026,10:00,TESCO,5411,Shop,1.00,2.00,",            # 7: both
        "B6,NF-CARD-000101,02/06/2026,10:00,TESCO,5411,Shop,,,",                    # 8: neither
        "",                                                                         # 9: blank, skipped
        "B7,NF-CARD-000101,02/06/2026",                                             # 10: too few columns
        ",NF-CARD-000101,02/06/2026,10:00,TESCO,5411,Shop,1.00,,",                  # 11: no transaction ID
        "B8,,02/06/2026,10:00,TESCO,5411,Shop,1.00,,",                              # 12: no card account
        "B9,NF-CARD-000101,02/06/2026,10:00,TESCO,5411,Shop,-1.00,,",               # 13: negative debit
        "B10,NF-CARD-000101,02/06/2026,10:00,TESCO,5411,Shop,0.00,,",               # 14: zero
        "B11,NF-CARD-000101,,10:00,TESCO,5411,Shop,1.00,,",                         # 15: no date
        good("G2", "2.00"),                                                         # 16
        '"G3",NF-CARD-000101,02/06/2026,10:00,"TWO-LINE\nMERCHANT",5411,Shop,3.00,,',  # 17-18: quoted newline
        "B12,NF-CARD-000101,02/06/2026,10:00,TESCO,5411,Shop,1.000.00,,",           # 19
        'G4,NF-CARD-000101,02/06/2026,10:00,TESCO,5411,Shop,"1,234.50",,',          # 20: thousands separator
    ]
    path = write_standard(tmp_path / "bad.csv", lines)
    report = run_import(portal, path)

    assert report.file_error is None
    rejected = dict(report.rejected)
    assert sorted(rejected) == [3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 19]
    assert "31/02/2026" in rejected[3]
    assert "2026-13-01" in rejected[4]
    assert "12.345" in rejected[5]
    assert "abc" in rejected[6]
    assert "both" in rejected[7]
    assert "neither" in rejected[8]
    assert "columns" in rejected[10]
    assert "transaction ID" in rejected[11]
    assert "card account" in rejected[12]
    assert "positive" in rejected[13]
    assert "zero" in rejected[14]
    assert "date" in rejected[15]
    assert report.rows_read == 17  # every non-blank record
    assert report.posted == 4
    with portal.app.app_context():
        posted = dict(db.session.execute(sa.select(LedgerEntry.external_id, LedgerEntry.amount_pence)).all())
        assert posted == {"G1": -100, "G2": -200, "G3": -300, "G4": -123450}
        assert entry("G3").payee.name == "TWO-LINE\nMERCHANT"
        saved = db.session.scalars(
            sa.select(CardImportRejection.line_number).where(CardImportRejection.import_id == report.import_id)
            .order_by(CardImportRejection.line_number)
        ).all()
        assert saved == sorted(rejected)
        assert_balance_cache_holds(portal.amina_account)


def test_bad_dates_and_amounts_in_the_signed_layout(portal, tmp_path):
    path = tmp_path / "signed-bad.csv"
    path.write_text(
        "TxnRef;AccountRef;PostingDate;Payee;MCC;Narrative;Amount\n"
        "S1;NF-CARD-000101;2026-13-01;TESCO;5411;Shop;-1.00\n"
        "S2;NF-CARD-000101;2026-02-31;TESCO;5411;Shop;-1.00\n"
        "S3;NF-CARD-000101;02/06/2026;TESCO;5411;Shop;-1.00\n"
        "S4;NF-CARD-000101;2026-06-02;TESCO;5411;Shop;\n"
        "S5;NF-CARD-000101;2026-06-02;TESCO;5411;Shop;-1.005\n"
        "S6;NF-CARD-000101;2026-06-02;TESCO;5411;Shop;-12.5\n"
        "S7;NF-CARD-000101;2026-06-02;TESCO;5411;Shop;7\n",
        encoding="utf-8",
    )
    report = run_import(portal, path, card_import.SIGNED_ISO)
    assert [line for line, _ in report.rejected] == [2, 3, 4, 5, 6]
    with portal.app.app_context():
        assert dict(db.session.execute(sa.select(LedgerEntry.external_id, LedgerEntry.amount_pence)).all()) == {
            "S6": -1250, "S7": 700}


def test_a_file_that_is_not_csv_at_all_is_reported_not_raised(portal, tmp_path):
    path = tmp_path / "statement.xlsx"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xff\xfe\x00\x00binary")
    report = run_import(portal, path)
    assert report.file_error is not None
    assert_nothing_posted(portal)


def test_parse_pence_never_uses_floats():
    assert card_import.parse_pence("1,680.00") == 168000
    assert card_import.parse_pence("£0.10") == 10
    assert card_import.parse_pence("-23.5") == -2350
    assert card_import.parse_pence("  7 ") == 700
    assert card_import.parse_pence("999999999.99") == 99999999999
    for bad in ("12.345", "abc", "", "1e3", "--1", "1.2.3", "NaN", "1 000"):
        with pytest.raises(ValueError):
            card_import.parse_pence(bad)


def test_a_big_file_imports_in_batches(portal, tmp_path, monkeypatch):
    rows = 20_000
    path = tmp_path / "big.csv"
    total = {AMINA_CARD: 0, GRACE_CARD: 0}
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        out.write(STANDARD_HEADER + "\r\n")
        for n in range(rows):
            card = AMINA_CARD if n % 2 else GRACE_CARD
            pence = 100 + n % 997
            credit = n % 50 == 0
            total[card] += pence if credit else -pence
            amount = f"{pence // 100}.{pence % 100:02d}"
            day = date.fromordinal(date(2026, 6, 1).toordinal() + n % 120).strftime("%d/%m/%Y")
            out.write(f"B{n:07d},{card},{day},12:00,SHOP {n % 300},5411,Item,{'' if credit else amount},{amount if credit else ''},\r\n")

    batches = []
    original = card_import._import_batch

    def counting(batch, *args, **kwargs):
        batches.append(len(batch))
        return original(batch, *args, **kwargs)

    monkeypatch.setattr(card_import, "_import_batch", counting)
    monkeypatch.setattr(card_import, "BATCH_ROWS", 6_000)
    report = run_import(portal, path)

    assert (report.rows_read, report.posted, report.duplicates, report.rejected) == (rows, rows, 0, [])
    assert batches == [6_000, 6_000, 6_000, 2_000]
    with portal.app.app_context():
        for card, net in total.items():
            account = portal.account_for(card)
            assert money(account)["net"] == net
            assert entry_count(account) == rows // 2
        assert_balance_cache_holds(portal.amina_account, portal.grace_account)


# Rows for an unknown card account ------------------------------------------------------------------


def test_a_row_kept_for_review_is_posted_once_when_resolved(portal, sample):
    rachel = user_by_email(portal.app, "rachel@northfield.example").id
    run_import(portal, sample)
    with portal.app.app_context():
        before = ledger.balance(portal.amina_account)
        row = db.session.scalar(sa.select(UnmatchedCardRow).where(UnmatchedCardRow.external_id == "T880028"))
        account = db.session.get(DPAccount, portal.amina_account)
        posted = card_import.resolve_unmatched(row, account, user_id=rachel)
        db.session.commit()
        assert (posted.account_id, posted.kind, posted.amount_pence, posted.entry_date, posted.external_id, posted.source) == (
            portal.amina_account, EntryKind.SPEND, -1000, date(2026, 7, 16), "T880028", EntrySource.CARD_IMPORT)
        assert posted.created_by_id == rachel and posted.payee.name == "UNKNOWN MERCHANT"
        assert posted.state.needs_evidence
        assert ledger.balance(portal.amina_account) == before - 1000
        assert_balance_cache_holds(portal.amina_account)
        row_id, entry_id = row.id, posted.id

    with portal.app.app_context():
        row = db.session.get(UnmatchedCardRow, row_id)
        assert (row.resolved_entry_id, row.resolved_by_id) == (entry_id, rachel) and row.resolved_at is not None
        with pytest.raises(ValueError, match="already"):
            card_import.resolve_unmatched(row, db.session.get(DPAccount, portal.grace_account), user_id=rachel)
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry).where(LedgerEntry.external_id == "T880028")) == 1
        before = snapshot()

    again = run_import(portal, sample)
    assert (again.posted, again.unknown_accounts, again.duplicates) == (0, 0, 52)
    with portal.app.app_context():
        assert snapshot() == before
        assert ledger.balance(portal.grace_account) == EXPECTED_MONEY[GRACE_CARD]["net"]
        assert ledger.balance(portal.amina_account) == EXPECTED_MONEY[AMINA_CARD]["net"] - 1000


def test_a_row_for_an_unknown_card_is_kept_even_when_the_file_only_has_unknown_cards(portal, tmp_path):
    path = write_standard(tmp_path / "unknown.csv", [good("U1", card="NF-CARD-123456"), good("U2", card="NF-CARD-123456")])
    report = run_import(portal, path)
    assert (report.unknown_accounts, report.posted, report.rejected) == (2, 0, [])
    with portal.app.app_context():
        assert sorted(db.session.scalars(sa.select(UnmatchedCardRow.external_id))) == ["U1", "U2"]


# The command line ----------------------------------------------------------------------------------


def test_the_cli_imports_the_sample_and_prints_the_counts(portal, sample):
    result = portal.app.test_cli_runner().invoke(args=["import-card-transactions", str(sample)])
    assert result.exit_code == 0, result.output
    for line in ("Rows read: 52", "Posted: 50", "Confirmed (already known to the portal): 0", "Duplicates skipped: 1",
                 "Unknown card accounts (kept for review): 1", "Flagged for an explanation: 2", "Rejected: 0"):
        assert line in result.output.splitlines()
    with portal.app.app_context():
        for card, want in EXPECTED_MONEY.items():
            assert money(portal.account_for(card)) == want

    again = portal.app.test_cli_runner().invoke(args=["import-card-transactions", str(sample)])
    assert again.exit_code == 0 and "Duplicates skipped: 52" in again.output and "Posted: 0" in again.output


def test_the_cli_takes_a_layout_and_a_mapping(make_portal, tmp_path):
    signed = tmp_path / "signed.csv"
    signed.write_bytes(signed_iso_bytes())
    portal = make_portal()
    result = portal.app.test_cli_runner().invoke(args=["import-card-transactions", str(signed), "--layout", "signed-iso"])
    assert result.exit_code == 0, result.output
    assert "Posted: 50" in result.output.splitlines()

    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"columns": dict(zip(
        ["transaction_id", "card_account", "date", "merchant", "mcc", "description", "amount"], SIGNED_HEADER, strict=True)),
        "delimiter": ";", "date_format": "%Y-%m-%d", "amounts": "signed"}), encoding="utf-8")
    portal = make_portal()
    result = portal.app.test_cli_runner().invoke(args=["import-card-transactions", str(signed), "--mapping", str(mapping)])
    assert result.exit_code == 0, result.output
    assert "Posted: 50" in result.output.splitlines()
    with portal.app.app_context():
        for card, want in EXPECTED_MONEY.items():
            assert money(portal.account_for(card)) == want


def test_the_cli_fails_with_the_message_on_missing_columns(portal, tmp_path):
    path = write_standard(tmp_path / "missing.csv", ["T1,TESCO"], header="Transaction ID,Merchant")
    result = portal.app.test_cli_runner().invoke(args=["import-card-transactions", str(path)])
    assert result.exit_code != 0
    assert "The file could not be imported: these columns are missing: Card Account, Date, Debit, Credit" in result.output
    assert_nothing_posted(portal)


def test_the_cli_refuses_an_unknown_layout_and_a_missing_file(portal, sample, tmp_path):
    runner = portal.app.test_cli_runner()
    assert runner.invoke(args=["import-card-transactions", str(sample), "--layout", "nope"]).exit_code != 0
    assert runner.invoke(args=["import-card-transactions", str(tmp_path / "absent.csv")]).exit_code != 0
    assert_nothing_posted(portal)


# Crashes and batch boundaries -----------------------------------------------------------------------


class Crash(RuntimeError):
    pass


@pytest.mark.parametrize("order", ["import alone", "payments and reclaim recorded first"])
def test_a_crash_half_way_then_a_normal_import_ends_as_a_clean_import(make_portal, sample, monkeypatch, order):
    clean, crashed = make_portal(), make_portal()
    if order != "import alone":
        record_payments_and_reclaim_first(clean)
        record_payments_and_reclaim_first(crashed)
    run_import(clean, sample)

    original = card_import._import_batch
    calls = []

    def failing(batch, *args, **kwargs):
        calls.append(len(batch))
        if len(calls) == 3:
            # Part of the batch reaches the database before the failure: it must roll back with it.
            db.session.add(UnmatchedCardRow(
                import_id=args[2], external_id="HALF-WRITTEN", card_reference="X", entry_date=date(2026, 6, 1),
                amount_pence=1, merchant="X",
            ))
            db.session.flush()
            raise Crash("the database went away")
        return original(batch, *args, **kwargs)

    monkeypatch.setattr(card_import, "BATCH_ROWS", 10)
    monkeypatch.setattr(card_import, "_import_batch", failing)
    with crashed.app.app_context(), pytest.raises(Crash):
        card_import.import_file(sample)
    monkeypatch.undo()
    assert calls == [10, 10, 10]

    with crashed.app.app_context():
        # Two batches landed whole, the third not at all.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(UnmatchedCardRow)
                                 .where(UnmatchedCardRow.external_id == "HALF-WRITTEN")) == 0
        imported = db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)
                                     .where(LedgerEntry.source == EntrySource.CARD_IMPORT))
        # Rows 1-20: all new entries, except (payments recorded first) the four council credits that
        # confirm recorded payments instead.
        assert imported == (20 if order == "import alone" else 16)
        assert_balance_cache_holds(crashed.amina_account, crashed.grace_account)

    report = run_import(crashed, sample)
    assert report.rows_read == 52 and report.rejected == []
    assert report.duplicates == 20 + 1  # the 20 rows that landed, and T880010 sent twice
    with crashed.app.app_context():
        state = snapshot()
        for card, want in EXPECTED_MONEY.items():
            assert money(crashed.account_for(card)) == want
            assert entry_count(crashed.account_for(card)) == EXPECTED_ENTRIES[card]
        assert_balance_cache_holds(crashed.amina_account, crashed.grace_account)
    with clean.app.app_context():
        assert snapshot() == state


def test_the_outcome_does_not_depend_on_where_batches_break(make_portal, sample, monkeypatch):
    """Batches bound memory; they must not change what the import does, excess-balance reviews included."""
    whole, small = make_portal(), make_portal()
    run_import(whole, sample)
    monkeypatch.setattr(card_import, "BATCH_ROWS", 10)
    run_import(small, sample)
    with whole.app.app_context():
        expected = snapshot(with_reviews=True)
    with small.app.app_context():
        assert snapshot(with_reviews=True) == expected


def _slow_writes(monkeypatch, seconds: float = 0.3) -> list:
    """Every batch written in a thread, each taking at least `seconds`, so it is still in hand while the
    next one is read and sorted. Returns the planned batches the writer was given."""
    monkeypatch.setattr(card_import, "THREADED_WRITES", {"sqlite", "postgresql"})
    original, written = card_import._write_batch, []

    def slow(plan, *args):
        time.sleep(seconds)
        written.append(plan)
        original(plan, *args)

    monkeypatch.setattr(card_import, "_write_batch", slow)
    return written


def test_a_batch_still_being_written_counts_for_the_next_one(make_portal, tmp_path, monkeypatch):
    """On PostgreSQL each batch is written in a thread while the next is read. What the batch in hand
    stores (a row the provider sends again) or uses up (the recorded reclaim it confirms) must count for
    the next batch as if it had landed. Run here on both databases, against the same file imported a
    batch at a time."""
    one_at_a_time, overlapped = make_portal(), make_portal()
    for portal in (one_at_a_time, overlapped):
        record_payments_and_reclaim_first(portal)
    path = write_standard(tmp_path / "overlap.csv", [
        f"P1,{GRACE_CARD},20/08/2026,09:00,NORTHFIELD CITY COUNCIL,,Reclaim of excess balance,1500.00,,",
        f"P2,{GRACE_CARD},21/08/2026,09:00,TESCO STORES 2231,5411,Shopping,12.50,,",
        f"P3,{GRACE_CARD},21/08/2026,10:00,NORTHFIELD CITY COUNCIL,,Reclaim of excess balance,1500.00,,",
        f"P2,{GRACE_CARD},21/08/2026,09:00,TESCO STORES 2231,5411,Shopping,12.50,,",
    ])
    monkeypatch.setattr(card_import, "BATCH_ROWS", 2)
    monkeypatch.setattr(card_import, "THREADED_WRITES", set())
    expected = run_import(one_at_a_time, path)
    assert (expected.posted, expected.confirmed, expected.duplicates) == (2, 1, 1)

    written = _slow_writes(monkeypatch)
    in_hand = []
    original_candidates = card_import._match_candidates

    def candidates(*args, taken=(), **kwargs):
        in_hand.append(set(taken))
        return original_candidates(*args, taken=taken, **kwargs)

    monkeypatch.setattr(card_import, "_match_candidates", candidates)
    report = run_import(overlapped, path)

    assert in_hand == [set(), {("entry", written[0].confirmations[0][0])}], "the second batch was read while the first was in hand"
    assert (report.posted, report.confirmed, report.duplicates) == (2, 1, 1)
    with one_at_a_time.app.app_context():
        want = snapshot(with_reviews=True)
    with overlapped.app.app_context():
        assert snapshot(with_reviews=True) == want
        assert entry("P3").kind == EntryKind.RECLAIM, "the second reclaim is new money, not the recorded one again"
        assert_balance_cache_holds(overlapped.grace_account)


def test_a_batch_that_fails_in_the_writer_stops_the_import_and_the_rerun_finishes_it(make_portal, sample, monkeypatch):
    clean, failed = make_portal(), make_portal()
    run_import(clean, sample)
    monkeypatch.setattr(card_import, "BATCH_ROWS", 10)
    written = _slow_writes(monkeypatch, seconds=0)
    calls = []
    slow = card_import._write_batch

    def failing(plan, *args):
        calls.append(plan)
        if len(calls) == 2:
            db.session.add(UnmatchedCardRow(import_id=plan.import_id, external_id="HALF-WRITTEN", card_reference="X",
                                            entry_date=date(2026, 6, 1), amount_pence=1, merchant="X"))
            db.session.flush()
            raise Crash("the database went away")
        slow(plan, *args)

    monkeypatch.setattr(card_import, "_write_batch", failing)
    with failed.app.app_context(), pytest.raises(Crash):
        card_import.import_file(sample)
    assert len(calls) == 2 and len(written) == 1, "the third batch is read but never handed over"
    with failed.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(UnmatchedCardRow)
                                 .where(UnmatchedCardRow.external_id == "HALF-WRITTEN")) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)
                                 .where(LedgerEntry.source == EntrySource.CARD_IMPORT)) == 10, "the first batch landed whole"
        assert_balance_cache_holds(failed.amina_account, failed.grace_account)
    monkeypatch.undo()
    run_import(failed, sample)
    with clean.app.app_context():
        want = snapshot(with_reviews=True)
    with failed.app.app_context():
        assert snapshot(with_reviews=True) == want


def test_a_crash_after_the_rows_land_but_before_the_excess_checks_still_opens_the_reviews(make_portal, sample, monkeypatch):
    """The excess checks run once the whole file is in; a crash there must not lose them for good."""
    clean, crashed = make_portal(), make_portal()
    run_import(clean, sample)
    with clean.app.app_context():
        expected = snapshot(with_reviews=True)
    assert expected["reviews"], "the sample opens at least one review (Grace, cycle of 27 July)"

    def failing(*args, **kwargs):
        raise Crash("killed while checking excess balances")

    monkeypatch.setattr(card_import, "_check_excess", failing)
    with crashed.app.app_context(), pytest.raises(Crash):
        card_import.import_file(sample)
    monkeypatch.undo()

    run_import(crashed, sample)
    with crashed.app.app_context():
        assert snapshot(with_reviews=True) == expected


def test_a_200_mb_file_of_junk_gives_a_report_not_a_crash(portal, tmp_path):
    """A huge file that is not a statement: rows are rejected with their line numbers; nothing is posted."""
    path = tmp_path / "junk.csv"
    header = ",".join(card_import.STANDARD.columns.values()).encode() + b"\n"
    with open(path, "wb") as handle:
        handle.write(header)
        chunk = (b"x" * 1023 + b"\n") * 1024  # 1 MiB of junk lines
        for _ in range(200):
            handle.write(chunk)
    assert path.stat().st_size > 200 * 1024 * 1024
    report = run_import(portal, path)
    assert report.file_error is None
    assert report.rows_read == 200 * 1024 and report.posted == 0
    assert report.rejected_count == report.rows_read
    assert len(report.rejected) == card_import.REJECTIONS_KEPT, "reasons kept for the first rows only, the rest counted"
    assert report.rejected[0][0] == 2, "line numbers count the header as line 1"
    assert f"and {report.rows_read - card_import.REJECTIONS_KEPT:,} more rejected rows" in "\n".join(report.lines())
