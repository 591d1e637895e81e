"""The fault suite: each case SIGKILLs an operation at a random moment, runs it again to the end, and checks.

    python -m tests.faults.run --trials 50            # make faults
    python -m tests.faults.run --trials 5 --case upload

Per case: a demo database is built once (the personas and a year of their money, through the real
migrations), the case sets up what its operation needs, and one uninterrupted run on a copy gives the
expected records and the operation's usual duration. Then each trial, on a fresh copy of the database and
evidence folder: start the operation in a child process, wait until it has started up, SIGKILL it after a
random delay between 0 and the usual duration, run it again to completion, and check

- every record exactly once: the trial's records equal the uninterrupted run's (tests/faults/checks.py);
- PRAGMA integrity_check is "ok";
- the ledger invariant: cached balances and counts equal the entries, receipt counts equal receipts;
- evidence files: none missing; orphans (a file saved but its rows never committed, or a temporary file
  of a write cut short) are counted, then removed with Storage.remove_orphans, the portal's clean-up.

Each case prints "tried N, lost or duplicated 0" (or the real figures); the exit status is 1 if any case
lost or duplicated a record, or failed a check.
"""

import argparse
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("PORTAL_ENV", "test")
os.environ["VIRUS_SCANNER"] = "none"  # the scanner is not what is tested here (tests/test_virus_scan.py is)

import sqlalchemy as sa  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.services import content, demo  # noqa: E402
from portal.services.clock import london_today  # noqa: E402
from tests.faults import checks  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CARD_ROWS = 45_000  # three of card_import's batches (20,000 rows each, the last part full)


@dataclass
class Template:
    db: Path
    evidence: Path


@dataclass
class Outcome:
    tried: int = 0
    killed_mid_run: int = 0
    lost: int = 0
    duplicated: int = 0
    orphans_swept: int = 0
    duration: float = 0.0
    adds: int = 0  # records the uninterrupted run adds or changes (what a kill can lose)
    failures: list[str] = field(default_factory=list)


def build_template(folder: Path, payroll: bool) -> Template:
    folder.mkdir(parents=True)
    template = Template(folder / "demo.db", folder / "evidence")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{template.db}", "EVIDENCE_FOLDER": str(template.evidence)})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        content.ensure_default_pages()
        ids = demo.load_personas(app.config["ARGON2_TIME_COST"], app.config["ARGON2_MEMORY_COST"])
        demo.load_money(ids, payroll=payroll)
        db.session.remove()
        db.engine.dispose()
    template.evidence.mkdir(exist_ok=True)
    return template


def in_app(template: Template):
    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{template.db}", "EVIDENCE_FOLDER": str(template.evidence)})


