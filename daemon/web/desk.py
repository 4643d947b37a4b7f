"""The queue and the ticket page, with the ticket's actions (issue 14 items 4 and 5).

Each POST calls exactly the domain operation the CLI command calls (daemon/commands/
tickets.py, ticket_actions.py): `app.officers.reply|note|assign|close|reopen`,
`app.escalations.escalate`, so a web action and its CLI twin write the same events and
outbox rows and refuse with the same errors. The officer is the one logged in. Roles are
checked on the server for every request (tickets/permissions.py); an Anggota KPU reaches
only the tickets escalated to them.
"""
from __future__ import annotations

import hashlib
import io

from flask import (Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, send_file,
                   url_for)

from kpudesk.tickets import desk_ops, queries
from kpudesk.tickets.arrivals import arrived_after, latest_incoming
from kpudesk.tickets.desk_queries import (
    PAGE_SIZE,
    SORTS,
    STEP_NAMES,
    QueueFilter,
    age_text,
    queue_page,
    standards_text,
)
from kpudesk.tickets.errors import UserError
from kpudesk.tickets.labels import CHANNEL_LABELS, waktu
from kpudesk.tickets.models import Message, Ticket
from kpudesk.tickets.permissions import ESCALATION_ONLY, allowed, allowed_on_ticket, escalated_to
from kpudesk.tickets.replies import prepare_attachments
from kpudesk.tickets.status import LABELS, Status, ref

from ..commands.faqdesk import faq_entry
from ..commands.ticket_files import safe_name
from . import auth
from .actions import act
from .ticket_page import ticket_context

bp = Blueprint("desk", __name__)

# Never shown inline whatever the sender called them: a browser would run their script.
ACTIVE_TYPES = ("text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
                "text/javascript", "application/javascript")
TICKET_ACTIONS = ("reply", "note", "assign", "reassign", "escalate_anggota", "escalate_provinsi", "close",
                  "reopen", "identity_edit", "merge")


def _settings():
    return g.app.settings


def _ticket(ticket_id: int, action: str) -> Ticket:
    """The ticket, if the officer may `action` it: 404 when there is none, 403 otherwise."""
    t = Ticket.get_or_none(Ticket.id == ticket_id)
    if t is None:
        abort(404)
    if not allowed_on_ticket(auth.current_officer(), action, t):
        abort(403)
    into = (t.flags or {}).get("merged_into")
    if into is not None and action != "view":
        # its conversation lives on the survivor now: act there (nothing changed here)
        flash(f"{_ref(t)} sudah digabung ke {ref(into, _settings().helpdesk.tag)}; lanjutkan di tiket itu. "
              "Tidak ada yang diubah.", "error")
        abort(redirect(url_for("desk.ticket", ticket_id=into), code=303))
    return t


def _back(ticket_id: int) -> str:
    return url_for("desk.ticket", ticket_id=ticket_id)


def _ref(t: Ticket) -> str:
    return ref(t.id, _settings().helpdesk.tag)


# --- the queue ------------------------------------------------------------------------


def _queue_filter(officer) -> tuple[QueueFilter, list[str]]:
    """The filter the URL asks for, and what in it could not be understood (shown as alerts)."""
    args, s, problems = request.args, _settings(), []
    status = args.get("status") or None
    if status and status not in {x.value for x in Status}:
        problems.append(f"status tidak dikenal: {status!r}")
        status = None
    party = None
    if args.get("party"):
        try:
            party = queries.resolve_party(g.app.registry, args["party"]).number
        except UserError as exc:
            problems.append(str(exc))
    channel = args.get("channel") or None
    if channel and channel not in CHANNEL_LABELS:
        problems.append(f"kanal tidak dikenal: {channel!r}")
        channel = None
    who, assignee = (args.get("assignee") or "").strip(), None
    if who and who not in ("me", "none"):
        try:
            assignee = s.officer(who).name
        except UserError as exc:
            problems.append(str(exc))
    elif who == "me":
        assignee = officer.name
    page = args.get("page", "1")
    only = frozenset(escalated_to(officer.email)) if officer.role in ESCALATION_ONLY else None
    return QueueFilter(q=args.get("q", "").strip(), status=status, party=party, channel=channel,
                       assignee=assignee, unassigned=who == "none", overdue=args.get("overdue") == "1",
                       only_ids=only, sort=args.get("sort") if args.get("sort") in SORTS else "age",
                       page=int(page) if page.isdigit() else 1), problems


