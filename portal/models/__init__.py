"""SQLAlchemy models, one module per aggregate."""

from portal.models.accounts import OneTimeToken, Role, SignInFailure, User, UserSession
from portal.models.audit import AuditEvent
from portal.models.content import ContentPage
from portal.models.organisations import District, Organisation, OrganisationKind
from portal.models.people import (
    CaseloadEntry,
    Employment,
    Person,
    Recipient,
    RepresentativeKind,
    RepresentativeLevel,
    RepresentativeLink,
    SupportReason,
)

__all__ = [
    "AuditEvent",
    "CaseloadEntry",
    "ContentPage",
    "District",
    "Employment",
    "OneTimeToken",
    "Organisation",
    "OrganisationKind",
    "Person",
    "Recipient",
    "RepresentativeKind",
    "RepresentativeLevel",
    "RepresentativeLink",
    "Role",
    "SignInFailure",
    "SupportReason",
    "User",
    "UserSession",
]
