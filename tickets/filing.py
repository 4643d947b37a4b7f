"""A mail that is a party's question becomes a ticket: a new one with its identity card
(the writer's name, party and phone as the analysis guessed them, the FAQ check's flags),
or a follow-up on the ticket it threads to, which reopens an answered ticket and completes
the card with what the first mail lacked. Called by ingest (tickets/ingest.py) inside the
batch's transaction; the rows it reads and changes are the batch's (`batch.Batch`)."""
from __future__ import annotations

import peewee as pw

from kpudesk.mailbox.message import InboundMessage

from .analysis import Analysis, guess_identity, ticket_subject
from .batch import Batch
from .faq_check import FaqCheck
from .identity import IdentityGuess
from .matching import Match
from .models import Event, Identity, Party, Ticket
from .parties import PartyRegistry
from .sender_auth import Verdict
from .status import REOPEN_FROM, Status
from .text import Body


class Filing:
    """Opens tickets and files follow-ups; keeps the party ids it looked up."""

    def __init__(self, *, registry: PartyRegistry, clock, faq: FaqCheck) -> None:
        self.registry = registry
        self.clock = clock
        self.faq = faq
        self._party_ids: dict[int, int] = {}

    def forget(self) -> None:
        """The transaction rolled back: party rows it created may be gone."""
        self._party_ids.clear()

    def ticket_for(self, a: Analysis, match: Match, batch: Batch, *, from_spam: bool,
                   auth: Verdict) -> tuple[Ticket, Identity | None]:
        """The matched ticket, or a new one with its identity record (None: not new)."""
        now = self.clock.now()
        if match.ticket_id is not None:
            ticket = match.ticket or batch.ticket(match.ticket_id)
            if ticket is None:
                raise pw.DoesNotExist(f"ticket {match.ticket_id} matched but not found")
            return ticket, None
        msg = a.msg
        # Analysed inline (no worker did it): the writer's words are prepared once, for both.
        body = Body.of(msg.text) if a.guess is None or a.faq is None else None
        guess = a.guess or guess_identity(msg, self.registry, auth, body)
        party_id = self.party_id(guess.party) if guess.party else None
        flags = self.faq.new_ticket_flags(a, body)
        if match.related is not None:
            flags["related_ticket"] = match.related
        if match.forgery:
            flags["possible_forgery"] = True
            flags["forgery_reason"] = (f"pengirim mengaku {msg.sender_key}, tetapi autentikasi gagal: "
                                       f"{auth.reason}")
        ticket = Ticket.create(
            status=Status.BARU.value, subject=ticket_subject(msg), channel="email",
            requester=msg.sender_key, requester_name=guess.name, party=party_id, from_spam=from_spam,
            claimed_tag=str(match.claimed_tag) if match.claimed_tag is not None else None,
            flags=flags, created_at=now, updated_at=now,
        )
        identity = Identity.create(
            ticket=ticket, name=guess.name, name_source=guess.name_source,
            party=guess.party.name if guess.party else None, party_source=guess.party_source,
            phone=guess.phone, phone_source=guess.phone_source,
            email=guess.email, email_source=guess.email_source,
        )
        self.event(ticket, msg.sender_key or "unknown", "ticket.created", channel="email",
                    match=match.rule, claimed_tag=match.claimed_tag, from_spam=from_spam,
                    related_ticket=match.related, possible_forgery=match.forgery or None)
        batch.opened(ticket, identity)
        if guess.email:
            batch.remember_contact({"email": guess.email.lower(), "name": guess.name, "phone": guess.phone,
                                    "party": party_id, "source": "mail"})
        return ticket, identity

    def follow_up(self, ticket: Ticket, msg: InboundMessage, batch: Batch, guess: IdentityGuess | None = None, *,
                  auth: Verdict, reopen: bool = True) -> None:
        """A party's follow-up: reopen an answered or closed ticket, complete the identity.
        `reopen` False: a stranger joined by our Message-ID (see matching), reopening nothing."""
        if reopen and ticket.status in REOPEN_FROM:
            old = ticket.status
            ticket.status = Status.BARU.value
            self.event(ticket, msg.sender_key or "unknown", "ticket.reopened",
                       reason="balasan dari partai", previous=old)
        ticket.updated_at = self.clock.now()
        ticket.save(only=[Ticket.status, Ticket.updated_at])
        self._fill_identity(ticket, msg, batch.identity(ticket.id) if self._fills(ticket, msg) else None, guess, auth)

    @staticmethod
    def _fills(ticket: Ticket, msg: InboundMessage) -> bool:
        """Only the requester completes their own record."""
        return not (msg.sender_key and ticket.requester and msg.sender_key != ticket.requester)

    def _fill_identity(self, ticket: Ticket, msg: InboundMessage, ident: Identity | None,
                       guess: IdentityGuess | None, auth: Verdict) -> None:
        """A follow-up may supply what the first mail lacked (we ask for it in the ack)."""
        if ident is None or (ident.name and ident.party and ident.phone):
            return
        guess = guess or guess_identity(msg, self.registry, auth)
        changed = {}
        for f in ("name", "party", "phone"):
            if not getattr(ident, f):
                value = getattr(guess, f)
                if f == "party" and value is not None:
                    if ticket.party_id is None:
                        ticket.party = self.party_id(value)
                        ticket.save(only=[Ticket.party])
                    value = value.name
                if value:
                    setattr(ident, f, value)
                    setattr(ident, f + "_source", getattr(guess, f + "_source"))
                    changed[f] = value
        if changed:
            # Only what was filled: the rest of the rows may be changed by others meanwhile.
            ident.save(only=[getattr(Identity, c) for f in changed for c in (f, f + "_source")])
            if changed.get("name") and not ticket.requester_name:
                ticket.requester_name = changed["name"]
                ticket.save(only=[Ticket.requester_name])
            self.event(ticket, msg.sender_key or "unknown", "identity.updated", fields=sorted(changed))

    def party_id(self, party) -> int:
        """The Party row's id of a registry party, created on first use."""
        pid = self._party_ids.get(party.number)
        if pid is None:
            row, _ = Party.get_or_create(number=party.number, defaults={"name": party.name, "short": party.short})
            pid = self._party_ids[party.number] = row.id
        return pid

    def event(self, ticket: Ticket | None, actor: str, kind: str, **detail) -> None:
        """One audit event, the details that are None left out."""
        Event.create(ticket=ticket, at=self.clock.now(), actor=actor, kind=kind,
                     detail={k: v for k, v in detail.items() if v is not None})
