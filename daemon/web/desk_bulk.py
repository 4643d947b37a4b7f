"""Acting on more than one ticket at once (issue 14 item 6): merging a ticket into another
(`POST /tickets/<id>/merge`, the domain's tickets/merge.py, as `kpudesk tickets merge`)
and the queue's bulk actions (`POST /bulk`: assign, close, spam).

A bulk action is one domain call and one event per ticket, exactly as the single action
on the ticket page: each ticket is checked for its own permission (moving a ticket someone
else holds needs the coordinator, as the single assign does), a ticket that fails is
reported by its reference with the reason, in Bahasa, and the others still change.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, request, url_for

from kpudesk.tickets import desk_ops
from kpudesk.tickets import merge as merging
from kpudesk.tickets.errors import UserError
from kpudesk.tickets.models import Ticket
from kpudesk.tickets.permissions import allowed, allowed_on_ticket
from kpudesk.tickets.queries import parse_ticket_id
from kpudesk.tickets.status import ref

from . import auth
from .actions import act, error_text

bp = Blueprint("bulk", __name__)

BULK_ACTIONS = {"assign": "assign", "close": "close", "spam": "close"}  # action → permission
MAX_BULK = 200  # one queue page is 50 rows; more is a script gone wrong


def _tag() -> str:
    return g.app.settings.helpdesk.tag


# --- merge ----------------------------------------------------------------------------


@bp.post("/tickets/<int:ticket_id>/merge")
def merge(ticket_id: int):
    t = Ticket.get_or_none(Ticket.id == ticket_id)
    if t is None:
        abort(404)
    officer = auth.current_officer()
    if not allowed_on_ticket(officer, "merge", t):
        abort(403)
    back = url_for("desk.ticket", ticket_id=ticket_id)

    def run() -> tuple[str, str]:
        text = request.form.get("into", "").strip()
        if not text:
            raise UserError("pilih tiket tujuan penggabungan")
        into = parse_ticket_id(text, _tag())
        target = Ticket.get_or_none(Ticket.id == into)
        if target is not None and not allowed_on_ticket(officer, "merge", target):
            abort(403)
        survivor = merging.merge(ticket_id, into, actor=officer, clock=g.app.clock, tag=_tag())
        return (f"{ref(ticket_id, _tag())} digabung ke {ref(survivor.id, _tag())}: pesan, riwayat, eskalasi dan "
                f"antrean kirimnya kini di tiket ini; surel berikutnya ke {ref(ticket_id, _tag())} masuk ke sini.",
                url_for("desk.ticket", ticket_id=survivor.id))

    return act(back, run)


# --- bulk -----------------------------------------------------------------------------


def _queue_back() -> str:
    """Back to the queue as it was filtered (only a path of this site)."""
    back = request.form.get("back", "")
    if (back == "/" or back.startswith("/?")) and auth.safe_next(back) == back:
        return back
    return url_for("desk.queue")


def _ids() -> list[int]:
    ids: list[int] = []
    for value in request.form.getlist("ticket_id"):
        if not value.strip().isdigit():
            raise UserError(f"nomor tiket tidak valid: {value!r}")
        if int(value) not in ids:
            ids.append(int(value))
    if not ids:
        raise UserError("pilih minimal satu tiket di antrean (kotak centang di tiap baris)")
    if len(ids) > MAX_BULK:
        raise UserError(f"paling banyak {MAX_BULK} tiket sekaligus")
    return ids


def _one(action: str, t: Ticket, officer, assignee) -> None:
    """The single action on one ticket, as its own domain call (raises UserError)."""
    if action == "assign":
        if t.assignee and t.assignee != assignee.name and not allowed(officer.role, "reassign"):
            raise UserError(f"sudah ditugaskan kepada {t.assignee}; memindahkan tugas hanya boleh oleh "
                            "koordinator harian")
        if t.assignee == assignee.name:
            raise UserError(f"sudah ditugaskan kepada {assignee.name}")
        g.app.officers.assign(t, officer=officer, assignee=assignee)
    elif action == "close":
        g.app.officers.close(t, officer=officer, reason=request.form.get("reason", "").strip() or None)
    else:
        desk_ops.mark_spam(t, officer=officer, clock=g.app.clock, reason=request.form.get("reason", "").strip())


DONE = {"assign": "ditugaskan kepada {who}", "close": "ditandai selesai", "spam": "ditandai spam dan selesai"}


@bp.post("/bulk")
@auth.require("bulk")
def bulk():
    officer = auth.current_officer()
    action = request.form.get("action", "")
    back = _queue_back()
    if action not in BULK_ACTIONS:
        flash("pilih tindakan: tugaskan, tandai selesai, atau tandai spam", "error")
        return redirect(back, code=303)
    try:
        ids = _ids()
        assignee = g.app.settings.officer(request.form.get("officer", "").strip() or "-") if action == "assign" else None
    except UserError as exc:
        flash(str(exc), "error")
        return redirect(back, code=303)
    tickets = {t.id: t for t in Ticket.select().where(Ticket.id.in_(ids))}
    permission = BULK_ACTIONS[action]
    if not any(t is not None and allowed_on_ticket(officer, permission, t) for t in tickets.values()):
        abort(403)  # nothing this officer may do to any of them: the role's refusal
    done, failed = [], []
    for tid in ids:
        t = tickets.get(tid)
        name = ref(tid, _tag())
        if t is None:
            failed.append(f"{name} (tidak ada)")
            continue
        if not allowed_on_ticket(officer, permission, t):
            failed.append(f"{name} (peran Anda tidak mengizinkan)")
            continue
        if merging.merged_into(t) is not None:
            failed.append(f"{name} (sudah digabung ke {ref(merging.merged_into(t), _tag())})")
            continue
        try:
            _one(action, t, officer, assignee)
        except Exception as exc:  # one ticket's failure is reported; the others go on
            text = error_text(exc)
            if text is None:
                raise
            failed.append(f"{name} ({text})")
        else:
            done.append(name)
    if done:
        what = DONE[action].format(who=assignee.name if assignee else "")
        flash(f"{len(done)} tiket {what}: {', '.join(done)}.", "ok")
    if failed:
        flash(f"Tidak berhasil untuk {len(failed)} tiket: {'; '.join(failed)}.", "error")
    return redirect(back, code=303)
