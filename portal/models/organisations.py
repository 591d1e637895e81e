"""Councils and DPSS providers, and the postcode districts that belong to councils."""

import enum

from sqlalchemy import Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db


class OrganisationKind(enum.StrEnum):
    COUNCIL = "council"
    DPSS = "dpss"


class Organisation(db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[OrganisationKind] = mapped_column(
        Enum(OrganisationKind, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    # DPSS providers: managed-account payments above this need a second member of staff to approve them.
    payment_approval_limit_pence: Mapped[int] = mapped_column(Integer, default=100_000, server_default="100000")

    districts: Mapped[list["District"]] = relationship(back_populates="council", order_by="District.code")

    @property
    def is_council(self) -> bool:
        return self.kind == OrganisationKind.COUNCIL

    def __repr__(self) -> str:
        return f"<Organisation {self.name}>"


class District(db.Model):
    """A postcode district (the outward code, e.g. NF2) and the council it belongs to."""

    __tablename__ = "districts"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    council_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)

    council: Mapped[Organisation] = relationship(back_populates="districts")
