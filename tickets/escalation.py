"""The SOP's escalation chain: officer → commission member (Anggota KPU) → KPU Provinsi.

An escalation mails a summary of the ticket to the target and records who, when, to whom;
the target's answer threads back and is stored as an *internal* message: never forwarded
to the party automatically. The ticket then returns to the officers' queue, marked that
the answer arrived, and an officer relays it with `tickets reply`.

Only an authenticated mail (`tickets.sender_auth` verdict "pass") from the target's
address counts, and it is *the answer* only when it threads through one of our own signed
Message-IDs or — for the Provinsi — their own ticket number, and the escalation is still
open (`answered_at` unset). The Provinsi's number (`external_ref`) is learnt from that
first answer. A later authenticated mail from the target (a second "answer", one that
came by our subject tag only) is kept as an internal follow-up — shown, never taken as
the answer, no flag, no status change. A failing mail claiming the target's address never
gets here: matching makes it an ordinary ticket flagged as a possible forgery.

Writes name their columns (`save(only=...)`) on a ticket read inside the transaction, so
an officer's command and the daemon never undo each other's changes.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass


from kpudesk.mailbox.compose import tagged_subject
from kpudesk.mailbox.message import InboundMessage

from .errors import ConfigError, UserError
from .faq import RELATED_THRESHOLD
from .matching import Match
from .models import Escalation, Event, Identity, Message, Ticket, db
from .labels import iso
from .replies import ROLE_LABELS, Replies, set_status
from .sender_auth import Verdict
from .status import Status, ref

log = logging.getLogger(__name__)

TARGETS = ("anggota", "provinsi")
TARGET_LABELS = {"anggota": "Anggota KPU Kabupaten", "provinsi": "KPU Provinsi"}
DIRECTION_LABELS = {"in": "Pertanyaan/balasan partai", "out": "Jawaban helpdesk", "note": "Catatan petugas",
                    "internal": "Jawaban eskalasi"}




@dataclass(frozen=True)
class EscalationConfig:
    anggota: tuple[str, ...]
    provinsi: str | None
    provinsi_pattern: str | None
    provinsi_roles: tuple[str, ...]
    kabupaten: str = "Mesuji"

    def target_of(self, address: str | None) -> str | None:
        a = (address or "").lower()
        if not a:
            return None
        if self.provinsi and a == self.provinsi.lower():
            return "provinsi"
        if a in {x.lower() for x in self.anggota}:
            return "anggota"
        return None


class Escalations:
    def __init__(self, config: EscalationConfig, replies: Replies, faq, clock, faq_threshold: float) -> None:
        self.config = config
        self.replies = replies
        self.faq = faq
        self.clock = clock
        self.faq_threshold = faq_threshold
        self._pattern = re.compile(config.provinsi_pattern) if config.provinsi_pattern else None

    # --- sending --------------------------------------------------------------------

    def escalate(self, ticket: Ticket, *, target: str, officer, note: str = "") -> Escalation:
        if target not in TARGETS:
            raise UserError(f"tujuan eskalasi harus salah satu dari: {', '.join(TARGETS)}")
        if target == "anggota":
            to = list(self.config.anggota)
            if not to:
                raise ConfigError("escalation.anggota", "no commission member address configured")
        else:
            if officer.role not in self.config.provinsi_roles:
                raise UserError(
                    f"eskalasi ke KPU Provinsi hanya boleh oleh peran: {', '.join(self.config.provinsi_roles)} "
                    f"({officer.name} berperan {officer.role})")
            if not self.config.provinsi:
                raise ConfigError("escalation.provinsi", "no KPU Provinsi helpdesk address configured")
            to = [self.config.provinsi]
        now = self.clock.now()
        with db.atomic():
            # Read again inside the transaction: the ticket handed in may be older than
            # what the daemon wrote meanwhile.
            ticket = Ticket.get_by_id(ticket.id)
            if ticket.status == Status.SELESAI.value:
                raise UserError(f"tiket #{ticket.id} sudah selesai; buka kembali dulu")
            # The status first: the mail states the status the ticket has once escalated
            # (the recipient reads it after this), not the `baru` it had a moment before.
            flags = dict(ticket.flags or {})
            flags.pop("escalation_answer", None)
            ticket.flags = flags
            set_status(ticket, Status.ESKALASI_ANGGOTA if target == "anggota" else Status.ESKALASI_PROVINSI,
                       actor=officer.name, now=now, also=(Ticket.flags,))
            ctx = self._context(ticket, officer, note)
            template = f"internal/escalation_{target}"
            tag_ref = ref(ticket.id, self.replies.me.tag)
            item = self.replies.queue(ticket=ticket, kind=f"escalation-{target}", to=to,
                                      subject=tagged_subject(tag_ref, f"Eskalasi: {ticket.subject}"),
                                      template=template, context=ctx, author=officer.name, direction="internal")
            esc = Escalation.create(ticket=ticket, target=target, to=to, by=officer.name, at=now, note=note or "",
                                    outbox_id=item.id)
            Event.create(ticket=ticket, at=now, actor=officer.name, kind="ticket.escalated",
                         detail={"to": target, "addresses": to, "escalation": esc.id, "note": note or None})
            if target == "provinsi" and ticket.requester:
                notice = self.replies.queue(
                    ticket=ticket, kind="notice", to=[ticket.requester],
                    subject=self.replies.answer_subject(ticket), template="party/provinsi_notice",
                    context=self.replies.base_context(ticket), **self.replies.thread_kwargs(ticket))
                Event.create(ticket=ticket, at=now, actor="system", kind="notice.queued",
                             detail={"outbox": notice.id, "about": "provinsi"})
        return esc

    def _context(self, ticket: Ticket, officer, note: str) -> dict:
        msgs = list(Message.select().where(Message.ticket == ticket).order_by(Message.created_at, Message.id))
        first_in = next((m for m in msgs if m.direction == "in"), None)
        question = first_in.text if first_in else ticket.subject
        # Only an entry scoring RELATED_THRESHOLD or more is named: below it the top hit is
        # too often about something else (a 0.26 "match" misleads the recipient).
        hits = [h for h in self.faq.for_ticket(ticket.subject, question) if h.score >= RELATED_THRESHOLD]
        ident = Identity.get_or_none(Identity.ticket == ticket)
        return self.replies.base_context(ticket) | {
            "identity": {"name": ident.name if ident else None, "party": ident.party if ident else None,
                         "phone": ident.phone if ident else None, "email": ident.email if ident else ticket.requester},
            "question": question,
            "conversation": [{"direction_label": DIRECTION_LABELS.get(m.direction, m.direction),
                              "who": m.author or m.from_name or m.from_addr or "-", "date": m.date or m.created_at,
                              "text": m.text} for m in msgs if m.kind not in ("ack",)],
            "note": note or "",
            # The officer escalates because they judged the FAQ does not answer it;
            # "covered" says only whether the search would have suggested an entry.
            "faq_result": {"covered": bool(hits) and hits[0].score >= self.faq_threshold,
                           "hits": [{"id": h.entry.id, "question": h.entry.question, "score": h.score} for h in hits]},
            "officer": {"name": officer.name, "role_label": ROLE_LABELS.get(officer.role, officer.role)},
            "kabupaten": self.config.kabupaten,
        }

    # --- receiving ------------------------------------------------------------------

    def external_lookup(self, msg: InboundMessage) -> int | None:
        """Threading rule 4: the Provinsi's own ticket number, only from the Provinsi's address."""
        if self._pattern is None or self.config.target_of(msg.sender_key) != "provinsi":
            return None
        number = self._external_number(msg)
        if number is None:
            return None
        esc = (Escalation.select().where((Escalation.target == "provinsi") & (Escalation.external_ref == number))
               .order_by(Escalation.at.desc()).first())
        return esc.ticket_id if esc else None

    def _external_number(self, msg: InboundMessage) -> str | None:
        if self._pattern is None:
            return None
        m = self._pattern.search(msg.subject or "")
        return m.group(1) if m else None

    def receive(self, ticket: Ticket, row: Message, msg: InboundMessage, auth: Verdict, match: Match) -> bool:
        """Mail from an escalation target on an existing ticket: the answer, a follow-up
        (both stored as internal), or — False — not escalation mail at all."""
        target = self.config.target_of(msg.sender_key)
        if target is None:
            return False
        esc = (Escalation.select().where((Escalation.ticket == ticket) & (Escalation.target == target))
               .order_by(Escalation.at.desc()).first())
        if esc is None:
            return False  # e.g. a member writing on their own account: an ordinary message
        now = self.clock.now()
        actor = msg.sender_key or target
        if not auth.passed:
            # Anyone can write this From: line. No escalation effect; the officers see why.
            Event.create(ticket=ticket, at=now, actor=actor, kind="escalation.unverified",
                         detail={"to": target, "escalation": esc.id, "message": row.id,
                                 "verdict": auth.verdict, "reason": auth.reason})
            return False
        Message.update(direction="internal").where(Message.id == row.id).execute()
        row.direction = "internal"
        ticket = Ticket.get_by_id(ticket.id)  # fresh, inside the ingest transaction
        if esc.answered_at is not None or match.rule not in ("own-msgid", "external-number"):
            why = "already answered" if esc.answered_at is not None else f"threaded by {match.rule}"
            ticket.updated_at = now
            ticket.save(only=[Ticket.updated_at])
            Event.create(ticket=ticket, at=now, actor=actor, kind="escalation.followup",
                         detail={"to": target, "escalation": esc.id, "message": row.id, "reason": why})
            log.info("escalation follow-up ticket=%s target=%s message=%s (%s)", ticket.id, target, row.id, why)
            return True
        esc.answered_at = now
        esc.answer = row
        changed = [Escalation.answered_at, Escalation.answer]
        if target == "provinsi" and esc.external_ref is None:
            number = self._external_number(msg)
            if number:
                esc.external_ref = number
                changed.append(Escalation.external_ref)
        esc.save(only=changed)
        flags = dict(ticket.flags or {})
        flags["escalation_answer"] = target
        ticket.flags = flags
        set_status(ticket, Status.BARU, actor=actor, now=now, also=(Ticket.flags,),
                   reason=f"jawaban {TARGET_LABELS[target]} diterima")
        Event.create(ticket=ticket, at=now, actor=actor, kind="escalation.answered",
                     detail={"to": target, "escalation": esc.id, "message": row.id, "external_ref": esc.external_ref,
                             "verdict": auth.reason})
        log.info("escalation answer ticket=%s target=%s message=%s", ticket.id, target, row.id)
        return True


def escalation_views(ticket: Ticket, zone) -> list[dict]:
    return [{"id": e.id, "to": e.target, "addresses": e.to, "by": e.by, "at": iso(e.at, zone), "note": e.note,
             "external_ref": e.external_ref, "answered_at": iso(e.answered_at, zone),
             "answer": e.answer.text if e.answer_id else None}
            for e in Escalation.select().where(Escalation.ticket == ticket).order_by(Escalation.at)]
