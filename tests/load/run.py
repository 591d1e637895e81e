"""The load test: the personas' real journeys under wrk, then the ledger and timesheet invariants.

    python -m tests.load.run [--recipients N] [--connections C] [--duration S] [--workers W] [--reuse URL] [--keep]
                             [--restart-postgres-at S [--pg-data DIR]]

1. A database as tests/benchmarks/run.py makes one (PostgreSQL when DATABASE_URL is set, else an SQLite
   file; the real migrations, then `flask --app portal demo-data --scale N`), or with --reuse one an
   earlier bench run kept (migrated, never seeded or dropped; the load test's writes stay in it).
2. The portal under gunicorn with W sync workers on 127.0.0.1 (4 on PostgreSQL, 2 on SQLite by default).
3. Each persona signs in once (staff with an authenticator code, which works once per account); the
   pages of their journeys are found by following links and each must answer 200 before the run.
4. wrk (loopback only, bounded by C connections and S seconds) runs a generated Lua script: a weighted
   mix of journeys, each a sequence of requests with the persona's session cookie (sessions are kept on
   the server, so several connections share one). A small share are writes that are safe to repeat:
   Kim adds a case note (a CSRF token fetched once for her session) and Sophie adds a shift to her draft
   timesheet and removes it again, as htmx does, carrying the version the last page showed (a stale
   version is refused with a message, as it would be in two browser tabs).
5. Requests per second, latency percentiles, responses that were not 2xx/3xx and socket errors (target
   0), then the invariants, read from the database: every account's cached balance and entry count
   equal its entries, no payment key or card transaction twice, no two approved timesheets for one
   employment and period, every shift's minutes equal its times less its break, and every note and
   shift the run's responses reported saved is in the database exactly once.

With --restart-postgres-at S (PostgreSQL only; issue 8, "Faults"), the cluster is restarted S seconds into
the run with `pg_ctl restart -m fast`, as the Makefile's .ci/postgres.sh runs pg_ctl (its data folder from
--pg-data, else PG_DATA, else the Makefile's default /tmp/portal-pg-PORT). The portal is not restarted.
The requests that failed are counted by the second they were answered in: inside the outage window (from
the restart's start to the server accepting connections again, a second either side) they are expected,
and must all be the "service unavailable" page (503); outside it there must be none. A second wrk pass
of a quarter of the duration (10 s at least) then runs against the recovered portal: its errors must be 0.

The exit status is 1 when a request failed (not 2xx/3xx, or a socket error) outside a restart's outage
window, an invariant does not hold or the run could not be done; the figures themselves never fail it.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.benchmarks.common import BenchError
from tests.benchmarks.run import (
    START_TIMEOUT,
    Database,
    Server,
    create_database,
    csrf_token,
    flask_command,
    free_ports,
    get,
    links,
    portal_env,
    sign_in,
)

LOAD_DB = "portal_load"
NOTE_PREFIX = "Load test note"
SHIFT_NOTE = "load test"
SHIFT_MINUTES = 60  # 09:00 to 10:00, no break
WRK_TIMEOUT = "60s"  # wrk's default of 2 s would count a slow page as a socket error


@dataclass
class Step:
    method: str
    path: str
    persona: str
    body: str = ""
    kind: str = "page"  # "page", "note" or "shift" (the shift's body is made in Lua, with the latest version)


@dataclass
class Journey:
    name: str
    weight: int
    steps: list[Step]


@dataclass
class Plan:
    journeys: list[Journey]
    cookies: dict[str, str]
    timesheet_id: int
    shift_fields: str  # the add-shift form's fields but the version, url-encoded
    shift_csrf: str
    first_version: int
    baseline_shift_id: int  # shifts with a higher id are the load test's own
    note_person: int


def cookie_header(session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def first_link(html: str, pattern: str, what: str) -> str:
    found = links(html, pattern)
    if not found:
        raise BenchError(f"no {what} to follow")
    return found[0]


def plan(p: str) -> Plan:
    """Sign each persona in once and find their journeys' pages by following links, as they would."""
    personas = {
        "amina": "amina@example.org", "david": "david@example.org", "sophie": "sophie.pa@example.org",
        "kim": "kim@brightpath.example", "lee": "lee@brightpath.example", "rachel": "rachel@northfield.example",
    }
    sessions = {name: sign_in(p, email) for name, email in personas.items()}
    s = sessions

    amina = first_link(get(s["amina"], p + "/home").text, r'href="/people/(\d+)"', "person on Amina's home page")
    grace = first_link(get(s["david"], p + "/home").text, r'href="/people/(\d+)"', "person on David's home page")
    kim_case = first_link(get(s["kim"], p + "/caseload").text, r'href="/people/(\d+)/case"', "case on Kim's caseload")
    rachel_case = first_link(get(s["rachel"], p + "/caseload").text, r'href="/people/(\d+)(?:/case)?"', "person on Rachel's caseload")

    # Sophie's draft timesheet: the first of hers with an add-shift form.
    timesheet_id = None
    for candidate in links(get(s["sophie"], p + "/timesheets").text, r'href="/timesheets/(\d+)"'):
        page = get(s["sophie"], p + f"/timesheets/{candidate}").text
        if 'id="add-shift"' in page:
            timesheet_id, sheet = int(candidate), page
            break
    if timesheet_id is None:
        raise BenchError("Sophie has no draft timesheet to add shifts to")
    version = int(first_link(sheet, r'name="version" value="(\d+)"', "version on Sophie's timesheet"))
    day = first_link(sheet, r'<option value="(\d{4}-\d\d-\d\d)"', "day in the add-shift form")
    shift_ids = [int(n) for n in links(sheet, rf'/timesheets/{timesheet_id}/shifts/(\d+)/remove')]
    shift_fields = "&".join(f"{k}={quote(v, safe='')}" for k, v in (
        ("work_date", day), ("start_time", "09:00"), ("end_time", "10:00"), ("break_minutes", "0"),
        ("rate_type", "day"), ("notes", SHIFT_NOTE)))

    notes_url = f"/people/{kim_case}/notes"
    note_csrf = csrf_token(get(s["kim"], p + notes_url).text, notes_url)

    def page(persona, path):
        return Step("GET", path, persona)

    journeys = [
        Journey("Amina: home, money, transactions, statement", 20, [
            page("amina", "/home"), page("amina", f"/people/{amina}"), page("amina", f"/people/{amina}/money"),
            page("amina", f"/people/{amina}/transactions"), page("amina", f"/people/{amina}/statement")]),
        Journey("David for Grace: home, Grace's page, money, timesheets", 12, [
            page("david", "/home"), page("david", f"/people/{grace}"), page("david", f"/people/{grace}/money"),
            page("david", f"/people/{grace}/timesheets")]),
        Journey("David: find a PA for Grace", 8, [page("david", "/find-a-pa"),
                                                  page("david", "/find-a-pa?districts=NF4&q=dementia")]),
        Journey("Sophie: timesheets and payslips", 12, [
            page("sophie", "/home"), page("sophie", "/timesheets"), page("sophie", f"/timesheets/{timesheet_id}"),
            page("sophie", "/payslips")]),
        Journey("Kim: work queue, caseload, a case", 14, [
            page("kim", "/work"), page("kim", "/caseload"), page("kim", f"/people/{kim_case}/case"),
            page("kim", notes_url)]),
        Journey("Lee: the organisation's queue", 6, [page("lee", "/work/organisation"), page("lee", "/caseload")]),
        Journey("Rachel: caseload, a person, oversight", 4, [
            page("rachel", "/caseload"), page("rachel", f"/people/{rachel_case}"), page("rachel", "/oversight")]),
        # Writes, safe to repeat: each is in the database once per response that said it was saved.
        Journey("Kim adds a case note", 3, [Step("POST", notes_url, "kim", f"csrf_token={quote(note_csrf, safe='')}&body=", "note")]),
        # Adds a shift, or removes the one the run added last (the newest the last timesheet page showed).
        Journey("Sophie adds a shift to her draft, or removes the one she added", 4, [
            Step("POST", f"/timesheets/{timesheet_id}/shifts", "sophie", kind="shift")]),
    ]
    # Every page must answer 200 before the run: timing error pages would be worthless.
    for journey in journeys:
        for step in journey.steps:
            if step.method == "GET":
                get(s[step.persona], p + step.path)
    return Plan(journeys, {name: cookie_header(session) for name, session in s.items()}, timesheet_id, shift_fields,
                csrf_token(sheet, f"/timesheets/{timesheet_id}"), version, max(shift_ids, default=0), int(kim_case))


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


