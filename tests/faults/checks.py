"""What the fault suite checks after each kill and rerun, read with plain SQL (not the code under test).

A snapshot is a multiset of records, each by its natural key (never a row id, which a rerun may change):
ledger entries by their card transaction id or payment key (else account, kind, amount, date and
description), expected items by key and status, payslips per run and employment, paid timesheets, receipts
by content hash, audits by status and their findings, notifications by key. Comparing a trial's snapshot
with an uninterrupted run's counts what was lost and what was doubled.
"""

import sqlite3
from collections import Counter
from pathlib import Path

from portal.services.backups import FILE_COLUMNS
from portal.storage import Storage

RECORDS = {
    "ledger entry": "SELECT COALESCE(external_id, payment_key, account_id || '|' || kind || '|' || amount_pence || '|' || "
                    "entry_date || '|' || description) FROM ledger_entries",
    "expected item": "SELECT key || '|' || status FROM expected_items",
    "payslip": "SELECT run_id || '|' || employment_id FROM payslips",
    "paid timesheet": "SELECT timesheet_id FROM paid_timesheets",
    "receipt": "SELECT sha256 FROM evidence",
    "audit": "SELECT id || '|' || status || '|' || version FROM audits",
    "audit finding": "SELECT audit_id || '|' || entry_id FROM audit_findings",
    "pay run": "SELECT id || '|' || status || '|' || version FROM pay_runs",
    "notification": "SELECT key FROM notifications WHERE key IS NOT NULL",
}


def connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def snapshot(path: Path) -> Counter:
    found: Counter = Counter()
    with connect(path) as conn:
        for label, query in RECORDS.items():
            for (key,) in conn.execute(query):
                found[(label, str(key))] += 1
    return found


def compare(expected: Counter, got: Counter) -> tuple[int, int, list[str]]:
    """(lost, duplicated, a few examples): what an uninterrupted run has that this one lacks, and the reverse."""
    lost = expected - got
    extra = got - expected
    examples = [f"lost {k}" for k in list(lost)[:3]] + [f"duplicated {k}" for k in list(extra)[:3]]
    return sum(lost.values()), sum(extra.values()), examples


def integrity(path: Path) -> str:
    with connect(path) as conn:
        return ";".join(row[0] for row in conn.execute("PRAGMA integrity_check"))


def invariant_problems(path: Path) -> list[str]:
    """The ledger's cached balances and counts equal its entries; every entry has its one state row, whose
    receipt count equals its receipts; each account's counts waiting for a receipt or an explanation equal its states."""
    problems = []
    with connect(path) as conn:
        rows = conn.execute("""
            SELECT b.account_id, b.balance_pence, b.entry_count, COALESCE(s.total, 0), COALESCE(s.n, 0)
            FROM account_balances b LEFT JOIN (SELECT account_id, SUM(amount_pence) AS total, COUNT(*) AS n
                                               FROM ledger_entries GROUP BY account_id) s ON s.account_id = b.account_id
        """).fetchall()
        problems += [f"account {r[0]}: cached {r[1]} in {r[2]} entries, entries say {r[3]} in {r[4]}"
                     for r in rows if (r[1], r[2]) != (r[3], r[4])]
        no_balance = conn.execute("SELECT COUNT(DISTINCT account_id) FROM ledger_entries WHERE account_id NOT IN "
                                  "(SELECT account_id FROM account_balances)").fetchone()[0]
        if no_balance:
            problems.append(f"{no_balance} account(s) with entries and no balance row")
        stateless = conn.execute("SELECT COUNT(*) FROM ledger_entries e LEFT JOIN entry_states s ON s.entry_id = e.id "
                                 "WHERE s.entry_id IS NULL").fetchone()[0]
        if stateless:
            problems.append(f"{stateless} ledger entries without a state row")
        miscounted = conn.execute("""
            SELECT COUNT(*) FROM entry_states s
            WHERE s.evidence_count != (SELECT COUNT(*) FROM evidence v WHERE v.entry_id = s.entry_id)
        """).fetchone()[0]
        if miscounted:
            problems.append(f"{miscounted} entries whose receipt count differs from their receipts")
        attention = conn.execute("""
            SELECT COUNT(*) FROM (
                SELECT account_id, SUM(needs_evidence) AS r, SUM(needs_explanation) AS e FROM entry_states GROUP BY account_id
            ) s FULL OUTER JOIN account_attention a ON a.account_id = s.account_id
            WHERE COALESCE(a.receipts_missing, 0) != COALESCE(s.r, 0) OR COALESCE(a.explanations_missing, 0) != COALESCE(s.e, 0)
        """).fetchone()[0]
        if attention:
            problems.append(f"{attention} account(s) whose counts of payments waiting for a receipt or an explanation differ from their entries")
    return problems


def named_files(path: Path) -> set[str]:
    names: set[str] = set()
    with connect(path) as conn:
        for table, column in FILE_COLUMNS:
            names.update(name for (name,) in conn.execute(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL"))
    return names


def file_problems(path: Path, folder: Path) -> tuple[list[Path], list[str]]:
    """(orphans: files no row names, temporary files included; missing: names with no file)."""
    named = named_files(path)
    orphans = Storage(folder).orphans(named)
    missing = sorted(name for name in named if not (folder / name).is_file())
    return orphans, missing
