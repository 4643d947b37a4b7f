"""Mail waiting for an officer's look: held spam and the quarantine (issue 14 item 7; the
escalations page is daemon/web/dashboards.py).

The same operations as the CLI (daemon/commands/queue.py): "release as ticket" is
`app.ingestor.release` (`kpudesk spam release`), "retry" is `app.ingestor.retry_quarantined`
under the poll lock, fetching an oversized message whole first when the limit now allows it
(`kpudesk quarantine retry`). "Dismiss" (confirmed spam) is tickets/desk_ops.py.
"""
from __future__ import annotations

from flask import Blueprint, g, render_template, url_for

from kpudesk.tickets import desk_ops
from kpudesk.tickets.desk_queries import held_spam
from kpudesk.tickets.errors import NotFound, UserError
from kpudesk.tickets.ingest import PollStats
from kpudesk.tickets.labels import waktu, waktu_iso
from kpudesk.tickets.models import Message, Quarantine
from kpudesk.tickets.quarantine import too_large
from kpudesk.tickets.status import ref

from ..commands.queue import fetch_whole
from ..lock import FileLock
from . import auth
from .actions import act

bp = Blueprint("review", __name__)


@bp.get("/spam")
@auth.require("spam_review")
def spam():
    zone = g.app.settings.zone
    return render_template("spam.html", rows=held_spam(zone), waktu_iso=lambda text: waktu_iso(text, zone))


@bp.post("/spam/<int:message_id>/release")
@auth.require("spam_review")
def release(message_id: int):
    def run() -> str:
        row = Message.get_or_none((Message.id == message_id) & (Message.disposition == "spam_held"))
        if row is None:
            raise NotFound(f"pesan spam #{message_id} tidak ada di daftar tahanan")
        ticket = g.app.ingestor.release(row, actor=auth.current_officer().name, reason="dilepas petugas")
        return f"Pesan #{row.id} dijadikan tiket {ref(ticket.id, g.app.settings.helpdesk.tag)}."

    return act(url_for("review.spam"), run)


@bp.post("/spam/<int:message_id>/dismiss")
@auth.require("spam_review")
def dismiss(message_id: int):
    def run() -> str:
        desk_ops.dismiss_spam(message_id, officer=auth.current_officer(), clock=g.app.clock)
        return f"Pesan #{message_id} dipastikan spam dan dihapus dari daftar tahanan (arsipnya tetap disimpan)."

    return act(url_for("review.spam"), run)


@bp.get("/quarantine")
@auth.require("quarantine_review")
def quarantine():
    zone = g.app.settings.zone
    rows = [{"id": r.id, "folder": r.folder, "uid": r.uid, "message_id": r.message_id, "error": r.error,
             "attempts": r.attempts, "when": waktu(r.created_at, zone)}
            for r in Quarantine.select().where(Quarantine.resolved_at.is_null()).order_by(Quarantine.id)]
    return render_template("quarantine.html", rows=rows)


@bp.post("/quarantine/<int:quarantine_id>/retry")
@auth.require("quarantine_review")
def retry(quarantine_id: int):
    app = g.app

    def run() -> str:
        row = Quarantine.get_or_none((Quarantine.id == quarantine_id) & Quarantine.resolved_at.is_null())
        if row is None:
            raise NotFound(f"pesan karantina #{quarantine_id} tidak ada (atau sudah diproses)")
        notes: list[str] = []
        with FileLock(app.state_dir / "poll.lock", "poll"):
            big = too_large(row)
            if big is not None and not fetch_whole(app, row, big, notes):
                raise UserError(" ".join(notes))
            if not app.ingestor.retry_quarantined(row, PollStats()):
                raise UserError(f"pesan karantina #{row.id} masih gagal diproses: {row.error}")
        return f"Pesan karantina #{row.id} berhasil diproses ulang."

    return act(url_for("review.quarantine"), run)
