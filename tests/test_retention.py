"""Retention: people past their council's retention period are anonymised; totals, the audit trail and pay
records still inside their period stay; everyone else is untouched; a second run and a dry run change nothing."""

import shutil
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

import tests.conftest as conftest
from portal.extensions import db
from portal.models import PAProfile, User
from portal.services import audit, personal_data, retention
from portal.services.register import delete_profile
from portal.services.subject_access import collect
from portal.services.text_search import about_matches
from portal.storage import Storage

AMINA, GRACE, TOM, SOPHIE = "amina@example.org", "grace@example.org", "tom@example.org", "sophie.pa@example.org"


@pytest.fixture
def retention_app(databases, tmp_path):
    """The money demo with an evidence folder of its own (retention deletes files; other tests share the session's)."""
    folder = tmp_path / "evidence"
    app, url = conftest._make_app(databases, "money", EVIDENCE_FOLDER=str(folder))  # makes the template (and its files) first
    shutil.copytree(conftest.EVIDENCE_FOLDER, folder)
    app.config["TEST_FOLDER"] = folder
    yield app
    conftest._close_app(databases, app, url)


def pid(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(User.person_id).where(User.email == email))


def add_years(day: date, years: int) -> date:
    return day.replace(year=day.year + years) if not (day.month == 2 and day.day == 29) else date(day.year + years, 2, 28)


def end_case(app, person: int, ended_on: date, close: bool = True) -> None:
    with app.app_context():
        db.session.execute(sa.text("UPDATE budgets SET end_date = :d WHERE recipient_id = :p"), {"d": ended_on, "p": person})
        if close:
            db.session.execute(sa.text("UPDATE caseload_entries SET closed_on = :d, closed_reason = 'moved out of the area', "
                                       "closed_note = 'Moved to live with her sister Amina Patel senior' WHERE recipient_id = :p"),
                               {"d": ended_on, "p": person})
        db.session.commit()


def dump(app, skip: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    with app.app_context():
        out = {}
        for table in db.metadata.sorted_tables:
            if table.name in skip:
                continue
            out[table.name] = [tuple(row) for row in db.session.execute(sa.select(table).order_by(*table.primary_key.columns))]
        return out


def rows_about(app, person: int) -> dict[str, dict]:
    with app.app_context():
        return {name: bucket.rows for name, bucket in collect(person).items()}


def ledger_totals(app):
    with app.app_context():
        by_account = db.session.execute(sa.text(
            "SELECT account_id, SUM(amount_pence), COUNT(*) FROM ledger_entries GROUP BY account_id ORDER BY account_id")).all()
        by_council = db.session.execute(sa.text(
            "SELECT r.council_id, SUM(e.amount_pence), COUNT(*) FROM ledger_entries e JOIN dp_accounts a ON a.id = e.account_id "
            "JOIN recipients r ON r.person_id = a.recipient_id GROUP BY r.council_id ORDER BY r.council_id")).all()
        balances = db.session.execute(sa.text("SELECT account_id, balance_pence FROM account_balances ORDER BY account_id")).all()
        return [tuple(r) for r in by_account], [tuple(r) for r in by_council], [tuple(r) for r in balances]


def text_hits(app, words: list[str], skip: set[str] = frozenset()) -> list[tuple]:
    """(table, column, value) for every text column of every personal table that holds one of the words."""
    hits = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            if not personal_data.entry(table.name).holds_personal_data or table.name in skip:
                continue
            for column in table.columns:
                if not isinstance(column.type, sa.String | sa.Text):
                    continue
                for word in words:
                    for value in db.session.scalars(sa.select(column).where(sa.func.lower(column).contains(word.lower()))):
                        hits.append((table.name, column.name, value))
        return hits


def latest_pay_tax_year_end(app, person: int) -> date:
    with app.app_context():
        start = db.session.scalar(sa.text("SELECT MAX(tax_year_start) FROM payslips WHERE employer_id = :p"), {"p": person})
    assert start is not None, "the demo's first pay run paid Amina's PA"
    start = start if isinstance(start, date) else date.fromisoformat(str(start))
    return date(start.year + 1, 4, 5)  # a tax year runs 6 April to 5 April


def evidence_files(app, person: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.text(
            "SELECT v.storage_name FROM evidence v JOIN ledger_entries e ON e.id = v.entry_id JOIN dp_accounts a ON a.id = e.account_id "
            "WHERE a.recipient_id = :p"), {"p": person}))


