"""Who may see what, cell by cell: every persona against every endpoint of the URL map.

The expected status of every cell is written out below, from the rule at the end of
shared/personas.md, and never computed from portal/access.py: a change to access.py that lets the
wrong person in must disagree with this table. Each cell is its own test, named
"<request> | <persona>", so a failure names the cell.

One demo database is shared by the module (module_app) and each persona signs in once; requests
are chosen so that no cell changes what another cell sees (POSTs send invalid forms, act on a user
that does not exist, or, for signing out, use a client of their own).
"""

import re
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    Audit,
    Budget,
    DPAccount,
    Employment,
    EntryState,
    Evidence,
    ExcessBalanceReview,
    LedgerEntry,
    ManagedPayment,
    Organisation,
    PayRun,
    PayRunStatus,
    Payslip,
    Person,
    SafeguardingConcern,
    Timesheet,
    TimesheetDocument,
    TimesheetStatus,
    User,
)
from portal.models.register import CheckKind, ContactRequest, PAProfile, ProfileCheck, Vacancy, VerificationRequest
from tests.conftest import csrf_token, sign_in

EMAILS = {
    "amina": "amina@example.org",
    "grace": "grace@example.org",
    "david": "david@example.org",
    "tom": "tom@example.org",
    "sophie": "sophie.pa@example.org",
    "jay": "jay.pa@example.org",
    "ellen": "ellen@example.org",
    "kim": "kim@brightpath.example",
    "lee": "lee@brightpath.example",
    "omar": "omar@harbour.example",
    "rachel": "rachel@northfield.example",
    "admin": "admin@example.org",
}
PERSONAS = ["anon", *EMAILS]

