"""Pay runs for DPSS payroll staff: draft from approved timesheets, a second person approves, then locked.

Who: staff holding the payroll permission (PAYROLL) and the provider's managers (DPSS_MANAGER: they see
all of their organisation's cases and approve pay runs), each for their own organisation's runs only. A
run of another provider, or a payslip not in the run named, is not found (404). Building and approving
happen in one transaction each (portal.sqlite.immediate_transaction), so a double-click or two people at
once change nothing twice; the approval form carries the version of the page it came from.
"""

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.access import DPSS_MANAGER, PAYROLL, requires
from portal.extensions import db
from portal.models import Person, PayPeriod, PayRun, PayRunKind, PayRunStatus, Payslip, User
from portal.services import pay_runs as service
from portal.services.clock import london_today
from portal.services.payslips import ni_category_words
from portal.sqlite import immediate_transaction
from portal.web.helpers import audit

bp = Blueprint("pay_runs", __name__)

RUN_STAFF = (PAYROLL, DPSS_MANAGER)


def _organisation_id() -> int:
    if current_user.organisation_id is None:
        abort(403)
    return current_user.organisation_id


def _run_or_404(run_id: int) -> PayRun:
    run = db.session.scalar(sa.select(PayRun).where(PayRun.id == run_id, PayRun.provider_id == _organisation_id()))
    if run is None:
        abort(404)
    return run


def _names(ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {p.id: p.full_name for p in db.session.scalars(sa.select(Person).where(Person.id.in_(ids)))}


def _staff_names(ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.display_name).where(User.id.in_(ids))).all())


def _period_choice(value: str) -> tuple[PayPeriod, date] | None:
    """'fortnightly:2026-11-02' as (frequency, start), or None."""
    kind, _, start = (value or "").partition(":")
    try:
        return PayPeriod(kind), date.fromisoformat(start)
    except ValueError:
        return None


@bp.get("/payroll/runs")
@requires(*RUN_STAFF)
def index(error: str | None = None):
    organisation_id = _organisation_id()
    today = london_today()
    runs = service.runs_of(organisation_id)
    staff = _staff_names([r.created_by_id for r in runs] + [r.approved_by_id for r in runs])
    totals = {}
    if runs:
        rows = db.session.execute(
            sa.select(Payslip.run_id, sa.func.count(Payslip.id), sa.func.coalesce(sa.func.sum(Payslip.net_pence), 0),
                      sa.func.sum(sa.case((Payslip.problems != "", 1), else_=0)))
            .where(Payslip.run_id.in_([r.id for r in runs])).group_by(Payslip.run_id)).all()
        totals = {run_id: (count, int(net), int(problems or 0)) for run_id, count, net, problems in rows}
    return render_template(
        "pay_runs/index.html", runs=runs, staff=staff, totals=totals, choices=service.periods_to_choose(organisation_id, today),
        today=today, error=error, organisation=current_user.organisation, may_build=PAYROLL.allows(current_user),
    )


@bp.post("/payroll/runs")
@requires(PAYROLL)
def create():
    """Build the draft for the chosen period (or rebuild it, if one exists)."""
    chosen = _period_choice(request.form.get("period", ""))
    if chosen is None:
        return index(error="Select the pay period to run"), 400
    frequency, start = chosen
    return _build(frequency, start)


def _build(frequency: PayPeriod, start: date):
    organisation_id = _organisation_id()
    try:
        with immediate_transaction():
            run = service.build_draft(organisation_id, frequency, start, current_user._get_current_object(), london_today())
            audit("pay_run.built", record_type="pay_run", record_id=run.id,
                  outcome=f"version {run.version}, {len(run.payslips)} payslips")
            run_id, count, problems = run.id, len(run.payslips), sum(1 for p in run.payslips if p.problems)
    except service.AlreadyApproved as refused:
        flash(refused.message, "info")
        existing = db.session.scalar(sa.select(PayRun.id).where(PayRun.run_key == service.run_key(organisation_id, frequency, start)))
        return redirect(url_for(".show", run_id=existing) if existing else url_for(".index"))
    except service.PayRunError as refused:
        return index(error=refused.message), 400
    words = f"Draft pay run built: {count} payslip{'s' if count != 1 else ''}."
    if problems:
        words += f" {problems} need{'s' if problems == 1 else ''} putting right before it can be approved."
    else:
        words += " Another member of staff must now check and approve it."
    flash(words, "success")
    return redirect(url_for(".show", run_id=run_id))


@bp.post("/payroll/runs/<int:run_id>/rebuild")
@requires(PAYROLL)
def rebuild(run_id: int):
    run = _run_or_404(run_id)
    if run.kind == PayRunKind.REVERSAL:
        flash("A reversal is not rebuilt: it takes back exactly what the approved run paid.", "info")
        return redirect(url_for(".show", run_id=run.id))
    return _build(run.pay_period, run.period_start)