def annotate(entry_id: int, explanation: str) -> int:
    """Add an explanation to a ledger entry (the demo's spending carries its explanations on entry_states)."""
    db.session.execute(sa.text("INSERT INTO entry_annotations (entry_id, flags, explanation, note, created_at) "
                               "VALUES (:e, '', :x, 'explained', CURRENT_TIMESTAMP)"), {"e": entry_id, "x": explanation})
    db.session.commit()
    return db.session.scalar(sa.text("SELECT MAX(id) FROM entry_annotations"))


def add_event(person: int, address: str) -> None:
    """An audit event of the person's own sign-in, from an internet address (the demo has none)."""
    user = db.session.scalar(sa.select(User).where(User.person_id == person))
    audit.record("sign_in", user=user, outcome="signed in", address=address)
    db.session.commit()


def run(app, today: date, dry_run: bool = False) -> retention.Report:
    with app.app_context():
        return retention.run(today, dry_run=dry_run)


PAY_TABLES = {"employments", "leave_records", "timesheets", "shifts", "timesheet_claims", "timesheet_documents",
              "payslips", "payslip_lines", "paid_timesheets", "managed_payment_timesheets", "pay_runs"}


def test_every_personal_table_has_a_retention_decision():
    assert set(retention.POLICY) == set(personal_data.personal_tables())


