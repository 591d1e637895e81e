"""Card statement import at scale: rows per second, total time and peak memory, next to the targets.

    python -m tests.benchmarks.import_bench --rows N [--accounts 2000] [--seed 2026] [--profile] [--keep]

1. A fresh database: PostgreSQL when DATABASE_URL is set (the database `portal_import_bench` on that
   loopback server is dropped and created again), otherwise an SQLite file in a temporary folder.
   The real migrations, the demo personas, then --accounts generated recipients, each with a prepaid
   card account (BENCH-CARD-000001, ...), a budget and a support plan.
2. A standard-layout statement of N rows, streamed to a file (deterministic for a seed), in date
   order over whole 4-weekly cycles the way a provider exports it (as many cycles as make the
   council's credits about 3% of the rows: 15 for 1,000,000 rows over 2,000 cards): the council's
   credit to every card on each cycle day, contributions, card spend across ~50 merchants, and the awkward cases at
   realistic rates (refunds, cash, gambling, unknown cards, rows sent twice, unreadable rows).
3. The import, as production runs it: `flask --app portal import-card-transactions FILE` in a
   child process. Its wall time gives rows per second; its peak memory is the child's ru_maxrss
   (resource.getrusage(RUSAGE_CHILDREN)), so the set-up above is not counted. With --profile the
   import runs in this process under cProfile instead, and the top functions are printed.
4. Checks that the import did what the file says (counts, and the balance cache equal to the sum of
   entries for every account), then the figures next to the targets: 60 s and 300 MB for 1,000,000
   rows.

Benchmarks print figures; they never fail on speed. The exit status is 0 unless the run could not be
done or the import's result was wrong, which is reported plainly.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from tests.benchmarks.common import BenchDatabase, BenchError, create_bench_database

ROOT = Path(__file__).resolve().parents[2]
BENCH_DB = "portal_import_bench"
TARGET_SECONDS_PER_MILLION = 60
TARGET_PEAK_MB = 300
IMPORT_TIMEOUT = 3600
FIRST_DAY = date(2026, 1, 5)  # a cycle day: the council pays every card on it, then every 28 days
COUNCIL_SHARE = 0.03  # about 1 row in 33 is the council's 4-weekly credit (~30 card rows per account per cycle)
CARD = "BENCH-CARD-{:06d}"
UNKNOWN_CARD = "BENCH-CARD-UNKNOWN-{:03d}"
HEADER = "Transaction ID,Card Account,Date,Time,Merchant,Merchant Category Code,Description,Debit,Credit,Balance\r\n"
# (merchant, MCC, description, typical pence): what direct payment cards are spent on.
MERCHANTS = [
    ("S CLARKE", "", "PA wages (fortnight)", 56000), ("J PRICE", "", "PA wages", 40000), ("A NOWAK", "", "PA wages", 32000),
    ("BRIGHTPATH SUPPORT PAYROLL", "8999", "Payroll service fee", 2899), ("HARBOUR DPSS PAYROLL", "8999", "Payroll fee", 3100),
    ("HMRC PAYE", "9311", "Employer PAYE and NI", 9600), ("HOMECARE PLUS LTD", "8050", "Homecare invoice", 52000),
    ("CARING HANDS HOMECARE", "8050", "Homecare visits", 41000), ("NORTHFIELD DAY CENTRE", "8351", "Day centre", 20000),
    ("CITY TAXIS NORTHFIELD", "4121", "Taxi to appointment", 4200), ("EASTMOOR CABS", "4121", "Taxi", 1850),
    ("NORTHFIELD BUSES", "4111", "Bus pass", 6000), ("NATIONAL RAIL", "4112", "Train ticket", 2340),
    ("NORTHFIELD LEISURE CENTRE", "7997", "Gym membership", 2999), ("ODEON NORTHFIELD", "7832", "Cinema", 1250),
    ("TESCO STORES 2231", "5411", "Shopping (domestic)", 2375), ("SAINSBURYS 0412", "5411", "Shopping", 3120),
    ("ASDA NORTHFIELD", "5411", "Shopping", 2810), ("BOOTS 1187", "5912", "Pharmacy", 899),
    ("MOBILITY WORLD LTD", "5047", "Mobility aid", 14900), ("ALLIANZ EMPLOYERS LIABILITY", "6300", "Insurance", 15500),
    ("RESPITE BREAKS NORTHFIELD", "7011", "Respite", 32000), ("GREENFINGERS GARDEN CENTRE", "5261", "Gardening club", 3850),
    ("COSTA COFFEE", "5814", "Coffee with PA", 640), ("ARGOS 0091", "5311", "Household", 2499),
]
COUNCIL = {1: "NORTHFIELD CITY COUNCIL", 0: "EASTMOOR COUNTY COUNCIL"}




# The database --------------------------------------------------------------------------------


def create_database(folder: Path) -> BenchDatabase:
    return create_bench_database(folder, "import-bench.db", BENCH_DB)


def make_app(url: str):
    from portal import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url})


def seed(url: str, accounts: int, seed_value: int) -> None:
    """Migrations, demo personas, and `accounts` generated recipients each with a card, budget and plan."""
    from flask_migrate import upgrade

    from portal.extensions import db
    from portal.models import (
        BudgetKind,
        Category,
        CouncilSettings,
        Delivery,
        Organisation,
        OrganisationKind,
        PaymentMethod,
        Person,
        Recipient,
    )
    from portal.services import budgets, demo

    app = make_app(url)
    with app.app_context():
        upgrade()
        demo.load_personas(app.config["ARGON2_TIME_COST"], app.config["ARGON2_MEMORY_COST"])
        first_new = (db.session.scalar(sa.select(sa.func.max(Person.id))) or 0) + 1
        demo.generate(accounts, seed=seed_value)
        for council_id in db.session.scalars(sa.select(Organisation.id).where(Organisation.kind == OrganisationKind.COUNCIL)):
            db.session.add(CouncilSettings(council_id=council_id, effective_from=date(2025, 4, 1), cycle_anchor=FIRST_DAY))
        recipients = db.session.scalars(
            sa.select(Recipient.person_id).where(Recipient.person_id >= first_new).order_by(Recipient.person_id)
        ).all()
        lines = [
            budgets.Line(Category.PA_WAGES, "Personal assistant", 160000, 20),
            budgets.Line(Category.PAYROLL_AND_SUPPORT_FEES, "Payroll service", 3000),
            budgets.Line(Category.TRAVEL, "Taxis and buses", 6000),
            budgets.Line(Category.DOMESTIC, "Shopping help", 8000),
            budgets.Line(Category.SOCIAL_ACTIVITIES, "Gym and outings", 4000),
            budgets.Line(Category.HOMECARE, "Homecare visits", 40000),
            budgets.Line(Category.INSURANCE, "Employer's liability insurance", 1300),
            budgets.Line(Category.AIDS_AND_ADAPTATIONS, "Equipment", 2000),
        ]
        for n, person in enumerate(recipients, start=1):
            account = budgets.open_account(person, PaymentMethod.PREPAID_CARD, FIRST_DAY - timedelta(days=30),
                                           card_reference=CARD.format(n))
            budgets.create_budget(
                recipient_id=person, account=account, kind=BudgetKind.ONGOING, delivery=Delivery.DIRECT_PAYMENT,
                start_date=FIRST_DAY, agreed_on=FIRST_DAY - timedelta(days=30), first_payment_date=FIRST_DAY,
                amounts=budgets.Amounts(weekly_pence(n), contribution_pence(n), True),
            )
            budgets.create_plan(person, FIRST_DAY, "Live at home with support", lines)
            if n % 500 == 0:
                db.session.commit()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def weekly_pence(n: int) -> int:
    return 20000 + (n * 137) % 40000


def contribution_pence(n: int) -> int:
    return 2800 if n % 5 == 0 else 0


# The statement -------------------------------------------------------------------------------


@dataclass
class Expected:
    """What the generated file holds, to check the import's report against."""

    rows: int = 0
    distinct_known: int = 0
    duplicates: int = 0
    unknown: int = 0
    rejected: int = 0
    bytes: int = 0
    net_by_card: dict[str, int] = field(default_factory=dict)


