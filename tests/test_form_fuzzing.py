"""Hostile input through the real views (issue 8): every form a persona can reach, filled by Hypothesis.

For each page of the access matrix that some persona may open, that persona signs in (CSRF on, as in
production), reads the page's POST forms, and sends them filled with hostile values: nonsense, huge
and negative numbers, impossible dates, markup, SQL, NUL bytes, very long text, options that were not
offered, tampered hidden fields, and a file of random bytes where a file is asked for. Whatever is sent:

- no 500 and no stack trace in the answer;
- a refused form (the page again with its error summary, or a 4xx) stores nothing: every table's
  row count is what it was, apart from the bookkeeping of being signed in (sessions, the audit log of
  who viewed what).

`make test` tries FUZZ_EXAMPLES (default 4) per form; `FUZZ_EXAMPLES=200 make test-fast
PYTEST_ARGS=tests/test_form_fuzzing.py` is the long run.
"""

import os
import re
from io import BytesIO

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.extensions import db
from tests.conftest import csrf_token, sign_in
from tests.test_access_matrix import EMAILS, PERSONAS, ROWS, demo_ids

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
# Written on any signed-in request: not what a refused form stored.
BOOKKEEPING = {"user_sessions", "audit_events", "notifications"}
# A card statement refused as a whole is still logged as an import attempt ("file refused"), on purpose:
# staff see it in the list of imports. Nothing else of it is stored.
LOGGED_WHEN_REFUSED = {"/card-imports/new": {"card_imports"}}
# Fields no form offers, as a tampering client might add them: never an error, never obeyed.
EXTRA_FIELDS = {"role": "administrator", "organisation_id": "1", "person_id": "1", "user_id": "1", "amount_pence": "-999999",
                "status": "approved", "version": "999", "is_admin": "1", "payroll_permission": "y"}
HOSTILE = [
    "", " ", "0", "-1", "-0.01", "99999999999999999999", "1e309", "NaN", "Infinity", "3.14159265358979323846",
    "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "' OR 1=1 --", "'; DROP TABLE people; --",
    "../../etc/passwd", "%00", "\x00", "a\x00b", "\r\n\r\nSet-Cookie: x=1", "😀" * 40, "a" * 5000, "31", "13", "2026",
    "29/02/2026", "2026-13-45", "£1,000,000.00", "%s%s%n", "{{ 7*7 }}", "{% raw %}", "javascript:alert(1)",
    "https://evil.example/", "//evil.example", "NF3", "DP000001", "1257L", "A" * 101,
]


def _reachable_pages() -> list[tuple[str, str]]:
    """(path template, persona): each GET row of the matrix with the first signed-in persona it lets in."""
    out = []
    for method, path, cells in ROWS:
        if method != "GET" or path in ("/sign-out",):
            continue
        for persona, expected in zip(PERSONAS, cells, strict=True):
            if persona != "anon" and expected == "200":
                out.append((path, persona))
                break
    return out


PAGES = _reachable_pages()


def _forms(html: str, page_path: str) -> list[dict]:
    """The page's POST forms: action, and each field with its kind and offered values."""
    soup = BeautifulSoup(html, "html.parser")
    found = []
    for form in soup.find_all("form"):
        if (form.get("method") or "get").lower() != "post":
            continue
        action = form.get("action") or page_path
        if action.startswith(("http:", "https:")) or action.rstrip("/").endswith("/sign-out"):
            continue
        fields: dict[str, dict] = {}
        for tag in form.find_all(["input", "select", "textarea", "button"]):
            name = tag.get("name")
            if not name or name == "csrf_token":
                continue
            kind = tag.name if tag.name != "input" else (tag.get("type") or "text").lower()
            field = fields.setdefault(name, {"kind": kind, "values": []})
            if tag.name == "select":
                field["values"] += [o.get("value", o.get_text()) for o in tag.find_all("option")]
            elif kind in ("radio", "checkbox", "hidden", "submit", "button") or tag.name == "button":
                if tag.get("value") is not None:
                    field["values"].append(tag["value"])
            elif tag.get("value"):
                field["values"].append(tag["value"])
        found.append({"action": action, "fields": fields})
    return found


def _row_counts() -> dict[str, int]:
    tables = [t.name for t in db.metadata.sorted_tables if t.name not in BOOKKEEPING]
    query = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in tables)
    return dict(db.session.execute(sa.text(query)).all())


def _value(data, field: dict):
    hostile = st.sampled_from(HOSTILE) | st.text(max_size=40)
    offered = field["values"]
    strategy = (st.sampled_from(offered) | hostile) if offered else hostile
    if field["kind"] == "file":
        return (BytesIO(data.draw(st.binary(max_size=2048), label="file bytes")), data.draw(st.sampled_from(
            ["receipt.pdf", "photo.jpg", "../../x.png", "a.pdf.exe", ""]), label="file name"))
    if field["kind"] == "checkbox" and offered:
        return data.draw(st.lists(strategy, max_size=len(offered) + 1), label="ticked")
    return data.draw(strategy, label=field["kind"])


def _refused(response) -> bool:
    if 400 <= response.status_code < 500:
        return True
    return response.status_code == 200 and b"govuk-error-summary" in response.get_data()


@pytest.mark.parametrize(("path", "persona"), PAGES, ids=[f"{path} | {persona}" for path, persona in PAGES])
def test_hostile_values_in_every_form_never_break_the_page_or_store_anything_when_refused(path, persona, money_app):
    ids = demo_ids(money_app)
    url = path.format(**ids)
    client = money_app.test_client()
    sign_in(client, EMAILS[persona])
    page = client.get(url)
    assert page.status_code == 200, f"{url} as {persona}: {page.status_code}"
    if page.mimetype != "text/html":
        pytest.skip("not a page (a file download)")
    forms = _forms(page.get_data(as_text=True), url.split("?")[0])
    if not forms:
        pytest.skip("no form on this page")

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def send_hostile_form(data):
        form = data.draw(st.sampled_from(forms), label="form")
        values = {}
        for name, field in form["fields"].items():
            if data.draw(st.booleans(), label=f"send {name}"):
                values[name] = _value(data, field)
        for name in data.draw(st.lists(st.sampled_from(sorted(EXTRA_FIELDS)), max_size=3, unique=True), label="extra fields"):
            values.setdefault(name, EXTRA_FIELDS[name])
        # A fresh token from the page each time: a refused form's page carries the one to use next.
        again = client.get(url)
        if again.status_code != 200 or b'name="csrf_token"' not in again.get_data():
            # An earlier example's form was accepted and did what it says (deleted the profile, blocked the
            # contact), so the page has no form any more. Everything is drawn before this, so Hypothesis
            # sees the same draws whatever the state.
            return
        values["csrf_token"] = csrf_token(again.get_data(as_text=True))
        with money_app.app_context():
            before = _row_counts()
        response = client.post(form["action"], data=values, content_type="multipart/form-data")
        body = response.get_data().decode("utf-8", "replace")
        assert response.status_code != 500, f"500 from {form['action']} with {values!r}"
        assert "Traceback" not in body and not re.search(r'File "[^"]+\.py", line \d+', body)
        if _refused(response):
            with money_app.app_context():
                after = _row_counts()
            logged = LOGGED_WHEN_REFUSED.get(form["action"], set())
            changed = {t: (before[t], after[t]) for t in before if before[t] != after[t] and t not in logged}
            assert not changed, f"a refused form stored rows: {changed} ({form['action']} with {values!r})"

    send_hostile_form()