def _summary(run: PayRun) -> dict[str, int]:
    fields = ("gross_pence", "non_taxable_pence", "tax_pence", "employee_ni_pence", "employer_ni_pence", "employment_allowance_pence",
              "employee_pension_pence", "employer_pension_pence", "net_pence")
    return {f: sum(getattr(p, f) for p in run.payslips) for f in fields}


@bp.get("/payroll/runs/<int:run_id>")
@requires(*RUN_STAFF)
def show(run_id: int):
    run = _run_or_404(run_id)
    payslips = sorted(run.payslips, key=lambda p: (not p.problems, p.id))
    names = _names([p.pa_id for p in payslips] + [p.employer_id for p in payslips])
    staff = _staff_names([run.created_by_id, run.built_by_id, run.approved_by_id])
    user = current_user._get_current_object()
    why_not = service.may_approve(user, run)
    blocked = [p for p in payslips if p.problems]
    warned = [p for p in payslips if p.warnings]
    reversal = db.session.scalar(sa.select(PayRun).where(PayRun.reverses_run_id == run.id))
    reverses = db.session.get(PayRun, run.reverses_run_id) if run.reverses_run_id else None
    flagged = {p.id: [s for s in service.steps_of(p) if s.get("flag")] for p in payslips}
    return render_template(
        "pay_runs/show.html", run=run, payslips=payslips, names=names, staff=staff, summary=_summary(run),
        employers=service.employer_totals(run), why_not=why_not, blocked=blocked, problems_of=service.problems_of,
        warned=warned, warnings_of=service.warnings_of,
        can_approve=why_not is None and not blocked and bool(payslips), reversal=reversal, reverses=reverses, flagged=flagged,
        may_build=PAYROLL.allows(user) and run.status == PayRunStatus.DRAFT and run.kind == PayRunKind.REGULAR,
        may_reverse=PAYROLL.allows(user) and run.status == PayRunStatus.APPROVED and run.kind == PayRunKind.REGULAR and reversal is None,
    )


def _version() -> int:
    try:
        return int(request.form.get("version", ""))
    except ValueError:
        abort(400)


@bp.post("/payroll/runs/<int:run_id>/approve")
@requires(*RUN_STAFF)
def approve(run_id: int):
    run = _run_or_404(run_id)
    version = _version()
    try:
        with immediate_transaction():
            service.approve(run.id, version, current_user._get_current_object(), london_today())
            audit("pay_run.approved", record_type="pay_run", record_id=run.id, outcome=run.kind.value)
    except service.PayRunError as refused:
        flash(refused.message, "info" if isinstance(refused, service.AlreadyApproved) else "error")
        return redirect(url_for(".show", run_id=run_id))
    if run.kind == PayRunKind.REVERSAL:
        flash("Reversal approved: the reversed run's payslips are taken back and its timesheets will be paid by the next run.",
              "success")
    else:
        flash("Pay run approved and locked. Net pay, tax and National Insurance, and pensions are now expected from each "
              "employer's account.", "success")
    return redirect(url_for(".show", run_id=run_id))


@bp.post("/payroll/runs/<int:run_id>/reverse")
@requires(PAYROLL)
def reverse(run_id: int):
    run = _run_or_404(run_id)
    try:
        with immediate_transaction():
            reversal = service.reverse(run.id, current_user._get_current_object())
            audit("pay_run.reversal_built", record_type="pay_run", record_id=reversal.id, outcome=f"reverses {run.id}")
            reversal_id = reversal.id
    except service.PayRunError as refused:
        flash(refused.message, "error")
        return redirect(url_for(".show", run_id=run_id))
    flash("Reversal drafted: every payslip of the run is taken back once another member of staff approves it.", "success")
    return redirect(url_for(".show", run_id=reversal_id))


@bp.get("/payroll/runs/<int:run_id>.csv")
@requires(*RUN_STAFF)
def csv(run_id: int):
    run = _run_or_404(run_id)
    body = service.run_csv(run)
    audit("pay_run.exported", record_type="pay_run", record_id=run.id, outcome=f"{len(run.payslips)} payslips")
    db.session.commit()
    response = Response(("\ufeff" + body).encode("utf-8"), mimetype="text/csv")
    name = f"pay-run-{run.id}-{run.pay_period.value}-{run.period_start.isoformat()}{'-reversal' if run.kind == PayRunKind.REVERSAL else ''}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/payroll/runs/<int:run_id>/payslips/<int:payslip_id>")
@requires(*RUN_STAFF)
def payslip(run_id: int, payslip_id: int):
    run = _run_or_404(run_id)
    slip = db.session.scalar(sa.select(Payslip).where(Payslip.id == payslip_id, Payslip.run_id == run.id))
    if slip is None:
        abort(404)
    names = _names([slip.pa_id, slip.employer_id])
    audit("payslip.viewed", record_type="payslip", record_id=slip.id, acting_for_id=slip.employer_id)
    db.session.commit()
    return render_template("pay_runs/payslip.html", run=run, payslip=slip, names=names, steps=service.steps_of(slip),
                           problems=service.problems_of(slip), warnings=service.warnings_of(slip),
                           ni_category_words=ni_category_words)
