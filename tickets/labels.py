"""What officers read instead of codes: Bahasa Indonesia labels for event kinds, delivery
states and times.

The database and `--json` keep the stable codes (`ticket.created`, `sent`, ISO 8601); every
human view (CLI output, Laporan, web pages) goes through these functions, so an officer
never meets `ack.queued` or `2026-12-05T00:57:25+07:00`.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from kpudesk.mailbox.render import jam, tgl

EVENT_LABELS: dict[str, str] = {
    "ticket.created": "tiket dibuat",
    "ticket.status": "status diubah",
    "ticket.reopened": "tiket dibuka kembali",
    "ticket.assigned": "tiket ditugaskan",
    "ticket.answered": "dijawab",
    "ticket.note": "catatan internal",
    "ticket.escalated": "dieskalasi",
    "ticket.related": "tiket terkait dibuat",
    "ticket.voided": "tiket dibatalkan",
    "ticket.merged": "digabung ke tiket lain",
    "ticket.merged_in": "tiket lain digabung ke sini",
    "ticket.spam": "ditandai spam",
    "laporan.filed": "Laporan Hasil Konsultasi diarsipkan",
    "canned.created": "jawaban siap pakai dibuat",
    "canned.updated": "jawaban siap pakai diubah",
    "canned.deleted": "jawaban siap pakai dihapus",
    "message.received": "pesan masuk",
    "message.auto_reply": "balasan otomatis diterima",
    "message.bounce": "pemberitahuan gagal kirim diterima",
    "message.bulk": "surel massal diterima",
    "identity.updated": "identitas dilengkapi",
    "ack.queued": "tanda terima dijadwalkan",
    "ack.suppressed": "tanda terima tidak dikirim",
    "notice.queued": "pemberitahuan dijadwalkan",
    "followup.queued": "surel tindak lanjut dijadwalkan",
    "escalation.answered": "jawaban eskalasi diterima",
    "delivery.failed": "surel gagal terkirim",
    "delivery.delayed": "pengiriman surel tertunda",
    "spam.rescued": "diselamatkan dari folder spam",
    "spam.released": "dilepas dari spam",
    "spam.dismissed": "dipastikan spam",
    "folder.uidvalidity_changed": "folder surel dinomori ulang server",
}

DELIVERY_LABELS: dict[str, str] = {
    "pending": "menunggu dikirim",
    "queued": "antre kirim",
    "bounced": "ditolak penerima",
    "sent": "terkirim",
    "failed": "gagal terkirim",
    "given": "disampaikan langsung",
    "note": "catatan",
}


def event_label(kind: str) -> str:
    """The Indonesian phrase for an event kind; an unknown kind reads as its words."""
    if kind in EVENT_LABELS:
        return EVENT_LABELS[kind]
    return kind.replace(".", " ").replace("_", " ")


def delivery_label(state: str | None) -> str:
    if not state:
        return "-"
    return DELIVERY_LABELS.get(state, state)


def iso(value: datetime | None, zone: ZoneInfo) -> str | None:
    """A stored (UTC) time in the helpdesk zone, ISO 8601 with offset: the `--json` form."""
    return value.astimezone(zone).isoformat(timespec="seconds") if value else None


def waktu(value: datetime | None, zone: ZoneInfo | str = "Asia/Jakarta") -> str:
    """"5 Desember 2026 00.57 WIB" — a stored (UTC) time as an officer reads it; "-" for none."""
    if value is None:
        return "-"
    return f"{tgl(value, zone)} {jam(value, zone)}"


def waktu_iso(text: str | None, zone: ZoneInfo | str = "Asia/Jakarta") -> str:
    """`waktu` for a time already written as ISO 8601 (the `--json` shapes); "-" for none."""
    if not text:
        return "-"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return text
    return waktu(value, zone) if value.tzinfo else text


# Channels and message kinds as the officer's views name them.
CHANNEL_LABELS: dict[str, str] = {"email": "surel", "tatap-muka": "tatap muka",
                                  "pesan-online": "pesan daring", "pertemuan-online": "pertemuan daring"}
KIND_LABELS: dict[str, str] = {
    "ack": "tanda terima otomatis", "answer": "jawaban", "followup": "kabar perkembangan",
    "notice": "pemberitahuan", "escalation-anggota": "eskalasi ke Anggota KPU",
    "escalation-provinsi": "eskalasi ke KPU Provinsi", "auto_reply": "balasan otomatis",
    "bounce": "laporan gagal kirim", "bulk": "surel massal", "note": "catatan",
}


def channel_label(channel: str | None) -> str:
    return CHANNEL_LABELS.get(channel or "", channel or "-")


def poll_summary(counters: dict[str, int]) -> str:
    """One poll's outcome as an officer reads it: how many mails arrived and what became of
    each (the parts add up to the total; sub-counts such as tickets_created are not added
    again, which is what made "3 tiket baru, 3 pesan masuk ke tiket" read as six)."""
    c = counters
    fetched = c.get("fetched", 0)
    if not fetched:
        return "Tidak ada surel baru."
    new = c.get("tickets_created", 0)
    parts = [
        (new, "membuka tiket baru"),
        (c.get("messages_added", 0) - new, "masuk ke tiket yang sudah ada"),
        (c.get("ignored", 0), "disimpan tanpa tiket (surel otomatis, massal atau dari helpdesk sendiri)"),
        (c.get("duplicates", 0), "sudah pernah diterima"),
        (c.get("spam_held", 0), "ditahan sebagai spam"),
        (c.get("quarantined", 0), "gagal diproses (karantina)"),
    ]
    said = "; ".join(f"{n} {what}" for n, what in parts if n)
    text = f"{fetched} surel diterima: {said}."
    if c.get("spam_rescued"):
        text += f" {c['spam_rescued']} di antaranya diselamatkan dari folder spam."
    return text
