"""Buku Tamu / Daftar Hadir and the other channels' register with documentation upload (issue 15 items 1-2).

`GET /guestbook` is the form for the officer at the desk or a tablet facing the visitor;
`POST /guestbook` calls `tickets.walkin.register`, the very operation `kpudesk tickets new`
calls, so both make the same ticket (identity, first message, attachments, events, mirror
rows). Files are typed by their bytes (tickets/uploads.py); the drawn signature arrives as
the canvas' PNG data URL in the hidden `signature` field (static/guestbook.js; without
script the field stays empty and the visit is recorded as signed on paper). A refused entry
shows the form again, filled as it was, with the reason (role="alert"); nothing is stored.

The register step is timed for the SOP's 5-minute standard: the form carries `opened`, the
server's time when it was rendered, signed with the desk's secret (a forged or stale value
is ignored, never an error); the domain stores submit minus opened as `register_seconds`
on the ticket's creation event.

`GET /guestbook/register?date=YYYY-MM-DD` is the day's Daftar Hadir Helpdesk Konsultasi,
printable on A4 (20 visitors a page); the signatures it shows come from
`/guestbook/signature/<attachment id>`, behind the same login and role check.
"""
from __future__ import annotations

import hashlib
import io
from datetime import date, datetime, timedelta

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, send_file, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from kpudesk.tickets import uploads, walkin
from kpudesk.tickets.errors import UserError
from kpudesk.tickets.models import Attachment, Message
from kpudesk.tickets.permissions import allowed, allowed_on_ticket
from kpudesk.tickets.status import ref

from . import auth
from .actions import error_text

bp = Blueprint("guestbook", __name__)

FIELDS = ("date", "time", "name", "phone", "party", "email", "subject", "message", "channel", "signature",
          "opened", "prefilled")
OTHER_CHANNELS = tuple(c for c in walkin.CHANNELS if c != "email")
ROWS_PER_PAGE = 20          # one A4 sheet of the paper list
STANDARD_SECONDS = 5 * 60   # SOP Lampiran III: the register step within 5 minutes


def _settings():
    return g.app.settings


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="kpudesk-guestbook-opened")


def _opened_at(value: str) -> datetime | None:
    """When the form was opened, if `opened` is a value this desk signed."""
    try:
        stamp = _signer().loads(value or "")
        return datetime.fromisoformat(stamp)
    except (BadSignature, TypeError, ValueError):
        return None


def _blank_form() -> dict:
    now = g.app.clock.now().astimezone(_settings().zone)
    day, hhmm = now.strftime("%Y-%m-%d"), now.strftime("%H:%M")
    values = dict.fromkeys(FIELDS, "")
    values.update(date=day, time=hhmm, channel="tatap-muka", prefilled=f"{day} {hhmm}",
                  opened=_signer().dumps(g.app.clock.now().isoformat()))
    return values


def _form_page(values: dict, error: str | None = None, status: int = 200, files_dropped: bool = False):
    today = g.app.clock.now().astimezone(_settings().zone).date()
    parties = [(p.short, f"{p.number}. {p.name}") for p in g.app.registry.parties]
    return render_template("guestbook.html", v=values, error=error, parties=parties,
                           channels=[(c, walkin.CHANNEL_LABELS[c]) for c in OTHER_CHANNELS], today=today.isoformat(),
                           max_upload_mb=_settings().web.max_upload_mb, allowed=uploads.ALLOWED_TEXT,
                           files_dropped=files_dropped), status


@bp.get("/guestbook")
@auth.require("walkin")
def form():
    return _form_page(_blank_form())[0]


def _when(values: dict) -> datetime | None:
    """The visit's time as typed; None when it is the time the form showed (then the ticket
    is created now, as `tickets new` without `--at` does)."""
    day, hhmm = values["date"].strip(), values["time"].strip()
    if not day or not hhmm:
        raise UserError("tanggal dan jam kunjungan wajib diisi")
    typed = f"{day} {hhmm}"
    at = walkin.parse_when(typed, _settings().zone, g.app.clock.now())
    return None if typed == values["prefilled"].strip() else at