@bp.get("/")
@auth.require("view")
def queue():
    officer = auth.current_officer()
    f, problems = _queue_filter(officer)
    s = _settings()
    page = queue_page(f, tag=s.helpdesk.tag, zone=s.zone, calendar=g.app.calendar, now=g.app.clock.now())
    params = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("queue.html", page=page, f=f, args=request.args, problems=problems, params=params,
                           page_size=PAGE_SIZE, statuses=LABELS, channels=CHANNEL_LABELS,
                           officers=s.officers, step_names=STEP_NAMES, standards=standards_text(), umur=age_text,
                           loaded=waktu(g.app.clock.now(), s.zone), latest=latest_incoming(f.only_ids))


@bp.get("/queue/arrivals")
@auth.require("view")
def queue_arrivals():
    """JSON {"new": N, "latest": id}: party messages on the tickets this officer may see
    that arrived after message `after` (the queue page's script offers a reload)."""
    after = request.args.get("after", "")
    if not after.isdigit():
        return jsonify({"error": "parameter after harus berupa angka"}), 400
    f, _ = _queue_filter(auth.current_officer())
    count, newest = arrived_after(int(after), f.only_ids)
    return jsonify({"new": count, "latest": newest})


# --- the ticket page ------------------------------------------------------------------


def _ticket_page(t: Ticket, *, held: dict | None = None, status: int = 200):
    """The ticket page; `held`: a reply held back by the collision check (its body kept)."""
    officer = auth.current_officer()
    now = g.app.clock.now()
    presence = current_app.extensions["kpudesk_presence"]
    presence.opened(t.id, officer.email, officer.name, now)
    merged = (t.flags or {}).get("merged_into") is not None  # a stub: read only, act on the survivor
    may = {a: not merged and allowed_on_ticket(officer, a, t) for a in TICKET_ACTIONS}
    ctx = ticket_context(g.app, t, faq_id=request.args.get("faq"), canned_id=request.args.get("canned"))
    return render_template("ticket.html", t=t, may=may, officers=_settings().officers, held=held,
                           also_open=presence.others(t.id, officer.email, now), **ctx), status


@bp.get("/tickets/<int:ticket_id>")
def ticket(ticket_id: int):
    return _ticket_page(_ticket(ticket_id, "view"))


@bp.get("/tickets/<int:ticket_id>/attachments/<int:n>")
def attachment(ticket_id: int, n: int):
    t = _ticket(ticket_id, "view")
    files = queries.ticket_attachments(t)
    if not 1 <= n <= len(files):
        abort(404)
    a = files[n - 1]
    try:
        data = g.app.archive.read(a.path)
    except OSError:
        abort(404)
    if hashlib.sha256(data).hexdigest() != a.sha256:
        abort(410)  # the archived file is damaged: better nothing than something else
    ctype = (a.content_type or "").split(";")[0].strip().lower()
    if ctype in ACTIVE_TYPES or "/" not in ctype:
        ctype = "application/octet-stream"
    resp = send_file(io.BytesIO(data), mimetype=ctype, as_attachment=True, download_name=safe_name(a.filename),
                     max_age=0)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    # opened by mistake in a tab anyway, it runs nothing and may not be framed
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox; frame-ancestors 'none'"
    resp.headers["Cache-Control"] = "no-store"  # a party's file: not kept in the browser's cache
    return resp


# --- actions --------------------------------------------------------------------------


def _newer_incoming(t: Ticket) -> list[int]:
    """Ids of the mail that arrived on the ticket after the reply form was loaded (its
    hidden `seen`: the highest message id then shown): the party's, and an escalation
    answer (stored `internal`, but fetched: it has a UID, our own escalation mail has none).
    Notes and our own mail are no news to the officer. No `seen` (an old form, a script): none."""
    seen = request.form.get("seen", "").strip()
    if not seen.isdigit():
        return []
    fetched = (Message.direction == "in") | ((Message.direction == "internal") & Message.uid.is_null(False))
    return [m.id for m in Message.select(Message.id).where(
        (Message.ticket == t) & (Message.id > int(seen)) & fetched).order_by(Message.id)]


