"""Who a recipient can contact for help: their DPSS caseworker or provider, and their council."""

from dataclasses import dataclass

from portal.models import Recipient


@dataclass(frozen=True)
class Contact:
    role: str
    name: str
    organisation: str
    phone: str
    email: str


def contacts_for(recipient: Recipient) -> list[Contact]:
    contacts = []
    entry = recipient.caseload_entry
    if entry is not None:
        provider = entry.provider
        worker = entry.caseworker
        contacts.append(
            Contact(
                role="Your support worker",
                name=worker.display_name if worker else provider.name,
                organisation=provider.name,
                phone=provider.phone,
                email=worker.email if worker else provider.email,
            )
        )
    council = recipient.council
    contacts.append(
        Contact(
            role="Your council",
            name="Direct payments team",
            organisation=council.name,
            phone=council.phone,
            email=council.email,
        )
    )
    return contacts
