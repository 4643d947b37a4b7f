"""Scheduled reports to the commission: the Sipol progress report (08:00 and 17:00) here,
the daily recap in recap.py, the exactly-once slots both are sent in in report_slots.py
(re-exported here for the daemon and the `report` command).

A manual `kpudesk report ... --send` claims no slot (it is an extra report) and does not move
the "previous report" baseline: deltas and "no new snapshot" always compare with the last
*scheduled* progress report.

Everything here takes its dependencies explicitly (replies, clock, zone, calendar, archive,
recipients): `tickets/` never imports `daemon/`.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from kpudesk.mailbox.render import tanggal

from .errors import ConfigError
from .labels import iso
from .models import Evidence, OutboxItem, Party, ProgressImport, ReportSlot, Ticket, db
from .progress import evidence_since, latest_snapshots, previous_snapshot
from .recap import (
    CHANNEL_LABELS,
    CHANNELS,
    RECONTACT_STATUSES,
    open_questions,
    recap_context,
    recap_data,
    recap_subject,
    send_recap,
)
from .report_context import helpdesk_context, revive, status_label
from .report_slots import (
    KINDS,
    LATE_AFTER,
    claim_slot,
    is_late,
    last_report_at,
    latest_missed_slot,
    mark_sent,
    missed_slots,
    run_slot,
    skip_slot,
    slot_instant,
)
from .status import Status, ref
from .voids import exclude_void

__all__ = [  # the progress report, and what the daemon and the CLI read from here
    "CHANNELS", "CHANNEL_LABELS", "KINDS", "LATE_AFTER", "MAX_ATTACHMENT_BYTES", "RECONTACT_STATUSES",
    "ReportSlot", "claim_slot", "helpdesk_context", "is_late", "last_report_at", "latest_missed_slot",
    "missed_slots", "open_questions", "plan_attachments", "progress_context", "progress_report_data",
    "progress_subject", "recap_context", "recap_data", "recap_subject", "revive", "run_slot",
    "send_progress_report", "send_recap", "skip_slot", "slot_instant",
]

MAX_ATTACHMENT_BYTES = 15 * 1024 * 1024  # evidence beyond this is listed, not attached


def progress_report_data(now: datetime, zone: ZoneInfo, since: datetime | None = None, *,
                         tag: str = "HD-MSJ") -> dict:
    """The Sipol progress report as plain data (datetimes as ISO strings in `zone`).

    `since` is when the previous report was made (`last_report_at("progress", now)`); None
    means there was none. Per party (ballot order; parties with at least one snapshot): the
    current figures (latest reading known at `now`), deltas against the snapshot the previous
    report showed (or, with no previous report, the party's previous snapshot), and `fresh`:
    whether the figures are newer than what the previous report showed.
    """
    current = latest_snapshots(before=now)
    baseline = latest_snapshots(before=since) if since is not None else {}
    parties = {p.id: p for p in Party.select().where(Party.id.in_(list(current)))} if current else {}
    rows = []
    for pid, snap in sorted(current.items(), key=lambda kv: parties[kv[0]].number):
        p = parties[pid]
        base = baseline.get(pid)
        fresh = base is None or base.id != snap.id
        compare = base if since is not None else previous_snapshot(pid, snap.taken_at, known_at=now)
        delta = ({"officials": snap.officials - compare.officials, "members": snap.members - compare.members,
                  "offices": snap.offices - compare.offices} if compare is not None
                 else {"officials": None, "members": None, "offices": None})
        rows.append({
            "number": p.number, "short": p.short, "name": p.name,
            "officials": snap.officials, "members": snap.members, "offices": snap.offices,
            "delta": delta, "taken_at": iso(snap.taken_at, zone), "imported_at": iso(snap.imported_at, zone),
            "previous_taken_at": iso(compare.taken_at, zone) if compare is not None else None,
            "fresh": fresh, "snapshot_id": snap.id,
        })
    if since is not None:
        evidence = evidence_since(since, now)
        imports = list(ProgressImport.select().where((ProgressImport.imported_at > since)
                                                     & (ProgressImport.imported_at <= now))
                       .order_by(ProgressImport.imported_at))
    else:  # no previous report: the evidence behind the figures shown
        import_ids = sorted({s.import_id for s in current.values()})
        evidence = list(Evidence.select(Evidence, ProgressImport).join(ProgressImport)
                        .where(Evidence.import_.in_(import_ids)).order_by(ProgressImport.imported_at, Evidence.id))
        imports = list(ProgressImport.select().where(ProgressImport.id.in_(import_ids))
                       .order_by(ProgressImport.imported_at))
    open_q = exclude_void(Ticket.select(Ticket.id, Ticket.status, Ticket.subject, Ticket.created_at, Ticket.party,
                                        Ticket.flags)
                          .where((Ticket.status != Status.SELESAI.value) & Ticket.party.in_(list(parties)))
                          .order_by(Ticket.id)) if parties else []
    return {
        "generated_at": iso(now, zone),
        "since": iso(since, zone),
        "no_new_snapshot": not any(r["fresh"] for r in rows),
        "parties": rows,
        "totals": {k: sum(r[k] for r in rows) for k in ("officials", "members", "offices")},
        "imports": [{"id": i.id, "filename": i.filename, "sha256": i.sha256, "rows": i.rows, "actor": i.actor,
                     "imported_at": iso(i.imported_at, zone)} for i in imports],
        "evidence": [{"id": e.id, "import": e.import_id, "filename": e.filename, "content_type": e.content_type,
                      "sha256": e.sha256, "size": e.size, "path": e.path,
                      "imported_at": iso(e.import_.imported_at, zone)} for e in evidence],
        "open_questions": [{"id": t.id, "ref": ref(t.id, tag), "party": parties[t.party_id].short,
                            "status": t.status, "status_label": status_label(t.status), "subject": t.subject,
                            "created_at": iso(t.created_at, zone)} for t in open_q],
    }


def progress_subject(tag: str, at: datetime, zone: ZoneInfo, *, late: bool) -> str:
    return f"[{tag}] Laporan Progres Sipol – {tanggal(at, zone)}" + (" (terlambat)" if late else "")


def progress_context(data: dict, *, helpdesk: dict, slot_at: datetime, late: bool, scheduled: bool) -> dict:
    """The template context; each evidence entry says whether the mail carries it."""
    report = revive(data)
    attached = {e["sha256"] for e in plan_attachments(report["evidence"])}
    for e in report["evidence"]:
        e["attached"] = e["sha256"] in attached
    return {"helpdesk": helpdesk, "report": report, "slot": {"at": slot_at, "late": late, "scheduled": scheduled}}


def plan_attachments(evidence: list[dict]) -> list[dict]:
    """The evidence to attach: each file once, up to MAX_ATTACHMENT_BYTES in all, oldest first."""
    chosen, seen, total = [], set(), 0
    for e in evidence:
        if e["sha256"] in seen or total + e["size"] > MAX_ATTACHMENT_BYTES:
            continue
        seen.add(e["sha256"])
        chosen.append(e)
        total += e["size"]
    return chosen


def _attachments(chosen: list[dict], archive) -> tuple[tuple[str, str, bytes], ...]:
    out, names = [], Counter()
    for e in chosen:
        names[e["filename"]] += 1
        name = e["filename"] if names[e["filename"]] == 1 else f"impor{e['import']}-{e['filename']}"
        out.append((name, e["content_type"], archive.read(e["path"])))
    return tuple(out)


def send_progress_report(*, replies, archive, clock, zone: ZoneInfo, recipients: Sequence[str],
                         slot: ReportSlot | None = None, late: bool = False) -> OutboxItem:
    """Build the progress report now and queue it (HTML + text, evidence attached).

    With a `slot` (scheduled), the subject carries the slot's time and the slot is marked
    sent in the same transaction; without one it is a manual extra report.
    """
    if not recipients:
        raise ConfigError("reports.progress_to", "laporan progres Sipol belum punya penerima; "
                                                 "isi reports.progress_to di settings.toml")
    now = clock.now()
    late = late or bool(slot and slot.late)
    slot_at = slot_instant(slot.slot_date, slot.slot_time, zone) if slot is not None else now
    tag = replies.me.tag
    with db.atomic():
        data = progress_report_data(now, zone, last_report_at("progress", now), tag=tag)
        chosen = plan_attachments(data["evidence"])
        files = _attachments(chosen, archive)
        ctx = progress_context(data, helpdesk=helpdesk_context(replies), slot_at=slot_at, late=late,
                               scheduled=slot is not None)
        item = replies.queue(ticket=None, kind="report", to=list(recipients),
                             subject=progress_subject(tag, slot_at, zone, late=late), template="reports/progress",
                             context=ctx, auto="auto-generated", html=True, attachments=files)
        mark_sent(slot, report_at=now, item=item,
                   detail={"snapshots": {str(r["number"]): r["snapshot_id"] for r in data["parties"]},
                           "imports": [i["id"] for i in data["imports"]], "no_new_snapshot": data["no_new_snapshot"]})
    return item