def test_a_closed_case_past_the_period_is_anonymised_and_totals_audit_pay_records_and_others_stay(retention_app):
    app = retention_app
    amina, grace, tom, sophie = (pid(app, e) for e in (AMINA, GRACE, TOM, SOPHIE))
    # Pay records are kept 6 years after their tax year; the run falls 10 days before that, and the budgets
    # ended 6 years and 10 days before the run (the council's default period is 6 years).
    kept_until = add_years(latest_pay_tax_year_end(app, amina), 6)
    today = kept_until - timedelta(days=10)
    ended = add_years(today, -6) - timedelta(days=10)
    end_case(app, amina, ended)
    end_case(app, tom, ended, close=False)  # still supported: an open case is never purged
    files = evidence_files(app, amina)
    assert files, "the demo stores Amina's receipts"
    others_files = evidence_files(app, grace)
    folder = app.config["TEST_FOLDER"]
    assert all((folder / name).exists() for name in files + others_files)
    with app.app_context():
        annotate(db.session.scalar(sa.text("SELECT MIN(e.id) FROM ledger_entries e JOIN dp_accounts a ON a.id = e.account_id "
                                           "WHERE a.recipient_id = :p"), {"p": amina}), "Amina's birthday meal")
        add_event(amina, "203.0.113.7")
        add_event(grace, "203.0.113.8")
        audit_before = db.session.execute(sa.text(
            "SELECT id, at, user_id, role, acting_for_id, action, record_type, record_id, outcome FROM audit_events ORDER BY id")).all()
        payslips_before = db.session.execute(sa.text("SELECT * FROM payslips WHERE employer_id = :p ORDER BY id"), {"p": amina}).all()
        timesheets_before = db.session.execute(sa.text("SELECT * FROM timesheets WHERE employer_id = :p ORDER BY id"), {"p": amina}).all()
    assert payslips_before
    totals = ledger_totals(app)
    grace_rows, tom_rows, sophie_rows = rows_about(app, grace), rows_about(app, tom), rows_about(app, sophie)
    with app.app_context():
        phone, postcode = db.session.execute(sa.text("SELECT p.phone, r.postcode FROM people p JOIN recipients r ON r.person_id = p.id "
                                                     "WHERE p.id = :p"), {"p": amina}).one()
        payees = set(db.session.scalars(sa.text("SELECT name FROM payees WHERE name LIKE '%A PATEL%'")))
    details = ["amina", phone, postcode]  # other people are called Patel: her given name, phone and postcode are hers
    assert phone and postcode and payees
    assert len(text_hits(app, details)) > 5, "Amina's details are all over the demo before the run"

    report = run(app, today)

    assert [r.person_id for r in report.done] == [amina]
    assert report.done[0].pay_records_kept_until == kept_until
    # Her name, contact details, notes and messages are gone from every text column outside the pay records.
    assert text_hits(app, details, skip=PAY_TABLES) == []
    with app.app_context():
        person = db.session.execute(sa.text("SELECT given_name, family_name, email, phone FROM people WHERE id = :p"), {"p": amina}).one()
        assert tuple(person) == ("[removed]", "", "", "")
        recipient = db.session.execute(sa.text("SELECT date_of_birth, postcode FROM recipients WHERE person_id = :p"), {"p": amina}).one()
        assert str(recipient.date_of_birth) == "1900-01-01" and recipient.postcode == ""
        user = db.session.execute(sa.text("SELECT email, password_hash, disabled_at FROM users WHERE person_id = :p"), {"p": amina}).one()
        assert user.email.endswith("@removed.invalid") and user.password_hash is None and user.disabled_at is not None
        assert set(db.session.scalars(sa.text("SELECT name FROM payees WHERE name LIKE '%A PATEL%'"))) == set(), payees
        assert db.session.scalar(sa.text("SELECT COUNT(*) FROM representative_links WHERE recipient_id = :p"), {"p": amina}) == 0
        assert db.session.scalar(sa.text("SELECT COUNT(*) FROM user_sessions s JOIN users u ON u.id = s.user_id WHERE u.person_id = :p"),
                                 {"p": amina}) == 0
        assert db.session.scalar(sa.text("SELECT COUNT(*) FROM case_notes WHERE recipient_id = :p AND body <> '[removed]'"), {"p": amina}) == 0
        assert db.session.scalar(sa.text(
            "SELECT COUNT(*) FROM entry_annotations n JOIN ledger_entries e ON e.id = n.entry_id JOIN dp_accounts a ON a.id = e.account_id "
            "WHERE a.recipient_id = :p AND n.explanation <> ''"), {"p": amina}) == 0
        # The audit trail is whole: every event still there, as it was (only the internet address may go).
        audit_after = db.session.execute(sa.text(
            "SELECT id, at, user_id, role, acting_for_id, action, record_type, record_id, outcome FROM audit_events ORDER BY id")).all()
        assert audit_after[:len(audit_before)] == audit_before
        added = {row.action for row in audit_after[len(audit_before):]}
        assert added == {"retention.anonymised", "retention.run"}
        assert db.session.scalar(sa.text("SELECT COUNT(*) FROM audit_events e JOIN users u ON u.id = e.user_id "
                                         "WHERE u.person_id = :p AND e.address <> ''"), {"p": amina}) == 0
        # Pay records inside their period are kept exactly.
        assert db.session.execute(sa.text("SELECT * FROM payslips WHERE employer_id = :p ORDER BY id"), {"p": amina}).all() == payslips_before
        assert db.session.execute(sa.text("SELECT * FROM timesheets WHERE employer_id = :p ORDER BY id"), {"p": amina}).all() == timesheets_before
        assert db.session.scalar(sa.text("SELECT COUNT(*) FROM evidence v JOIN ledger_entries e ON e.id = v.entry_id "
                                         "JOIN dp_accounts a ON a.id = e.account_id WHERE a.recipient_id = :p"), {"p": amina}) == 0
    # Totals per account and per council, and the balances, are unchanged.
    assert ledger_totals(app) == totals
    # Her files are gone; everyone else's are there.
    assert not any((folder / name).exists() for name in files)
    assert all((folder / name).exists() for name in others_files)
    # Everyone else is untouched, Tom (budgets ended, case open) and Sophie (her PA) included.
    assert rows_about(app, grace) == grace_rows
    assert rows_about(app, tom) == tom_rows
    assert rows_about(app, sophie) == sophie_rows

    # A second run changes nothing (but is audited).
    before = dump(app, skip=("audit_events",))
    again = run(app, today)
    assert again.done == [] and again.already_done == 1
    assert dump(app, skip=("audit_events",)) == before
    with app.app_context():
        last = db.session.execute(sa.text("SELECT action, record_id, outcome FROM audit_events ORDER BY id DESC LIMIT 1")).one()
        assert tuple(last) == ("retention.run", today.isoformat(), "0 people, 0 rows, 0 files")

    # Once the pay records are past their 6 years, their free text goes too; their amounts stay.
    later = kept_until + timedelta(days=1)
    third = run(app, later)
    assert [r.person_id for r in third.done] == [amina] and third.done[0].pay_records_kept_until is None
    assert text_hits(app, details) == []
    with app.app_context():
        after = db.session.execute(sa.text("SELECT id, gross_pence, net_pence, tax_pence, pay_date FROM payslips "
                                           "WHERE employer_id = :p ORDER BY id"), {"p": amina}).all()
        assert after == [(r.id, r.gross_pence, r.net_pence, r.tax_pence, r.pay_date) for r in payslips_before]
        assert db.session.scalar(sa.text("SELECT COUNT(*) FROM employments WHERE employer_id = :p AND ni_number <> ''"), {"p": amina}) == 0
    assert ledger_totals(app) == totals
    assert run(app, later).done == []


