"""One ticket as an officer reads it on the terminal (`kpudesk tickets show`): Indonesian
labels for states, channels, events and delivery, and times as "5 Desember 2026 00.57 WIB".
The `--json` shape (tickets/queries.py `detail`) keeps the codes and ISO times."""
from __future__ import annotations

import textwrap

from kpudesk.tickets.labels import (
    KIND_LABELS,
    channel_label,
    delivery_label,
    event_label,
    waktu_iso,
)
from kpudesk.tickets.status import LABELS, Status

from .common import clip

ARROWS = {"in": "MASUK", "out": "KELUAR", "note": "CATATAN", "internal": "INTERNAL"}


def render_ticket(d: dict, zone) -> str:
    def when(text):
        return waktu_iso(text, zone)

    out = [f"[{d['ref']}] {d['subject']}",
           f"Status   : {LABELS.get(Status(d['status']), d['status'])}",
           f"Kanal    : {channel_label(d['channel'])}    Petugas: {d['assignee'] or '-'}",
           f"Dibuat   : {when(d['created_at'])}    Diperbarui: {when(d['updated_at'])}"]
    if d.get("from_spam"):
        out.append("Catatan  : pesan pertama ditemukan di folder spam")
    if d.get("claimed_tag"):
        out.append(f"Catatan  : subjek menyebut tiket #{d['claimed_tag']}, tetapi pengirim bukan peserta tiket itu")
    if d["flags"].get("delivery_failed"):
        out.append("PERHATIAN: ada surel balasan yang gagal terkirim")
    answer = d["flags"].get("escalation_answer")
    if answer:
        out.append("PERHATIAN: jawaban " + ("Provinsi" if answer == "provinsi" else "Anggota KPU") +
                   " diterima — teruskan ke partai dengan `tickets reply`")
    i = d["identity"]
    out += ["", "Identitas konsultan:",
            f"  Nama    : {i['name'] or '(belum diketahui)'}",
            f"  Partai  : {i['party'] or '(belum diketahui)'}",
            f"  Telepon : {i['phone'] or '(belum diketahui)'}",
            f"  Surel   : {i['email'] or '-'}"]
    out += ["", "Percakapan:"]
    for m in d["messages"]:
        arrow = ARROWS.get(m["direction"], m["direction"])
        who = m["author"] or m["from"] or "-"
        kind = KIND_LABELS.get(m["kind"], m["kind"]) if m["kind"] not in ("normal", None) else ""
        state = delivery_label(m.get("delivery")) if m.get("delivery") else ""
        if m.get("delivery") in ("failed", "bounced"):
            state = state.upper()  # mail that did not arrive must catch the eye
        out.append(f"--- {arrow} {when(m['date'])} dari {who}"
                   + (f" ({kind})" if kind else "") + (f" [{state}]" if state else ""))
        if m["kind"] in ("ack", "followup", "notice"):
            continue  # standard text from the templates: the line above says enough
        out.append(textwrap.indent(fold_quotes(m["text"]).strip() or "(kosong)", "  "))
        for a in m["attachments"]:
            out.append(f"  [lampiran {a.get('number', '?')}] {a['filename']} ({a['size']} bita, "
                       f"sha256 {a['sha256'][:12]}…)")
    if any(m["attachments"] for m in d["messages"]):
        out.append(f"  Simpan lampiran: kpudesk tickets attachment {d['id']} NOMOR --output BERKAS")
    if d.get("escalations"):
        out += ["", "Eskalasi:"]
        for e in d["escalations"]:
            who = "Anggota KPU Kabupaten" if e["to"] == "anggota" else "KPU Provinsi"
            state = f"dijawab {when(e['answered_at'])}" if e["answered_at"] else "menunggu jawaban"
            ext = f", nomor tiket Provinsi {e['external_ref']}" if e["external_ref"] else ""
            out.append(f"  {when(e['at'])}  ke {who} oleh {e['by']}: {state}{ext}")
    if "timings" in d:
        out += _timings(d["timings"])
    if "faq_suggestions" in d:
        out += ["", "Saran FAQ Sipol:" if d["faq_covered"] else "Saran FAQ Sipol: TIDAK ADA DI FAQ (pertimbangkan eskalasi)"]
        for h in d["faq_suggestions"]:
            out.append(f"  {h['id']}  skor {h['score']:.2f}  {clip(h['question'], 70)}")
        if d["faq_suggestions"]:
            out.append(f"  Pakai: kpudesk tickets reply {d['id']} --faq {d['faq_suggestions'][0]['id']}")
    out += ["", "Riwayat:"]
    for e in d["events"]:
        out.append(f"  {when(e['at'])}  {e['actor']}: {event_label(e['kind'])}")
    return "\n".join(out)


def _timings(tm: dict) -> list[str]:
    def minutes(v):
        return "-" if v is None else f"{v:.0f} menit"

    out = ["", "Waktu layanan (menit jam layanan; standar SOP: terima 10, jawab 30, eskalasi 15):",
           f"  Penerimaan {minutes(tm['receive_minutes'])}, menjawab {minutes(tm['answer_minutes'])}"
           + (f", eskalasi {minutes(tm['escalation_minutes'])}" if tm["escalation_minutes"] is not None else "")]
    for b in tm["breaches"]:
        out.append(f"  MELEWATI STANDAR: {b['label']} {b['minutes']:.0f} menit (standar {b['standard']}, lebih {b['over']:.0f})")
    return out


def fold_quotes(text: str) -> str:
    """Fold quoted history ("> " lines and an Indonesian/English reply header) into one line."""
    lines = (text or "").splitlines()
    out, quoted = [], 0
    for line in lines:
        s = line.lstrip()
        if s.startswith(">"):
            quoted += 1
            continue
        if quoted:
            out.append(f"[... {quoted} baris kutipan disembunyikan ...]")
            quoted = 0
        out.append(line)
    if quoted:
        out.append(f"[... {quoted} baris kutipan disembunyikan ...]")
    return "\n".join(out)
