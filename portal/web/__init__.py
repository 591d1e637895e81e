"""The blueprints, one package per audience, and what every page shares (errors, sign-in loader)."""

from datetime import date, datetime

from flask import Flask, flash, g, make_response, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from govuk_frontend_wtf.main import WTFormsHelpers
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from portal.extensions import db, login_manager
from portal.services import notifications as notification_service
from portal.services import sessions
from portal.services.clock import to_london
from portal.services.timesheets import hours_text


def init_app(app: Flask) -> None:
    from portal.web.account.views import bp as account_bp
    from portal.web.admin.views import bp as admin_bp
    from portal.web.auth.views import bp as auth_bp
    from portal.web.caseload.views import bp as caseload_bp
    from portal.web.home.views import bp as home_bp
    from portal.web.public.views import bp as public_bp
    from portal.web.recipient.views import bp as recipient_bp
    from portal.web.budgets.views import bp as budgets_bp
    from portal.web.evidence.views import bp as evidence_bp
    from portal.web.money.views import bp as money_bp
    from portal.web.money_admin.views import bp as money_admin_bp
    from portal.web.statements.views import bp as statements_bp
    from portal.web.status.views import bp as status_bp
    from portal.web.employments.views import bp as employments_bp
    from portal.web.timesheets.views import bp as timesheets_bp
    from portal.web.payroll.views import bp as payroll_bp
    from portal.web.notifications.views import bp as notifications_bp
    from portal.web.register.views import bp as register_bp
    from portal.web.find_pa.views import bp as find_pa_bp
    from portal.web.pa_contacts.views import bp as pa_contacts_bp
    from portal.web.vacancies.views import bp as vacancies_bp
    from portal.web.excess_reviews.views import bp as excess_reviews_bp
    from portal.web.work_queues.views import bp as work_queues_bp
    from portal.web.casework.views import bp as casework_bp
    from portal.web.oversight.views import bp as oversight_bp
    from portal.web.audits.views import bp as audits_bp
    from portal.web.managed_payments.views import bp as managed_payments_bp
    from portal.web.case_page.views import bp as case_page_bp
    from portal.web.pay_runs.views import bp as pay_runs_bp
    from portal.web.payslips.views import bp as payslips_bp
    from portal.web.your_data.views import bp as your_data_bp

    for blueprint in (
        public_bp, auth_bp, account_bp, home_bp, recipient_bp, caseload_bp, admin_bp, status_bp,
        money_bp, evidence_bp, statements_bp, budgets_bp, money_admin_bp, employments_bp, timesheets_bp, payroll_bp,
        notifications_bp, register_bp, find_pa_bp, pa_contacts_bp, vacancies_bp, excess_reviews_bp, work_queues_bp,
        casework_bp, oversight_bp, audits_bp, managed_payments_bp, case_page_bp, pay_runs_bp, payslips_bp,
        your_data_bp,
    ):
        app.register_blueprint(blueprint)

    WTFormsHelpers(app)

    # The static route is open to everyone: say so, so the access walk sees a declared rule.
    app.view_functions["static"].access_rule = "public"

    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # the server-side session row does this job

    @login_manager.user_loader
    def _load_user(session_id: str):
        user, reason = sessions.load_session(session_id, app.config["SESSION_IDLE_MINUTES"])
        if user is None and reason == "idle":
            g.signed_out_idle = True
        return user

    @app.before_request
    def _idle_message():
        if request.endpoint == "static":
            return  # stylesheets and scripts need no one signed in: no session read, so no database
        current_user._get_current_object()  # load the user now so an idle sign-out can be explained
        if g.get("signed_out_idle"):
            flash("You were signed out because you had not used the service for 30 minutes.", "info")

    @app.context_processor
    def _shared():
        return {
            "service_name": app.config["SERVICE_NAME"],
            "current_user": current_user,
            "idle_minutes": app.config["SESSION_IDLE_MINUTES"],
            "warning_minutes": app.config["SESSION_WARNING_MINUTES"],
        }

    # A global as well as a context value, so imported macros (which get no context) can use it.
    app.jinja_env.globals["current_user"] = current_user
    app.jinja_env.globals["has_endpoint"] = lambda name: name in app.view_functions
    app.jinja_env.globals["weeks_in_words"] = weeks_in_words
    app.jinja_env.globals["unread_messages"] = lambda: notification_service.unread_count(current_user) if current_user.is_authenticated else 0
    app.jinja_env.filters["pounds"] = format_pounds
    app.jinja_env.filters["sentence"] = lambda text: text[:1].upper() + text[1:] if text else ""
    app.jinja_env.filters["long_date"] = format_date
    app.jinja_env.filters["date_time"] = format_date_time
    app.jinja_env.filters["hours"] = lambda minutes: hours_text(int(minutes or 0))
    app.jinja_env.filters["hours_a_week"] = lambda hours: f"{hours.normalize():f} hours a week"

    def _error(status: int, template: str):
        def handler(error):
            db.session.rollback()
            return render_template(f"errors/{template}.html", error=error), status

        return handler

    for status in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(status, _error(status, str(status)))

    @app.errorhandler(CSRFError)
    def _csrf_error(error):
        db.session.rollback()
        return render_template("errors/400.html", error=error, csrf_expired=True), 400

    @app.errorhandler(DBAPIError)
    def _database_error(error: DBAPIError):
        """The database cannot be reached (restarting, refusing connections, or it dropped ours): a 503
        page that needs no database, with Retry-After. Any other database error is re-raised, to Flask's
        500. On SQLite, portal/sqlite.py's handler for "database is locked" runs first and defers here."""
        if not database_unreachable(error):
            raise error
        try:
            db.session.rollback()
        except SQLAlchemyError:
            pass  # nothing to keep: the connection is gone, and the pool replaces it once the server is back
        # Who is signed in cannot be checked without the database: the page is drawn as for anyone, so
        # that the header (which reads the person's organisation and messages) asks nothing of it.
        login_manager._update_request_context_with_user(None)
        app.logger.warning("Database unreachable on %s %s: %s", request.method, request.path,
                           str(error.orig or error).strip().splitlines()[0][:300])
        response = make_response(render_template("errors/503.html"), 503)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    app.extensions["portal.database_error"] = _database_error


