"""Who consulted: map a sender to a party and pull a name and phone number out of the mail.

Everything here is a guess from text. Each value comes with a short source string
("contact", "registry", "from-header", "subject", "body", "signature", "reply-to") so an
officer can see why the helpdesk thinks what it thinks. When the text is ambiguous the
answer is None: a wrong party on a ticket is worse than an empty one.

`identify()` puts together the finders of phones.py, names.py and parties.py.
Pure logic: no database, no network, no clock.
"""
from __future__ import annotations

from dataclasses import dataclass

from kpudesk.mailbox.message import InboundMessage

from .names import name_with_source
from .parties import PartyRegistry
from .party_records import Party
from .phones import extract_phones
from .quoting import signature_block
from .text import Body

__all__ = ["IdentityGuess", "identify"]


@dataclass(frozen=True)
class IdentityGuess:
    name: str | None
    name_source: str | None
    party: Party | None
    party_source: str | None
    phone: str | None
    phone_source: str | None
    email: str | None
    email_source: str | None


def _phone_with_source(body: Body) -> tuple[str | None, str | None]:
    sig = signature_block(body.lines)
    if sig:
        phones = extract_phones(sig)
        if phones:
            return phones[0], "signature"
    phones = extract_phones(body.text)
    if phones:
        return phones[0], "body"
    return None, None


def identify(msg: InboundMessage, registry: PartyRegistry, body: Body | None = None) -> IdentityGuess:
    """Best guess of who wrote `msg`.

    Email: the From address (lower-case), else the first Reply-To. Then the contact
    record for that address gives name, party and phone; what it lacks comes from, for
    the party: the registry's addresses, the From display name, the subject, the body;
    for the name: the body ("Nama:", "Saya ..."), the signature, the From display name;
    for the phone: the signature, then the body. Quoted text is ignored.
    `body`: `Body.of(msg.text)` when the caller has built it already.
    """
    email = email_source = None
    display: str | None = None
    if msg.from_addr is not None and msg.from_addr.email.strip():
        email, email_source, display = msg.from_addr.key, "from-header", msg.from_addr.name
    else:
        for a in msg.reply_to:
            if a.email.strip():
                email, email_source, display = a.key, "reply-to", a.name
                break
        if display is None and msg.from_addr is not None:
            display = msg.from_addr.name

    name = name_source = phone = phone_source = None
    party: Party | None = None
    party_source: str | None = None

    contact = registry.contact(email)
    if contact is not None:
        if contact.name:
            name, name_source = contact.name, "contact"
        if contact.phone:
            phone, phone_source = contact.phone, "contact"
        if contact.party is not None:
            party, party_source = contact.party, "contact"

    if body is None:
        body = Body.of(msg.text)
    if party is None:
        for found, source in (
            (lambda: registry.by_address(email), "registry"),
            (lambda: registry.find_in_text(display or ""), "from-header"),
            (lambda: registry.find_in_text(msg.subject or ""), "subject"),
            (lambda: registry.find_in_text(body.text, body.lower), "body"),
        ):
            p = found()
            if p is not None:
                party, party_source = p, source
                break
    if name is None:
        name, name_source = name_with_source(body, display, registry)
    if phone is None:
        phone, phone_source = _phone_with_source(body)
    return IdentityGuess(
        name=name, name_source=name_source,
        party=party, party_source=party_source,
        phone=phone, phone_source=phone_source,
        email=email, email_source=email_source,
    )