def test_within_the_councils_period_or_still_supported_nothing_changes(retention_app):
    app = retention_app
    amina, grace = pid(app, AMINA), pid(app, GRACE)
    ended = date(2027, 3, 31)
    end_case(app, amina, ended)  # closed, ended: due only after 6 years
    end_case(app, grace, ended, close=False)  # budgets ended but the case is open
    before = dump(app)
    # The last day inside the period: 31 March 2033 is 6 years after, not more.
    report = run(app, date(2033, 3, 31))
    assert report.done == []
    after = dump(app)
    assert {name: rows for name, rows in after.items() if name != "audit_events"} == \
        {name: rows for name, rows in before.items() if name != "audit_events"}
    assert len(after["audit_events"]) == len(before["audit_events"]) + 1  # the run itself
    # A council that keeps records 3 years: due after 3.
    with app.app_context():
        council = db.session.scalar(sa.text("SELECT council_id FROM recipients WHERE person_id = :p"), {"p": amina})
        from portal.services.local_settings import add_council_settings, council_settings

        current = council_settings(council, date(2030, 1, 1))
        add_council_settings(council_id=council, effective_from=date(2029, 1, 1), cycle_anchor=current.cycle_anchor,
                             excess_weeks=current.excess_weeks, contingency_pence=current.contingency_pence,
                             evidence_threshold_pence=current.evidence_threshold_pence, retention_years=3)
        db.session.commit()
    assert run(app, date(2030, 3, 31)).done == []  # exactly 3 years: not more
    report = run(app, date(2030, 4, 1))
    assert [r.person_id for r in report.done] == [amina]
    assert rows_about(app, grace)["people"]  # Grace still has her name
    assert text_hits(app, ["grace"])