RETRY_AFTER_SECONDS = 30

# What the drivers say when the server cannot be reached or has dropped the connection: psycopg (refused,
# the server restarting or shutting down, a connection it closed) and SQLite (the file cannot be opened).
UNREACHABLE = (
    "connection refused",
    "could not connect",
    "connection failed",
    "server closed the connection",
    "terminating connection",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "the connection is closed",
    "the connection is lost",
    "consuming input failed",
    "not yet accepting connections",
    "no connection to the server",
    "unable to open database file",
)


def database_unreachable(error: BaseException) -> bool:
    """Whether a database error means the database could not be reached (a 503), not a fault in a query (a 500)."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    # PostgreSQL's codes for a connection problem (class 08) and for a server shutting down or starting up.
    sqlstate = getattr(error.orig, "sqlstate", None) or ""
    if sqlstate.startswith("08") or sqlstate in ("57P01", "57P02", "57P03"):
        return True
    message = str(error.orig if error.orig is not None else error).lower()
    return any(marker in message for marker in UNREACHABLE)


def format_pounds(pence: int | None) -> str:
    """Integer pence as £1,234.56 (the only place money becomes text)."""
    if pence is None:
        return ""
    sign = "-" if pence < 0 else ""
    pounds, pennies = divmod(abs(int(pence)), 100)
    return f"{sign}£{pounds:,}.{pennies:02d}"


NUMBER_WORDS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def weeks_in_words(weeks: int) -> str:
    """'four weeks', as GOV.UK style writes small numbers in words."""
    number = NUMBER_WORDS[weeks] if 0 <= weeks < len(NUMBER_WORDS) else str(weeks)
    return f"{number} week{'s' if weeks != 1 else ''}"


def format_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_london(value)
    return f"{value.day} {value:%B %Y}"


def format_date_time(value: datetime | None) -> str:
    if value is None:
        return ""
    moment = to_london(value)
    hour = moment.hour % 12 or 12
    return f"{moment.day} {moment:%B %Y} at {hour}:{moment:%M}{'am' if moment.hour < 12 else 'pm'}"