def checkpoint(template: Template) -> None:
    """Fold the WAL into the database file, so copying the one file copies everything."""
    import sqlite3

    with sqlite3.connect(template.db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# Set-ups: what each operation needs in the demo, and the parameters the child gets -------------------


def setup_payments(template: Template, work: Path) -> dict:
    # Four months ahead: every budget's next four 4-weekly payments (and contributions, reviews) are due.
    return {"as_of": (london_today() + timedelta(days=120)).isoformat()}


def setup_card_import(template: Template, work: Path) -> dict:
    path = work / "statement.csv"
    today = london_today()
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        out.write("Transaction ID,Card Account,Date,Time,Merchant,Merchant Category Code,Description,Debit,Credit,Balance\r\n")
        for n in range(CARD_ROWS):
            card = "NF-CARD-000101" if n % 2 else "NF-CARD-000102"
            pence = 100 + n % 997
            day = (today - timedelta(days=n % 90)).strftime("%d/%m/%Y")
            out.write(f"FAULT{n:07d},{card},{day},12:00,SHOP {n % 300},5411,Item,{pence // 100}.{pence % 100:02d},,\r\n")
    return {"file": str(path)}


def setup_pay_run(template: Template, work: Path) -> dict:
    from portal.models import Organisation, PayPeriod, User
    from portal.services import demo_payroll, pay_runs

    app = in_app(template)
    with app.app_context():
        today = london_today()
        brightpath = db.session.scalar(sa.select(Organisation).where(Organisation.name == "Brightpath Support"))
        kim = db.session.scalar(sa.select(User).where(User.email == "kim@brightpath.example"))
        period = demo_payroll._period_to_run(brightpath.id, today)
        run = pay_runs.build_draft(brightpath.id, PayPeriod.FORTNIGHTLY, period.start, kim, today)
        db.session.commit()
        if not run.payslips or any(p.problems for p in run.payslips):
            raise SystemExit("The demo's draft pay run cannot be approved: the pay run case has nothing to do.")
        params = {"run_id": run.id, "approver": "lee@brightpath.example", "today": today.isoformat()}
        db.session.remove()
        db.engine.dispose()
    return params


def setup_upload(template: Template, work: Path) -> dict:
    from portal.models import DPAccount, PaymentMethod

    app = in_app(template)
    with app.app_context():
        account = db.session.scalar(sa.select(DPAccount).where(DPAccount.method == PaymentMethod.BANK_ACCOUNT))
        params = {"account_id": account.id, "user_id": None, "day": london_today().isoformat()}
        db.session.remove()
        db.engine.dispose()
    return params


def setup_audit_sign_off(template: Template, work: Path) -> dict:
    from portal.models import Audit, AuditStatus, ChecklistAnswer, User
    from portal.services import audits

    app = in_app(template)
    with app.app_context():
        audit = db.session.scalar(sa.select(Audit).where(Audit.status == AuditStatus.IN_PROGRESS).limit(1))
        omar = db.session.scalar(sa.select(User).where(User.email == "omar@harbour.example"))
        audits.save_checklist(audit, omar, {name: ChecklistAnswer.YES for name, _, _ in audits.CHECKLIST}, {})
        db.session.commit()
        params = {"audit_id": audit.id, "user": omar.email, "today": london_today().isoformat()}
        db.session.remove()
        db.engine.dispose()
    return params


# name: (template kind, set-up)
CASES = {
    "payments": ("money", setup_payments),
    "card_import": ("money", setup_card_import),
    "pay_run": ("money_before_payroll", setup_pay_run),
    "upload": ("money", setup_upload),
    "audit_sign_off": ("money", setup_audit_sign_off),
}


# Running a child ------------------------------------------------------------------------------------


def copy_of(template: Template, folder: Path) -> Template:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    copy = Template(folder / "trial.db", folder / "evidence")
    shutil.copyfile(template.db, copy.db)
    shutil.copytree(template.evidence, copy.evidence)
    return copy


def start(case: str, target: Template, params: dict) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{target.db}", "EVIDENCE_FOLDER": str(target.evidence),
           "FAULT_PARAMS": json.dumps(params), "PORTAL_ENV": "test", "VIRUS_SCANNER": "none"}
    child = subprocess.Popen([sys.executable, "-m", "tests.faults.child", case], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = child.stdout.readline()
    if line.strip() != "go":
        child.wait()
        raise RuntimeError(f"{case}: the child did not start: {line}{child.stderr.read()}")
    return child


def to_completion(case: str, target: Template, params: dict) -> float:
    """Run the operation to its end; its duration after start-up."""
    child = start(case, target, params)
    began = time.monotonic()
    out, err = child.communicate()
    took = time.monotonic() - began
    if child.returncode != 0:
        raise RuntimeError(f"{case}: the run to completion failed ({child.returncode}):\n{out}\n{err[-3000:]}")
    return took


def killed_at_random(case: str, target: Template, params: dict, duration: float, rng: random.Random) -> bool:
    """Start the operation and SIGKILL it after a random delay; True if it was still running when killed."""
    child = start(case, target, params)
    time.sleep(rng.uniform(0, duration))
    running = child.poll() is None
    if running:
        os.kill(child.pid, signal.SIGKILL)
    child.communicate()
    return running


def run_case(case: str, trials: int, rng: random.Random, scratch: Path, templates: dict) -> Outcome:
    kind, setup = CASES[case]
    if kind not in templates:
        templates[kind] = build_template(scratch / kind, payroll=kind == "money")
    base = templates[kind]
    work = scratch / case
    work.mkdir()
    template = copy_of(base, work / "template")
    params = setup(template, work)
    checkpoint(template)

    clean = copy_of(template, work / "clean")
    duration = max(to_completion(case, clean, params), 0.05)
    expected = checks.snapshot(clean.db)
    outcome = Outcome(duration=duration, adds=sum((expected - checks.snapshot(template.db)).values()))
    problems = checks.invariant_problems(clean.db)
    if problems:  # the operation itself, never interrupted, breaks an invariant: no trial can pass
        outcome.failures.append(f"uninterrupted run: {problems[:3]}")

    for trial in range(trials):
        target = copy_of(template, work / "trial")
        outcome.tried += 1
        outcome.killed_mid_run += killed_at_random(case, target, params, duration, rng)
        to_completion(case, target, params)
        lost, duplicated, examples = checks.compare(expected, checks.snapshot(target.db))
        outcome.lost += lost
        outcome.duplicated += duplicated
        if lost or duplicated:
            outcome.failures.append(f"trial {trial + 1}: {examples}")
        status = checks.integrity(target.db)
        if status != "ok":
            outcome.failures.append(f"trial {trial + 1}: integrity_check says {status[:200]}")
        for problem in checks.invariant_problems(target.db)[:3]:
            outcome.failures.append(f"trial {trial + 1}: {problem}")
        orphans, missing = checks.file_problems(target.db, target.evidence)
        if missing:
            outcome.lost += len(missing)
            outcome.failures.append(f"trial {trial + 1}: rows name {len(missing)} missing file(s)")
        if orphans:
            from portal.storage import Storage

            outcome.orphans_swept += Storage(target.evidence).remove_orphans(checks.named_files(target.db), older_than=0)
            left, _ = checks.file_problems(target.db, target.evidence)
            if left:
                outcome.failures.append(f"trial {trial + 1}: {len(left)} orphan file(s) survive the clean-up")
    shutil.rmtree(work / "trial", ignore_errors=True)
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=50, help="Kills per case (make faults: 50, CI: 5).")
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="Only this case (repeatable).")
    parser.add_argument("--seed", type=int, default=None, help="Seed for the kill delays (printed, to repeat a run).")
    args = parser.parse_args(argv)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    rng = random.Random(seed)
    print(f"Fault suite: {args.trials} trial(s) per case, seed {seed} (--seed {seed} repeats the kill delays).")
    failed = False
    templates: dict = {}
    with tempfile.TemporaryDirectory(prefix="portal-faults-") as scratch:
        for case in args.case or list(CASES):
            began = time.monotonic()
            outcome = run_case(case, args.trials, rng, Path(scratch), templates)
            print(f"{case}: tried {outcome.tried}, lost or duplicated {outcome.lost + outcome.duplicated} "
                  f"(lost {outcome.lost}, duplicated {outcome.duplicated}; killed mid-run {outcome.killed_mid_run}, "
                  f"orphan files cleaned up {outcome.orphans_swept}; the run adds or changes {outcome.adds} records "
                  f"in {outcome.duration:.2f}s; case took {time.monotonic() - began:.0f}s)", flush=True)
            for failure in outcome.failures[:10]:
                print(f"    {failure}")
            failed |= bool(outcome.failures) or outcome.lost + outcome.duplicated > 0
    print("Fault suite: FAILED" if failed else "Fault suite: passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
