"""One fault-suite operation, run in a child process that the runner may SIGKILL at any moment.

    python -m tests.faults.child CASE

The database and evidence folder come from DATABASE_URL and EVIDENCE_FOLDER. The child prints "go" once
the app is built (imports and start-up are not the operation), then runs the operation to its end. The
operations are the real entry points: the `payments run` and `import-card-transactions` CLI commands, and
the services the pay run, upload and audit views call, in the transactions those views use.
"""

import io
import json
import os
import sys
from datetime import date

os.environ.setdefault("PORTAL_ENV", "test")
os.environ.setdefault("VIRUS_SCANNER", "none")

import sqlalchemy as sa  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402

UPLOADS = 8  # receipts per upload run


def receipt_png(n: int) -> bytes:
    """A small, different picture for each upload (the cleaner re-encodes it)."""
    from PIL import Image

    image = Image.new("RGB", (64, 48), ((n * 37) % 256, (n * 91) % 256, 120))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _cli(app, *args: str) -> None:
    result = app.test_cli_runner().invoke(args=list(args), catch_exceptions=False)
    sys.stdout.write(result.output)
    if result.exit_code != 0:
        raise SystemExit(result.exit_code)


def payments(app, params: dict) -> None:
    _cli(app, "payments", "run", "--as-of", params["as_of"])


def card_import(app, params: dict) -> None:
    _cli(app, "import-card-transactions", params["file"])


def pay_run(app, params: dict) -> None:
    from portal.models import PayRun, User
    from portal.services import pay_runs
    from portal.sqlite import immediate_transaction

    with app.app_context():
        approver = db.session.scalar(sa.select(User).where(User.email == params["approver"]))
        run = db.session.get(PayRun, params["run_id"])
        try:
            with immediate_transaction():
                pay_runs.approve(run.id, run.version, approver, date.fromisoformat(params["today"]))
        except pay_runs.AlreadyApproved:
            print("already approved")


def upload(app, params: dict) -> None:
    """Eight receipts, each with its spending entry (the manual-spending page's service). A person whose
    upload failed sends it again: the ones already stored are recognised by their description and skipped."""
    from portal.models import Category, DPAccount, LedgerEntry
    from portal.services import evidence

    with app.app_context():
        account = db.session.get(DPAccount, params["account_id"])
        for n in range(UPLOADS):
            description = f"Fault suite receipt {n}"
            if db.session.scalar(sa.select(LedgerEntry.id).where(LedgerEntry.description == description)):
                continue
            cleaned = evidence.check_and_clean(receipt_png(n), f"receipt-{n}.png")
            evidence.add_manual_spend(account, date.fromisoformat(params["day"]), "Fault Suite Shop", Category.OTHER,
                                      description, 1000 + n, cleaned, params["user_id"])


def audit_sign_off(app, params: dict) -> None:
    from portal.models import Audit, AuditOutcome, Recipient, User
    from portal.services import audits
    from portal.sqlite import immediate_transaction

    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == params["user"]))
        try:
            with immediate_transaction():
                audit = db.session.get(Audit, params["audit_id"])
                audits.sign_off(db.session.get(Recipient, audit.recipient_id), audit, user, AuditOutcome.ACTIONS_NEEDED,
                                "Send the missing receipts within 4 weeks.", audit.version, date.fromisoformat(params["today"]))
        except audits.AlreadySignedOff:
            print("already signed off")


OPERATIONS = {"payments": payments, "card_import": card_import, "pay_run": pay_run, "upload": upload,
              "audit_sign_off": audit_sign_off}


def main() -> None:
    case = sys.argv[1]
    params = json.loads(os.environ["FAULT_PARAMS"])
    app = create_app()
    print("go", flush=True)
    OPERATIONS[case](app, params)
    print("done", flush=True)


if __name__ == "__main__":
    main()
