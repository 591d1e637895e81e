"""Payslips: a PA sees theirs from every employer, an employer (and their DPSS) the ones they paid; PDFs.

Every payslip is found through the scopes in portal.services.payslips (a payslip outside them is
not found, 404). Council officers and administrators never see a payslip (403): it is the PA's
personal data.
"""

from flask import Blueprint, abort, current_app, render_template, url_for
from flask_login import current_user

from portal.access import DPSS_STAFF, PA, RECIPIENT, REPRESENTATIVE, capacity_caption, requires
from portal.extensions import db
from portal.models import Role
from portal.services import payslips
from portal.services.clock import london_today
from portal.web.helpers import audit

bp = Blueprint("payslips", __name__)

# The employer's side: the employer, their representatives, DPSS staff (each within their scope).
EMPLOYER_SIDE = (RECIPIENT, REPRESENTATIVE, DPSS_STAFF)
PAYSLIP_VIEWERS = (PA, *EMPLOYER_SIDE)


def _pdf_response(body: bytes, filename: str):
    response = current_app.response_class(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _back(employer_id: int) -> tuple[str, str]:
    if current_user.role == Role.PA:
        return url_for("payslips.pa_index"), "Back to your payslips"
    return url_for("payslips.employer_index", person_id=employer_id), "Back to payslips"


@bp.route("/payslips")
@requires(PA)
def pa_index():
    years = payslips.pa_payslips(current_user.person_id)
    return render_template("payslips/pa_index.html", years=years, today=london_today())


@bp.route("/people/<int:person_id>/payslips")
@requires(*EMPLOYER_SIDE)
def employer_index(person_id: int):
    recipient = payslips.employer_or_404(person_id)
    years = payslips.employer_payslips(recipient.person_id)
    return render_template("payslips/employer_index.html", recipient=recipient, years=years,
                           caption=capacity_caption(current_user, recipient), today=london_today())


@bp.route("/payslips/<int:payslip_id>")
@requires(*PAYSLIP_VIEWERS)
def show(payslip_id: int):
    view = payslips.payslip_view(payslips.payslip_or_404(payslip_id))
    back_href, back_text = _back(view.payslip.employer_id)
    return render_template("payslips/show.html", view=view, back_href=back_href, back_text=back_text)


@bp.route("/payslips/<int:payslip_id>.pdf")
@requires(*PAYSLIP_VIEWERS)
def pdf(payslip_id: int):
    view = payslips.payslip_view(payslips.payslip_or_404(payslip_id))
    audit("payslip.downloaded", record_type="payslip", record_id=view.payslip.id, acting_for_id=view.payslip.employer_id)
    db.session.commit()
    return _pdf_response(payslips.payslip_pdf(view), payslips.payslip_filename(view))


@bp.route("/payslips/year-end/<int:tax_year>/<int:employment_id>.pdf")
@requires(*PAYSLIP_VIEWERS)
def p60(tax_year: int, employment_id: int):
    """Figures for a P60: the year to date on the tax year's last payslip with this employer."""
    if not 2000 <= tax_year <= london_today().year + 1:
        abort(404)
    employment = payslips.employment_or_404(employment_id)
    figures = payslips.p60_figures(employment, payslips.tax_year_start_of(tax_year))
    if figures is None:
        abort(404)
    payslips.audit_staff_view("payslip.p60_viewed", employment)
    audit("payslip.p60_downloaded", record_type="employment", record_id=employment.id, acting_for_id=employment.employer_id,
          outcome=str(tax_year))
    db.session.commit()
    return _pdf_response(payslips.year_end_pdf(figures, "P60"),
                         f"p60-figures-{tax_year}-{tax_year + 1}-employment-{employment.id}.pdf")


@bp.route("/payslips/leaver/<int:employment_id>.pdf")
@requires(*PAYSLIP_VIEWERS)
def p45(employment_id: int):
    """Figures for a P45, for an employment that has ended."""
    employment = payslips.employment_or_404(employment_id)
    figures = payslips.p45_figures(employment)
    if figures is None:
        abort(404)
    payslips.audit_staff_view("payslip.p45_viewed", employment)
    audit("payslip.p45_downloaded", record_type="employment", record_id=employment.id, acting_for_id=employment.employer_id)
    db.session.commit()
    return _pdf_response(payslips.year_end_pdf(figures, "P45"), f"p45-figures-employment-{employment.id}.pdf")