# Cells: a status code, or ">/path" for a 302 redirect to that path (any query string ignored).
#   >/sign-in  anonymous on a signed-in page (or a sign-in step with nothing to continue)
#   403        signed in, but the wrong role for the page
#   404        the right role, but the record is outside the persona's scope (or does not exist)
#   410        a password link that is not valid (a made-up token)
# {amina} {grace} {sam} {tom} {ellen} are person ids and {amina_user} Amina's user id, looked up in
# the demo database. PAs get 403 on /people/...: a PA sees their employers' names on their home
# page but nothing of an employer's direct payment.
MATRIX = """
request                                       anon       amina      grace      david      tom        sophie     jay        ellen      kim        lee        omar       rachel     admin
# Public pages: the same for everyone.
GET  /                                        200        200        200        200        200        200        200        200        200        200        200        200        200
GET  /information                             200        200        200        200        200        200        200        200        200        200        200        200        200
GET  /information/being-an-employer           200        200        200        200        200        200        200        200        200        200        200        200        200
GET  /accessibility                           200        200        200        200        200        200        200        200        200        200        200        200        200
GET  /privacy                                 200        200        200        200        200        200        200        200        200        200        200        200        200
GET  /healthz                                 200        200        200        200        200        200        200        200        200        200        200        200        200
GET  /information/privacy                     404        404        404        404        404        404        404        404        404        404        404        404        404
# Signing in: signed-in people are sent home; with no sign-in half done, the code pages start again.
GET  /sign-in                                 200        >/home     >/home     >/home     >/home     >/home     >/home     >/home     >/home     >/home     >/home     >/home     >/home
POST /sign-in                                 200        >/home     >/home     >/home     >/home     >/home     >/home     >/home     >/home     >/home     >/home     >/home     >/home
GET  /sign-in/code                            >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in
POST /sign-in/code                            >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in
GET  /sign-in/set-up-authenticator            >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in
POST /sign-in/set-up-authenticator            >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in
GET  /forgot-password                         200        200        200        200        200        200        200        200        200        200        200        200        200
POST /forgot-password                         200        200        200        200        200        200        200        200        200        200        200        200        200
GET  /set-password/not-a-real-token           410        410        410        410        410        410        410        410        410        410        410        410        410
POST /set-password/not-a-real-token           410        410        410        410        410        410        410        410        410        410        410        410        410
# Anyone signed in. The administrator's home is the administration page.
GET  /home                                    >/sign-in  200        200        200        200        200        200        200        200        200        200        200        >/admin
GET  /account                                 >/sign-in  200        200        200        200        200        200        200        200        200        200        200        200
GET  /account/password                        >/sign-in  200        200        200        200        200        200        200        200        200        200        200        200
POST /account/password                        >/sign-in  200        200        200        200        200        200        200        200        200        200        200        200
GET  /account/authenticator                   >/sign-in  200        200        200        200        200        200        200        200        200        200        200        200
POST /account/authenticator                   >/sign-in  200        200        200        200        200        200        200        200        200        200        200        200
POST /session/extend                          >/sign-in  >/home     >/home     >/home     >/home     >/home     >/home     >/home     >/home     >/home     >/home     >/home     >/home
POST /sign-out                                >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in  >/sign-in
# One recipient's record: themselves, their representative, their DPSS (caseworker or manager) and their
# council only. PAs and the administrator never see a case record (403); anyone else: not found (404).
GET  /people/{amina}                          >/sign-in  200        404        404        404        403        403        404        200        200        404        200        403
GET  /people/{grace}                          >/sign-in  404        200        200        404        403        403        404        404        404        200        200        403
GET  /people/{sam}                            >/sign-in  404        404        200        404        403        403        404        200        200        404        200        403
GET  /people/{tom}                            >/sign-in  404        404        404        200        403        403        404        200        200        404        200        403
GET  /people/{ellen}                          >/sign-in  404        404        404        404        403        403        200        404        404        200        404        403
GET  /people/{amina}/your-data              >/sign-in  200        404        404        404        403        403        404        200        200        404        200        403
POST /people/{amina}/your-data.zip          >/sign-in  200        404        404        404        403        403        404        200        200        404        200        403
GET  /people/{grace}/your-data              >/sign-in  404        200        200        404        403        403        404        404        404        200        200        403
POST /people/{grace}/your-data.zip          >/sign-in  404        200        200        404        403        403        404        404        404        200        200        403
GET  /people/{sam}/your-data                >/sign-in  404        404        404        404        403        403        404        200        200        404        200        403
POST /people/{sam}/your-data.zip            >/sign-in  404        404        404        404        403        403        404        200        200        404        200        403
GET  /people/{tom}/your-data                >/sign-in  404        404        404        200        403        403        404        200        200        404        200        403
GET  /people/{ellen}/your-data              >/sign-in  404        404        404        404        403        403        200        404        404        200        404        403
GET  /account/your-data                     >/sign-in  200        200        200        200        200        200        200        403        403        403        403        403
POST /account/your-data.zip                 >/sign-in  200        200        200        200        200        200        200        403        403        403        403        403
GET  /people/999999                           >/sign-in  404        404        404        404        403        403        404        404        404        404        404        403
# A recipient's money: the same people as the record itself.
GET  /people/{amina}/money                    >/sign-in  200        404        404        404        403        403        404        200        200        404        200        403
GET  /people/{grace}/money                    >/sign-in  404        200        200        404        403        403        404        404        404        200        200        403
GET  /people/{sam}/money                      >/sign-in  404        404        200        404        403        403        404        200        200        404        200        403
GET  /people/{tom}/money                      >/sign-in  404        404        404        200        403        403        404        200        200        404        200        403
GET  /people/{ellen}/money                    >/sign-in  404        404        404        404        403        403        200        404        404        200        404        403
GET  /people/{amina}/transactions             >/sign-in  200        404        404        404        403        403        404        200        200        404        200        403
GET  /people/{grace}/transactions             >/sign-in  404        200        200        404        403        403        404        404        404        200        200        403
GET  /people/{sam}/transactions               >/sign-in  404        404        200        404        403        403        404        200        200        404        200        403
GET  /people/{ellen}/transactions             >/sign-in  404        404        404        404        403        403        200        404        404        200        404        403
# Explaining a flagged payment changes the record: the person, a manage-level representative or their
# DPSS staff; council officers oversee but do not change it (403).
GET  /people/{amina}/transactions/{amina_flagged}/explain  >/sign-in  200  404  404  404  403  403  404  200  200  404  403  403
POST /people/{amina}/transactions/{amina_flagged}/explain  >/sign-in  200  404  404  404  403  403  404  200  200  404  403  403
# Budgets and support plans: read by anyone who may see the record (as /people/{id}); changed only by
# DPSS managers and council officers (others 403), within their scope (404 outside it). A budget is
# found only through its own recipient: Tom's budget under Amina's URL is 404 even for Lee.
GET  /people/{tom}/budgets                                     >/sign-in  404        404        404        200        403        403        404        200        200        404        200        403
GET  /people/{sam}/budgets                                     >/sign-in  404        404        200        404        403        403        404        200        200        404        200        403
GET  /people/{ellen}/budgets                                   >/sign-in  404        404        404        404        403        403        200        404        404        200        404        403
GET  /people/{tom}/budgets/new                                 >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
POST /people/{tom}/budgets/new                                 >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
GET  /people/{ellen}/budgets/new                               >/sign-in  403        403        403        403        403        403        403        403        404        403        404        403
GET  /people/{tom}/budgets/new/check                           >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
POST /people/{tom}/budgets/new/check                           >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
GET  /people/{tom}/budgets/{tom_budget}/added                  >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
GET  /people/{tom}/budgets/{tom_budget}/change                 >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
POST /people/{tom}/budgets/{tom_budget}/change                 >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
GET  /people/{amina}/budgets/{tom_budget}/change               >/sign-in  403        403        403        403        403        403        403        403        404        403        404        403
GET  /people/{ellen}/budgets/{ellen_budget}/change             >/sign-in  403        403        403        403        403        403        403        403        404        403        404        403
GET  /people/{tom}/budgets/{tom_budget}/change/check           >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
POST /people/{tom}/budgets/{tom_budget}/change/check           >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
GET  /people/{tom}/budgets/{tom_budget}/suspend                >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
POST /people/{tom}/budgets/{tom_budget}/suspend                >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
GET  /people/{tom}/budgets/{tom_budget}/resume                 >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
POST /people/{tom}/budgets/{tom_budget}/resume                 >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
GET  /people/{tom}/budgets/{tom_budget}/end                    >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
POST /people/{tom}/budgets/{tom_budget}/end                    >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
GET  /people/{tom}/budgets/{tom_budget}/end/check              >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
POST /people/{tom}/budgets/{tom_budget}/end/check              >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
GET  /people/{tom}/budgets/999999/end                          >/sign-in  403        403        403        403        403        403        403        403        404        403        404        403
GET  /people/{tom}/plan/new                                    >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
POST /people/{tom}/plan/new                                    >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
GET  /people/{ellen}/plan/new                                  >/sign-in  403        403        403        403        403        403        403        403        404        403        404        403
GET  /people/{tom}/plan/new/check                              >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
POST /people/{tom}/plan/new/check                              >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
# PAs (employment records and the employer's duties): read as /people/{id}; changed by the person,
# manage-level representatives and their DPSS (council officers 403, view-level representatives 404).
GET  /people/{amina}/pas                                       >/sign-in  200        404        404        404        403        403        404        200        200        404        200        403
GET  /people/{grace}/pas                                       >/sign-in  404        200        200        404        403        403        404        404        404        200        200        403
GET  /people/{sam}/pas                                         >/sign-in  404        404        200        404        403        403        404        200        200        404        200        403
GET  /people/{tom}/pas                                         >/sign-in  404        404        404        200        403        403        404        200        200        404        200        403
GET  /people/{ellen}/pas                                       >/sign-in  404        404        404        404        403        403        200        404        404        200        404        403
GET  /people/{amina}/pas/new                                   >/sign-in  200        404        404        404        403        403        404        200        200        404        403        403
POST /people/{amina}/pas/new                                   >/sign-in  200        404        404        404        403        403        404        200        200        404        403        403
GET  /people/{grace}/pas/new                                   >/sign-in  404        200        200        404        403        403        404        404        404        200        403        403
GET  /people/{sam}/pas/new                                     >/sign-in  404        404        404        404        403        403        404        200        200        404        403        403
GET  /people/{amina}/pas/{amina_sophie}                        >/sign-in  200        404        404        404        403        403        404        200        200        404        200        403
GET  /people/{tom}/pas/{tom_leon}                              >/sign-in  404        404        404        200        403        403        404        200        200        404        200        403
GET  /people/{amina}/pas/{tom_leon}                            >/sign-in  404        404        404        404        403        403        404        404        404        404        404        403
GET  /people/{amina}/pas/999999                                >/sign-in  404        404        404        404        403        403        404        404        404        404        404        403
GET  /people/{amina}/pas/{amina_sophie}/edit                   >/sign-in  200        404        404        404        403        403        404        200        200        404        403        403
POST /people/{amina}/pas/{amina_sophie}/edit                   >/sign-in  200        404        404        404        403        403        404        200        200        404        403        403
GET  /people/{tom}/pas/{tom_leon}/edit                         >/sign-in  404        404        404        200        403        403        404        200        200        404        403        403
GET  /people/{amina}/pas/{tom_leon}/edit                       >/sign-in  404        404        404        404        403        403        404        404        404        404        403        403
GET  /people/{amina}/pas/{amina_sophie}/end                    >/sign-in  200        404        404        404        403        403        404        200        200        404        403        403
POST /people/{amina}/pas/{amina_sophie}/end                    >/sign-in  200        404        404        404        403        403        404        200        200        404        403        403
GET  /people/{amina}/pas/{amina_sophie}/leave                  >/sign-in  200        404        404        404        403        403        404        200        200        404        403        403
POST /people/{amina}/pas/{amina_sophie}/leave                  >/sign-in  200        404        404        404        403        403        404        200        200        404        403        403
GET  /people/{amina}/pas/{amina_sophie}/invite                 >/sign-in  200        404        404        404        403        403        404        200        200        404        403        403
POST /people/{amina}/pas/{amina_sophie}/invite                 >/sign-in  200        404        404        404        403        403        404        200        200        404        403        403
GET  /people/{tom}/pas/{tom_leon}/invite                       >/sign-in  404        404        404        200        403        403        404        200        200        404        403        403
GET  /people/{amina}/employer-insurance                        >/sign-in  200        404        404        404        403        403        404        200        200        404        403        403
POST /people/{amina}/employer-insurance                        >/sign-in  200        404        404        404        403        403        404        200        200        404        403        403
GET  /people/{sam}/employer-insurance                          >/sign-in  404        404        404        404        403        403        404        200        200        404        403        403
# A PA's answer when an employer asks to link their records to the PA's account: only the PA asked
# finds the request (the demo has none: 404 for PAs); nobody else may answer (403).
GET  /employment-requests/999999                               >/sign-in  403        403        403        403        404        404        403        403        403        403        403        403
POST /employment-requests/999999                               >/sign-in  403        403        403        403        404        404        403        403        403        403        403        403
# Timesheets. A PA sees only their own (another PA's is not found); the employer's side sees them
# through the recipient scope (view-level representatives too); council officers read them. Shifts are
# entered by the PA, or by the employer's side for a PA without an account (Sophie has one: 403 for
# Amina and Kim). Approval: the employer (Amina), or the DPSS under a managed account (Kim and Lee for
# Tom; Tom himself 403). Actions sent with no version change nothing: the stale form goes back to the page.
GET  /timesheets                                               >/sign-in  403        403        403        403        200        200        403        403        403        403        403        403
POST /timesheets/start                                         >/sign-in  400        400        400        400        400        400        400        400        400        400        403        403
GET  /people/{amina}/timesheets                                >/sign-in  200        404        404        404        403        403        404        200        200        404        200        403
GET  /people/{tom}/timesheets                                  >/sign-in  404        404        404        200        403        403        404        200        200        404        200        403
GET  /people/{sam}/timesheets                                  >/sign-in  404        404        200        404        403        403        404        200        200        404        200        403
GET  /people/{ellen}/timesheets                                >/sign-in  404        404        404        404        403        403        200        404        404        200        404        403
GET  /people/{amina}/timesheets/paper                          >/sign-in  200        404        404        404        403        403        404        200        200        404        403        403
POST /people/{amina}/timesheets/paper                          >/sign-in  200        404        404        404        403        403        404        200        200        404        403        403
GET  /people/{sam}/timesheets/paper                            >/sign-in  404        404        404        404        403        403        404        200        200        404        403        403
GET  /timesheets/{sophie_draft}                                >/sign-in  200        404        404        404        200        404        404        200        200        404        200        403
GET  /timesheets/{tom_pending}                                 >/sign-in  404        404        404        200        404        404        404        200        200        404        200        403
GET  /timesheets/{joan_paper}                                  >/sign-in  200        404        404        404        404        404        404        200        200        404        200        403
POST /timesheets/{sophie_draft}/shifts                         >/sign-in  403        404        404        404        200        404        404        403        403        404        403        403
POST /timesheets/{tom_pending}/shifts                          >/sign-in  404        404        404        >/timesheets/{tom_pending}  404  404  404  >/timesheets/{tom_pending}  >/timesheets/{tom_pending}  404  403  403
POST /timesheets/{sophie_draft}/shifts/999999/remove           >/sign-in  403        404        404        404        >/timesheets/{sophie_draft}  404  404  403  403  404  403  403
POST /timesheets/{sophie_draft}/claims                         >/sign-in  403        404        404        404        200        404        404        403        403        404        403        403
POST /timesheets/{sophie_draft}/claims/999999/remove           >/sign-in  403        404        404        404        >/timesheets/{sophie_draft}  404  404  403  403  404  403  403
POST /timesheets/{sophie_draft}/submit                         >/sign-in  403        404        404        404        >/timesheets/{sophie_draft}  404  404  403  403  404  403  403
POST /timesheets/{tom_pending}/approve                         >/sign-in  404        404        404        403        403        403        404        >/timesheets/{tom_pending}  >/timesheets/{tom_pending}  404  403  403
GET  /timesheets/{tom_pending}/send-back                       >/sign-in  404        404        404        403        403        403        404        200        200        404        403        403
POST /timesheets/{tom_pending}/send-back                       >/sign-in  404        404        404        403        403        403        404        200        200        404        403        403
POST /timesheets/{sophie_approved}/correct                     >/sign-in  403        404        404        404        >/timesheets/{sophie_approved}  404  404  403  403  404  403  403
GET  /timesheets/{sophie_approved}/paid                        >/sign-in  200        404        404        404        403        403        404        403        403        404        403        403
POST /timesheets/{sophie_approved}/paid                        >/sign-in  200        404        404        404        403        403        404        403        403        404        403        403
GET  /timesheets/{sophie_approved}.pdf                         >/sign-in  200        404        404        404        200        404        404        200        200        404        200        403
GET  /timesheets/{joan_paper}/documents/{joan_scan}            >/sign-in  200        404        404        404        404        404        404        200        200        404        200        403
# Payroll: DPSS staff holding the payroll permission (Kim, Omar; Lee has none: 403), for their own
# organisation's payroll employers (and the managed accounts in their own scope) only: another
# provider's timesheet or scan is not found (404). The key-in POST sends no fields: nothing changes.
GET  /payroll/timesheets                                       >/sign-in  403        403        403        403        403        403        403        200        403        200        403        403
GET  /payroll/timesheets.csv                                   >/sign-in  403        403        403        403        403        403        403        200        403        200        403        403
GET  /payroll/timesheets/{joan_paper}/key-in                   >/sign-in  403        403        403        403        403        403        403        200        403        404        403        403
POST /payroll/timesheets/{joan_paper}/key-in                   >/sign-in  403        403        403        403        403        403        403        200        403        404        403        403
GET  /payroll/timesheets/999999/key-in                         >/sign-in  403        403        403        403        403        403        403        404        403        404        403        403
GET  /payroll/documents/{joan_scan}                            >/sign-in  403        403        403        403        403        403        403        200        403        404        403        403
GET  /payroll/documents/999999                                 >/sign-in  403        403        403        403        403        403        403        404        403        404        403        403
# Notifications: everyone signed in has their own (the administrator too).
GET  /notifications                                            >/sign-in  200        200        200        200        200        200        200        200        200        200        200        200
POST /notifications/read                                       >/sign-in  >/notifications  >/notifications  >/notifications  >/notifications  >/notifications  >/notifications  >/notifications  >/notifications  >/notifications  >/notifications  >/notifications  >/notifications
# Receipts: added by the person, a manage-level representative or their DPSS staff (not council officers);
# read by anyone who may see the record. Spending is added by hand for bank-account direct payments.
GET  /people/{amina}/transactions/{amina_missing}/receipt      >/sign-in  200        404        404        404        403        403        404        200        200        404        403        403
POST /people/{amina}/transactions/{amina_missing}/receipt      >/sign-in  200        404        404        404        403        403        404        200        200        404        403        403
GET  /people/{amina}/transactions/999999/receipt               >/sign-in  404        404        404        404        403        403        404        404        404        404        403        403
GET  /people/{amina}/evidence/{amina_receipt}                  >/sign-in  200        404        404        404        403        403        404        200        200        404        200        403
GET  /people/{amina}/evidence/999999                           >/sign-in  404        404        404        404        403        403        404        404        404        404        404        403
GET  /people/{amina}/spending/new                              >/sign-in  200        404        404        404        403        403        404        200        200        404        403        403
GET  /people/{grace}/spending/new                              >/sign-in  404        200        200        404        403        403        404        404        404        200        403        403
GET  /people/{sam}/spending/new                                >/sign-in  404        404        404        404        403        403        404        200        200        404        403        403
POST /people/{amina}/spending/new                              >/sign-in  200        404        404        404        403        403        404        200        200        404        403        403
# Card statement imports: DPSS staff and council officers upload them and read the reports. Rows for
# card accounts the portal does not know: DPSS managers and council officers only, who attach each to
# someone in their scope. The demo data has no imports and no such rows (404 for those who may look).
GET  /card-imports/new                        >/sign-in  403        403        403        403        403        403        403        200        200        200        200        403
POST /card-imports/new                        >/sign-in  403        403        403        403        403        403        403        200        200        200        200        403
GET  /card-imports                            >/sign-in  403        403        403        403        403        403        403        200        200        200        200        403
GET  /card-imports/999999                     >/sign-in  403        403        403        403        403        403        403        404        404        404        404        403
GET  /card-imports/unmatched                  >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
GET  /card-imports/unmatched/999999           >/sign-in  403        403        403        403        403        403        403        403        404        403        404        403
POST /card-imports/unmatched/999999           >/sign-in  403        403        403        403        403        403        403        403        404        403        404        403
# Money settings (council settings and national rates with history, categorisation rules): the administrator only.
GET  /admin/money-settings                    >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
GET  /admin/councils/{northfield}/settings    >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
GET  /admin/councils/999999/settings          >/sign-in  403        403        403        403        403        403        403        403        403        403        403        404
GET  /admin/councils/{northfield}/settings/new  >/sign-in  403      403        403        403        403        403        403        403        403        403        403        200
POST /admin/councils/999999/settings/new      >/sign-in  403        403        403        403        403        403        403        403        403        403        403        404
GET  /admin/rates                             >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
GET  /admin/rates/new                         >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
POST /admin/rates/new                         >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
GET  /admin/category-rules                    >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
GET  /admin/category-rules/new                >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
POST /admin/category-rules/new                >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
POST /admin/category-rules/999999/delete      >/sign-in  403        403        403        403        403        403        403        403        403        403        403        404
# Statements: whoever may see the record may read its statement (view-level representatives too).
GET  /people/{amina}/statement                >/sign-in  200        404        404        404        403        403        404        200        200        404        200        403
GET  /people/{grace}/statement                >/sign-in  404        200        200        404        403        403        404        404        404        200        200        403
GET  /people/{sam}/statement                  >/sign-in  404        404        200        404        403        403        404        200        200        404        200        403
GET  /people/{ellen}/statement                >/sign-in  404        404        404        404        403        403        200        404        404        200        404        403
GET  /people/{amina}/statement.pdf            >/sign-in  200        404        404        404        403        403        404        200        200        404        200        403
GET  /people/{sam}/statement.pdf              >/sign-in  404        404        200        404        403        403        404        200        200        404        200        403
GET  /people/{amina}/statement.csv            >/sign-in  200        404        404        404        403        403        404        200        200        404        200        403
GET  /people/{sam}/statement.csv              >/sign-in  404        404        200        404        403        403        404        200        200        404        200        403
# Inviting someone connected to a record: DPSS staff and council officers, within their scope.
GET  /people/{amina}/invite                   >/sign-in  403        403        403        403        403        403        403        200        200        404        200        403
GET  /people/{grace}/invite                   >/sign-in  403        403        403        403        403        403        403        404        404        200        200        403
GET  /people/{sam}/invite                     >/sign-in  403        403        403        403        403        403        403        200        200        404        200        403
GET  /people/{tom}/invite                     >/sign-in  403        403        403        403        403        403        403        200        200        404        200        403
GET  /people/{ellen}/invite                   >/sign-in  403        403        403        403        403        403        403        404        404        200        404        403
POST /people/{tom}/invite                     >/sign-in  403        403        403        403        403        403        403        200        200        404        200        403
GET  /oversight.pdf                            >/sign-in  403        403        403        403        403        403        403        403        403        403        200        403
GET  /caseload                                >/sign-in  403        403        403        403        403        403        403        200        200        200        200        403
GET  /caseload?q=okafor&flag=concern&sort=area      >/sign-in  403        403        403        403        403        403        403        200        200        200        200        403
POST /caseload/reassign                         >/sign-in  403        403        403        403        403        403        403        403        >/caseload  403        403        403
GET  /people/{amina}/audits                          >/sign-in  403  403  403  403  403  403  403  200  200  404  200  403
GET  /people/{ellen}/audits                          >/sign-in  403  403  403  403  403  403  403  404  404  200  404  403
GET  /people/{amina}/audits/{amina_audit}            >/sign-in  403  403  403  403  403  403  403  200  200  404  200  403
GET  /people/{ellen}/audits/{amina_audit}            >/sign-in  403  403  403  403  403  403  403  404  404  404  404  403
GET  /people/{ellen}/audits/{ellen_audit}            >/sign-in  403  403  403  403  403  403  403  404  404  200  404  403
GET  /people/{amina}/audits/999999                   >/sign-in  403  403  403  403  403  403  403  404  404  404  404  403
GET  /people/{amina}/audits/{amina_audit}.pdf        >/sign-in  403  403  403  403  403  403  403  200  200  404  200  403
GET  /people/{ellen}/audits/{ellen_audit}.pdf        >/sign-in  403  403  403  403  403  403  403  404  404  200  404  403
GET  /people/{tom}/reviews                           >/sign-in  403  403  403  403  403  403  403  200  200  404  200  403
GET  /people/{grace}/reviews                         >/sign-in  403  403  403  403  403  403  403  404  404  200  200  403
GET  /people/{ellen}/reviews                         >/sign-in  403  403  403  403  403  403  403  404  404  200  404  403
POST /people/{tom}/audits                            >/sign-in  403  403  403  403  403  403  403  200  200  404  403  403
POST /people/{ellen}/audits                          >/sign-in  403  403  403  403  403  403  403  404  404  200  403  403
POST /people/{amina}/audits/{amina_audit}/checklist  >/sign-in  403  403  403  403  403  403  403  >/people/{amina}/audits/{amina_audit}  >/people/{amina}/audits/{amina_audit}  404  403  403
POST /people/{ellen}/audits/{ellen_audit}/checklist  >/sign-in  403  403  403  403  403  403  403  404  404  200  403  403
POST /people/{amina}/audits/{amina_audit}/findings   >/sign-in  403  403  403  403  403  403  403  >/people/{amina}/audits/{amina_audit}  >/people/{amina}/audits/{amina_audit}  404  403  403
POST /people/{ellen}/audits/{ellen_audit}/findings   >/sign-in  403  403  403  403  403  403  403  404  404  >/people/{ellen}/audits/{ellen_audit}  403  403
POST /people/{amina}/audits/{amina_audit}/sign-off   >/sign-in  403  403  403  403  403  403  403  >/people/{amina}/audits/{amina_audit}  >/people/{amina}/audits/{amina_audit}  404  403  403
POST /people/{ellen}/audits/{ellen_audit}/sign-off   >/sign-in  403  403  403  403  403  403  403  404  404  >/people/{ellen}/audits/{ellen_audit}  403  403
POST /people/{tom}/reviews                           >/sign-in  403  403  403  403  403  403  403  200  200  404  403  403
POST /people/{grace}/reviews                         >/sign-in  403  403  403  403  403  403  403  404  404  200  403  403
GET  /people/{tom}/managed-account                                          >/sign-in  404  404  404  200  403  403  404  200  200  404  200  403
GET  /people/{sam}/managed-account                                          >/sign-in  404  404  200  404  403  403  404  200  200  404  200  403
GET  /people/{amina}/managed-account                                        >/sign-in  404  404  404  404  403  403  404  404  404  404  404  403
GET  /people/{tom}/managed-account/{tom_waiting_payment}                    >/sign-in  404  404  404  200  403  403  404  200  200  404  200  403
GET  /people/{sam}/managed-account/{sam_paid_payment}                       >/sign-in  404  404  200  404  403  403  404  200  200  404  200  403
GET  /people/{sam}/managed-account/{tom_waiting_payment}                    >/sign-in  404  404  404  404  403  403  404  404  404  404  404  403
GET  /people/{tom}/managed-account/{tom_waiting_payment}/invoice            >/sign-in  404  404  404  200  403  403  404  200  200  404  200  403
GET  /people/{sam}/managed-account/{sam_paid_payment}/invoice               >/sign-in  404  404  200  404  403  403  404  200  200  404  200  403
GET  /people/{tom}/managed-account/new/invoice                              >/sign-in  403  403  403  403  403  403  403  200  200  404  403  403
POST /people/{tom}/managed-account/new/invoice                              >/sign-in  403  403  403  403  403  403  403  200  200  404  403  403
GET  /people/{tom}/managed-account/new/wages                                >/sign-in  403  403  403  403  403  403  403  200  200  404  403  403
GET  /people/{tom}/managed-account/new/pay-run                              >/sign-in  403  403  403  403  403  403  403  200  200  404  403  403
POST /people/{tom}/managed-account/new/pay-run                              >/sign-in  403  403  403  403  403  403  403  200  200  404  403  403
GET  /people/{amina}/managed-account/new/other                              >/sign-in  403  403  403  403  403  403  403  404  404  404  403  403
GET  /people/{tom}/managed-account/contributions/new                        >/sign-in  403  403  403  403  403  403  403  200  200  404  403  403
POST /people/{tom}/managed-account/contributions/new                        >/sign-in  403  403  403  403  403  403  403  200  200  404  403  403
POST /people/{tom}/managed-account/{tom_waiting_payment}/approve             >/sign-in  403  403  403  403  403  403  403  >/people/{tom}/managed-account/{tom_waiting_payment}  >/people/{tom}/managed-account/{tom_waiting_payment}  404  403  403
POST /people/{tom}/managed-account/{tom_waiting_payment}/cancel              >/sign-in  403  403  403  403  403  403  403  200  200  404  403  403
GET  /managed-account/approvals                                             >/sign-in  403  403  403  403  403  403  403  200  200  200  403  403
GET  /managed-account/approval-limit                                        >/sign-in  403  403  403  403  403  403  403  403  >/managed-account/approval-limit/{brightpath}  403  403  200
GET  /managed-account/approval-limit/{brightpath}                           >/sign-in  403  403  403  403  403  403  403  403  200  403  403  200
POST /managed-account/approval-limit/{brightpath}                           >/sign-in  403  403  403  403  403  403  403  403  200  403  403  200
GET  /managed-account/approval-limit/{harbour}                              >/sign-in  403  403  403  403  403  403  403  403  404  403  403  200
GET  /managed-account/approval-limit/{northfield}                           >/sign-in  403  403  403  403  403  403  403  403  404  403  403  404
GET  /payroll/runs                                            >/sign-in 403 403 403 403 403 403 403 200 200 200 403 403
POST /payroll/runs                                            >/sign-in 403 403 403 403 403 403 403 400 403 400 403 403
GET  /payroll/runs/{brightpath_run}                           >/sign-in 403 403 403 403 403 403 403 200 200 404 403 403
GET  /payroll/runs/{brightpath_run}.csv                       >/sign-in 403 403 403 403 403 403 403 200 200 404 403 403
GET  /payroll/runs/{brightpath_run}/payslips/{brightpath_payslip} >/sign-in 403 403 403 403 403 403 403 200 200 404 403 403
GET  /payroll/runs/{brightpath_run}/payslips/999999           >/sign-in 403 403 403 403 403 403 403 404 404 404 403 403
GET  /payroll/runs/999999                                     >/sign-in 403 403 403 403 403 403 403 404 404 404 403 403
POST /payroll/runs/{brightpath_run}/approve                   >/sign-in 403 403 403 403 403 403 403 400 400 404 403 403
POST /payroll/runs/{brightpath_run}/rebuild                   >/sign-in 403 403 403 403 403 403 403 >/payroll/runs/{brightpath_run} 403 404 403 403
POST /payroll/runs/999999/reverse                             >/sign-in 403 403 403 403 403 403 403 404 403 404 403 403
GET  /payslips                                    >/sign-in 403 403 403 403 200 200 403 403 403 403 403 403
GET  /payslips/{sophie_payslip}                   >/sign-in 200 404 404 404 200 404 404 200 200 404 403 403
GET  /payslips/{sophie_payslip}.pdf               >/sign-in 200 404 404 404 200 404 404 200 200 404 403 403
GET  /payslips/999999                             >/sign-in 404 404 404 404 404 404 404 404 404 404 403 403
GET  /people/{amina}/payslips                     >/sign-in 200 404 404 404 403 403 404 200 200 404 403 403
GET  /people/{grace}/payslips                     >/sign-in 404 200 200 404 403 403 404 404 404 200 403 403
GET  /people/{ellen}/payslips                     >/sign-in 404 404 404 404 403 403 200 404 404 200 403 403
GET  /payslips/year-end/2026/{amina_sophie}.pdf   >/sign-in 200 404 404 404 200 404 404 200 200 404 403 403
GET  /payslips/year-end/2025/{amina_sophie}.pdf   >/sign-in 404 404 404 404 404 404 404 404 404 404 403 403
GET  /payslips/leaver/{amina_sophie}.pdf          >/sign-in 404 404 404 404 404 404 404 404 404 404 403 403
GET  /people/{amina}/case                        >/sign-in  403        403        403        403        403        403        403        200        200        404        200        403
GET  /people/{grace}/case                        >/sign-in  403        403        403        403        403        403        403        404        404        200        200        403
GET  /people/{sam}/case                          >/sign-in  403        403        403        403        403        403        403        200        200        404        200        403
GET  /people/{tom}/case                          >/sign-in  403        403        403        403        403        403        403        200        200        404        200        403
GET  /people/{ellen}/case                        >/sign-in  403        403        403        403        403        403        403        404        404        200        404        403
GET  /people/999999/case                         >/sign-in  403        403        403        403        403        403        403        404        404        404        404        403
GET  /people/{tom}/set-up                       >/sign-in  403        403        403        403        403        403        403        200        200        404        200        403
GET  /people/{grace}/set-up                     >/sign-in  403        403        403        403        403        403        403        404        404        200        200        403
GET  /people/{ellen}/set-up                     >/sign-in  403        403        403        403        403        403        403        404        404        200        404        403
GET  /people/999999/set-up                      >/sign-in  403        403        403        403        403        403        403        404        404        404        404        403
POST /people/{tom}/set-up                       >/sign-in  403        403        403        403        403        403        403        400        400        404        403        403
POST /people/{grace}/set-up                     >/sign-in  403        403        403        403        403        403        403        404        404        400        403        403
GET  /people/{tom}/close                        >/sign-in  403        403        403        403        403        403        403        200        200        404        403        403
GET  /people/{ellen}/close                      >/sign-in  403        403        403        403        403        403        403        404        404        200        403        403
POST /people/{tom}/close                        >/sign-in  403        403        403        403        403        403        403        400        400        404        403        403
POST /people/{tom}/reopen                       >/sign-in  403        403        403        403        403        403        403        403        >/people/{tom}/set-up  403        403        403
POST /people/{grace}/reopen                     >/sign-in  403        403        403        403        403        403        403        403        404        403        403        403
GET  /people/{tom}/move                         >/sign-in  403        403        403        403        403        403        403        403        200        403        200        403
GET  /people/{ellen}/move                       >/sign-in  403        403        403        403        403        403        403        403        404        403        404        403
POST /people/{tom}/move                         >/sign-in  403        403        403        403        403        403        403        403        400        403        400        403
POST /people/{ellen}/move                       >/sign-in  403        403        403        403        403        403        403        403        404        403        404        403
# Administration: the administrator only.
GET  /admin                                   >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
GET  /admin/users                             >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
GET  /admin/users/{amina_user}                >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
GET  /admin/users/999999                      >/sign-in  403        403        403        403        403        403        403        403        403        403        403        404
GET  /admin/users/new                         >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
POST /admin/users/new                         >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
GET  /admin/organisations                     >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
GET  /admin/organisations/new                 >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
POST /admin/organisations/new                 >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
GET  /admin/throttles                         >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
POST /admin/throttles/lift                    >/sign-in  403        403        403        403        403        403        403        403        403        403        403        >/admin/throttles
GET  /admin/audit                             >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
GET  /admin/content                           >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
GET  /admin/content/being-an-employer         >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
POST /admin/content/being-an-employer         >/sign-in  403        403        403        403        403        403        403        403        403        403        403        200
GET  /admin/content/no-such-page              >/sign-in  403        403        403        403        403        403        403        403        403        403        403        404
POST /admin/users/999999/disable              >/sign-in  403        403        403        403        403        403        403        403        403        403        403        404
POST /admin/users/999999/enable               >/sign-in  403        403        403        403        403        403        403        403        403        403        403        404
POST /admin/users/999999/reset-authenticator  >/sign-in  403        403        403        403        403        403        403        403        403        403        403        404
# The PA's own register profile and checks: PAs only (others 403), each their own (another PA's check: 404).
GET  /register/profile                        >/sign-in  403        403        403        403        200        200        403        403        403        403        403        403
GET  /register/profile/edit                   >/sign-in  403        403        403        403        200        200        403        403        403        403        403        403
POST /register/profile/edit                   >/sign-in  403        403        403        403        200        200        403        403        403        403        403        403
POST /register/profile/listing                >/sign-in  403        403        403        403        >/register/profile  >/register/profile  403  403  403  403  403  403
GET  /register/profile/delete                 >/sign-in  403        403        403        403        200        200        403        403        403        403        403        403
POST /register/profile/delete                 >/sign-in  403        403        403        403        200        200        403        403        403        403        403        403
GET  /register/profile/photo                  >/sign-in  403        403        403        403        200        200        403        403        403        403        403        403
POST /register/profile/photo                  >/sign-in  403        403        403        403        200        200        403        403        403        403        403        403
POST /register/profile/photo/remove           >/sign-in  403        403        403        403        >/register/profile  >/register/profile  403  403  403  403  403  403
GET  /register/profile/photo/file             >/sign-in  403        403        403        403        404        404        403        403        403        403        403        403
GET  /register/checks/new                     >/sign-in  403        403        403        403        200        200        403        403        403        403        403        403
POST /register/checks/new                     >/sign-in  403        403        403        403        200        200        403        403        403        403        403        403
GET  /register/checks/{jay_dbs}               >/sign-in  403        403        403        403        404        200        403        403        403        403        403        403
GET  /register/checks/{sophie_dbs}            >/sign-in  403        403        403        403        200        404        403        403        403        403        403        403
GET  /register/checks/999999                  >/sign-in  403        403        403        403        404        404        403        403        403        403        403        403
POST /register/checks/{jay_dbs}/verification  >/sign-in  403        403        403        403        404        200        403        403        403        403        403        403
POST /register/checks/{jay_dbs}/delete        >/sign-in  403        403        403        403        404        >/register/checks/{jay_dbs}  403  403  403  403  403  403
GET  /register/checks/{jay_dbs}/document      >/sign-in  403        403        403        403        404        404        403        403        403        403        403        403
# Verifying checks: DPSS staff only (others 403), and only the DPSS the PA asked (another DPSS: 404).
GET  /register/verifications                  >/sign-in  403        403        403        403        403        403        403        200        200        200        403        403
GET  /register/verifications/{jay_dbs_request}  >/sign-in  403      403        403        403        403        403        403        404        404        200        403        403
GET  /register/verifications/{sophie_dbs_request}  >/sign-in  403   403        403        403        403        403        403        200        200        404        403        403
GET  /register/verifications/999999           >/sign-in  403        403        403        403        403        403        403        404        404        404        403        403
POST /register/verifications/{jay_dbs_request}  >/sign-in  403      403        403        403        403        403        403        404        404        200        403        403
GET  /register/verifications/{jay_dbs_request}/document  >/sign-in  403  403   403        403        403        403        403        404        404        404        403        403
GET  /register/invite                         >/sign-in  403        403        403        403        403        403        403        200        200        200        403        403
POST /register/invite                         >/sign-in  403        403        403        403        403        403        403        200        200        200        403        403
# Vacancies, the recipient's side: read as /people/{id}; posted and closed by the person, a manage-level
# representative or their DPSS (council officers 403; a view-level representative 404, as David for Sam).
# A vacancy is found only through its own recipient (Grace's under Amina's address: 404).
GET  /people/{grace}/vacancies                                 >/sign-in  404        200        200        404        403        403        404        404        404        200        200        403
GET  /people/{sam}/vacancies                                   >/sign-in  404        404        200        404        403        403        404        200        200        404        200        403
GET  /people/{ellen}/vacancies                                 >/sign-in  404        404        404        404        403        403        200        404        404        200        404        403
GET  /people/{grace}/vacancies/new                             >/sign-in  404        200        200        404        403        403        404        404        404        200        403        403
POST /people/{grace}/vacancies/new                             >/sign-in  404        200        200        404        403        403        404        404        404        200        403        403
GET  /people/{sam}/vacancies/new                               >/sign-in  404        404        404        404        403        403        404        200        200        404        403        403
POST /people/{sam}/vacancies/new                               >/sign-in  404        404        404        404        403        403        404        200        200        404        403        403
GET  /people/{grace}/vacancies/{grace_vacancy}                 >/sign-in  404        200        200        404        403        403        404        404        404        200        200        403
GET  /people/{amina}/vacancies/{grace_vacancy}                 >/sign-in  404        404        404        404        403        403        404        404        404        404        404        403
GET  /people/{grace}/vacancies/999999                          >/sign-in  404        404        404        404        403        403        404        404        404        404        404        403
POST /people/{grace}/vacancies/{grace_vacancy}/close           >/sign-in  404        200        200        404        403        403        404        404        404        200        403        403
POST /people/{sam}/vacancies/{grace_vacancy}/close             >/sign-in  404        404        404        404        403        403        404        404        404        404        403        403
GET  /people/{grace}/vacancies/{grace_vacancy}/edit            >/sign-in  404        200        200        404        403        403        404        404        404        200        403        403
POST /people/{grace}/vacancies/{grace_vacancy}/edit            >/sign-in  404        200        200        404        403        403        404        404        404        200        403        403
GET  /people/{sam}/vacancies/{grace_vacancy}/edit              >/sign-in  404        404        404        404        403        403        404        404        404        404        403        403
POST /people/{sam}/vacancies/{grace_vacancy}/edit              >/sign-in  404        404        404        404        403        403        404        404        404        404        403        403
# Vacancies, the PA's side: PAs only (others 403); a PA sees open vacancies only (others' ids: 404).
# Jay already expressed interest in Grace's vacancy (sent back to it); Sophie's message is refused.
GET  /vacancies                                                >/sign-in  403        403        403        403        200        200        403        403        403        403        403        403
GET  /vacancies/{grace_vacancy}                                >/sign-in  403        403        403        403        200        200        403        403        403        403        403        403
GET  /vacancies/999999                                         >/sign-in  403        403        403        403        404        404        403        403        403        403        403        403
POST /vacancies/{grace_vacancy}/interest                       >/sign-in  403        403        403        403        200        >/vacancies/{grace_vacancy}  403  403  403  403  403  403
POST /vacancies/999999/interest                                >/sign-in  403        403        403        403        404        404        403        403        403        403        403        403
# The council's register counts: council officers only, for their own council.
GET  /register/council                                         >/sign-in  403        403        403        403        403        403        403        403        403        403        200        403
GET  /register/council.csv                                     >/sign-in  403        403        403        403        403        403        403        403        403        403        200        403
# The PA register: searching (recipients, representatives, DPSS staff, council officers; PAs and the administrator 403).
GET  /find-a-pa                                      >/sign-in  200        200        200        200        403        403        200        200        200        200        200        403
GET  /find-a-pa?for={sam}                            >/sign-in  404        404        200        404        403        403        404        200        200        404        200        403
GET  /find-a-pa?for={ellen}                          >/sign-in  404        404        404        404        403        403        200        404        404        200        404        403
GET  /find-a-pa/{jay_profile}                        >/sign-in  200        200        200        200        403        403        200        200        200        200        200        403
GET  /find-a-pa/{jay_profile}?for={sam}              >/sign-in  404        404        200        404        403        403        404        200        200        404        200        403
GET  /find-a-pa/{hidden_profile}                     >/sign-in  404        404        404        404        403        403        404        404        404        404        404        403
GET  /find-a-pa/{jay_profile}/photo                  >/sign-in  404        404        404        404        403        403        404        404        404        404        404        403
GET  /find-a-pa/{hidden_profile}/photo               >/sign-in  404        404        404        404        403        403        404        404        404        404        404        403
# Contacting a PA: those who may manage the person (council officers 403); David only views Sam's (404).
GET  /find-a-pa/{jay_profile}/contact                >/sign-in  200        200        200        200        403        403        200        200        200        200        403        403
POST /find-a-pa/{jay_profile}/contact                >/sign-in  200        200        200        200        403        403        200        200        200        200        403        403
GET  /find-a-pa/{jay_profile}/contact?for={sam}      >/sign-in  404        404        404        404        403        403        404        200        200        404        403        403
POST /find-a-pa/{jay_profile}/contact?for={sam}      >/sign-in  404        404        404        404        403        403        404        200        200        404        403        403
GET  /find-a-pa/{jay_profile}/contact?for={grace}    >/sign-in  404        200        200        404        403        403        404        404        404        200        403        403
GET  /find-a-pa/{hidden_profile}/contact             >/sign-in  404        404        404        404        403        403        404        404        404        404        403        403
# Contact requests: the PA's own; the recipient's side through the recipient scope; only the PA answers, blocks, reports.
GET  /register/contacts                              >/sign-in  200        200        200        200        200        200        200        200        200        200        200        403
GET  /register/contacts/{sam_jay_contact}            >/sign-in  404        404        200        404        404        200        404        200        200        404        200        403
GET  /register/contacts/999999                       >/sign-in  404        404        404        404        404        404        404        404        404        404        404        403
POST /register/contacts/{sam_jay_contact}/answer     >/sign-in  403        403        403        403        404        200        403        403        403        403        403        403
POST /register/contacts/{sam_jay_contact}/messages   >/sign-in  404        404        404        404        404        200        404        200        200        404        403        403
GET  /register/contacts/{sam_jay_contact}/block      >/sign-in  403        403        403        403        404        200        403        403        403        403        403        403
POST /register/contacts/{sam_jay_contact}/block      >/sign-in  403        403        403        403        404        200        403        403        403        403        403        403
GET  /register/contacts/{sam_jay_contact}/concern    >/sign-in  403        403        403        403        404        200        403        403        403        403        403        403
POST /register/contacts/{sam_jay_contact}/concern    >/sign-in  403        403        403        403        404        200        403        403        403        403        403        403
# Case notes: DPSS staff and council officers in scope; recipients, representatives, PAs, admin 403.
GET  /people/{amina}/notes                                     >/sign-in  403        403        403        403        403        403        403        200        200        404        200        403
GET  /people/{grace}/notes                                     >/sign-in  403        403        403        403        403        403        403        404        404        200        200        403
GET  /people/{sam}/notes                                       >/sign-in  403        403        403        403        403        403        403        200        200        404        200        403
GET  /people/{ellen}/notes                                     >/sign-in  403        403        403        403        403        403        403        404        404        200        404        403
GET  /people/999999/notes                                      >/sign-in  403        403        403        403        403        403        403        404        404        404        404        403
POST /people/{amina}/notes                                     >/sign-in  403        403        403        403        403        403        403        200        200        404        200        403
POST /people/{ellen}/notes                                     >/sign-in  403        403        403        403        403        403        403        404        404        200        404        403
# Reporting a concern: anyone who may see the person (a view-level representative too); a PA about a current employer.
GET  /people/{amina}/concern                                   >/sign-in  200        404        404        404        200        404        404        200        200        404        200        403
GET  /people/{grace}/concern                                   >/sign-in  404        200        200        404        404        404        404        404        404        200        200        403
GET  /people/{sam}/concern                                     >/sign-in  404        404        200        404        404        404        404        200        200        404        200        403
GET  /people/{tom}/concern                                     >/sign-in  404        404        404        200        404        404        404        200        200        404        200        403
GET  /people/{ellen}/concern                                   >/sign-in  404        404        404        404        404        404        200        404        404        200        404        403
GET  /people/999999/concern                                    >/sign-in  404        404        404        404        404        404        404        404        404        404        404        403
POST /people/{amina}/concern                                   >/sign-in  200        404        404        404        200        404        404        200        200        404        200        403
POST /people/{sam}/concern                                     >/sign-in  404        404        200        404        404        404        404        200        200        404        200        403
POST /people/{ellen}/concern                                   >/sign-in  404        404        404        404        404        404        200        404        404        200        404        403
GET  /people/{tom}/concern/{tom_concern}/sent                  >/sign-in  404        404        404        404        404        404        404        200        404        404        404        403
GET  /people/{amina}/concern/{tom_concern}/sent                >/sign-in  404        404        404        404        404        404        404        404        404        404        404        403
# Concerns list and acknowledging: DPSS staff and council officers in scope.
GET  /people/{tom}/concerns                                    >/sign-in  403        403        403        403        403        403        403        200        200        404        200        403
GET  /people/{grace}/concerns                                  >/sign-in  403        403        403        403        403        403        403        404        404        200        200        403
GET  /people/{ellen}/concerns                                  >/sign-in  403        403        403        403        403        403        403        404        404        200        404        403
POST /people/{tom}/concerns/{tom_concern}/acknowledge          >/sign-in  403        403        403        403        403        403        403        200        200        404        200        403
POST /people/{amina}/concerns/{tom_concern}/acknowledge        >/sign-in  403        403        403        403        403        403        403        404        404        404        404        403
POST /people/{tom}/concerns/999999/acknowledge                 >/sign-in  403        403        403        403        403        403        403        404        404        404        404        403
# Excess-balance reviews: read by anyone who may see the person; worked by their DPSS staff, decided by the council.
GET  /people/{grace}/excess-reviews                      >/sign-in  404        200        200        404        403        403        404        404        404        200        200        403
GET  /people/{ellen}/excess-reviews                      >/sign-in  404        404        404        404        403        403        200        404        404        200        404        403
GET  /people/{tom}/excess-reviews                        >/sign-in  404        404        404        200        403        403        404        200        200        404        200        403
GET  /people/{grace}/excess-reviews/{grace_review}       >/sign-in  404        200        200        404        403        403        404        404        404        200        200        403
GET  /people/{amina}/excess-reviews/{grace_review}       >/sign-in  404        404        404        404        403        403        404        404        404        404        404        403
GET  /people/{grace}/excess-reviews/999999               >/sign-in  404        404        404        404        403        403        404        404        404        404        404        403
POST /people/{grace}/excess-reviews/{grace_review}       >/sign-in  403        403        403        403        403        403        403        404        404        200        >/people/{grace}/excess-reviews/{grace_review}  403
POST /people/{amina}/excess-reviews/{grace_review}       >/sign-in  403        403        403        403        403        403        403        404        404        404        404        403
# The council's dashboard and its CSVs: council officers only, for their own council.
GET  /oversight                                                >/sign-in  403        403        403        403        403        403        403        403        403        403        200        403
GET  /oversight/uptake-age.csv                                 >/sign-in  403        403        403        403        403        403        403        403        403        403        200        403
GET  /oversight/spend-category.csv                             >/sign-in  403        403        403        403        403        403        403        403        403        403        200        403
GET  /oversight/no-such-table.csv                              >/sign-in  403        403        403        403        403        403        403        403        403        403        404        403
# Work queues: DPSS staff only; a caseworker their own cases, a manager any caseworker of their organisation.
GET  /work                                    >/sign-in  403        403        403        403        403        403        403        200        200        200        403        403
GET  /work?kind=excess-reviews                >/sign-in  403        403        403        403        403        403        403        200        200        200        403        403
GET  /work?kind=no-such-kind                  >/sign-in  403        403        403        403        403        403        403        404        404        404        403        403
GET  /work?caseworker={kim_user}              >/sign-in  403        403        403        403        403        403        403        200        200        403        403        403
GET  /work?caseworker={omar_user}             >/sign-in  403        403        403        403        403        403        403        403        404        200        403        403
GET  /work?caseworker=unassigned              >/sign-in  403        403        403        403        403        403        403        403        200        403        403        403
GET  /work/organisation                       >/sign-in  403        403        403        403        403        403        403        200        200        200        403        403
"""