@bp.post("/guestbook")
@auth.require("walkin")
def create():
    values = {k: request.form.get(k, "") for k in FIELDS}
    files = [(f.filename, f.read()) for f in request.files.getlist("files") if f.filename]
    s = _settings()
    try:
        at = _when(values)
        signature = uploads.signature_from_data_url(values["signature"]) if values["signature"].strip() else None
        ticket = walkin.register(
            walkin.WalkIn(channel=values["channel"] or "tatap-muka", party=values["party"], name=values["name"],
                          subject=values["subject"], message=values["message"], phone=values["phone"] or None,
                          email=values["email"] or None, files=tuple(files), signature=signature,
                          opened_at=_opened_at(values["opened"])),
            registry=g.app.registry, archive=g.app.archive, clock=g.app.clock, officer=auth.current_officer(),
            at=at, zone=s.zone, tag=s.helpdesk.tag, max_upload_bytes=s.web.max_upload_mb * uploads.MB)
    except Exception as exc:
        text = error_text(exc)
        if text is None:
            raise
        if values["signature"] and "tanda tangan" in text:
            values["signature"] = ""  # the refused drawing is not offered again
        return _form_page(values, error=text, status=422, files_dropped=bool(files))
    how = "ditandatangani di layar" if signature is not None else (
        "tanda tangan di kertas" if ticket.channel == "tatap-muka" else walkin.CHANNEL_LABELS[ticket.channel])
    flash(f"Kunjungan {ticket.requester_name} dicatat sebagai {ref(ticket.id, s.helpdesk.tag)} ({how}, "
          f"{len(files)} berkas dokumentasi).", "ok")
    return redirect(url_for("desk.ticket", ticket_id=ticket.id), code=303)


# --- the day's register ------------------------------------------------------------------


def _may_read_register() -> None:
    officer = auth.current_officer()
    if officer is None or not (allowed(officer.role, "walkin") or allowed(officer.role, "reports")):
        abort(403)


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} mnt {rest:02d} dtk" if minutes else f"{rest} dtk"


@bp.get("/guestbook/register")
def register_page():
    _may_read_register()
    s = _settings()
    text = request.args.get("date", "").strip()
    problem = None
    day = g.app.clock.now().astimezone(s.zone).date()
    if text:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            problem = f"tanggal tidak valid: {text!r} (format YYYY-MM-DD); ditampilkan hari ini"
    rows = walkin.guest_book(day, s.zone, channels=OTHER_CHANNELS)
    short = {p.name: p.short for p in g.app.registry.parties}  # the paper list's narrow column
    shown = []
    for n, r in enumerate(rows, start=1):
        secs, at = r["register_seconds"], datetime.fromisoformat(r["time"])
        shown.append({**r, "no": n, "at": at, "local": at.astimezone(s.zone), "ref": ref(r["ticket"], s.helpdesk.tag),
                      "party_short": short.get(r["party"], r["party"]),
                      "channel_label": walkin.CHANNEL_LABELS.get(r["channel"], r["channel"]),
                      "duration": _duration(secs), "over": secs is not None and secs > STANDARD_SECONDS})
    pages = [shown[i:i + ROWS_PER_PAGE] for i in range(0, len(shown), ROWS_PER_PAGE)] or [[]]
    timed = [r["register_seconds"] for r in rows if r["register_seconds"] is not None]
    return render_template("guestbook_register.html", day=day, pages=pages, problem=problem, count=len(rows),
                           within=sum(1 for x in timed if x <= STANDARD_SECONDS), timed=len(timed),
                           prev_day=(day - timedelta(days=1)).isoformat(), next_day=(day + timedelta(days=1)).isoformat())


@bp.get("/guestbook/signature/<int:attachment_id>")
def signature(attachment_id: int):
    """A visitor's signature as an image of the desk's own origin (for the register)."""
    _may_read_register()
    a = (Attachment.select(Attachment, Message).join(Message)
         .where((Attachment.id == attachment_id) & (Attachment.filename == uploads.SIGNATURE_NAME)).first())
    if a is None:
        abort(404)
    if not allowed_on_ticket(auth.current_officer(), "view", a.message.ticket_id):
        abort(403)
    try:
        data = g.app.archive.read(a.path)
    except OSError:
        abort(404)
    if hashlib.sha256(data).hexdigest() != a.sha256:
        abort(410)  # the archived file is damaged: better nothing than something else
    resp = send_file(io.BytesIO(data), mimetype="image/png", max_age=0)
    resp.headers["Cache-Control"] = "no-store"  # a person's signature: not kept in the browser's cache
    return resp
