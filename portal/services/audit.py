"""Writing to the append-only audit trail."""

from portal.extensions import db
from portal.models import AuditEvent, User


def record(
    action: str,
    *,
    user: User | None = None,
    record_type: str = "",
    record_id: int | str | None = None,
    acting_for_id: int | None = None,
    outcome: str = "",
    request_id: str = "",
    address: str = "",
) -> AuditEvent:
    """Add an audit event to the session; it commits with the change it records."""
    event = AuditEvent(
        action=action,
        user_id=user.id if user is not None and user.is_authenticated else None,
        role=user.role.value if user is not None and user.is_authenticated else "",
        record_type=record_type,
        record_id="" if record_id is None else str(record_id),
        acting_for_id=acting_for_id,
        outcome=outcome[:40],  # the column's length: a long outcome is cut, never a failed action (PostgreSQL refuses it)
        request_id=request_id,
        address=address,
    )
    db.session.add(event)
    return event