LUA_BODY = r"""
local form = {["Content-Type"] = "application/x-www-form-urlencoded"}
local queue, threads, counter = {}, {}, 0
local total_weight = 0
for _, j in ipairs(journeys) do total_weight = total_weight + j.weight end

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(id * 7919 + os.time())
  version, pending = first_version, nil
  notes, adds, removes, stale, codes, failures = 0, 0, 0, 0, "", ""
  counts, failed_at = {}, {}
end

local function headers_for(persona, extra)
  local h = {Cookie = cookies[persona]}
  for k, v in pairs(extra or {}) do h[k] = v end
  return h
end

local function pick()
  local r = math.random(total_weight)
  for _, j in ipairs(journeys) do
    r = r - j.weight
    if r <= 0 then return j end
  end
end

function request()
  if #queue == 0 then
    for _, step in ipairs(pick().steps) do table.insert(queue, step) end
  end
  local step = table.remove(queue, 1)
  if step.kind == "note" then
    counter = counter + 1
    local body = step.body .. "Load+test+note+from+thread+" .. id .. "+number+" .. counter
    return wrk.format("POST", step.path, headers_for(step.persona, form), body)
  elseif step.kind == "shift" then
    local h = headers_for(step.persona, {["Content-Type"] = form["Content-Type"], ["HX-Request"] = "true"})
    local body = "csrf_token=" .. shift_csrf .. "&version=" .. version
    if pending then
      local path = "/timesheets/" .. timesheet_id .. "/shifts/" .. pending .. "/remove"
      pending = nil
      return wrk.format("POST", path, h, body)
    end
    return wrk.format("POST", step.path, h, body .. "&" .. shift_fields)
  end
  return wrk.format("GET", step.path, headers_for(step.persona))
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  local location = headers["Location"] or headers["location"]
  if status == 302 and location and string.find(location, note_redirect, 1, true) then
    notes = notes + 1
  end
  if body and string.find(body, "/timesheets/" .. timesheet_id .. "/shifts", 1, true) then
    if string.find(body, "Shift added:", 1, true) then adds = adds + 1 end
    if string.find(body, "Shift removed.", 1, true) then removes = removes + 1 end
    if string.find(body, "changed since you opened it", 1, true) then stale = stale + 1 end
    local v = string.match(body, 'name="version" value="(%d+)"')
    if v then version = tonumber(v) end
    -- The newest of the load test's own shifts on the page is the next to remove.
    for sid in string.gmatch(body, "/timesheets/" .. timesheet_id .. "/shifts/(%d+)/remove") do
      if tonumber(sid) > baseline_shift_id then pending = sid end
    end
  end
  local parts = {}
  for code, n in pairs(counts) do table.insert(parts, code .. "=" .. n) end
  codes = table.concat(parts, ",")
  if status >= 400 then
    -- Failed responses by the second they came in (and their status), to tell a restart's window apart.
    local key = os.time() .. ":" .. status
    failed_at[key] = (failed_at[key] or 0) + 1
    parts = {}
    for k, n in pairs(failed_at) do table.insert(parts, k .. "=" .. n) end
    failures = table.concat(parts, ",")
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("LOAD requests %d\nLOAD seconds %.3f\nLOAD status_errors %d\n", summary.requests,
    summary.duration / 1e6, e.status))
  io.write(string.format("LOAD socket_errors connect %d read %d write %d timeout %d\n", e.connect, e.read, e.write, e.timeout))
  for _, p in ipairs({50, 95, 99}) do
    io.write(string.format("LOAD p%d %.2f\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("LOAD max %.2f\n", latency.max / 1000))
  local n, a, r, st, c = 0, 0, 0, 0, {}
  for _, t in ipairs(threads) do
    n = n + t:get("notes"); a = a + t:get("adds"); r = r + t:get("removes"); st = st + t:get("stale")
    for code, k in string.gmatch(t:get("codes") or "", "(%d+)=(%d+)") do c[code] = (c[code] or 0) + tonumber(k) end
  end
  io.write(string.format("LOAD notes %d\nLOAD adds %d\nLOAD removes %d\nLOAD stale %d\n", n, a, r, st))
  for code, k in pairs(c) do io.write(string.format("LOAD code %s %d\n", code, k)) end
  for _, t in ipairs(threads) do
    for second, code, k in string.gmatch(t:get("failures") or "", "(%d+):(%d+)=(%d+)") do
      io.write(string.format("LOAD failed_at %s %s %s\n", second, code, k))
    end
  end
end
"""


