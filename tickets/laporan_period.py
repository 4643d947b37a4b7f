"""The Laporan Hasil Konsultasi of a period: every consultation received between two local
dates (inclusive, in the helpdesk's zone), one row per ticket, for the screen, the printed
A4 report, the PDF and the office's spreadsheets (CSV, XLSX).

Each row is cut from the ticket's own Laporan (`laporan.consultation_report`), so the period
report and the single-ticket report can never disagree on an answer, a delivery or an SOP
verdict. Voided and merged tickets are left out (`voids.left_out`), as in the recap.

Like the single report, the data keeps ISO 8601 times and stable codes, each with a
`*_label` twin in Bahasa Indonesia for the renderers.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import peewee as pw

from kpudesk.mailbox.render import tgl

from .errors import UserError
from .hours import ServiceCalendar
from .labels import waktu
from .laporan import consultation_report
from .models import Party, Ticket
from .queries import resolve_party
from .voids import left_out
from .walkin import CHANNEL_LABELS, CHANNELS

#: Longest question / answer text a row carries (the full text is on the ticket's own Laporan).
SHORT = 240
#: A period longer than this is refused: a year of consultations is a spreadsheet export,
#: not a report one prints, and the per-ticket reports would take minutes to build.
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    party: object | None = None  # the registry's party (number, short, name), when filtered
    channel: str | None = None


def parse_period(start: str | None, end: str | None, *, today: date, registry=None, party: str | None = None,
                 channel: str | None = None) -> Period:
    """The period an officer asks for, as typed in the form or on the command line. Missing
    dates default to `today` (a missing end: the start day). Every problem is a UserError
    in Bahasa Indonesia, naming what to type instead."""
    first = _day(start, "dari") if start and start.strip() else None
    last = _day(end, "sampai") if end and end.strip() else None
    if first is None:
        first = last if last is not None else today
    if last is None:
        last = max(today, first)  # "from the 1st": up to today
    if first > last:
        raise UserError(f"tanggal awal ({first.isoformat()}) sesudah tanggal akhir ({last.isoformat()}); "
                        "tukar keduanya")
    if (last - first).days >= MAX_DAYS:
        raise UserError(f"periode terlalu panjang ({(last - first).days + 1} hari); paling lama {MAX_DAYS} hari")
    found = None
    if party and party.strip():
        if registry is None:
            raise UserError("daftar partai tidak tersedia")
        found = resolve_party(registry, party)
    chan = (channel or "").strip() or None
    if chan is not None and chan not in CHANNELS:
        raise UserError(f"kanal tidak dikenal: {chan!r} (pilih {', '.join(CHANNELS)})")
    return Period(first, last, found, chan)


def _day(text: str, which: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"tanggal {which} tidak valid: {text!r} (gunakan YYYY-MM-DD, mis. 2026-12-01)") from None


def consultations(period: Period, *, tag: str, calendar: ServiceCalendar, now: datetime) -> dict:
    """The report of `period`: its bounds and filters, one row per ticket received in it
    (oldest first), and the totals the report's footer prints."""
    zone = calendar.zone
    lo = datetime.combine(period.start, time(0), zone).astimezone(UTC)
    hi = datetime.combine(period.end + timedelta(days=1), time(0), zone).astimezone(UTC)
    query = (Ticket.select(Ticket, Party).join(Party, pw.JOIN.LEFT_OUTER)
             .where((Ticket.created_at >= lo) & (Ticket.created_at < hi)))
    if period.party is not None:
        query = query.where(Party.number == period.party.number)
    if period.channel is not None:
        query = query.where(Ticket.channel == period.channel)
    tickets = [t for t in query.order_by(Ticket.created_at, Ticket.id) if not left_out(t)]
    rows = [row(consultation_report(t, tag=tag, calendar=calendar, now=now), zone) for t in tickets]
    return {
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat(),
                   "label": _period_label(period.start, period.end)},
        "filters": {"party": period.party.name if period.party is not None else None,
                    "party_short": period.party.short if period.party is not None else None,
                    "channel": period.channel,
                    "channel_label": CHANNEL_LABELS.get(period.channel) if period.channel else None},
        "rows": rows,
        "totals": {"tickets": len(rows), "answered": sum(1 for r in rows if r["answers"]),
                   "escalated": sum(1 for r in rows if r["escalations"]),
                   "overdue": sum(1 for r in rows if r["overdue"]),
                   "documentation": sum(r["documentation"] for r in rows)},
        "generated_at": report_time(now, zone)[0],
        "generated_at_label": report_time(now, zone)[1],
        "tag": tag,
    }


def report_time(now: datetime, zone) -> tuple[str, str]:
    """When a report was made, to the minute: two downloads within one minute are the same
    report (the same bytes, filed once)."""
    at = now.astimezone(zone).replace(second=0, microsecond=0)
    return at.isoformat(), waktu(at, zone)


def row(laporan: dict, zone) -> dict:
    """One ticket's line of the period report, cut from its Laporan."""
    t, who = laporan["ticket"], laporan["identity"]
    received = datetime.fromisoformat(t["created_at"]).astimezone(zone)
    over = [s for s in laporan["timings"] if s["over"]]
    first = laporan["problem"][0]["text"] if laporan["problem"] else t["subject"]
    return {
        "id": t["id"], "ref": t["ref"],
        "received_at": t["created_at"], "received_at_label": t["created_at_label"],
        "date": received.date().isoformat(), "time": f"{received:%H.%M}",
        "channel": t["channel"], "channel_label": t["channel_label"],
        "name": who["name"], "party": who["party"], "phone": who["phone"], "email": who["email"],
        "subject": t["subject"], "question": short(first),
        "answers": [{"by": a["by"], "at": a["at"], "at_label": a["at_label"], "delivery_label": a["delivery_label"],
                     "text": short(a["text"])} for a in laporan["answers"]],
        "escalations": [{"to": e["to"], "to_label": e["to_label"], "by": e["by"], "at": e["at"],
                         "at_label": e["at_label"], "answered_at": e["answered_at"],
                         "answered_at_label": e["answered_at_label"]} for e in laporan["escalations"]],
        "status": t["status"], "status_label": t["status_label"], "officer": t["officer"],
        "timings": laporan["timings"],
        "overdue": bool(over), "overdue_minutes": sum(s["over"] for s in over),
        "sop_label": sop_label(laporan["timings"]),
        "documentation": len(laporan["documentation"]),
    }


def sop_label(timings: list[dict]) -> str:
    """The SOP column in one phrase: "Sesuai standar", or each step over with its minutes."""
    over = [f"{s['label']} melebihi {s['over']} menit" + (" (berjalan)" if s["running"] else "")
            for s in timings if s["over"]]
    if over:
        return "; ".join(over)
    if any(s["running"] for s in timings):
        return "berjalan, masih dalam standar"
    if all(s["minutes"] is None for s in timings):
        return "belum ada realisasi"
    return "Sesuai standar"


def short(text: str | None, limit: int = SHORT) -> str:
    """The text on one line, cut at a word near `limit` with "…"."""
    flat = " ".join((text or "").split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] or flat[:limit]
    return cut + "…"


def _period_label(start: date, end: date) -> str:
    """"1 Desember 2026", or "1 Desember 2026 s.d. 5 Desember 2026"."""
    return tgl(start) if start == end else f"{tgl(start)} s.d. {tgl(end)}"