def test_dry_run_reports_and_changes_nothing(retention_app):
    app = retention_app
    amina = pid(app, AMINA)
    end_case(app, amina, date(2027, 1, 1))
    files = evidence_files(app, amina)
    before = dump(app)
    result = app.test_cli_runner().invoke(args=["apply-retention", "--today", "2040-01-01", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Would anonymise 1 people" in result.output and "nothing changed" in result.output
    assert dump(app) == before
    assert all((app.config["TEST_FOLDER"] / name).exists() for name in files)
    result = app.test_cli_runner().invoke(args=["apply-retention", "--today", "2040-01-01"])
    assert result.exit_code == 0, result.output
    assert "Anonymised 1 people" in result.output
    assert dump(app) != before


def test_append_only_tables_accept_only_blanking(retention_app):
    app = retention_app
    with app.app_context():
        note = db.session.execute(sa.text("SELECT id, recipient_id FROM case_notes LIMIT 1")).one()
        for sql in ("UPDATE case_notes SET body = 'changed' WHERE id = :id",
                    "UPDATE case_notes SET body = '[removed]', recipient_id = recipient_id + 1 WHERE id = :id",
                    "UPDATE case_notes SET body = '' WHERE id = :id",
                    "DELETE FROM case_notes WHERE id = :id"):
            with pytest.raises(sa.exc.DBAPIError):
                db.session.execute(sa.text(sql), {"id": note.id})
            db.session.rollback()
        db.session.execute(sa.text("UPDATE case_notes SET body = '[removed]' WHERE id = :id"), {"id": note.id})
        db.session.commit()
        entry = annotate(db.session.scalar(sa.text("SELECT MIN(id) FROM ledger_entries")), "A gift for my sister")
        with pytest.raises(sa.exc.DBAPIError):
            db.session.execute(sa.text("UPDATE entry_annotations SET explanation = '', entry_id = entry_id + 1 WHERE id = :id"), {"id": entry})
        db.session.rollback()
        with pytest.raises(sa.exc.DBAPIError):
            db.session.execute(sa.text("UPDATE ledger_entries SET description = '' WHERE id = (SELECT MIN(id) FROM ledger_entries)"))
        db.session.rollback()
        add_event(db.session.scalar(sa.text("SELECT MIN(person_id) FROM recipients")), "203.0.113.9")
        event = db.session.scalar(sa.text("SELECT MAX(id) FROM audit_events"))
        with pytest.raises(sa.exc.DBAPIError):
            db.session.execute(sa.text("UPDATE audit_events SET address = '', action = 'x' WHERE id = :id"), {"id": event})
        db.session.rollback()


def test_a_deleted_profile_leaves_nothing_searchable(retention_app, tmp_path):
    app = retention_app
    jay = pid(app, "jay.pa@example.org")
    with app.app_context():
        profile = db.session.scalar(sa.select(PAProfile).where(PAProfile.person_id == jay))
        words = ["quokkaherder", "zanzibarian"]  # words no other profile holds
        profile.about = profile.about + " I was a quokkaherder in Zanzibarian gardens."
        db.session.commit()
        assert db.session.scalars(sa.select(PAProfile.id).where(about_matches(" ".join(words)))).all() == [profile.id]
        profile_id = profile.id
        delete_profile(profile, Storage(app.config["TEST_FOLDER"]))
        for word in words:
            assert db.session.scalars(sa.select(PAProfile.id).where(about_matches(word))).all() == []
        if db.engine.dialect.name == "sqlite":
            # Nothing of the profile is left in the full-text index, and the index agrees with its table.
            assert db.session.execute(sa.text("SELECT rowid FROM pa_profile_text WHERE rowid = :id"), {"id": profile_id}).all() == []
            for word in words:
                hits = db.session.execute(sa.text("SELECT rowid FROM pa_profile_text WHERE pa_profile_text MATCH :q"),
                                          {"q": f'"{word}"'}).all()
                assert hits == []
            db.session.execute(sa.text("INSERT INTO pa_profile_text(pa_profile_text) VALUES ('integrity-check')"))
        else:
            assert db.session.scalar(sa.text("SELECT COUNT(*) FROM pa_profiles WHERE to_tsvector('english', about) @@ "
                                             "plainto_tsquery('english', :q)"), {"q": words[0]}) == 0
        assert db.session.scalar(sa.text("SELECT COUNT(*) FROM pa_profiles WHERE person_id = :p"), {"p": jay}) == 0


def test_a_crash_leaves_each_person_done_or_untouched(retention_app, monkeypatch):
    app = retention_app
    amina, tom = pid(app, AMINA), pid(app, TOM)
    end_case(app, amina, date(2027, 1, 1))
    end_case(app, tom, date(2027, 1, 1))
    tom_rows, tom_files = rows_about(app, tom), evidence_files(app, tom)
    real = audit.record

    def crash_on_tom(action, **kwargs):
        if kwargs.get("acting_for_id") == tom:
            raise RuntimeError("power cut")
        return real(action, **kwargs)

    monkeypatch.setattr(retention.audit, "record", crash_on_tom)
    with pytest.raises(RuntimeError):
        run(app, date(2040, 1, 1))
    assert rows_about(app, amina)["people"][(amina,)]["given_name"] == "[removed]"  # done, committed
    assert rows_about(app, tom) == tom_rows  # untouched
    assert all((app.config["TEST_FOLDER"] / name).exists() for name in tom_files)
    monkeypatch.setattr(retention.audit, "record", real)
    report = run(app, date(2040, 1, 1))
    assert [r.person_id for r in report.done] == [tom] and report.already_done == 1
    assert not any((app.config["TEST_FOLDER"] / name).exists() for name in tom_files)