def money_text(pence: int) -> str:
    return f"{pence // 100}.{pence % 100:02d}"


def generate_statement(path: Path, rows: int, accounts: int, seed_value: int) -> Expected:
    """N rows in date order, streamed (only the last few ids are held, for rows sent twice)."""
    rng = random.Random(seed_value)
    expected = Expected(net_by_card={CARD.format(n): 0 for n in range(1, accounts + 1)})
    recent: deque[str] = deque(maxlen=200)
    days = 28 * max(1, round(COUNCIL_SHARE * rows / accounts))  # the file's span: whole cycles
    serial = 0
    next_cycle = 0  # index of the next cycle day whose council credits are still to write
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        out.write(HEADER)

        def write(line: str) -> None:
            out.write(line)
            expected.rows += 1

        def posted(card: str, pence: int) -> None:
            expected.distinct_known += 1
            expected.net_by_card[card] += pence

        while expected.rows < rows:
            day = FIRST_DAY + timedelta(days=expected.rows * days // rows)
            stamp = day.strftime("%d/%m/%Y")
            cycle_day = FIRST_DAY + timedelta(days=28 * next_cycle)
            if cycle_day <= day:
                # The council's payment run: every card, the same morning (part of a burst if N is small).
                for n in range(1, accounts + 1):
                    if expected.rows >= rows:
                        break
                    serial += 1
                    net = (weekly_pence(n) - contribution_pence(n)) * 4
                    write(f"T{serial:09d},{CARD.format(n)},{cycle_day:%d/%m/%Y},06:00,{COUNCIL[n % 2]},,"
                          f"Direct payment 4-weekly,,{money_text(net)},\r\n")
                    posted(CARD.format(n), net)
                next_cycle += 1
                continue
            serial += 1
            ref = f"T{serial:09d}"
            n = rng.randrange(1, accounts + 1)
            card = CARD.format(n)
            roll = rng.random()
            resendable = True
            if roll < 0.0005 and recent:
                # A row the provider sends twice (the same id, the same content).
                write(recent[rng.randrange(len(recent))])
                expected.duplicates += 1
                serial -= 1
                continue
            if roll < 0.001:
                line = f"{ref},{UNKNOWN_CARD.format(rng.randrange(50))},{stamp},12:00,UNKNOWN MERCHANT,5999,Card not on file,10.00,,\r\n"
                expected.unknown += 1
            elif roll < 0.0011:
                line = f"{ref},{card},31/02/{day.year},12:00,TESCO STORES 2231,5411,Shopping,1.00,,\r\n"
                expected.rejected += 1
                resendable = False
            elif roll < 0.006 and contribution_pence(n):
                pence = contribution_pence(n) * 4
                line = f"{ref},{card},{stamp},09:12,CONTRIBUTION {n:06d},,Client contribution,,{money_text(pence)},\r\n"
                posted(card, pence)
            elif roll < 0.01:
                merchant, mcc, _, typical = MERCHANTS[rng.randrange(15, len(MERCHANTS))]
                pence = max(1, typical // rng.randint(1, 4))
                line = f"{ref},{card},{stamp},10:05,{merchant},{mcc},Refund,,{money_text(pence)},\r\n"
                posted(card, pence)
            elif roll < 0.013:
                line = f"{ref},{card},{stamp},16:40,ATM CASH WITHDRAWAL NORTHFIELD,6011,Cash withdrawal,20.00,,\r\n"
                posted(card, -2000)
            elif roll < 0.0135:
                line = f"{ref},{card},{stamp},22:15,BETFAIR*EXCHANGE,7995,Online betting,5.00,,\r\n"
                posted(card, -500)
            else:
                merchant, mcc, description, typical = MERCHANTS[rng.randrange(len(MERCHANTS))]
                pence = max(1, typical + rng.randint(-typical // 5, typical // 5))
                line = f"{ref},{card},{stamp},{rng.randint(7, 21)}:{rng.randint(0, 59):02d},{merchant},{mcc},{description},{money_text(pence)},,\r\n"
                posted(card, -pence)
            write(line)
            if resendable:  # an unreadable row sent again is rejected again, not skipped
                recent.append(line)
    expected.bytes = path.stat().st_size
    return expected


# The import ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    seconds: float
    peak_mb: float | None
    profile: str = ""
    cpu_seconds: float | None = None


def import_in_child(url: str, path: Path) -> Outcome:
    env = dict(os.environ, DATABASE_URL=url, PORTAL_ENV="development", PYTHONUNBUFFERED="1")
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "portal", "import-card-transactions", str(path)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=IMPORT_TIMEOUT, check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise BenchError(f"the import took longer than {IMPORT_TIMEOUT}s") from error
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchError(f"the import failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    # Linux reports ru_maxrss in kilobytes; the only child so far is the import.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Outcome(seconds, usage.ru_maxrss / 1024, cpu_seconds=usage.ru_utime + usage.ru_stime)


def import_profiled(url: str, path: Path, top: int = 30) -> Outcome:
    from portal.services import card_import

    app = make_app(url)
    profiler = cProfile.Profile()
    with app.app_context():
        started = time.perf_counter()
        profiler.enable()
        card_import.import_file(path)
        profiler.disable()
        seconds = time.perf_counter() - started
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return Outcome(seconds, None, text.getvalue())


def check(url: str, expected: Expected) -> dict[str, int]:
    """The import's own record against the file, and the balance cache against the entries."""
    from portal.extensions import db
    from portal.models import AccountBalance, CardImport, DPAccount, LedgerEntry

    app = make_app(url)
    with app.app_context():
        record = db.session.scalar(sa.select(CardImport).order_by(CardImport.id.desc()).limit(1))
        got = {
            "rows read": record.rows_read, "posted": record.posted, "confirmed": record.confirmed,
            "duplicates": record.duplicates, "unknown accounts": record.unknown_accounts, "rejected": record.rejected,
            "flagged": record.flagged,
        }
        want = {
            "rows read": expected.rows, "posted + confirmed": expected.distinct_known, "duplicates": expected.duplicates,
            "unknown accounts": expected.unknown, "rejected": expected.rejected,
        }
        have = dict(got, **{"posted + confirmed": got["posted"] + got["confirmed"]})
        wrong = [f"{k}: file says {v}, import says {have[k]}" for k, v in want.items() if have[k] != v]
        sums = dict(db.session.execute(
            sa.select(DPAccount.card_reference, sa.func.coalesce(sa.func.sum(LedgerEntry.amount_pence), 0))
            .join(LedgerEntry, LedgerEntry.account_id == DPAccount.id).group_by(DPAccount.card_reference)
        ).all())
        cached = dict(db.session.execute(
            sa.select(DPAccount.card_reference, AccountBalance.balance_pence).join(DPAccount, DPAccount.id == AccountBalance.account_id)
        ).all())
        for card, net in expected.net_by_card.items():
            if sums.get(card, 0) != net:
                wrong.append(f"{card}: the file moves {net} pence, the ledger {sums.get(card, 0)}")
            if cached.get(card, 0) != sums.get(card, 0):
                wrong.append(f"{card}: cached balance {cached.get(card, 0)} is not the sum of entries {sums.get(card, 0)}")
            if len(wrong) > 20:
                break
        got["import seconds (its own record)"] = (record.finished_at - record.started_at).total_seconds()
        db.session.remove()
        db.engine.dispose()
    if wrong:
        raise BenchError("the import's result is wrong:\n  " + "\n  ".join(wrong))
    return got


# The run -----------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="portal-import-bench-"))
    database = create_database(folder)
    try:
        print(f"Card import benchmark: {args.rows:,} rows over {args.accounts:,} card accounts (seed {args.seed})", flush=True)
        print(f"Database: {database.describe()}", flush=True)
        started = time.perf_counter()
        seed(database.url, args.accounts, args.seed)
        print(f"Set-up (migrations, demo personas, {args.accounts:,} recipients with cards, budgets, plans): "
              f"{time.perf_counter() - started:.1f} s", flush=True)

        path = folder / "statement.csv"
        started = time.perf_counter()
        expected = generate_statement(path, args.rows, args.accounts, args.seed)
        print(f"Statement: {expected.rows:,} rows, {expected.bytes / 1e6:.1f} MB, written in {time.perf_counter() - started:.1f} s "
              f"({expected.duplicates} sent twice, {expected.unknown} unknown cards, {expected.rejected} unreadable)", flush=True)

        outcome = import_profiled(database.url, path) if args.profile else import_in_child(database.url, path)
        got = check(database.url, expected)
        target_s = TARGET_SECONDS_PER_MILLION * args.rows / 1_000_000
        how = "in this process, under cProfile (slower than without)" if args.profile else "flask import-card-transactions, a child process"
        print(f"\nImport ({how}):")
        print(f"  {'rows per second':<34} {args.rows / outcome.seconds:>12,.0f}")
        print(f"  {'total seconds':<34} {outcome.seconds:>12.1f}   target {target_s:.0f} s "
              f"({TARGET_SECONDS_PER_MILLION} s per million rows): {'met' if outcome.seconds <= target_s else 'NOT met'}")
        print(f"  {'  of which the import itself':<34} {got.pop('import seconds (its own record)'):>12.1f}   (CardImport started_at to finished_at)")
        if outcome.cpu_seconds is not None:
            print(f"  {'CPU seconds (user + system)':<34} {outcome.cpu_seconds:>12.1f}   (less sensitive than wall time to a busy machine)")
        if outcome.peak_mb is not None:
            print(f"  {'peak memory (ru_maxrss)':<34} {outcome.peak_mb:>12.0f} MB   target {TARGET_PEAK_MB} MB: "
                  f"{'met' if outcome.peak_mb <= TARGET_PEAK_MB else 'NOT met'}")
        print("  report: " + ", ".join(f"{k} {v:,}" for k, v in got.items()))
        print("  checks: counts match the file; every account's ledger moves what the file says; cached balance = sum of entries")
        if outcome.profile:
            print("\nProfile:\n" + outcome.profile)
    finally:
        if args.keep:
            print(f"Kept: {folder} ({database.url})")
        else:
            database.remove()
            shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.import_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, required=True, help="rows in the generated statement")
    parser.add_argument("--accounts", type=int, default=2000, help="card accounts to create and spread the rows over (default 2000)")
    parser.add_argument("--seed", type=int, default=2026, help="seed for the recipients and the statement (same seed, same file)")
    parser.add_argument("--profile", action="store_true", help="import in this process under cProfile and print the top functions")
    parser.add_argument("--keep", action="store_true", help="keep the database and the statement file afterwards")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.accounts < 1:
        parser.error("--rows and --accounts must be 1 or more")
    os.environ.setdefault("PORTAL_ENV", "development")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    try:
        run(args)
    except BenchError as error:
        print(f"\nBenchmark aborted: {error}", file=sys.stderr)
        return 1
    print(f"Total run: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
