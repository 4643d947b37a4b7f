"""Laporan Hasil Konsultasi in the web desk (issue 15 item 4): a period's report on screen,
as the print view, PDF, CSV and XLSX (`/reports/consultations`), and one ticket's report as
the print view or PDF (`/tickets/<id>/laporan`).

The data and the files come from `tickets.laporan_period` and `daemon.laporan_render`, the
calls `kpudesk report laporan` makes, so the desk and the CLI hand out the same report.
The period report needs the `reports` action (the chair, the secretary); a ticket's own
report needs only to see the ticket (the officer who served the party prints it). Every
PDF is filed (archive + cloud folder), also when it is downloaded from here: the SOP files
every report, and a repeated download of the same report is stored once.
"""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, abort, g, render_template, request, url_for
from markupsafe import Markup

from kpudesk.tickets.errors import UserError
from kpudesk.tickets.laporan_period import parse_period
from kpudesk.tickets.models import Ticket
from kpudesk.tickets.permissions import allowed_on_ticket
from kpudesk.tickets.walkin import CHANNEL_LABELS

from .. import laporan_render
from . import auth

bp = Blueprint("consultations", __name__)

FILE_FORMATS = ("pdf", "csv", "xlsx")
#: Who signs as "Koordinator Harian": the name goes on the signature line when one of them
#: makes the report; for anyone else the line is left for the coordinator's hand.
SIGNERS = frozenset({"koordinator-harian", "koordinator"})


def _signer(officer) -> str | None:
    return officer.name if officer.role in SIGNERS else None


def _css_href() -> str:
    return url_for("static", filename="laporan_print.css")


def _download(out: laporan_render.Output) -> Response:
    disposition = "inline" if out.mimetype.startswith("text/html") else "attachment"
    return Response(out.data, mimetype=out.mimetype.split(";")[0], content_type=out.mimetype,
                    headers={"Content-Disposition": f'{disposition}; filename="{out.filename}"'})


def _bad_file_request(message: str):
    return render_template("error.html", code=400, title="Permintaan tidak sah", message=message), 400


@bp.get("/reports/consultations")
@auth.require("reports")
def period():
    app, args = g.app, request.args
    officer = auth.current_officer()
    fmt = (args.get("format") or "").strip().lower()
    today = app.clock.now().astimezone(app.settings.zone).date()
    problems: list[str] = []
    if fmt and fmt not in laporan_render.FORMATS:
        problems.append(f"format tidak dikenal: {fmt!r} (pilih pdf, csv, xlsx atau html)")
    try:
        chosen = parse_period(args.get("from"), args.get("to"), today=today, registry=app.registry,
                              party=args.get("party"), channel=args.get("channel"))
    except UserError as exc:
        problems.append(str(exc))
        chosen = None
    if problems and fmt:
        return _bad_file_request("; ".join(problems) + ". Tidak ada berkas yang dibuat.")
    if fmt and chosen is not None:
        return _download(laporan_render.produce_period(app, chosen, fmt, actor=officer.name,
                                                       signer=_signer(officer), css_href=_css_href()))
    data = laporan_render.period_data(app, chosen) if chosen is not None else None
    table = Markup(laporan_render.html(app, period=data, fragment=True)) if data is not None else None
    form = {"from": args.get("from") or (chosen.start.isoformat() if chosen else today.isoformat()),
            "to": args.get("to") or (chosen.end.isoformat() if chosen else today.isoformat()),
            "party": args.get("party", ""), "channel": args.get("channel", "")}
    query = {k: v for k, v in form.items() if v}
    return render_template(
        "consultations.html", problems=problems, data=data, table=table, form=form,
        parties=app.registry.parties, channels=CHANNEL_LABELS,
        links={f: "/reports/consultations?" + urlencode({**query, "format": f}) for f in laporan_render.FORMATS})


@bp.get("/tickets/<int:ticket_id>/laporan")
@auth.require("view")
def ticket(ticket_id: int):
    officer = auth.current_officer()
    t = Ticket.get_or_none(Ticket.id == ticket_id)
    if t is None:
        abort(404)
    if not allowed_on_ticket(officer, "view", t):
        abort(403)
    fmt = (request.args.get("format") or "html").strip().lower()
    if fmt not in ("html", "pdf"):
        return _bad_file_request(f"format tidak dikenal: {fmt!r} (Laporan satu tiket: pdf atau html).")
    return _download(laporan_render.produce_ticket(g.app, t, fmt, actor=officer.name, signer=_signer(officer),
                                                   css_href=_css_href()))
