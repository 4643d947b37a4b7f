"""The office's own saved replies beyond the FAQ Sipol ("jawaban siap pakai", issue 14 item 6).

Every officer reads them (the ticket page shows them beside the FAQ suggestions, one click
puts the text into the reply); only a role allowed "canned_edit" (the daily coordinator,
tickets/permissions.py) creates, edits or deletes them. Each change is an Event (without a
ticket) naming the officer, so the audit trail shows who wrote what the office sends.
"""
from __future__ import annotations

from .errors import NotFound, UserError
from .models import CannedAnswer, Event, db
from .permissions import allowed

TITLE_MAX = 200
BODY_MAX = 20_000


def all_answers() -> list[CannedAnswer]:
    """Every saved reply, by title."""
    return list(CannedAnswer.select().order_by(CannedAnswer.title, CannedAnswer.id))


def get(answer_id: int | str) -> CannedAnswer:
    text = str(answer_id).strip()
    row = CannedAnswer.get_or_none(CannedAnswer.id == int(text)) if text.isdigit() else None
    if row is None:
        raise NotFound(f"jawaban siap pakai #{text} tidak ada")
    return row


def _may_edit(actor) -> None:
    if not allowed(actor.role, "canned_edit"):
        raise UserError(f"mengubah jawaban siap pakai hanya boleh oleh koordinator harian "
                        f"({actor.name} berperan {actor.role})")


def _clean(title: str, body: str) -> tuple[str, str]:
    title = " ".join((title or "").split())
    body = (body or "").strip()
    if not title:
        raise UserError("judul jawaban siap pakai wajib diisi")
    if len(title) > TITLE_MAX:
        raise UserError(f"judul terlalu panjang (paling banyak {TITLE_MAX} karakter)")
    if not body:
        raise UserError("isi jawaban siap pakai wajib diisi")
    if len(body) > BODY_MAX:
        raise UserError(f"isi terlalu panjang (paling banyak {BODY_MAX} karakter)")
    return title, body


def _event(kind: str, row: CannedAnswer, actor, now) -> None:
    Event.create(ticket=None, at=now, actor=actor.name, kind=kind,
                 detail={"canned": row.id, "title": row.title, "officer_email": actor.email})


def create(title: str, body: str, *, actor, clock) -> CannedAnswer:
    _may_edit(actor)
    title, body = _clean(title, body)
    now = clock.now()
    with db.atomic():
        row = CannedAnswer.create(title=title, body=body, updated_by=actor.email.lower(), updated_at=now)
        _event("canned.created", row, actor, now)
    return row


def update(answer_id: int | str, title: str, body: str, *, actor, clock) -> CannedAnswer:
    _may_edit(actor)
    title, body = _clean(title, body)
    now = clock.now()
    with db.atomic():
        row = get(answer_id)
        if (row.title, row.body) == (title, body):
            return row
        row.title, row.body, row.updated_by, row.updated_at = title, body, actor.email.lower(), now
        row.save()
        _event("canned.updated", row, actor, now)
    return row


def delete(answer_id: int | str, *, actor, clock) -> str:
    """Delete one saved reply; returns its title (for the confirmation)."""
    _may_edit(actor)
    now = clock.now()
    with db.atomic():
        row = get(answer_id)
        _event("canned.deleted", row, actor, now)
        row.delete_instance()
    return row.title