@bp.post("/tickets/<int:ticket_id>/reply")
def reply(ticket_id: int):
    t = _ticket(ticket_id, "reply")
    newer = _newer_incoming(t)
    if newer:
        # Never sent blind: the officer reads what came in, then sends again (new `seen`).
        held = {"new_ids": newer, "body": request.form.get("body", ""), "faq_id": request.form.get("faq_id", ""),
                "had_files": any(f.filename for f in request.files.getlist("attachments"))}
        return _ticket_page(t, held=held, status=409)

    def run() -> str:
        entry = faq_entry(g.app, request.form["faq_id"].strip()) if request.form.get("faq_id", "").strip() else None
        body = request.form.get("body", "")
        if entry is not None and not body.strip():
            body = entry.answer
        uploads = [(safe_name(f.filename), f.read()) for f in request.files.getlist("attachments") if f.filename]
        files = prepare_attachments(uploads)
        g.app.officers.reply(t, officer=auth.current_officer(), body=body, faq=entry, attachments=files,
                             archive=g.app.archive)
        extra = f", {len(files)} lampiran" if files else ""
        return (f"Jawaban untuk {_ref(t)} masuk antrean kirim (kepada {t.requester}{extra}); "
                "status tiket: dijawab.")

    return act(_back(ticket_id), run)


@bp.post("/tickets/<int:ticket_id>/note")
def note(ticket_id: int):
    t = _ticket(ticket_id, "note")

    def run() -> str:
        g.app.officers.note(t, officer=auth.current_officer(), body=request.form.get("body", ""))
        return f"Catatan internal ditambahkan ke {_ref(t)}."

    return act(_back(ticket_id), run)


@bp.post("/tickets/<int:ticket_id>/assign")
def assign(ticket_id: int):
    t = _ticket(ticket_id, "assign")

    def run() -> str:
        officer = auth.current_officer()
        assignee = _settings().officer(request.form.get("officer", "").strip() or "-")
        if t.assignee and t.assignee != assignee.name and not allowed(officer.role, "reassign"):
            raise UserError(f"{_ref(t)} sudah ditugaskan kepada {t.assignee}; memindahkan tugas hanya boleh "
                            "oleh koordinator harian")
        g.app.officers.assign(t, officer=officer, assignee=assignee)
        return f"{_ref(t)} ditugaskan kepada {assignee.name}."

    return act(_back(ticket_id), run)


@bp.post("/tickets/<int:ticket_id>/escalate")
def escalate(ticket_id: int):
    target = request.form.get("target", "")
    if target not in ("anggota", "provinsi"):
        _ticket(ticket_id, "view")
        return act(_back(ticket_id), lambda: _raise("pilih tujuan eskalasi: Anggota KPU atau KPU Provinsi"))
    t = _ticket(ticket_id, f"escalate_{target}")

    def run() -> str:
        esc = g.app.escalations.escalate(t, target=target, officer=auth.current_officer(),
                                         note=request.form.get("message", "").strip())
        who = "Anggota KPU Kabupaten" if target == "anggota" else "KPU Provinsi"
        done = f"{_ref(t)} dieskalasi ke {who} ({', '.join(esc.to)}); status: eskalasi-{target}."
        if target == "provinsi" and t.requester:
            done += f" Pemberitahuan singkat untuk {t.requester} juga masuk antrean kirim."
        return done

    return act(_back(ticket_id), run)


def _raise(text: str) -> str:
    raise UserError(text)


@bp.post("/tickets/<int:ticket_id>/close")
def close(ticket_id: int):
    return _change_state(ticket_id, "close", "ditandai selesai")


@bp.post("/tickets/<int:ticket_id>/reopen")
def reopen(ticket_id: int):
    return _change_state(ticket_id, "reopen", "dibuka kembali")


def _change_state(ticket_id: int, action: str, done: str):
    t = _ticket(ticket_id, action)

    def run() -> str:
        getattr(g.app.officers, action)(t, officer=auth.current_officer(),
                                        reason=request.form.get("reason", "").strip() or None)
        return f"{_ref(t)} {done}."

    return act(_back(ticket_id), run)


@bp.post("/tickets/<int:ticket_id>/identity")
def identity(ticket_id: int):
    t = _ticket(ticket_id, "identity_edit")

    def run() -> str:
        values = {f: request.form.get(f, "") for f in desk_ops.IDENTITY_FIELDS if f in request.form}
        changed = desk_ops.edit_identity(t, officer=auth.current_officer(), clock=g.app.clock,
                                         registry=g.app.registry, **values)
        if not changed:
            return f"Identitas {_ref(t)} tidak berubah."
        names = {"name": "nama", "party": "partai", "phone": "telepon", "email": "surel"}
        return f"Identitas {_ref(t)} diperbarui: {', '.join(names[f] for f in changed)}."

    return act(_back(ticket_id), run)