# Form fields sent with a POST besides the CSRF token. Without an entry, a POST sends no fields:
# the form fails validation and nothing changes.
POST_DATA = {
    # A "No" without a note is refused: nothing is saved.
    "/people/{ellen}/audits/{ellen_audit}/checklist": {"insurance_valid": "no"},
    # Sophie's interest would be recorded by an empty form: a phone number in the message is refused.
    "/vacancies/{grace_vacancy}/interest": {"message": "Call me on 07700 900000"},
    # A documentation address (RFC 5737) that is not throttled: lifting it changes nothing.
    "/admin/throttles/lift": {"kind": "address", "value": "203.0.113.9"},
    # The form takes missing fields from the page itself (so an empty POST would save it unchanged):
    # an empty title makes the form invalid instead.
    "/admin/content/being-an-employer": {"title": ""},
}

# Recipients whose names each persona may see (the rule), checked on every HTML response. A PA sees
# the employers they work for; the administrator is left out because reading accounts and the
# audit log (which names people) is their job.
MAY_SEE = {
    "anon": set(),
    "amina": {"Amina Patel"},
    "grace": {"Grace Okafor"},
    "david": {"Grace Okafor", "Sam Okafor"},
    "tom": {"Tom Hughes"},
    "sophie": {"Amina Patel"},
    "jay": set(),
    "ellen": {"Ellen Marsh"},
    "kim": {"Amina Patel", "Tom Hughes", "Sam Okafor"},
    "lee": {"Amina Patel", "Tom Hughes", "Sam Okafor"},
    "omar": {"Grace Okafor", "Ellen Marsh"},
    "rachel": {"Amina Patel", "Grace Okafor", "Sam Okafor", "Tom Hughes"},
}
RECIPIENT_NAMES = ["Amina Patel", "Grace Okafor", "Sam Okafor", "Tom Hughes", "Ellen Marsh"]
CELL = re.compile(r"^(\d{3}|>/\S*)$")