def lua_script(plan_: Plan) -> str:
    def step(s: Step) -> str:
        return (f"{{method={lua_string(s.method)}, path={lua_string(s.path)}, persona={lua_string(s.persona)}, "
                f"body={lua_string(s.body)}, kind={lua_string(s.kind)}}}")

    journeys = ",\n".join(
        f"  {{name={lua_string(j.name)}, weight={j.weight}, steps={{{', '.join(step(s) for s in j.steps)}}}}}"
        for j in plan_.journeys)
    cookies = ", ".join(f"{name}={lua_string(value)}" for name, value in plan_.cookies.items())
    return "\n".join([
        "-- Generated by tests/load/run.py: the personas' journeys, weighted.",
        f"journeys = {{\n{journeys}\n}}",
        f"cookies = {{{cookies}}}",
        f"timesheet_id = {plan_.timesheet_id}",
        f"first_version = {plan_.first_version}",
        f"baseline_shift_id = {plan_.baseline_shift_id}",
        f"shift_fields = {lua_string(plan_.shift_fields)}",
        f"shift_csrf = {lua_string(quote(plan_.shift_csrf, safe=''))}",
        f"note_redirect = {lua_string(f'/people/{plan_.note_person}/notes')}",
        LUA_BODY,
    ])


def run_wrk(base: str, script: Path, connections: int, duration: int, threads: int) -> dict:
    command = ["wrk", "--threads", str(threads), "--connections", str(connections), "--duration", f"{duration}s",
               "--timeout", WRK_TIMEOUT, "--script", str(script), base + "/"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 120)
    except FileNotFoundError as error:
        raise BenchError("wrk is not installed (Debian: apt-get install wrk)") from error
    except subprocess.TimeoutExpired as error:
        raise BenchError(f"wrk did not finish within {duration + 120}s") from error
    if done.returncode != 0:
        raise BenchError(f"wrk failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    figures: dict = {"codes": {}, "failed_at": []}
    for line in done.stdout.splitlines():
        parts = line.split()
        if not parts or parts[0] != "LOAD":
            continue
        if parts[1] == "code":
            figures["codes"][int(parts[2])] = int(parts[3])
        elif parts[1] == "failed_at":
            figures["failed_at"].append((int(parts[2]), int(parts[3]), int(parts[4])))
        elif parts[1] == "socket_errors":
            figures["socket"] = dict(zip(parts[2::2], (int(n) for n in parts[3::2]), strict=True))
        else:
            figures[parts[1]] = float(parts[2])
    if "requests" not in figures:
        raise BenchError(f"wrk printed no figures:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    return figures


# A PostgreSQL restart under load (issue 8, "Faults") -------------------------------------------


def pg_data_dir(url: str, given: str) -> Path:
    """The cluster's data folder: --pg-data, else PG_DATA, else the Makefile's default for the URL's port."""
    folder = Path(given or os.environ.get("PG_DATA", "") or f"/tmp/portal-pg-{make_url(url).port or 5432}")
    if not (folder / "postmaster.pid").is_file():
        raise BenchError(f"no running PostgreSQL cluster in {folder} (give its data folder with --pg-data or PG_DATA)")
    return folder


def pg_ctl_restart(data_dir: Path) -> list[str]:
    """pg_ctl as .ci/postgres.sh runs it (as the postgres user when we are root); restart keeps the options
    the cluster was started with (postmaster.opts)."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)])
    if not bins:
        raise BenchError("pg_ctl not found under /usr/lib/postgresql")
    command = [str(bins[-1] / "pg_ctl"), "-D", str(data_dir), "-l", str(data_dir / "log"), "-m", "fast", "-w", "restart"]
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class Restart:
    """Restarts the cluster `at` seconds from start(), in a thread, noting when it went down and came back."""

    def __init__(self, data_dir: Path, at: float):
        self.command, self.at = pg_ctl_restart(data_dir), at
        self.began = self.ended = 0.0
        self.error = ""
        self.timer = threading.Timer(at, self._restart)
        self.timer.daemon = True

    def start(self) -> None:
        self.timer.start()

    def _restart(self) -> None:
        self.began = time.time()
        try:
            done = subprocess.run(self.command, cwd="/", capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                self.error = f"pg_ctl restart failed (exit {done.returncode}): {(done.stdout + done.stderr)[-1000:]}"
        except (OSError, subprocess.TimeoutExpired) as error:
            self.error = f"pg_ctl restart failed: {error}"
        self.ended = time.time()

    def finish(self) -> None:
        self.timer.join()
        if not self.began:
            raise BenchError(f"the restart at {self.at:g} s did not happen within the run")
        if self.error:
            raise BenchError(self.error)

    def window(self) -> tuple[int, int]:
        """The outage window in whole seconds (wrk's clock has a one-second grain): a second either side."""
        return int(self.began) - 1, int(self.ended) + 2


def split_failures(figures: dict, restart: Restart) -> dict:
    first, last = restart.window()
    inside = [(code, n) for second, code, n in figures["failed_at"] if first <= second <= last]
    return {
        "inside": sum(n for _, n in inside),
        "inside_not_503": sum(n for code, n in inside if code != 503),
        "outside": sum(n for second, _, n in figures["failed_at"] if not first <= second <= last),
    }


def clock(moment: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(moment))


# Invariants ----------------------------------------------------------------------------------


_app = None


def app_for(url: str):
    """The portal's app on the load database, in this process, to read it with the models."""
    global _app
    if _app is None:
        from portal import create_app
        _app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    return _app


def sophie_and_kim(plan_: Plan) -> dict:
    """What the run's writes change: the run's shifts on Sophie's draft, its minutes worked, Kim's load notes."""
    from portal.extensions import db
    from portal.models import CaseNote
    from portal.services import timesheets

    db.session.rollback()  # a fresh transaction: see what the server wrote since
    ts = db.session.get(timesheets.Timesheet, plan_.timesheet_id)
    return {
        "ours": sum(1 for s in ts.shifts if s.id > plan_.baseline_shift_id),
        "worked_minutes": timesheets.totals(ts).worked_minutes,
        "notes": db.session.scalar(sa.select(sa.func.count()).select_from(CaseNote).where(
            CaseNote.recipient_id == plan_.note_person, CaseNote.body.startswith(NOTE_PREFIX))),
    }


def invariants(plan_: Plan, before: dict, figures: dict, uncertain: int = 0) -> list[tuple[str, str]]:
    """(what was checked, "ok" or what is wrong), read from the database after the run.

    `uncertain`: writes answered by an error page during a restart's outage, whose outcome the client cannot
    know (the server may have committed before the connection was cut); each may or may not be there, but
    nothing may be there twice and the totals must match what is there."""
    from portal.extensions import db
    from portal.models import AccountBalance, LedgerEntry, Shift, Timesheet
    from portal.models.timesheets import TimesheetStatus
    from tests.test_ledger_invariants import attention_mismatches, balance_mismatches

    db.session.rollback()
    results = []

    def check(what: str, problems: list[str]) -> None:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        results.append((what, "ok" if not problems else "; ".join(problems[:5]) + more))

    session = db.session
    accounts = session.scalar(sa.select(sa.func.count()).select_from(AccountBalance))
    check(f"ledger: every account's cached balance and entry count equal its entries ({accounts:,} accounts)",
          [f"account {r[0]}: {r[1:]}" for r in balance_mismatches()])
    check("ledger: every account's counts waiting for a receipt or an explanation equal its entries",
          [f"account {r[0]}: kept {r[1]}, entries say {r[2]}" for r in attention_mismatches()])
    for column, label in ((LedgerEntry.payment_key, "payment key"), (LedgerEntry.external_id, "card transaction id")):
        twice = session.execute(sa.select(column, sa.func.count()).where(column.is_not(None)).group_by(column)
                                .having(sa.func.count() > 1)).all()
        check(f"ledger: no {label} on two entries", [f"{k} on {n} entries" for k, n in twice])
    approved = session.execute(
        sa.select(Timesheet.employment_id, Timesheet.period_start, sa.func.count())
        .where(Timesheet.status == TimesheetStatus.APPROVED)
        .group_by(Timesheet.employment_id, Timesheet.period_start).having(sa.func.count() > 1)).all()
    check("timesheets: no two approved for one employment and period",
          [f"employment {e}, period from {d}: {n} approved" for e, d, n in approved])
    wrong, shifts = [], 0
    rows = session.execute(sa.select(Shift.id, Shift.starts_at, Shift.ends_at, Shift.break_minutes, Shift.minutes)
                           .execution_options(yield_per=10000))
    for shift_id, starts, ends, brk, minutes in rows:
        shifts += 1
        worked = int((ends - starts).total_seconds() // 60) - brk
        if worked != minutes:
            wrong.append(f"shift {shift_id}: {minutes} minutes, its times less its break say {worked}")
    check(f"timesheets: every shift's minutes equal its times less its break ({shifts:,} shifts)", wrong)

    after = sophie_and_kim(plan_)
    adds, removes = int(figures.get("adds", 0)), int(figures.get("removes", 0))
    expected_minutes = before["worked_minutes"] + after["ours"] * SHIFT_MINUTES
    slack = f", {uncertain} answers during the outage of unknown outcome" if uncertain else ""
    check(f"timesheets: Sophie's draft holds the shifts the run added less those it removed ({adds} added, {removes} removed{slack})",
          ([f"{after['ours']} of the run's shifts on it, {adds - removes} expected"]
           if abs(after["ours"] - (adds - removes)) > uncertain else [])
          + ([f"its totals say {after['worked_minutes']} minutes worked, {expected_minutes} for the shifts on it"]
             if after["worked_minutes"] != expected_minutes else []))
    saved = int(figures.get("notes", 0))
    added = after["notes"] - before["notes"]
    check(f"case notes: each note the run was told was saved is there once ({saved} saved{slack})",
          [f"{added} new notes in the database"] if not saved <= added <= saved + uncertain else [])
    return results


def server_errors(log: Path) -> Counter:
    """The exceptions gunicorn's log names (the last line of each traceback), counted."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return Counter()
    # The last line of a traceback: "KeyError: ...", "sqlalchemy.exc.OperationalError: ...", or a driver's
    # own class with a dotted name that need not end in Error ("psycopg.errors.AdminShutdown: ...").
    return Counter(m.strip()[:200] for m in re.findall(
        r"^(\w[\w.]*(?:Error|Exception)\b.*|[a-z_]\w*(?:\.\w+)+\.[A-Z]\w*: .*)$", text, re.M))


# The run -------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    temp_dir = Path(tempfile.mkdtemp(prefix="portal-load-"))
    database: Database | None = None
    server: Server | None = None
    try:
        if args.reuse:
            url = args.reuse
            database = Database(url=url, kind="postgresql" if url.startswith("postgresql") else "sqlite", temp_dir=temp_dir)
            args.keep = True
        else:
            database = create_database(temp_dir, LOAD_DB)  # not the bench's: a kept bench database survives
        workers = args.workers or (4 if database.kind == "postgresql" else 2)
        env = portal_env(database.url)
        migrate_s = flask_command(["db", "upgrade"], env, "Migrations (flask db upgrade)")
        if args.reuse:
            print(f"Migrations: {migrate_s:.1f} s; reusing {database.url} as it was kept (nothing seeded)", flush=True)
        else:
            seed_s = flask_command(["demo-data", "--scale", str(args.recipients)], env, "Demo data (flask demo-data)")
            print(f"Migrations: {migrate_s:.1f} s; seeding (demo personas + {args.recipients} recipients): {seed_s:.1f} s", flush=True)
        if database.kind == "postgresql":
            print(f"ANALYZE: {database.analyze():.1f} s", flush=True)
        restart: Restart | None = None
        if args.restart_postgres_at:
            if database.kind != "postgresql":
                raise BenchError("--restart-postgres-at needs PostgreSQL (set DATABASE_URL, or run make load-postgres)")
            data_dir = pg_data_dir(database.url, args.pg_data)
            restart = Restart(data_dir, args.restart_postgres_at)
            print(f"PostgreSQL will be restarted {args.restart_postgres_at:g} s into the run: {' '.join(restart.command)}",
                  flush=True)

        (port,) = free_ports(1)
        server = Server("the portal", "portal:create_app()", port, env, temp_dir / "portal-gunicorn.log", workers=workers)
        server.start()
        server.wait_until_answering("/healthz", time.monotonic() + START_TIMEOUT)
        plan_ = plan(server.base)
        app_context = app_for(database.url).app_context()
        app_context.push()
        before = sophie_and_kim(plan_)
        if before["ours"]:
            raise BenchError(f"Sophie's draft timesheet {plan_.timesheet_id} changed while the run was being planned")
        from portal.extensions import db
        db.session.remove()  # hold no transaction (or connection) over the run: a restart would end it under us
        script = temp_dir / "journeys.lua"
        script.write_text(lua_script(plan_))
        threads = min(args.connections, os.cpu_count() or 1)
        print(f"Load: {args.connections} connections on {threads} wrk threads for {args.duration} s; journeys (weight):", flush=True)
        for journey in plan_.journeys:
            print(f"  {journey.weight:3d}  {journey.name}")
        if restart is not None:
            restart.start()
        figures = run_wrk(server.base, script, args.connections, args.duration, threads)
        after: dict | None = None
        uncertain = 0
        if restart is not None:
            restart.finish()
            after_seconds = max(10, args.duration // 4)
            print(f"Second pass against the recovered portal (not restarted): {after_seconds} s", flush=True)
            after = run_wrk(server.base, script, args.connections, after_seconds, threads)
        server.stop()

        socket = figures.get("socket", {})
        socket_errors = sum(socket.values())
        failed = int(figures["status_errors"])
        codes = ", ".join(f"{code}: {n:,}" for code, n in sorted(figures["codes"].items()))
        print()
        print(f"Requests: {int(figures['requests']):,} in {figures['seconds']:.1f} s = "
              f"{figures['requests'] / figures['seconds']:.1f} requests per second")
        print(f"Latency: p50 {figures['p50']:.1f} ms, p95 {figures['p95']:.1f} ms, p99 {figures['p99']:.1f} ms, "
              f"max {figures['max']:.1f} ms")
        print(f"Responses by status: {codes}")
        print(f"Not 2xx/3xx: {failed}; socket errors: {socket_errors} "
              f"({', '.join(f'{k} {v}' for k, v in socket.items())}) (target 0{' outside the restart' if restart else ''})")
        if restart is not None and after is not None:
            split = split_failures(figures, restart)
            first, last = restart.window()
            print(f"PostgreSQL restart: began {restart.at:g} s into the run, accepting connections again after "
                  f"{restart.ended - restart.began:.1f} s; outage window {clock(first)} to {clock(last)} (a second either side)")
            print(f"  failed during the outage window: {split['inside']} "
                  f"({split['inside'] - split['inside_not_503']} the 'service unavailable' page (503), "
                  f"{split['inside_not_503']} anything else: target 0)")
            print(f"  failed outside it: {split['outside']} (target 0)")
            unavailable = len(re.findall(r"Database unreachable on ", server.log_path.read_text(errors="replace")))
            print(f"  the server logged {unavailable} requests as 'database unreachable'")
            after_failed = int(after["status_errors"]) + sum(after.get("socket", {}).values())
            print(f"After the restart: {int(after['requests']):,} requests in {after['seconds']:.1f} s = "
                  f"{after['requests'] / after['seconds']:.1f} requests per second, p95 {after['p95']:.1f} ms, "
                  f"errors {after_failed} (target 0); by status: "
                  + ", ".join(f"{code}: {n:,}" for code, n in sorted(after["codes"].items())))
            # Failures inside the window are the outage itself, as long as each was the 503 page.
            failed = split["outside"] + split["inside_not_503"] + after_failed
            uncertain = split["inside"]
            for key in ("notes", "adds", "removes", "stale"):
                figures[key] = figures.get(key, 0) + after.get(key, 0)
        print(f"Writes{' (both passes)' if after else ''}: {int(figures.get('notes', 0))} case notes, {int(figures.get('adds', 0))} shifts added, "
              f"{int(figures.get('removes', 0))} removed, {int(figures.get('stale', 0))} refused as drawn from an older version")
        print(f"Setting: {args.connections} connections, gunicorn {workers} sync workers, {database.describe()}, "
              f"{args.recipients if not args.reuse else 'kept'} generated recipients, Python {platform.python_version()}")
        print(f"the load generator shares the {os.cpu_count()} cores with the server")
        print()
        print("Invariants after the run:")
        results = invariants(plan_, before, figures, uncertain)
        db.session.remove()
        app_context.pop()
        for what, outcome in results:
            print(f"  {'ok    ' if outcome == 'ok' else 'FAILED'} {what}{'' if outcome == 'ok' else ': ' + outcome}")
        broken = sum(outcome != "ok" for _, outcome in results)
        if failed or socket_errors:
            print(f"\n{failed + socket_errors} requests failed. The server's errors (times seen):")
            for line, n in server_errors(server.log_path).most_common(10):
                print(f"  {n:5d}  {line}")
        return 1 if broken or failed or socket_errors else 0
    finally:
        if server is not None:
            server.stop()
        if database is not None and args.keep:
            print(f"Kept the database: {database.url} (server log and Lua script in {temp_dir})")
        elif database is not None:
            try:
                database.remove()
            except Exception as error:  # noqa: BLE001 - cleanup must not hide the real outcome
                print(f"Could not drop the load database: {error}", file=sys.stderr)
        if not args.keep:
            shutil.rmtree(temp_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.load.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=2000, help="generated recipients (default 2000; the real run 20000)")
    parser.add_argument("--connections", type=int, default=50, help="concurrent connections, 1 to 200 (the real run 50 to 200)")
    parser.add_argument("--duration", type=int, default=300, help="seconds of load (default 300)")
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (default 4 on PostgreSQL, 2 on SQLite)")
    parser.add_argument("--keep", action="store_true", help="keep the database, the server log and the Lua script")
    parser.add_argument("--reuse", metavar="URL", default="",
                        help="load a database an earlier bench run kept (--keep): migrated, never seeded or dropped")
    parser.add_argument("--restart-postgres-at", metavar="S", type=float, default=0,
                        help="PostgreSQL only: restart the cluster (pg_ctl restart -m fast) S seconds into the run")
    parser.add_argument("--pg-data", metavar="DIR", default="",
                        help="the cluster's data folder for --restart-postgres-at (default PG_DATA, else /tmp/portal-pg-PORT)")
    args = parser.parse_args(argv)
    if args.restart_postgres_at and not 0 < args.restart_postgres_at < args.duration:
        parser.error("--restart-postgres-at must be within the run (more than 0 and less than --duration)")
    if not 1 <= args.connections <= 200 or not 1 <= args.duration <= 1800 or args.recipients < 0 or args.workers < 0:
        parser.error("--connections must be 1 to 200, --duration 1 to 1800 s, --recipients and --workers 0 or more")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    try:
        status = run(args)
    except BenchError as error:
        print(f"\nLoad test aborted: {error}", file=sys.stderr)
        return 1
    print(f"Total run: {time.perf_counter() - started:.1f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
