"""The office's saved replies (`/canned`, issue 14 item 6): every officer reads the list, the
coordinator creates, edits and deletes (tickets/canned.py, which checks the role again and
records each change as an event). The ticket page shows them beside the FAQ suggestions."""
from __future__ import annotations

from flask import Blueprint, g, render_template, request, url_for

from kpudesk.tickets import canned

from . import auth
from .actions import act

bp = Blueprint("canned", __name__)


@bp.get("/canned")
@auth.require("view")
def index():
    return render_template("canned.html", answers=canned.all_answers(), edit=request.args.get("edit", ""))


@bp.post("/canned")
@auth.require("canned_edit")
def create():
    def run() -> str:
        row = canned.create(request.form.get("title", ""), request.form.get("body", ""),
                            actor=auth.current_officer(), clock=g.app.clock)
        return f"Jawaban siap pakai \u201c{row.title}\u201d disimpan."

    return act(url_for("canned.index"), run)


@bp.post("/canned/<int:answer_id>")
@auth.require("canned_edit")
def update(answer_id: int):
    def run() -> str:
        row = canned.update(answer_id, request.form.get("title", ""), request.form.get("body", ""),
                            actor=auth.current_officer(), clock=g.app.clock)
        return f"Jawaban siap pakai \u201c{row.title}\u201d diperbarui."

    return act(url_for("canned.index"), run)


@bp.post("/canned/<int:answer_id>/delete")
@auth.require("canned_edit")
def delete(answer_id: int):
    def run() -> str:
        title = canned.delete(answer_id, actor=auth.current_officer(), clock=g.app.clock)
        return f"Jawaban siap pakai \u201c{title}\u201d dihapus."

    return act(url_for("canned.index"), run)
