"""The progress dashboard, the Anggota KPU's escalations and the chair's overview (issue 15
items 5, 6 and 7). Each page reads figures the domain computes (tickets/progress_view.py,
tickets/escalation_wait.py, tickets/overview.py over the daily recap) and draws them as
inline SVG (geometry: charts.py, markup: templates/web/_charts.html); the one write, the progress upload, is `progress.import_csv`, the
function `kpudesk progress import` calls (same checks, same rows, same mirror queue).
"""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request

from kpudesk.tickets import progress
from kpudesk.tickets.escalation_wait import escalation_board
from kpudesk.tickets.overview import overview_data
from kpudesk.tickets.permissions import ESCALATION_ONLY, allowed, escalated_to
from kpudesk.tickets.report_context import revive
from kpudesk.tickets.progress_view import FIGURES, REQUIREMENTS, progress_dashboard

from . import auth
from .actions import error_text
from .charts import bar_rows, column_chart

bp = Blueprint("dashboards", __name__)


# --- /progress ------------------------------------------------------------------------------------


def _aliases(app) -> dict[str, int]:
    """The party registry's extra names, as the CLI's import passes them."""
    return {alias: p.number for p in app.registry.parties for alias in getattr(p, "aliases", ())}


def _progress_page(problems: list[str] | None = None, status: int = 200):
    zone = g.app.settings.zone
    rows = progress_dashboard(g.app.clock.now())
    for r in rows:
        r["charts"] = {f: column_chart([(s["taken_at"], s[f]) for s in r["series"]], zone,
                                       requirement=REQUIREMENTS[f]) for f, _ in FIGURES}
    officer = auth.current_officer()
    return render_template("progress.html", rows=rows, figures=FIGURES, requirements=REQUIREMENTS,
                           problems=problems or [], may_import=allowed(officer.role, "progress_import"),
                           columns=progress.COLUMNS), status


@bp.get("/progress")
@auth.require("view")
def progress_view():
    return _progress_page()


@bp.post("/progress")
@auth.require("progress_import")
def progress_upload():
    app = g.app
    upload = request.files.get("csv")
    if upload is None or not upload.filename:
        return _progress_page(["pilih berkas CSV progres Sipol yang akan diimpor"], 400)
    evidence = [(f.filename, f.read()) for f in request.files.getlist("evidence") if f.filename]
    try:
        imp = progress.import_csv(upload.read(), filename=upload.filename, evidence_files=evidence,
                                  archive=app.archive, clock=app.clock, zone=app.settings.zone,
                                  actor=auth.current_officer().name, aliases=_aliases(app), typed=True)
    except progress.ImportRejected as exc:
        return _progress_page(exc.problems, 400)
    except Exception as exc:  # the archive full, the database busy: said, never a 500
        text = error_text(exc)
        if text is None:
            raise
        return _progress_page([text], 400)
    n_evidence = progress.Evidence.select().where(progress.Evidence.import_ == imp).count()
    flash(f"Impor progres #{imp.id} disimpan: {imp.rows} partai, {n_evidence} berkas bukti.", "ok")
    return redirect("/progress", code=303)


# --- /escalations ---------------------------------------------------------------------------------


@bp.get("/escalations")
@auth.require("view")
def escalations():
    officer = auth.current_officer()
    settings = g.app.settings
    names = {o.email.lower(): o.name for o in settings.officers}
    own = officer.role in ESCALATION_ONLY
    board = escalation_board(g.app.calendar, g.app.clock.now(), tag=settings.helpdesk.tag, names=names,
                             ticket_ids=escalated_to(officer.email) if own else None,
                             only_to=officer.email if own else None)
    return render_template("escalations.html", board=board, own=own)


# --- /overview ------------------------------------------------------------------------------------


@bp.get("/overview")
@auth.require("overview")
def overview():
    app = g.app
    data = revive(overview_data(app.calendar, app.clock.now(), tag=app.settings.helpdesk.tag))
    for key in ("today", "week"):
        p = data[key]
        p["charts"] = {
            "channel": bar_rows([(c["label"], c["count"]) for c in p["by_channel"]]),
            "party": bar_rows([(x["short"], x["count"]) for x in p["by_party"]]),
            "status": bar_rows([(s["label"], s["count"]) for s in p["by_status"]]),
            "answer": bar_rows([("Sesuai standar", p["answer_within"]), ("Melewati standar", p["answer_late"]),
                                ("Belum dijawab, lewat", p["answer_waiting_overdue"])]),
        }
    return render_template("overview.html", data=data)