class Cell(NamedTuple):
    method: str
    path: str
    persona: str
    expected: str

    def __str__(self):
        return f"{self.method} {self.path} | {self.persona}"


def parse_matrix(table: str) -> list[tuple[str, str, list[str]]]:
    """(method, path, cells) for each row; a malformed table fails collection with the line."""
    lines = [line for line in table.strip().splitlines() if line.strip() and not line.startswith("#")]
    header = lines[0].split()
    if header != ["request", *PERSONAS]:
        raise ValueError(f"MATRIX header must be: request {' '.join(PERSONAS)}")
    rows = []
    for line in lines[1:]:
        method, path, *cells = line.split()
        if method not in ("GET", "POST") or len(cells) != len(PERSONAS) or not all(CELL.match(c) for c in cells):
            raise ValueError(f"malformed MATRIX row: {line!r}")
        rows.append((method, path, cells))
    return rows


ROWS = parse_matrix(MATRIX)
CELLS = [Cell(method, path, persona, expected) for method, path, cells in ROWS for persona, expected in zip(PERSONAS, cells)]


def demo_ids(app) -> dict[str, int]:
    """The ids the table's {placeholders} stand for, from the demo database (not hard-coded)."""
    with app.app_context():
        people = {
            f"{given} {family}": person_id
            for person_id, given, family in db.session.execute(sa.select(Person.id, Person.given_name, Person.family_name))
        }
        amina_user = db.session.scalar(sa.select(User.id).where(User.email == EMAILS["amina"]))
        amina_flagged = db.session.scalar(sa.select(LedgerEntry.id).where(LedgerEntry.external_id == "DEMO-CASH-000001"))
        amina_account = db.session.scalar(sa.select(DPAccount.id).where(DPAccount.recipient_id == people["Amina Patel"]))
        amina_missing = db.session.scalar(
            sa.select(EntryState.entry_id).where(EntryState.account_id == amina_account, EntryState.needs_evidence.is_(True)).limit(1)
        )
        amina_receipt = db.session.scalar(
            sa.select(Evidence.id).join(LedgerEntry, LedgerEntry.id == Evidence.entry_id).where(LedgerEntry.account_id == amina_account).limit(1)
        )

        def budget_of(person_id):
            return db.session.scalar(sa.select(Budget.id).where(Budget.recipient_id == person_id).order_by(Budget.id))

        northfield = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Northfield City Council"))

        def timesheet_of(pa: str, status: TimesheetStatus):
            return db.session.scalar(sa.select(Timesheet.id).where(Timesheet.pa_id == people[pa], Timesheet.status == status)
                                     .order_by(Timesheet.period_start.desc()).limit(1))

        joan_paper = timesheet_of("Joan Price", TimesheetStatus.AWAITING_KEYING)
        joan_scan = db.session.scalar(sa.select(TimesheetDocument.id).where(TimesheetDocument.timesheet_id == joan_paper))
        sophie_draft = timesheet_of("Sophie Clarke", TimesheetStatus.DRAFT)

        def employment_of(pa: str, employer: str):
            return db.session.scalar(sa.select(Employment.id).where(
                Employment.pa_id == people[pa], Employment.employer_id == people[employer]))

        amina_sophie = employment_of("Sophie Clarke", "Amina Patel")
        tom_leon = employment_of("Leon Baptiste", "Tom Hughes")
        sophie_approved = timesheet_of("Sophie Clarke", TimesheetStatus.APPROVED)
        tom_pending = timesheet_of("Leon Baptiste", TimesheetStatus.SUBMITTED)
        tom_budget, ellen_budget = budget_of(people["Tom Hughes"]), budget_of(people["Ellen Marsh"])

        def profile_of(name: str):
            return db.session.scalar(sa.select(PAProfile.id).where(PAProfile.person_id == people[name]))

        sophie_profile, jay_profile = profile_of("Sophie Clarke"), profile_of("Jay Singh")
        grace_vacancy = db.session.scalar(sa.select(Vacancy.id).where(Vacancy.recipient_id == people["Grace Okafor"]))
        jay_dbs = db.session.scalar(sa.select(ProfileCheck.id).where(ProfileCheck.profile_id == jay_profile,
                                                                     ProfileCheck.kind == CheckKind.DBS))
        sophie_dbs = db.session.scalar(sa.select(ProfileCheck.id).where(ProfileCheck.profile_id == sophie_profile,
                                                                        ProfileCheck.kind == CheckKind.DBS))
        jay_dbs_request = db.session.scalar(sa.select(VerificationRequest.id).where(VerificationRequest.check_id == jay_dbs))
        sophie_dbs_request = db.session.scalar(sa.select(VerificationRequest.id).where(VerificationRequest.check_id == sophie_dbs))
        hidden_profile = profile_of("Mia Walsh")
        grace_review = db.session.scalar(
            sa.select(ExcessBalanceReview.id).join(DPAccount, DPAccount.id == ExcessBalanceReview.account_id)
            .where(DPAccount.recipient_id == people["Grace Okafor"]).order_by(ExcessBalanceReview.cycle_start.desc()).limit(1))
        kim_user = db.session.scalar(sa.select(User.id).where(User.email == EMAILS["kim"]))
        omar_user = db.session.scalar(sa.select(User.id).where(User.email == EMAILS["omar"]))
        tom_concern = db.session.scalar(sa.select(SafeguardingConcern.id).where(SafeguardingConcern.recipient_id == people["Tom Hughes"]))
        sam_jay_contact = db.session.scalar(sa.select(ContactRequest.id).where(ContactRequest.recipient_id == people["Sam Okafor"]))
        tom_waiting_payment = db.session.scalar(sa.select(ManagedPayment.id).where(ManagedPayment.request_key == "demo-tom-day-centre-invoice"))
        sam_paid_payment = db.session.scalar(sa.select(ManagedPayment.id).where(ManagedPayment.request_key == "demo-sam-travel-invoice"))
        brightpath = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Brightpath Support"))
        harbour = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Harbour DPSS"))
        brightpath_run = db.session.scalar(
            sa.select(PayRun.id).where(PayRun.provider_id == brightpath, PayRun.status == PayRunStatus.APPROVED)
            .order_by(PayRun.id).limit(1))
        brightpath_payslip = db.session.scalar(sa.select(Payslip.id).where(Payslip.run_id == brightpath_run).order_by(Payslip.id).limit(1))
        sophie_payslip = db.session.scalar(
            sa.select(Payslip.id).join(PayRun, PayRun.id == Payslip.run_id)
            .where(Payslip.pa_id == people["Sophie Clarke"], Payslip.employer_id == people["Amina Patel"], PayRun.status == PayRunStatus.APPROVED)
            .order_by(Payslip.pay_date.desc()).limit(1))
        amina_audit = db.session.scalar(sa.select(Audit.id).where(Audit.recipient_id == people["Amina Patel"]))
        ellen_audit = db.session.scalar(sa.select(Audit.id).where(Audit.recipient_id == people["Ellen Marsh"]))
    return {
        "amina": people["Amina Patel"],
        "amina_audit": amina_audit,
        "sophie_payslip": sophie_payslip,
        "brightpath_run": brightpath_run,
        "brightpath_payslip": brightpath_payslip,
        "tom_waiting_payment": tom_waiting_payment,
        "sam_paid_payment": sam_paid_payment,
        "brightpath": brightpath,
        "harbour": harbour,
        "ellen_audit": ellen_audit,
        "grace": people["Grace Okafor"],
        "sam": people["Sam Okafor"],
        "tom": people["Tom Hughes"],
        "ellen": people["Ellen Marsh"],
        "amina_user": amina_user,
        "amina_flagged": amina_flagged,
        "amina_missing": amina_missing,
        "amina_receipt": amina_receipt,
        "tom_budget": tom_budget,
        "ellen_budget": ellen_budget,
        "northfield": northfield,
        "sophie_draft": sophie_draft,
        "amina_sophie": amina_sophie,
        "tom_leon": tom_leon,
        "sophie_approved": sophie_approved,
        "tom_pending": tom_pending,
        "joan_paper": joan_paper,
        "joan_scan": joan_scan,
        "sophie_profile": sophie_profile,
        "jay_profile": jay_profile,
        "grace_vacancy": grace_vacancy,
        "jay_dbs": jay_dbs,
        "sophie_dbs": sophie_dbs,
        "jay_dbs_request": jay_dbs_request,
        "sophie_dbs_request": sophie_dbs_request,
        "sam_jay_contact": sam_jay_contact,
        "hidden_profile": hidden_profile,
        "tom_concern": tom_concern,
        "kim_user": kim_user,
        "omar_user": omar_user,
        "grace_review": grace_review,
    }


@pytest.fixture(scope="module")
def ids(module_app):
    return demo_ids(module_app)


@pytest.fixture(scope="module")
def browsers(module_app):
    """One client per persona, signed in on first use (staff authenticator codes work once)."""
    clients = {}

    def browser(persona: str):
        if persona not in clients:
            client = module_app.test_client()
            if persona != "anon":
                sign_in(client, EMAILS[persona])
            clients[persona] = client
        return clients[persona]

    return browser


def send(client, persona: str, method: str, path: str, raw_path: str):
    if method == "GET":
        return client.get(path)
    # A valid CSRF token from a page this persona can reach, so the access rule is what answers.
    token = csrf_token(client.get("/sign-in" if persona == "anon" else "/account").text)
    return client.post(path, data={"csrf_token": token, **POST_DATA.get(raw_path, {})})


def outcome(response) -> str:
    """The response in the table's notation."""
    if response.status_code == 302:
        return ">" + urlsplit(response.headers["Location"]).path
    return str(response.status_code)


def hidden_names_on_page(persona: str, html: str) -> list[str]:
    """Names of recipients outside the persona's view that appear on the page, either way round."""
    found = []
    for name in RECIPIENT_NAMES:
        if name in MAY_SEE[persona]:
            continue
        given, family = name.split()
        if name in html or f"{family}, {given}" in html:
            found.append(name)
    return found


@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_cell(cell: Cell, module_app, browsers, ids):
    path = cell.path.format(**ids)
    if cell.path == "/sign-out" and cell.persona != "anon":
        # Signing out ends the session: use a client of its own so the shared one stays signed in.
        client = module_app.test_client()
        sign_in(client, EMAILS[cell.persona])
    else:
        client = browsers(cell.persona)

    response = send(client, cell.persona, cell.method, path, cell.path)

    got, expected = outcome(response), cell.expected.format(**ids)
    assert got == expected, f"{cell} ({cell.method} {path}): expected {expected}, got {got}"
    if response.mimetype == "text/html" and cell.persona in MAY_SEE:  # error pages must not name people either
        leaked = hidden_names_on_page(cell.persona, response.text)
        assert not leaked, f"{cell}: page shows {leaked}, whom {cell.persona} must not see"
    if cell.path == "/caseload" and response.status_code == 200:
        # The other half of the rule, and proof that the name check above reads the list's format.
        listed = {name for name in RECIPIENT_NAMES if ", ".join(reversed(name.split())) in response.text}
        assert listed == MAY_SEE[cell.persona], f"{cell}: lists {sorted(listed)}"
    if cell.path == "/sign-out" and cell.persona != "anon":
        assert outcome(client.get("/home")) == ">/sign-in", f"{cell}: still signed in after signing out"


# The table covers the URL map ------------------------------------------------------------------


def rows_missing(app, rows, ids) -> list[str]:
    """Every (endpoint, method) of the URL map, static aside, that no row of the table requests."""
    adapter = app.url_map.bind("localhost")
    covered = {(adapter.match(path.format(**ids).split("?")[0], method=method)[0], method) for method, path, _ in rows}
    wanted = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    return sorted(f"{method} {endpoint}" for endpoint, method in wanted - covered)


def test_every_endpoint_of_the_url_map_has_a_row(module_app, ids):
    missing = rows_missing(module_app, ROWS, ids)
    assert not missing, (
        "add a row to MATRIX in tests/test_access_matrix.py, with every persona's expected status, for: "
        + ", ".join(missing)
    )


def test_a_missing_row_is_reported(module_app, ids):
    without_caseload = [row for row in ROWS if row[1].split("?")[0] != "/caseload"]
    assert rows_missing(module_app, without_caseload, ids) == ["GET caseload.index"]
